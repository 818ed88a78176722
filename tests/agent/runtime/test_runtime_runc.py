"""The runc runtime on this machine: pods, containers, limits, exec, logs, stop, teardown (needs root)."""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kybernetes.agent.runtime import bundle, logs
from kybernetes.agent.runtime.protocol import RuntimeCommandError
from kybernetes.agent.runtime.types import (
    ContainerState,
    DNSConfig,
    PortMapping,
    Resources,
    SandboxState,
    Security,
    TerminalSize,
)
from tests.agent.runtime import runtimekit as kit
from tests.agent.runtime.runtimekit import Harness, make_runtime, teardown_everything

SLEEP = ("sleep", "1000")


async def test_two_containers_of_a_pod_share_one_ip_and_reach_each_other_on_localhost(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("web"))
    sandbox = await rt.sandbox_status(sid)
    assert sandbox.state is SandboxState.READY and sandbox.ip
    assert ipaddress.ip_address(sandbox.ip) in harness.net.subnet
    server = await harness.run(sid, "server", "sh", "-c", "echo hello-from-server > /tmp/index.html; exec httpd -f -p 8080 -h /tmp")
    client = await harness.run(sid, "client", *SLEEP)

    for _ in range(100):
        code, out, _ = await harness.exec(client, "wget", "-qO-", "http://127.0.0.1:8080/index.html")
        if code == 0:
            break
        await asyncio.sleep(0.05)
    assert (code, out) == (0, b"hello-from-server\n")

    ips = set()
    for cid in (server, client):
        code, out, _ = await harness.exec(cid, "ip", "-4", "-o", "addr", "show", "eth0")
        assert code == 0
        ips.add(out.split()[3].split(b"/")[0].decode())
    assert ips == {sandbox.ip}
    # Same network, separate process trees.
    code, _, _ = await harness.exec(client, "pidof", "httpd")
    assert code != 0


async def test_memory_limit_is_enforced_and_reported_as_oom_killed(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("oom"))
    # tail buffers a "line" of /dev/zero that never ends, so it grows until the limit stops it.
    cid = await harness.run(sid, "hog", "tail", "/dev/zero", resources=Resources(memory_limit_bytes=32 * 1024 * 1024))
    status = await asyncio.wait_for(rt.wait_container(cid), 30)
    assert status.state is ContainerState.EXITED
    assert (status.exit_code, status.reason) == (137, "OOMKilled")
    assert status.finished_at >= status.started_at > 0


async def test_containers_on_one_image_do_not_see_each_others_writes(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("iso"))
    a = await harness.run(sid, "a", "sh", "-c", "echo mine > /srv/written-by-a; echo changed > /srv/from-image.txt; echo done; sleep 1000")
    b = await harness.run(sid, "b", *SLEEP)
    await harness.wait_for_log(a, "done")
    assert await harness.exec(a, "cat", "/srv/written-by-a") == (0, b"mine\n", b"")
    code, _, _ = await harness.exec(b, "cat", "/srv/written-by-a")
    assert code != 0
    assert await harness.exec(b, "cat", "/srv/from-image.txt") == (0, b"layer\n", b"")
    assert (harness.layer / "srv" / "from-image.txt").read_text() == "layer\n"
    assert not (harness.layer / "srv" / "written-by-a").exists()
    assert (rt.dirs.container(a) / "upper" / "srv" / "written-by-a").exists()
    assert not (rt.dirs.container(b) / "upper" / "srv").exists()


async def test_exec_returns_output_and_exit_code_with_and_without_stdin(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("exec"))
    cid = await harness.run(sid, "main", *SLEEP)
    assert await harness.exec(cid, "sh", "-c", "echo out; echo err >&2; exit 7") == (7, b"out\n", b"err\n")
    assert await harness.exec(cid, "cat", stdin=b"piped input\n") == (0, b"piped input\n", b"")
    assert await harness.exec(cid, "true") == (0, b"", b"")


async def test_exec_with_a_tty_is_a_terminal_and_follows_resizes(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("tty"))
    cid = await harness.run(sid, "main", *SLEEP)
    out: list[bytes] = []
    resized = asyncio.Event()

    async def collect(b: bytes) -> None:
        out.append(b)

    async def typing():
        yield b"tty; stty size\n"
        await resized.wait()
        yield b"stty size; exit 3\n"

    async def sizes():
        await asyncio.sleep(0.3)
        yield TerminalSize(width=132, height=50)
        await asyncio.sleep(0.2)
        resized.set()

    code = await asyncio.wait_for(rt.exec(cid, ["sh"], stdout=collect, stdin=typing(), tty=True, resize=sizes()), 20)
    text = b"".join(out).decode(errors="replace")
    assert code == 3
    assert "/dev/pts/" in text
    assert "24 80" in text and "50 132" in text


async def test_exit_codes_and_reasons_are_recorded(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("exits"))
    ok = await harness.run(sid, "ok", "true")
    failed = await harness.run(sid, "failed", "sh", "-c", "exit 3")
    message = await harness.run(sid, "message", "sh", "-c", "echo goodbye > /dev/termination-log; exit 1")
    statuses = {c: await asyncio.wait_for(rt.wait_container(c), 10) for c in (ok, failed, message)}
    assert (statuses[ok].exit_code, statuses[ok].reason) == (0, "Completed")
    assert (statuses[failed].exit_code, statuses[failed].reason) == (3, "Error")
    assert statuses[message].message == "goodbye\n"


async def test_a_container_that_exits_at_once_keeps_its_exit_code_and_last_log_lines(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("crash"))
    cid = await harness.run(
        sid, "crash", "sh", "-c", "for i in 1 2 3; do echo line $i; done; echo fatal: bad config >&2; exit 2",
        termination_message_policy="FallbackToLogsOnError",
    )
    status = await asyncio.wait_for(rt.wait_container(cid), 10)
    assert (status.exit_code, status.reason) == (2, "Error")
    assert status.message.endswith("line 3\nfatal: bad config\n")
    assert status.log_path is not None
    tail = [r.content for r in logs.read_records(status.log_path, tail=2)]
    assert tail == [b"line 3", b"fatal: bad config"]


async def test_a_container_that_cannot_start_is_exited_with_start_error(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("bad"))
    cid = await rt.create_container(sid, harness.container_config("bad", "/no/such/binary"))
    with pytest.raises(RuntimeCommandError, match="no such file|not found"):
        await rt.start_container(cid)
    status = await rt.container_status(cid)
    assert (status.state, status.reason, status.exit_code) == (ContainerState.EXITED, "StartError", 128)


async def test_stop_sends_the_image_stop_signal_first(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("stop"))
    script = 'trap "echo got usr1; exit 4" USR1; echo ready; while true; do sleep 0.05; done'
    cid = await harness.run(sid, "usr1", "sh", "-c", script, image_config={"StopSignal": "SIGUSR1"})
    await harness.wait_for_log(cid, "ready")
    started = time.monotonic()
    await rt.stop_container(cid, timeout=10)
    assert time.monotonic() - started < 5
    status = await rt.container_status(cid)
    assert (status.exit_code, status.reason) == (4, "Error")
    await harness.wait_for_log(cid, "got usr1")

    term = await harness.run(sid, "term", "sh", "-c", 'trap "exit 0" TERM; echo ready; while true; do sleep 0.05; done')
    await harness.wait_for_log(term, "ready")
    await rt.stop_container(term, timeout=10)
    assert (await rt.container_status(term)).exit_code == 0


async def test_stop_kills_after_the_grace_period(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("grace"))
    # A pid-namespace init without a handler ignores SIGTERM, so only SIGKILL ends it.
    cid = await harness.run(sid, "stubborn", *SLEEP)
    started = time.monotonic()
    await rt.stop_container(cid, timeout=1.0)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 5
    status = await rt.container_status(cid)
    assert (status.state, status.exit_code, status.reason) == (ContainerState.EXITED, 137, "Error")


async def test_logs_survive_a_container_restart(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("restart"))
    first = await harness.run(sid, "app", "sh", "-c", "echo first run; exit 1", attempt=0)
    await rt.wait_container(first)
    second = await harness.run(sid, "app", "sh", "-c", "echo second run; sleep 1000", attempt=1)
    await harness.wait_for_log(second, "second run")
    status = await rt.container_status(second)
    assert status.log_path is not None and status.log_path.name == "1.log"
    previous = logs.read_records(logs.previous_log_path(status.log_path))
    assert [r.content for r in previous] == [b"first run"]
    assert [r.content for r in logs.read_records(status.log_path)] == [b"second run"]
    # A fresh agent process reads the same files.
    again = make_runtime(harness.base, harness.net)
    await again.adopt()
    assert (await again.container_status(first)).log_path == logs.previous_log_path(status.log_path)


async def test_log_rotation_keeps_the_configured_number_of_files(harness: Harness) -> None:
    rt = make_runtime(harness.base, harness.net, log_max_size=4096, log_max_files=3)
    try:
        sid = await rt.run_pod_sandbox(harness.sandbox_config("rotate"))
        script = 'i=0; while [ $i -lt 300 ]; do echo "line $i $(printf %60s)"; i=$((i+1)); done'
        cid = await rt.create_container(sid, harness.container_config("chatty", "sh", "-c", script))
        await rt.start_container(cid)
        status = await asyncio.wait_for(rt.wait_container(cid), 20)
    finally:
        await rt.close()
    assert status.log_path is not None
    files = logs.log_files(status.log_path)
    assert [f.name for f in files] == ["0.log.2", "0.log.1", "0.log"]
    assert all(f.stat().st_size <= 4096 for f in files)
    last = logs.read_records(status.log_path, tail=1)
    assert last[0].content.startswith(b"line 299 ")


async def test_a_tty_container_logs_its_terminal_output(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("ttyc"))
    cid = await harness.run(sid, "tty", "sh", "-c", "tty; echo on-terminal", tty=True)
    status = await asyncio.wait_for(rt.wait_container(cid), 10)
    assert status.exit_code == 0
    content = status.log_path.read_text() if status.log_path else ""
    assert "stdout" in content and "/dev/pts/0" in content and "on-terminal" in content


async def test_pod_files_hostname_dns_and_shared_shm(harness: Harness) -> None:
    rt = harness.runtime
    dns = DNSConfig(servers=("10.43.0.10",), searches=("test.svc.cluster.local",), options=("ndots:5",))
    sid = await rt.run_pod_sandbox(harness.sandbox_config("files", hostname="web-0", subdomain="web", dns=dns))
    ip = (await rt.sandbox_status(sid)).ip
    a = await harness.run(sid, "a", "sh", "-c", "echo shared > /dev/shm/note; echo written; sleep 1000")
    b = await harness.run(sid, "b", *SLEEP)
    await harness.wait_for_log(a, "written")
    _, hosts, _ = await harness.exec(b, "cat", "/etc/hosts")
    assert f"{ip}\tweb-0.web.test.svc.cluster.local\tweb-0".encode() in hosts
    assert await harness.exec(b, "hostname") == (0, b"web-0\n", b"")
    assert await harness.exec(b, "cat", "/etc/hostname") == (0, b"web-0\n", b"")
    _, resolv, _ = await harness.exec(b, "cat", "/etc/resolv.conf")
    assert b"nameserver 10.43.0.10" in resolv and b"options ndots:5" in resolv
    assert await harness.exec(b, "cat", "/dev/shm/note") == (0, b"shared\n", b"")
    _, mounts, _ = await harness.exec(b, "cat", "/proc/mounts")
    assert b"/dev/termination-log" in mounts and b"/dev/mqueue" in mounts


async def test_user_env_working_dir_and_capabilities_are_applied(harness: Harness) -> None:
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("proc"))
    image = {"User": "app", "Env": ["FROM_IMAGE=yes", "GREETING=image"], "WorkingDir": "/home/app", "Cmd": ["sleep", "1000"]}
    cid = await harness.run(sid, "app", image_config=image, env=(("GREETING", "hello"), ("FULL", "$(GREETING) world")))
    assert await harness.exec(cid, "id", "-u") == (0, b"1000\n", b"")
    _, groups, _ = await harness.exec(cid, "id", "-G")
    assert set(groups.split()) == {b"1000", b"2000"}
    assert await harness.exec(cid, "pwd") == (0, b"/home/app\n", b"")
    _, env, _ = await harness.exec(cid, "env")
    for line in (b"FROM_IMAGE=yes", b"GREETING=hello", b"FULL=hello world", b"HOSTNAME=proc"):
        assert line in env.splitlines()
    _, status, _ = await harness.exec(cid, "cat", "/proc/self/status")
    bnd = next(line for line in status.splitlines() if line.startswith(b"CapBnd:"))
    expected = sum(1 << bundle.ALL_CAPABILITIES.index(c) for c in bundle.DEFAULT_CAPABILITIES)
    assert int(bnd.split()[1], 16) == expected

    # The container starts with default signal dispositions, not the shim's ignored ones.
    _, init_status, _ = await harness.exec(cid, "cat", "/proc/1/status")
    assert next(line for line in init_status.splitlines() if line.startswith(b"SigIgn")) == b"SigIgn:\t0000000000000000"

    root = await harness.run(sid, "root", *SLEEP, security=Security(run_as_user=4321, run_as_group=99, capabilities_drop=("ALL",)))
    assert await harness.exec(root, "id", "-u") == (0, b"4321\n", b"")
    assert await harness.exec(root, "id", "-g") == (0, b"99\n", b"")


async def test_cpu_and_pids_limits_land_in_the_container_cgroup(harness: Harness) -> None:
    rt = harness.runtime
    config = harness.sandbox_config("limits")
    sid = await rt.run_pod_sandbox(config)
    limits = Resources(cpu_shares=256, cpu_quota=20_000, cpu_period=100_000, pids_limit=32)
    cid = await harness.run(sid, "limited", *SLEEP, resources=limits)
    cgroup = f"{config.effective_cgroup_parent}/{cid}".strip("/")
    cpu = Path("/sys/fs/cgroup/cpu") / cgroup
    if cpu.exists():
        assert (cpu / "cpu.shares").read_text().strip() == "256"
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "20000"
        assert (Path("/sys/fs/cgroup/pids") / cgroup / "pids.max").read_text().strip() == "32"
    else:
        unified = Path("/sys/fs/cgroup") / cgroup
        assert (unified / "cpu.max").read_text().split() == ["20000", "100000"]
        assert (unified / "pids.max").read_text().strip() == "32"


async def test_teardown_leaves_no_namespace_veth_ip_mount_rule_or_cgroup(harness: Harness) -> None:
    rt = harness.runtime
    net = harness.net
    config = harness.sandbox_config("gone", port_mappings=(PortMapping(container_port=80, host_port=38080),))
    sid = await rt.run_pod_sandbox(config)
    a = await harness.run(sid, "a", *SLEEP)
    await harness.run(sid, "b", "sh", "-c", "echo bye")
    ipam = rt.dirs.cni / "networks"
    assert kit.netns_names(net.settings.netns_prefix)
    assert kit.bridge_ports(net.settings.bridge)
    assert kit.ip_allocations(ipam)
    assert kit.mounts_under(harness.base)
    assert kit.cgroup_dirs(config.effective_cgroup_parent)
    assert a in kit.runc_containers("runc", harness.base / "runc")
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert sid in rules, "portmap should have published the host port"

    await rt.stop_pod_sandbox(sid)
    assert (await rt.sandbox_status(sid)).state is SandboxState.NOT_READY
    assert not kit.netns_names(net.settings.netns_prefix)
    await rt.remove_pod_sandbox(sid)
    await rt.remove_pod_sandbox(sid)  # idempotent

    assert kit.netns_names(net.settings.netns_prefix) == []
    assert kit.bridge_ports(net.settings.bridge) == []
    assert kit.ip_allocations(ipam) == []
    assert kit.mounts_under(harness.base) == []
    assert kit.cgroup_dirs(config.effective_cgroup_parent) == []
    assert kit.runc_containers("runc", harness.base / "runc") == []
    assert sid not in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    assert await rt.list_containers() == [] and await rt.list_sandboxes() == []
    assert not any((rt.dirs.logs).iterdir())


def crun_unusable() -> str:
    """Why crun cannot run containers on this host, or ''."""
    if shutil.which("crun") is None:
        return "crun is not installed"
    unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    if unified.exists() and unified.read_text().strip():
        # crun 1.8 stops at "cgroups in hybrid mode not supported", even with --cgroup-manager=disabled.
        return f"crun refuses hybrid cgroups with controllers on the unified hierarchy ({unified.read_text().strip()})"
    return ""


@pytest.mark.skipif(bool(crun_unusable()), reason=crun_unusable() or "-")
async def test_crun_can_replace_runc(harness: Harness) -> None:
    binary = "crun"
    rt = make_runtime(harness.base, harness.net, runtime_binary=binary)
    try:
        sid = await rt.run_pod_sandbox(harness.sandbox_config("crun"))
        cid = await rt.create_container(sid, harness.container_config("c", "sh", "-c", "echo via crun; sleep 1000"))
        await rt.start_container(cid)
        await harness.wait_for_log(cid, "via crun")
        assert cid in kit.runc_containers(binary, harness.base / "runc")
        out: list[bytes] = []

        async def collect(b: bytes) -> None:
            out.append(b)

        assert await rt.exec(cid, ["sh", "-c", "echo hi; exit 5"], stdout=collect) == 5
        assert b"".join(out) == b"hi\n"
        await rt.stop_container(cid, timeout=0.5)
        assert (await rt.container_status(cid)).exit_code == 137
    finally:
        await teardown_everything(rt, harness.base)


AGENT_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from kybernetes.agent.runtime.network import NetworkSettings
from kybernetes.agent.runtime.runc import RuncRuntime, RuncSettings
from kybernetes.agent.runtime.types import ContainerConfig, PodSandboxConfig

async def main():
    args = json.loads(sys.argv[1])
    net = NetworkSettings(**args["network"])
    rt = RuncRuntime(RuncSettings(data_dir=Path(args["base"]) / "data", runtime_root=Path(args["base"]) / "runc", network=net))
    await rt.adopt()
    sid = await rt.run_pod_sandbox(PodSandboxConfig(uid="adopt", name="adopt", namespace="test", cgroup_parent=args["cgroup"]))
    layer = (Path(args["layer"]),)
    ticker = await rt.create_container(sid, ContainerConfig(name="ticker", lowerdirs=layer,
        command=("sh", "-c", "while true; do echo tick; sleep 0.1; done")))
    quitter = await rt.create_container(sid, ContainerConfig(name="quitter", lowerdirs=layer,
        command=("sh", "-c", "sleep 1; echo leaving; exit 5")))
    await rt.start_container(ticker)
    await rt.start_container(quitter)
    print(json.dumps({"sandbox": sid, "ticker": ticker, "quitter": quitter}), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_a_killed_agent_leaves_containers_running_and_a_new_one_adopts_them(harness: Harness) -> None:
    import json

    s = harness.net.settings
    args = {
        "base": str(harness.base), "layer": str(harness.layer), "cgroup": f"{harness.cgroup_root}/podadopt",
        "network": {"pod_cidr": s.pod_cidr, "bridge": s.bridge, "network_name": s.network_name, "netns_prefix": s.netns_prefix},
    }
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT_SCRIPT, json.dumps(args)], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(agent.stdout.readline), 30)  # type: ignore[union-attr]
        ids = json.loads(line)
        before = await harness.runtime.container_status(ids["ticker"])
        assert before.state is ContainerState.RUNNING
    finally:
        agent.kill()  # SIGKILL: no chance to clean anything up
        agent.wait()
    killed_at = time.time_ns()

    rt = make_runtime(harness.base, harness.net)
    await rt.adopt()
    ticker = await rt.container_status(ids["ticker"])
    assert ticker.state is ContainerState.RUNNING and ticker.pid == before.pid
    # The quitter ends while no agent runs; its shim still records how.
    quitter = await asyncio.wait_for(rt.wait_container(ids["quitter"]), 10)
    assert (quitter.state, quitter.exit_code, quitter.reason) == (ContainerState.EXITED, 5, "Error")
    assert quitter.finished_at > killed_at
    # Output written after the agent died still reaches the log.
    await asyncio.sleep(0.3)
    assert ticker.log_path is not None
    assert any(r.timestamp_ns > killed_at for r in logs.read_records(ticker.log_path))
    code, out, _ = await harness.exec(ids["ticker"], "echo", "adopted")
    assert (code, out) == (0, b"adopted\n")
    await rt.stop_container(ids["ticker"], timeout=0.5)
    assert (await rt.container_status(ids["ticker"])).exit_code == 137
    assert {s.id for s in await rt.list_sandboxes()} == {ids["sandbox"]}


def test_the_runtime_works_on_uvloop(busybox_layer: Path, test_network: kit.TestNetwork, cgroup_root: str, tmp_path: Path) -> None:
    """The agent runs on uvloop, whose subprocesses differ from asyncio's (it lets descriptors through)."""
    import uvloop

    async def scenario() -> None:
        runtime = make_runtime(tmp_path, test_network)
        h = Harness(runtime, tmp_path, busybox_layer, test_network, cgroup_root)
        try:
            sid = await runtime.run_pod_sandbox(h.sandbox_config("uv"))
            cid = await asyncio.wait_for(h.run(sid, "main", "sh", "-c", "echo started; sleep 1000"), 20)
            await h.wait_for_log(cid, "started")
            assert await asyncio.wait_for(h.exec(cid, "sh", "-c", "cat; exit 2", stdin=b"in\n"), 20) == (2, b"in\n", b"")
            out: list[bytes] = []

            async def collect(b: bytes) -> None:
                out.append(b)

            assert await asyncio.wait_for(runtime.exec(cid, ["tty"], stdout=collect, tty=True), 20) == 0
            assert b"/dev/pts/" in b"".join(out)
            await asyncio.wait_for(runtime.stop_container(cid, timeout=0.2), 20)
            assert (await runtime.container_status(cid)).exit_code == 137
        finally:
            await teardown_everything(runtime, tmp_path)

    uvloop.run(scenario())


async def test_a_host_port_reaches_the_pod(harness: Harness) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:  # a port free on this host right now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rt = harness.runtime
    sid = await rt.run_pod_sandbox(harness.sandbox_config("hostport", port_mappings=(PortMapping(8080, port),)))
    await harness.run(sid, "web", "sh", "-c", "echo via-host-port > /tmp/index.html; exec httpd -f -p 8080 -h /tmp")

    def fetch() -> bytes:
        # Loopback in, DNAT to the pod over the test bridge: nothing leaves the machine (and no proxy is asked).
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/index.html", timeout=2) as resp:
            return bytes(resp.read())

    for _ in range(50):
        try:
            body = await asyncio.to_thread(fetch)
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"nothing answered on host port {port}")
    assert body == b"via-host-port\n"
