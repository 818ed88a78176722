"""Image test fixtures: the local registries (once per session), a fresh store per test, and a guard keeping DNS local."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from kybernetes.images.store import ImageStore
from tests.images.registry_fixture import REGISTRY_BIN, SKOPEO_BIN, Registries, start_registries

_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


@pytest.fixture(autouse=True)
def only_local_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse to resolve any name but loopback: a bug that reaches for docker.io fails here, sending nothing."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOCAL_NAMES and not name.startswith("127."):
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: {name} is not a local host")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


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
