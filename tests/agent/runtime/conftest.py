"""Fixtures for the runtime's root tests: a busybox layer, a fenced test network, a runtime that cleans up after itself."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from kybernetes.agent.runtime.runc import RuncRuntime, RuncSettings
from kybernetes.agent.runtime.types import ContainerConfig, PodSandboxConfig
from tests.agent.runtime import runtimekit as kit


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


class Harness:
    """Harness is a runtime on a private data dir, plus the helpers the tests share."""

    def __init__(self, runtime: RuncRuntime, base: Path, layer: Path, net: kit.TestNetwork, cgroup_root: str) -> None:
        self.runtime = runtime
        self.base = base
        self.layer = layer
        self.net = net
        self.cgroup_root = cgroup_root

    def sandbox_config(self, name: str = "pod", **kw: object) -> PodSandboxConfig:
        uid = secrets.token_hex(8)
        kw.setdefault("cgroup_parent", f"{self.cgroup_root}/pod{uid}")
        return PodSandboxConfig(uid=uid, name=name, namespace="test", **kw)  # type: ignore[arg-type]

    def container_config(self, name: str, *command: str, **kw: object) -> ContainerConfig:
        kw.setdefault("lowerdirs", (self.layer,))
        return ContainerConfig(name=name, command=tuple(command), **kw)  # type: ignore[arg-type]

    async def run(self, sandbox_id: str, name: str, *command: str, **kw: object) -> str:
        cid = await self.runtime.create_container(sandbox_id, self.container_config(name, *command, **kw))  # type: ignore[arg-type]
        await self.runtime.start_container(cid)
        return cid

    async def exec(self, cid: str, *command: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        out: list[bytes] = []
        err: list[bytes] = []

        async def collect_out(b: bytes) -> None:
            out.append(b)

        async def collect_err(b: bytes) -> None:
            err.append(b)

        async def feed() -> AsyncIterator[bytes]:
            assert stdin is not None
            yield stdin

        code = await self.runtime.exec(
            cid, list(command), stdout=collect_out, stderr=collect_err,  # type: ignore[arg-type]
            stdin=feed() if stdin is not None else None,
        )
        return code, b"".join(out), b"".join(err)

    async def wait_for_log(self, cid: str, text: str, timeout: float = 5.0) -> str:
        status = await self.runtime.container_status(cid)  # type: ignore[arg-type]
        assert status.log_path is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            content = status.log_path.read_text() if status.log_path.exists() else ""
            if text in content:
                return content
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{text!r} not logged in {timeout}s; log:\n{content}")
            await asyncio.sleep(0.02)


def make_runtime(base: Path, net: kit.TestNetwork, **kw: object) -> RuncRuntime:
    return RuncRuntime(RuncSettings(data_dir=base / "data", runtime_root=base / "runc", network=net.settings, **kw))  # type: ignore[arg-type]


async def teardown_everything(runtime: RuncRuntime, base: Path) -> None:
    """Remove every sandbox and container the test made, then kill stragglers by id."""
    await runtime.close()
    for sandbox in await runtime.list_sandboxes():
        await runtime.remove_pod_sandbox(sandbox.id)
    for container in await runtime.list_containers():
        await runtime.remove_container(container.id)
    for binary in ("runc", "crun"):
        if shutil.which(binary):
            for cid in kit.runc_containers(binary, base / "runc"):
                subprocess.run([binary, "--root", str(base / "runc"), "delete", "--force", cid], capture_output=True)
    for point in sorted(kit.mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)
    await runtime.close()


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
