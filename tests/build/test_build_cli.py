"""`kyb build`: Docker's step output, the cache notes, and one-line errors (with the output of a failed RUN)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from kybernetes.cli import build as build_cli
from kybernetes.cli.main import CLIError
from tests.build.conftest import BUSYBOX, needs_root


def kyb_build(*argv: str) -> None:
    """kyb_build runs `kyb build …` as kyb's main does, minus the process exit."""
    parser = argparse.ArgumentParser(prog="kyb")
    build_cli.register(parser.add_subparsers())
    args = parser.parse_args(["build", *argv])
    args.run(args)


def test_build_args_take_values_or_the_environment() -> None:
    assert build_cli.build_args(["A=1", "B=", "C", "D", "E=x=y"], {"C": "from-env"}) == {"A": "1", "B": "", "C": "from-env", "E": "x=y"}
    with pytest.raises(ValueError, match="invalid argument '=x'"):
        build_cli.build_args(["=x"], {})


def test_a_dockerfile_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n\nFOOBAR x\n")
    with pytest.raises(CLIError) as info:
        kyb_build("--data-dir", str(tmp_path / "data"), str(tmp_path))
    assert str(info.value) == "Dockerfile:3: unknown instruction: FOOBAR"
    with pytest.raises(CLIError, match="reading the Dockerfile"):
        kyb_build("--data-dir", str(tmp_path / "data"), "-f", str(tmp_path / "missing"), str(tmp_path))
    with pytest.raises(CLIError, match="invalid tag 'Bad:Tag'"):
        kyb_build("--data-dir", str(tmp_path / "data"), "-t", "Bad:Tag", str(tmp_path))
    assert capsys.readouterr().out == ""


@needs_root()
def test_steps_cache_notes_and_the_result_are_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy2(BUSYBOX, ctx / "busybox")
    (ctx / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "echo", "from run"]\n')
    data = str(tmp_path / "data")
    kyb_build("--data-dir", data, "-t", "app:1", "-t", "example.com/team/app:2", str(ctx))
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == ["Step 1/3 : FROM scratch", "Step 2/3 : COPY busybox /bin/busybox",
                         'Step 3/3 : RUN ["/bin/busybox", "echo", "from run"]', "from run"]
    assert lines[4].startswith("Successfully built ")
    assert lines[5:] == ["Successfully tagged app:1", "Successfully tagged example.com/team/app:2"]
    kyb_build("--data-dir", data, "-t", "app:1", str(ctx))
    assert capsys.readouterr().out.splitlines()[:5] == [
        "Step 1/3 : FROM scratch", "Step 2/3 : COPY busybox /bin/busybox", " ---> Using cache",
        'Step 3/3 : RUN ["/bin/busybox", "echo", "from run"]', " ---> Using cache"]
    kyb_build("--data-dir", data, "-q", str(ctx))
    assert capsys.readouterr().out.startswith("sha256:")


@needs_root()
def test_a_failed_run_prints_its_output_once_and_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy2(BUSYBOX, ctx / "busybox")
    (ctx / "Dockerfile").write_text('FROM scratch\nCOPY busybox /bin/sh\nRUN echo broken; exit 2\n')
    for quiet in ([], ["-q"]):
        with pytest.raises(CLIError) as info:
            kyb_build("--data-dir", str(tmp_path / "data"), *quiet, str(ctx))
        assert str(info.value) == "Dockerfile:3: RUN echo broken; exit 2: exit code 2"
        assert capsys.readouterr().out.count("broken\n") == 1


def test_a_bad_substitution_names_its_instruction_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nLABEL ok=1\nENV A=${B\n")
    with pytest.raises(CLIError) as info:
        kyb_build("--data-dir", str(tmp_path / "data"), "-t", "app:1", str(tmp_path))
    assert str(info.value) == "Dockerfile:3: ENV: syntax error: missing '}'"


def test_a_metadata_only_image_needs_no_mount(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Dockerfile").write_text('FROM scratch\nLABEL purpose=config-only\nCMD ["/app"]\n')
    kyb_build("--data-dir", str(tmp_path / "data"), "-q", "-t", "meta:1", str(tmp_path))
    from kybernetes.images.store import ImageStore

    image = ImageStore.for_data_dir(tmp_path / "data").get("meta:1")
    assert capsys.readouterr().out.strip() == image.id
    assert image.layers == () and image.config["config"]["Labels"] == {"purpose": "config-only"}
