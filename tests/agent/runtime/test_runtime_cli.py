"""`kyb ps`, `kyb logs` and `kyb exec` against containers on this node (needs root)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from kybernetes.cli.containers import parse_since
from tests.agent.runtime.runtimekit import Harness

REPO = Path(__file__).resolve().parents[3]
# Until the lead registers the commands in kybernetes/cli/main.py, drive them through the same parser shape.
DRIVER = """
import argparse, sys
from kybernetes.cli import containers
from kybernetes.cli.main import CLIError
parser = argparse.ArgumentParser(prog="kyb")
containers.register(parser.add_subparsers(dest="command"))
args = parser.parse_args(sys.argv[1:])
try:
    args.run(args)
except CLIError as exc:
    print(f"kyb: error: {exc}", file=sys.stderr)
    sys.exit(1)
"""


async def kyb(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", DRIVER, *args], input=stdin, capture_output=True, cwd=REPO, timeout=30,
    )


async def test_ps_logs_and_exec_work_from_the_state_on_disk(harness: Harness) -> None:
    rt = harness.runtime
    data = str(harness.base / "data")
    sid = await rt.run_pod_sandbox(harness.sandbox_config("clipod"))
    web = await harness.run(sid, "web", "sh", "-c", "echo one; echo two; echo three; sleep 1000")
    done = await harness.run(sid, "job", "sh", "-c", "echo finished; exit 4")
    await rt.wait_container(done)
    await harness.wait_for_log(web, "three")

    ps = await kyb("ps", "--data-dir", data)
    assert ps.returncode == 0, ps.stderr
    lines = ps.stdout.decode().splitlines()
    assert lines[0].split()[:4] == ["CONTAINER", "NAME", "POD", "STATE"]
    assert any(web[:13] in line and "test/clipod" in line and "running" in line for line in lines)
    assert not any(done[:13] in line for line in lines)
    ps_all = (await kyb("ps", "-a", "--data-dir", data)).stdout.decode()
    assert any(done[:13] in line and "4 (Error)" in line for line in ps_all.splitlines())
    assert set((await kyb("ps", "-q", "--data-dir", data)).stdout.decode().split()) == {web}

    logs = await kyb("logs", "--data-dir", data, "--tail", "2", "web")
    assert (logs.returncode, logs.stdout) == (0, b"two\nthree\n")
    stamped = await kyb("logs", "--data-dir", data, "-t", web[:10])
    assert stamped.stdout.decode().splitlines()[0].endswith("Z one")
    followed = await kyb("logs", "-f", "--data-dir", data, done)  # ends: the container has exited
    assert followed.stdout == b"finished\n"

    ran = await kyb("exec", "--data-dir", data, "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (ran.returncode, ran.stdout, ran.stderr) == (3, b"out\n", b"err\n")
    piped = await kyb("exec", "-i", "--data-dir", data, web, "--", "cat", stdin=b"through stdin\n")
    assert (piped.returncode, piped.stdout) == (0, b"through stdin\n")
    on_tty = await kyb("exec", "-t", "--data-dir", data, web, "--", "tty")
    assert on_tty.returncode == 0 and b"/dev/pts/" in on_tty.stdout

    missing = await kyb("logs", "--data-dir", data, "nosuchcontainer")
    assert missing.returncode == 1 and b"no container" in missing.stderr
    stopped = await kyb("exec", "--data-dir", data, done, "--", "true")
    assert stopped.returncode == 1 and b"not running" in stopped.stderr


async def test_logs_previous_reads_the_earlier_attempt(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("prev"))
    first = await harness.run(sid, "app", "sh", "-c", "echo attempt zero", attempt=0)
    await rt.wait_container(first)
    second = await harness.run(sid, "app", "sh", "-c", "echo attempt one; sleep 1000", attempt=1)
    await harness.wait_for_log(second, "attempt one")
    data = str(harness.base / "data")
    assert (await kyb("logs", "--data-dir", data, "app")).stdout == b"attempt one\n"
    assert (await kyb("logs", "-p", "--data-dir", data, second)).stdout == b"attempt zero\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 1_000_000_000_000 - 90 * 10**9), ("1h30m", 1_000_000_000_000 - 5400 * 10**9),
     ("2024-01-01T00:00:00Z", 1_704_067_200 * 10**9)],
    ids=["seconds", "hours-and-minutes", "rfc3339"],
)
def test_since_takes_durations_and_times(text: str, expected: int) -> None:
    assert parse_since(text, now_ns=1_000_000_000_000) == expected


async def test_exec_interactive_tty_runs_raw_and_passes_the_window_size(harness: Harness) -> None:
    import fcntl
    import os
    import struct
    import termios

    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("itty"))
    web = await harness.run(sid, "web", "sleep", "1000")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "exec", "-it", "--data-dir", str(harness.base / "data"), web, "--", "sh"],
        stdin=slave, stdout=slave, stderr=slave, cwd=REPO, start_new_session=True,
    )
    os.close(slave)
    os.set_blocking(master, False)
    output = b""

    async def read_until(marker: bytes, timeout: float = 15) -> None:
        nonlocal output
        deadline = asyncio.get_running_loop().time() + timeout
        while marker not in output:
            try:
                output += os.read(master, 4096)
            except BlockingIOError:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"no {marker!r} in {output!r}") from None
                await asyncio.sleep(0.02)
            except OSError:
                return  # EIO: the command and its terminal are gone

    try:
        # Type only once the shell prompts: before that, ash's terminal query would eat the input.
        await read_until(b"# ")
        os.write(master, b"stty size; exit 5\n")
        await read_until(b"\x00never")
        assert await asyncio.to_thread(proc.wait, 15) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"33 101" in output
