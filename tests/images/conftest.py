"""Image test fixtures: the local registries (once per session), a fresh store per test, and a guard keeping DNS local."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from kybernetes.images.store import ImageStore
from tests.conftest import resolve_only_local_names
from tests.images.registry_fixture import REGISTRY_BIN, SKOPEO_BIN, Registries, start_registries


@pytest.fixture(autouse=True)
def only_local_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse to resolve any name but loopback: a bug that reaches for docker.io fails here, sending nothing."""
    resolve_only_local_names(monkeypatch)


@pytest.fixture(scope="session")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registries]:
    if not (shutil.which(REGISTRY_BIN) and shutil.which(SKOPEO_BIN)):
        pytest.fail("docker-registry and skopeo are needed (make setup installs them)")
    regs = start_registries(tmp_path_factory.mktemp("registries"))
    yield regs
    regs.stop()


@pytest.fixture
def store(tmp_path: Path) -> ImageStore:
    return ImageStore(tmp_path / "images")


def needs_root() -> pytest.MarkDecorator:
    return pytest.mark.skipif(os.geteuid() != 0, reason="unpacking layers needs root")
