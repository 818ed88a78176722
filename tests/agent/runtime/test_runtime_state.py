"""On-disk records: what the shim writes by hand is JSON, and the runtime's records survive a round trip."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kybernetes.agent.runtime.shim import encode_record, encode_spec, proc_start_time, process_alive, write_record
from kybernetes.agent.runtime.state import (
    ContainerRecord,
    SandboxRecord,
    StateDirs,
    load_container,
    load_exit,
    load_sandbox,
    load_shim,
    save_container,
    save_sandbox,
)
from kybernetes.agent.runtime.types import (
    ContainerId,
    DNSConfig,
    HostAlias,
    PodSandboxConfig,
    PortMapping,
    SandboxId,
    SandboxState,
)


@pytest.mark.parametrize(
    "value",
    ['plain', 'quote " and backslash \\', "new\nline\ttab\x01", "ünïcödé ✓", "", None, True, False, 0, -7, 2**63],
    ids=["plain", "escapes", "control", "unicode", "empty", "null", "true", "false", "zero", "negative", "big"],
)
def test_hand_written_records_are_valid_json(value: object) -> None:
    assert json.loads(encode_record({"key": value, "other": 1})) == {"key": value, "other": 1}


def test_record_files_are_replaced_whole_and_read_back(tmp_path: Path) -> None:
    write_record(str(tmp_path / "exit.json"), {"exit_code": 137, "finished_at": 5, "signal": 9, "oom_killed": True})
    write_record(str(tmp_path / "shim.json"), {"shim_pid": 1, "shim_start_time": 2, "pid": 3, "pid_start_time": None,
                                               "started_at": 4, "memory_cgroup": "/sys/fs/cgroup/memory/x"})
    exit_ = load_exit(tmp_path)
    assert exit_ is not None and (exit_.exit_code, exit_.oom_killed) == (137, True)
    shim = load_shim(tmp_path)
    assert shim is not None and shim.pid_start_time is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exit.json", "shim.json"]


def test_spec_arguments_carry_flags_as_present_or_empty() -> None:
    args = encode_spec({"id": "abc", "tty": True, "stdin": False, "log_max_size": 10})
    assert args == ["id=abc", "tty=1", "stdin=", "log_max_size=10"]


def test_a_pid_with_its_start_time_names_one_process() -> None:
    me = os.getpid()
    start = proc_start_time(me)
    assert start is not None and process_alive(me, start)
    assert not process_alive(me, start + 1)
    assert not process_alive(me, None)


def test_sandbox_and_container_records_round_trip(tmp_path: Path) -> None:
    dirs = StateDirs(tmp_path / "agent")
    config = PodSandboxConfig(
        uid="u", name="web", namespace="ns", hostname="h", dns=DNSConfig(servers=("10.0.0.10",), searches=("a", "b")),
        port_mappings=(PortMapping(80, 8080, "tcp", "127.0.0.1"),), host_aliases=(HostAlias("1.2.3.4", ("x",)),),
        log_directory=tmp_path / "logs", labels={"app": "web"},
    )
    sandbox = SandboxRecord(SandboxId("s1"), config, 123, SandboxState.READY, tmp_path / "logs", "/run/netns/x", "10.0.0.2")
    dirs.sandbox("s1").mkdir(parents=True)
    save_sandbox(dirs.sandbox("s1"), sandbox)
    assert load_sandbox(dirs.sandbox("s1")) == sandbox

    container = ContainerRecord(
        id=ContainerId("c1"), sandbox_id=SandboxId("s1"), name="app", attempt=2, image="busybox", created_at=5,
        log_path=tmp_path / "logs" / "app" / "2.log", stop_signal=15, runtime="/usr/sbin/runc", runtime_root="/run/x",
        labels={"a": "b"},
    )
    dirs.container("c1").mkdir(parents=True)
    save_container(dirs.container("c1"), container)
    assert load_container(dirs.container("c1")) == container
    assert dirs.sandbox_ids() == ["s1"] and dirs.container_ids() == ["c1"]
