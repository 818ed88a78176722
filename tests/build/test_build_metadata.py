"""Config rules of the metadata instructions: ENV replacement, EXPOSE, STOPSIGNAL, HEALTHCHECK, shell-form commands."""

from __future__ import annotations

import pytest

from kybernetes.build import metadata
from kybernetes.build.metadata import InstructionError


def test_env_replaces_in_place_and_appends_new_names() -> None:
    env = ["PATH=/bin", "A=1"]
    assert metadata.set_env(env, "PATH", "/usr/bin:/bin") == ["PATH=/usr/bin:/bin", "A=1"]
    assert metadata.set_env(env, "B", "x=y") == ["PATH=/bin", "A=1", "B=x=y"]
    assert env == ["PATH=/bin", "A=1"]
    with pytest.raises(InstructionError, match="blank"):
        metadata.set_env(env, "", "x")


@pytest.mark.parametrize(("specs", "ports"), [
    (["80"], ["80/tcp"]),
    (["53/UDP", "80/tcp"], ["53/udp", "80/tcp"]),
    (["8000-8002"], ["8000/tcp", "8001/tcp", "8002/tcp"]),
    (["80", "80/tcp"], ["80/tcp"]),
], ids=["default-tcp", "protocols", "range", "duplicates"])
def test_exposed_ports_are_normalized(specs: list[str], ports: list[str]) -> None:
    assert metadata.exposed_ports(specs) == ports


@pytest.mark.parametrize("spec", ["http", "0", "70000", "80/icmp", "90-80"])
def test_bad_ports_are_refused(spec: str) -> None:
    with pytest.raises(InstructionError):
        metadata.exposed_ports([spec])


@pytest.mark.parametrize("name", ["SIGTERM", "TERM", "sigquit", "9", "SIGRTMIN+3"])
def test_stop_signals_are_accepted_as_written(name: str) -> None:
    assert metadata.check_signal(name) == name


@pytest.mark.parametrize("name", ["SIGNOPE", "0", "99"])
def test_unknown_stop_signals_are_refused(name: str) -> None:
    with pytest.raises(InstructionError, match="invalid signal"):
        metadata.check_signal(name)


def test_shell_form_uses_the_images_shell() -> None:
    assert metadata.command(["echo hi"], json_form=False, config={}) == ["/bin/sh", "-c", "echo hi"]
    assert metadata.command(["echo hi"], json_form=False, config={"Shell": ["/bin/ash", "-eo", "pipefail", "-c"]}) == [
        "/bin/ash", "-eo", "pipefail", "-c", "echo hi"]
    assert metadata.command(["echo", "hi"], json_form=True, config={"Shell": ["x"]}) == ["echo", "hi"]


def test_healthchecks_carry_durations_in_nanoseconds() -> None:
    assert metadata.healthcheck(["NONE"], json_form=False, flags={}) == {"Test": ["NONE"]}
    check = metadata.healthcheck(["CMD", "wget -q localhost"], json_form=False,
                                 flags={"interval": "1m30s", "timeout": "500ms", "retries": "3"})
    assert check == {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 90_000_000_000, "Timeout": 500_000_000, "Retries": 3}
    assert metadata.healthcheck(["CMD", "a", "b"], json_form=True, flags={})["Test"] == ["CMD", "a", "b"]
    with pytest.raises(InstructionError, match="invalid duration"):
        metadata.healthcheck(["CMD", "x"], json_form=False, flags={"interval": "soon"})
    with pytest.raises(InstructionError, match="less than 1ms"):
        metadata.healthcheck(["CMD", "x"], json_form=False, flags={"timeout": "10us"})
