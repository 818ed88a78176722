"""OCI bundle rules: command merge, $(VAR) expansion, env order, users, capabilities, stop signals, the spec's shape."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from kybernetes.agent.runtime import bundle
from kybernetes.agent.runtime.bundle import (
    DEFAULT_CAPABILITIES,
    BundlePaths,
    build_spec,
    capabilities,
    expand,
    expand_env,
    mapping_for,
    merge_command,
    parse_signal,
    process_args_and_env,
    resolve_user,
)
from kybernetes.agent.runtime.podfiles import hosts_file, resolv_conf
from kybernetes.agent.runtime.protocol import BundleError
from kybernetes.agent.runtime.types import (
    ContainerConfig,
    DNSConfig,
    HostAlias,
    Mount,
    PodSandboxConfig,
    Resources,
    Security,
)

ENTRYPOINT = ["/entry", "--flag"]
CMD = ["cmd-arg"]


@pytest.mark.parametrize(
    ("command", "args", "entrypoint", "cmd", "expected"),
    [
        ([], [], ENTRYPOINT, CMD, ["/entry", "--flag", "cmd-arg"]),
        ([], ["a1"], ENTRYPOINT, CMD, ["/entry", "--flag", "a1"]),
        (["/c"], [], ENTRYPOINT, CMD, ["/c"]),
        (["/c"], ["a1", "a2"], ENTRYPOINT, CMD, ["/c", "a1", "a2"]),
        ([], [], None, CMD, ["cmd-arg"]),
        ([], ["a1"], None, CMD, ["a1"]),
        ([], [], ENTRYPOINT, None, ["/entry", "--flag"]),
        ([], [], [""], CMD, ["cmd-arg"]),
        ([], ["a1"], None, None, ["a1"]),
        (["/c"], [], None, None, ["/c"]),
    ],
    ids=[
        "image-defaults", "args-replace-cmd", "command-drops-cmd", "command-and-args",
        "cmd-only-image", "args-over-cmd-only-image", "entrypoint-only-image", "empty-entrypoint-is-none",
        "args-without-image", "command-without-image",
    ],
)
def test_command_merges_with_entrypoint_and_cmd_as_upstream(command, args, entrypoint, cmd, expected) -> None:
    assert merge_command(command, args, entrypoint, cmd) == expected


def test_no_command_anywhere_is_an_error() -> None:
    with pytest.raises(BundleError, match="no command"):
        merge_command([], [], None, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR)", "value"),
        ("pre-$(VAR)-post", "pre-value-post"),
        ("$(VAR)$(VAR)", "valuevalue"),
        ("$$(VAR)", "$(VAR)"),
        ("$$$(VAR)", "$value"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$(VAR", "$(VAR"),
        ("$VAR", "$VAR"),
        ("$", "$"),
        ("a$", "a$"),
        ("$()", ""),
        ("$(EMPTY)x", "x"),
        ("100$", "100$"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_variable_references_expand_as_kubelet_does(text: str, expected: str) -> None:
    assert expand(text, mapping_for({"VAR": "value", "EMPTY": "", "": ""})) == expected


def test_env_values_see_only_the_variables_defined_before_them() -> None:
    env = expand_env([("A", "a"), ("B", "$(A)-b"), ("C", "$(D)"), ("D", "d"), ("A", "$(A)$(A)")])
    assert env == [("A", "a"), ("B", "a-b"), ("C", "$(D)"), ("D", "d"), ("A", "aa")]


def test_process_env_orders_defaults_image_then_container_and_expands_the_command() -> None:
    config = ContainerConfig(
        name="c", lowerdirs=(Path("/l"),), command=("echo", "$(GREETING)"), args=("$(IMAGE_ONLY)",),
        env=(("GREETING", "hi"), ("PATH", "/custom")),
        image_config={"Env": ["PATH=/image/bin", "IMAGE_ONLY=x", "GREETING=image"]}, tty=True,
    )
    argv, env = process_args_and_env(config, hostname="h1")
    # Image env is not a source for expansion: upstream expands against the container's env only.
    assert argv == ["echo", "hi", "$(IMAGE_ONLY)"]
    assert env == ["PATH=/custom", "HOSTNAME=h1", "TERM=xterm", "IMAGE_ONLY=x", "GREETING=hi"]


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n"
    )
    (tmp_path / "etc" / "group").write_text("root:x:0:\napp:x:1001:\nextra:x:2000:app,other\nstaff:x:50:\n")
    return tmp_path


@pytest.mark.parametrize(
    ("image_user", "security", "expected"),
    [
        ("", Security(), (0, 0, (0,))),
        ("app", Security(), (1000, 1001, (1001, 2000))),
        ("1000", Security(), (1000, 1001, (1001, 2000))),
        ("app:staff", Security(), (1000, 50, (50, 2000))),
        ("app:77", Security(), (1000, 77, (77, 2000))),
        ("4242", Security(), (4242, 0, (0,))),
        ("app", Security(run_as_user=1234), (1234, 0, (0,))),
        ("app:staff", Security(run_as_user=1000), (1000, 1001, (1001, 2000))),
        ("app", Security(run_as_user=5, run_as_group=6, supplemental_groups=(7, 8)), (5, 6, (6, 7, 8))),
        ("app", Security(run_as_group=9), (1000, 9, (9, 2000))),
    ],
    ids=[
        "default-root", "name", "uid-finds-gid", "name-and-group-name", "name-and-gid", "unknown-uid",
        "runAsUser-overrides-image", "runAsUser-drops-image-group", "runAsUser-group-supplemental", "runAsGroup-only",
    ],
)
def test_user_comes_from_security_context_over_image_user(image_root: Path, image_user: str, security: Security, expected) -> None:
    user = resolve_user(image_root, image_user, security)
    assert (user.uid, user.gid, user.additional_gids) == expected


def test_unknown_user_or_group_name_is_an_error(image_root: Path) -> None:
    with pytest.raises(BundleError, match="user ghost"):
        resolve_user(image_root, "ghost", Security())
    with pytest.raises(BundleError, match="group ghosts"):
        resolve_user(image_root, "app:ghosts", Security())


def test_capabilities_default_add_drop_and_privileged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle, "bounding_capabilities", lambda: frozenset(bundle.ALL_CAPABILITIES))
    assert capabilities(Security()) == list(DEFAULT_CAPABILITIES)
    caps = capabilities(Security(capabilities_add=("NET_ADMIN",), capabilities_drop=("CAP_KILL", "chown")))
    assert "CAP_NET_ADMIN" in caps and "CAP_KILL" not in caps and "CAP_CHOWN" not in caps
    assert capabilities(Security(capabilities_drop=("ALL",), capabilities_add=("NET_BIND_SERVICE",))) == ["CAP_NET_BIND_SERVICE"]
    assert capabilities(Security(privileged=True)) == list(bundle.ALL_CAPABILITIES)
    assert "CAP_SYS_ADMIN" in capabilities(Security(capabilities_add=("ALL",)))
    with pytest.raises(BundleError, match="CAP_BOGUS"):
        capabilities(Security(capabilities_add=("BOGUS",)))


@pytest.mark.parametrize(
    ("name", "expected"),
    [(None, signal.SIGTERM), ("", signal.SIGTERM), ("SIGUSR1", signal.SIGUSR1), ("quit", signal.SIGQUIT), ("9", 9),
     ("SIGRTMIN+3", signal.SIGRTMIN + 3)],
    ids=["none", "empty", "sig-name", "short-lowercase", "number", "realtime"],
)
def test_stop_signal_parses_every_docker_spelling(name, expected) -> None:
    assert parse_signal(name) == expected


def test_spec_joins_the_pod_network_and_applies_limits(tmp_path: Path) -> None:
    sandbox = PodSandboxConfig(uid="u1", name="web", namespace="ns", cgroup_parent="/kubepods/podu1")
    config = ContainerConfig(
        name="app", lowerdirs=(tmp_path,), command=("sleep", "1"),
        mounts=(Mount(Path("/data"), "/mnt/data", read_only=True),),
        resources=Resources(memory_limit_bytes=32 << 20, cpu_shares=512, cpu_quota=50_000, cpu_period=100_000, pids_limit=64),
    )
    paths = BundlePaths(
        rootfs=tmp_path, netns=Path("/run/netns/x"), hosts=Path("/s/hosts"), hostname=Path("/s/hostname"),
        resolv_conf=Path("/s/resolv.conf"), shm=Path("/s/shm"), termination_log=Path("/c/termination-log"),
    )
    spec = build_spec(config, sandbox, container_id="cid", paths=paths, memory_swap_supported=True)
    linux = spec["linux"]
    assert {"type": "network", "path": "/run/netns/x"} in linux["namespaces"]
    assert {n["type"] for n in linux["namespaces"]} == {"pid", "ipc", "uts", "mount", "network"}
    assert linux["cgroupsPath"] == "/kubepods/podu1/cid"
    assert linux["resources"]["memory"] == {"limit": 32 << 20, "swap": 32 << 20}
    assert linux["resources"]["cpu"] == {"shares": 512, "quota": 50_000, "period": 100_000}
    assert linux["resources"]["pids"] == {"limit": 64}
    assert "/proc/kcore" in linux["maskedPaths"] and "/proc/sys" in linux["readonlyPaths"]
    destinations = {m["destination"]: m for m in spec["mounts"]}
    for d in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/etc/hosts", "/etc/hostname",
              "/etc/resolv.conf", "/dev/termination-log", "/mnt/data"):
        assert d in destinations, d
    assert "ro" in destinations["/mnt/data"]["options"]
    assert destinations["/dev/shm"]["source"] == "/s/shm"
    assert spec["hostname"] == "web"
    assert spec["process"]["args"] == ["sleep", "1"]
    assert spec["process"]["cwd"] == "/"


def test_privileged_spec_has_no_masks_and_allows_devices(tmp_path: Path) -> None:
    sandbox = PodSandboxConfig(uid="u1", name="p", namespace="ns")
    config = ContainerConfig(name="c", lowerdirs=(tmp_path,), command=("true",), security=Security(privileged=True))
    paths = BundlePaths(tmp_path, Path("/n"), Path("/h"), Path("/hn"), Path("/r"), Path("/shm"), Path("/t"))
    spec = build_spec(config, sandbox, container_id="c1", paths=paths, memory_swap_supported=False)
    assert "maskedPaths" not in spec["linux"]
    assert spec["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert spec["linux"]["cgroupsPath"] == "/kybernetes/podu1/c1"


def test_hosts_file_names_the_pod_and_its_aliases() -> None:
    config = PodSandboxConfig(
        uid="u", name="web-0", namespace="prod", subdomain="web",
        host_aliases=(HostAlias("10.1.2.3", ("foo.local", "bar.local")),),
    )
    text = hosts_file(config, "10.42.0.7")
    assert "127.0.0.1\tlocalhost" in text
    assert "10.42.0.7\tweb-0.web.prod.svc.cluster.local\tweb-0" in text
    assert "10.1.2.3\tfoo.local\tbar.local" in text


def test_resolv_conf_renders_dns_config_or_copies_the_node(tmp_path: Path) -> None:
    dns = DNSConfig(servers=("10.43.0.10",), searches=("ns.svc.cluster.local", "svc.cluster.local"), options=("ndots:5",))
    assert resolv_conf(dns) == "search ns.svc.cluster.local svc.cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n"
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.1\n")
    assert resolv_conf(DNSConfig(), host=host) == "nameserver 192.0.2.1\n"
