"""Fixtures for the runtime's root tests: a busybox layer, a fenced test network, a runtime that cleans up after itself."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.agent.runtime import runtimekit as kit
from tests.agent.runtime.runtimekit import Harness, make_runtime, teardown_everything


@pytest.fixture(scope="session")
def root_only() -> None:
    reason = kit.missing_prerequisites()
    if reason:
        pytest.skip(f"runtime root tests: {reason}")


@pytest.fixture(scope="session")
def busybox_layer(root_only: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kit.build_busybox_layer(tmp_path_factory.mktemp("layer") / "busybox")


@pytest.fixture(scope="session")
def test_network(root_only: None) -> Iterator[kit.TestNetwork]:
    net = kit.open_test_network()
    try:
        yield net
    finally:
        kit.close_test_network(net)


@pytest.fixture(scope="session")
def cgroup_root(root_only: None) -> Iterator[str]:
    """A cgroup subtree of this test session's own; every pod's cgroup goes under it."""
    root = f"/kybtest-{secrets.token_hex(3)}"
    yield root
    for d in kit.cgroup_dirs(root):
        subprocess.run(["find", d, "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"], capture_output=True)


@pytest_asyncio.fixture
async def harness(
    busybox_layer: Path, test_network: kit.TestNetwork, cgroup_root: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    runtime = make_runtime(tmp_path, test_network)
    await runtime.adopt()
    h = Harness(runtime, tmp_path, busybox_layer, test_network, cgroup_root)
    try:
        yield h
    finally:
        await teardown_everything(runtime, tmp_path)
