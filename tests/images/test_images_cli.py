"""`kyb images`, `kyb pull` and `kyb image …` end to end against the local registry, errors as one line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kybernetes.cli import images as images_cli
from kybernetes.cli import main as cli_main
from tests.images.conftest import needs_root
from tests.images.registry_fixture import Registries, free_port

pytestmark = needs_root()


@pytest.fixture(autouse=True)
def wired(monkeypatch: pytest.MonkeyPatch) -> None:
    """Add the image commands to kyb's parser as the lead's one line in build_parser will."""
    original = cli_main.build_parser

    def build() -> argparse.ArgumentParser:
        parser = original()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "images" not in sub.choices:
            images_cli.register(sub)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", build)


def kyb(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        cli_main.main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data_dir(tmp_path: Path, registries: Registries) -> Path:
    etc = tmp_path / "data" / "agent" / "etc"
    etc.mkdir(parents=True)
    (etc / "registries.yaml").write_text(f"mirrors:\n  docker.io:\n    endpoint: ['http://{registries.plain.host}']\n")
    return tmp_path / "data"


def test_pull_list_export_remove_import_prune(capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path) -> None:
    d = ("--data-dir", str(data_dir))
    code, out, err = kyb(capsys, "pull", "busybox:1.0", *d)
    assert code == 0, err
    assert out.startswith("Pulled docker.io/library/busybox:1.0 (") and "MB/s" in out
    code, out, _ = kyb(capsys, "images", *d)
    header, row = out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"]
    assert row.split()[:2] == ["busybox", "1.0"] and row.split()[3].endswith("MB")
    code, out, _ = kyb(capsys, "image", "inspect", "busybox:1.0", *d)
    assert '"unpacked": true' in out and '"docker.io/library/busybox:1.0"' in out
    code, out, _ = kyb(capsys, "image", "df", *d)
    assert "busybox:1.0" in out and out.splitlines()[-1].startswith("Total: ")
    archive = tmp_path / "busybox.tar"
    code, out, err = kyb(capsys, "image", "export", "busybox:1.0", str(archive), *d)
    assert code == 0 and archive.exists(), err
    code, out, _ = kyb(capsys, "image", "rm", "busybox:1.0", *d)
    assert out.startswith("Deleted: busybox:1.0")
    assert kyb(capsys, "images", "-q", *d)[1] == ""
    code, out, err = kyb(capsys, "image", "import", str(archive), *d)
    assert (code, out) == (0, "Loaded image: docker.io/library/busybox:1.0\n"), err
    code, out, _ = kyb(capsys, "image", "prune", *d)
    assert out.splitlines()[0] == "Deleted: docker.io/library/busybox:1.0"
    assert out.splitlines()[-1].startswith("Total reclaimed space: ") and "MB" in out.splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pull", "{plain}/testimg:nope"), "manifest unknown (MANIFEST_UNKNOWN)"),
        (("pull", "Busybox"), "invalid reference format"),
        (("pull", "127.0.0.1:{free}/x:1"), "connect: connection refused"),
        (("pull", "busybox", "--creds", "nocolon"), "--creds: expected USER:PASSWORD"),
        (("image", "rm", "nope:1"), "not found"),
        (("image", "import", "/nonexistent.tar"), "no such file"),
        (("image", "export", "nope:1", "/tmp/never.tar"), "not found"),
    ],
    ids=["missing-image", "bad-reference", "no-registry", "bad-creds", "rm-missing", "import-missing", "export-missing"],
)
def test_errors_are_one_line_and_exit_1(capsys: pytest.CaptureFixture[str], data_dir: Path, registries: Registries,
                                         args: tuple[str, ...], message: str) -> None:
    argv = [a.format(plain=registries.plain.host, free=free_port()) for a in args]
    code, out, err = kyb(capsys, *argv, "--data-dir", str(data_dir))
    assert code == 1
    assert err.startswith("kyb: error: ") and err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


def test_a_broken_registries_yaml_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    etc = tmp_path / "agent" / "etc"
    etc.mkdir(parents=True)
    (etc / "registries.yaml").write_text("mirrors: [")
    code, _, err = kyb(capsys, "pull", "busybox", "--data-dir", str(tmp_path))
    assert code == 1 and "registries.yaml: not YAML" in err and err.count("\n") == 1


@pytest.mark.parametrize(("n", "text"), [(0, "0B"), (999, "999B"), (1500, "1.5kB"), (2_150_000, "2.15MB"), (3e9, "3GB")])
def test_sizes_print_as_crictl_does(n: float, text: str) -> None:
    assert images_cli.human_size(n) == text
