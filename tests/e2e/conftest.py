"""End-to-end fixtures: a whole single-node cluster (`kyb server` with its node agent) driven by the real kubectl.

`cluster` runs the agent on runc (root, real containers, CNI); `sim_cluster` runs the same server
with the simulated runtime (no root). Both are started once per session. Every cluster gets its
own pod and Service ranges, node name and agent port, so that several test sessions (and a
developer's own `make run`) can run on one machine at the same time. Pods may route only to the
cluster's own ranges (`--pod-egress cluster`): nothing a pod sends can leave the machine.

Tests use `e2e_kubectl` (kubectl 1.27, 1.32 and 1.33 in turn) or `e2e_kubectl132`, each in a
fresh namespace. The example image `busybox-httpd:1` (examples/busybox-httpd) is built into the
runc cluster's image store before the server starts.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.conftest import KUBECTL_VERSIONS, REPO, Kubectl, RunningServer, _make_kubectl, free_port, start_server

EXAMPLE = REPO / "examples" / "busybox-httpd"
EXAMPLE_IMAGE = "busybox-httpd:1"


@dataclass
class Cluster:
    """A running single-node cluster and the facts tests need about it."""

    server: RunningServer
    node: str
    runtime: str
    cluster_cidr: str
    service_cidr: str
    kubelet_port: int

    def restart(self, *, kill: bool = False) -> None:
        """Stop the server and its agent (SIGTERM, or SIGKILL as a crash) and start them again on the same port."""
        self.server.stop(signal.SIGKILL if kill else signal.SIGTERM, timeout=30)
        self.server = start_server(self.server.data_dir, *self.server.extra_args, port=self.server.port,
                                   control_plane_only=False)
        wait_for(lambda: _node_ready(self.server, self.node), 20, f"node {self.node} Ready after a restart")

    def kubectl(self, version: str, tmp_path: Path) -> Kubectl:
        return _make_kubectl(self.server, version, tmp_path)


def _used_ten_slash_16s() -> set[int]:
    """Second octets of 10.x.0.0/16 ranges that already have routes here (other clusters, other tests)."""
    out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    used = set()
    for line in out.splitlines():
        words = [w for w in line.split() if w not in ("unreachable", "blackhole", "prohibit")]
        dest = words[0] if words else ""
        if dest.startswith("10."):
            used.add(int(dest.split(".")[1]))
    return used


def pick_ranges() -> tuple[str, str]:
    """A pod range and a Service range no other cluster on this machine routes."""
    used = _used_ten_slash_16s()
    candidates = [n for n in range(100, 250, 2) if n not in used and n + 1 not in used]
    n = random.Random(os.getpid() ^ time.monotonic_ns()).choice(candidates)
    return f"10.{n}.0.0/16", f"10.{n + 1}.0.0/16"


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll `predicate` until it returns something truthy; fail the test naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def _node_ready(server: RunningServer, node: str) -> bool:
    result = subprocess.run(["kubectl", "--kubeconfig", str(server.kubeconfig), "get", "node", node, "-o", "json"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return False
    conditions = json.loads(result.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


OFFLINE_REGISTRIES = "mirrors:\n  '*':\n    endpoint: ['http://127.0.0.1:1']\n"
"""Every registry is mirrored to a closed port on loopback, and (with --disable-default-registry-endpoint)
never reached directly: a test pod naming a Docker Hub image cannot make the node send a packet out."""


def keep_pulls_local(data_dir: Path) -> tuple[str, ...]:
    """Write the node's registries.yaml for OFFLINE_REGISTRIES; return the flag that enforces it."""
    etc = data_dir / "agent" / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "registries.yaml").write_text(OFFLINE_REGISTRIES)
    return ("--disable-default-registry-endpoint",)


def start_cluster(data_dir: Path, runtime: str, *extra: str) -> Cluster:
    extra = (*keep_pulls_local(data_dir), *extra)
    cluster_cidr, service_cidr = pick_ranges()
    node = f"e2e-{uuid.uuid4().hex[:6]}"
    kubelet_port = free_port()
    server = start_server(
        data_dir, "--agent-runtime", runtime, "--node-name", node, "--node-ip", "127.0.0.1",
        "--kubelet-port", str(kubelet_port), "--cluster-cidr", cluster_cidr, "--service-cidr", service_cidr,
        "--pod-egress", "cluster", *extra, control_plane_only=False,
    )
    try:
        wait_for(lambda: _node_ready(server, node), 20, f"node {node} Ready")
    except BaseException:
        server.stop()
        raise
    return Cluster(server, node, runtime, cluster_cidr, service_cidr, kubelet_port)


def build_example(data_dir: Path) -> None:
    """`kyb build` the example image into the node's image store (prepare.sh copies the host's busybox)."""
    subprocess.run([str(EXAMPLE / "prepare.sh")], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "kybernetes", "build", "-q", "-t", EXAMPLE_IMAGE, "--data-dir", str(data_dir),
                    str(EXAMPLE)], check=True, capture_output=True, cwd=REPO)


def runc_available() -> str | None:
    """Why the runc cluster cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("runc", "ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/usr/lib/cni/bridge").exists() and not Path("/opt/cni/bin/bridge").exists():
        return "CNI plugins are not installed"
    return None


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A single-node cluster whose node runs pods on runc."""
    reason = runc_available()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the runc cluster cannot run in CI: {reason}")
        pytest.skip(f"runc cluster: {reason}")
    data_dir = tmp_path_factory.mktemp("e2e-runc") / "data"
    data_dir.mkdir()
    build_example(data_dir)
    c = start_cluster(data_dir, "runc")
    yield c
    _delete_all_pods(c)
    c.server.stop(timeout=30)
    _remove_node_leftovers(data_dir)
    remove_fences(c.cluster_cidr, c.service_cidr)


@pytest.fixture(scope="session")
def sim_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The same cluster with the simulated runtime: needs no root, runs nothing."""
    data_dir = tmp_path_factory.mktemp("e2e-sim") / "data"
    c = start_cluster(data_dir, "simulated")
    yield c
    c.server.stop()


def _delete_all_pods(c: Cluster) -> None:
    """Stop every pod before the server goes, so no container, mount, netns or veth outlives the session."""
    subprocess.run(["kubectl", "--kubeconfig", str(c.server.kubeconfig), "delete", "pods", "--all", "-A",
                    "--grace-period=1", "--timeout=60s"], capture_output=True, text=True, timeout=90)
    # The API object goes first; the agent then removes the sandbox. Wait for that before stopping it.
    sandboxes = c.server.data_dir / "agent" / "sandboxes"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sandboxes.exists() and any(sandboxes.iterdir()):
        time.sleep(0.2)


def _remove_node_leftovers(data_dir: Path) -> None:
    """The pod bridge and runc's state directory are the node's, made for this session only."""
    from kybernetes.daemons.node import NodeSettings

    node = NodeSettings(data_dir=data_dir)
    subprocess.run(["ip", "link", "del", node.bridge_name], capture_output=True)
    shutil.rmtree(node.runc_root, ignore_errors=True)


def remove_fences(*cidrs: str) -> None:
    """The node fences the cluster's ranges with unreachable routes; a test cluster's ranges go with it."""
    for cidr in cidrs:
        subprocess.run(["ip", "route", "del", "unreachable", cidr], capture_output=True)


@pytest.fixture(params=KUBECTL_VERSIONS, ids=lambda v: f"kubectl-{v}")
def e2e_kubectl(request: pytest.FixtureRequest, cluster: Cluster, tmp_path: Path) -> Kubectl:
    """kubectl 1.27, 1.32 and 1.33 in turn against the runc cluster, each in a fresh namespace."""
    return cluster.kubectl(request.param, tmp_path)


@pytest.fixture
def e2e_kubectl132(cluster: Cluster, tmp_path: Path) -> Kubectl:
    return cluster.kubectl("1.32", tmp_path)


@pytest.fixture(params=("runc", "simulated"))
def any_cluster(request: pytest.FixtureRequest) -> Cluster:
    """The runc cluster and the simulated one in turn, for behaviour both runtimes must show alike."""
    return request.getfixturevalue("cluster" if request.param == "runc" else "sim_cluster")


@pytest.fixture
def any_kubectl(any_cluster: Cluster, tmp_path: Path) -> Kubectl:
    """kubectl 1.32 against `any_cluster`, in a fresh namespace."""
    return any_cluster.kubectl("1.32", tmp_path)
