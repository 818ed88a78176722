"""Build test fixtures: a data directory per test, a context holding busybox-static, DNS kept local, runs as root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from kybernetes.build.builder import Builder, BuildResult, BuildSettings, BuildOptions, Event
from kybernetes.build.runner import RunnerSettings
from kybernetes.images.store import ImageStore
from tests.conftest import resolve_only_local_names

BUSYBOX = Path("/usr/bin/busybox")


def needs_root() -> pytest.MarkDecorator:
    return pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runc") is None, reason="builds need root and runc")


@pytest.fixture(autouse=True)
def only_local_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse to resolve any name but loopback: a FROM that reaches for docker.io fails here, sending nothing."""
    resolve_only_local_names(monkeypatch)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> ImageStore:
    return ImageStore.for_data_dir(data_dir)


@pytest.fixture
def builder(store: ImageStore, data_dir: Path, tmp_path: Path) -> Builder:
    # A runc state directory of the test's own: nothing else's containers are ever in view.
    return Builder(store, BuildSettings(data_dir=data_dir, runner=RunnerSettings(state_dir=tmp_path / "runc")))


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """context is a build context with busybox-static in it."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy2(BUSYBOX, ctx / "busybox")
    return ctx


class Recorder:
    """Recorder keeps a build's events and its RUN output."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    @property
    def output(self) -> str:
        from kybernetes.build.builder import StepOutput

        return b"".join(e.data for e in self.events if isinstance(e, StepOutput)).decode(errors="replace")


async def build(builder: Builder, context: Path, dockerfile: str, *, tags: tuple[str, ...] = ("app:1",),
                recorder: Recorder | None = None, **options: Any) -> BuildResult:
    (context / "Dockerfile").write_text(dockerfile)
    return await builder.build(BuildOptions(context=context, tags=tags, **options), progress=recorder)
