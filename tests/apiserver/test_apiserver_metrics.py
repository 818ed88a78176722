"""metrics.k8s.io: rates from two scrapes of the node agents, the objects kubectl top reads, discovery and errors."""

from __future__ import annotations

import asyncio
import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from kybernetes.agent import resourcemetrics
from kybernetes.agent.runtime.simulated import SimulatedRuntime
from kybernetes.agent.runtime.stats import NodeStats
from kybernetes.agent.runtime.types import ContainerConfig, ContainerStats, PodSandboxConfig
from kybernetes.aio.clock import FakeClock
from kybernetes.api import errors
from kybernetes.api.labels import Selector
from kybernetes.apiserver import metrics
from tests.apiserver.rawapi import API
from tests.conftest import Kubectl, RunningServer, _make_kubectl, free_port, start_server

Obj = dict[str, Any]
NANO = 1_000_000_000


def node(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}


def pod(name: str, node_name: str, *containers: str, namespace: str = "default", phase: str = "Running",
        **labels: str) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"nodeName": node_name, "containers": [{"name": c} for c in containers]},
            "status": {"phase": phase}}


@dataclass
class Objects:
    """The API's nodes and pods, as the metrics API reads them."""

    node_list: list[Obj] = field(default_factory=list)
    pod_list: list[Obj] = field(default_factory=list)

    def nodes(self, selector: Selector) -> list[Obj]:
        return [n for n in self.node_list if selector.matches(n["metadata"].get("labels"))]

    def node(self, name: str) -> Obj:
        for n in self.node_list:
            if n["metadata"]["name"] == name:
                return n
        raise errors.not_found_error("node", name)

    def pods(self, namespace: str | None, selector: Selector) -> list[Obj]:
        return [p for p in self.pod_list if namespace in (None, p["metadata"]["namespace"])
                and selector.matches(p["metadata"].get("labels"))]

    def pod(self, namespace: str, name: str) -> Obj:
        for p in self.pod_list:
            if (p["metadata"]["namespace"], p["metadata"]["name"]) == (namespace, name):
                return p
        raise errors.not_found_error("pods", name)


@dataclass
class Workload:
    """What one container does on a fake agent: a steady CPU rate and a memory size, since `started` (seconds)."""

    nanocores: int
    memory: int
    started: float = 0.0


@dataclass
class Agents:
    """Fake node agents: each page is rendered as the real agent renders it, from steady workloads on a fake clock."""

    clock: FakeClock
    node_nanocores: dict[str, int] = field(default_factory=dict)
    containers: dict[str, dict[tuple[str, str, str], Workload]] = field(default_factory=dict)
    unreachable: set[str] = field(default_factory=set)
    calls: dict[str, int] = field(default_factory=dict)

    def _ns(self, seconds: float) -> int:
        return int((self.clock.now().timestamp() - self.clock.monotonic() + seconds) * NANO)

    async def __call__(self, node_obj: Obj) -> str:
        name = node_obj["metadata"]["name"]
        self.calls[name] = self.calls.get(name, 0) + 1
        if name in self.unreachable:
            raise metrics.ScrapeError("connection refused")
        now = self.clock.monotonic()
        at = self._ns(now)
        samples = [
            resourcemetrics.ContainerSample(ns, pod_name, container, self._ns(w.started),
                                            ContainerStats(at, int((now - w.started) * w.nanocores), w.memory))
            for (ns, pod_name, container), w in self.containers.get(name, {}).items() if w.started <= now
        ]
        node_stats = NodeStats(at, int(now * self.node_nanocores.get(name, 0)) + 10 * NANO, 2**30)
        return resourcemetrics.render(node_stats, samples)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def agents(clock: FakeClock) -> Agents:
    return Agents(clock)


@pytest.fixture
def api(agents: Agents, clock: FakeClock) -> metrics.MetricsAPI:
    return metrics.MetricsAPI(agents, clock=clock)


async def answer(api: metrics.MetricsAPI, clock: FakeClock, objects: Objects, query: metrics.Query) -> Obj:
    """Run a request to its end, moving the fake clock on whenever the metrics API waits between scrapes."""
    task = asyncio.create_task(api.answer(objects, query))
    for _ in range(1000):
        await asyncio.sleep(0)
        if task.done():
            break
        if clock.pending():
            clock.step(clock.pending()[0])
    return await task


# ----- windows and rates -----------------------------------------------------------------------------


async def test_the_first_answer_measures_two_scrapes_a_second_apart(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock) -> None:
    agents.node_nanocores["n1"] = 250_000_000
    got = await answer(api, clock, Objects([node("n1", zone="a")]), metrics.Query("nodes"))
    assert got == {
        "kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {},
        "items": [{
            "kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": "n1", "creationTimestamp": "2024-01-01T00:00:01Z", "labels": {"zone": "a"}},
            "timestamp": "2024-01-01T00:00:01Z", "window": "1s", "usage": {"cpu": "250m", "memory": "1Gi"},
        }],
    }
    assert agents.calls == {"n1": 2}


async def test_answers_reuse_fresh_scrapes_and_later_ones_measure_since_the_last(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock) -> None:
    objects = Objects([node("n1")])
    agents.node_nanocores["n1"] = 100_000_000
    await answer(api, clock, objects, metrics.Query("nodes"))
    clock.step(3)
    again = await answer(api, clock, objects, metrics.Query("nodes"))
    assert agents.calls == {"n1": 2} and again["items"][0]["window"] == "1s"
    clock.step(7)
    later = await answer(api, clock, objects, metrics.Query("nodes"))
    assert agents.calls == {"n1": 3}
    assert later["items"][0]["window"] == "10s" and later["items"][0]["usage"]["cpu"] == "100m"


async def test_a_scrape_older_than_a_minute_is_not_averaged_over(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock) -> None:
    objects = Objects([node("n1")])
    await answer(api, clock, objects, metrics.Query("nodes"))
    clock.step(120)
    got = await answer(api, clock, objects, metrics.Query("nodes"))
    assert agents.calls == {"n1": 4} and got["items"][0]["window"] == "1s"


async def test_an_unreachable_node_is_left_out_and_tried_again_later(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock) -> None:
    objects = Objects([node("n1"), node("n2")])
    agents.unreachable.add("n2")
    got = await answer(api, clock, objects, metrics.Query("nodes"))
    assert [i["metadata"]["name"] for i in got["items"]] == ["n1"]
    clock.step(5)
    await answer(api, clock, objects, metrics.Query("nodes"))
    assert agents.calls["n2"] == 1
    agents.unreachable.clear()
    clock.step(6)
    got = await answer(api, clock, objects, metrics.Query("nodes"))
    assert [i["metadata"]["name"] for i in got["items"]] == ["n1", "n2"]


async def test_pods_are_listed_with_their_containers_in_spec_order(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock) -> None:
    agents.containers["n1"] = {
        ("default", "web", "sidecar"): Workload(2_000_000, 3 * 2**20),
        ("default", "web", "app"): Workload(150_000_000, 12345 * 1024),
        ("default", "db", "db"): Workload(0, 1000),
        ("other", "x", "x"): Workload(1, 1),
    }
    objects = Objects([node("n1")], [pod("web", "n1", "app", "sidecar", app="web"), pod("db", "n1", "db"),
                                     pod("waiting", "n1", "w", phase="Pending"), pod("x", "n1", "x", namespace="other")])
    got = await answer(api, clock, objects, metrics.Query("pods", "default"))
    assert got["kind"] == "PodMetricsList"
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in got["items"]] == [("default", "db"), ("default", "web")]
    web = got["items"][1]
    assert web["metadata"]["labels"] == {"app": "web"} and web["window"] == "1s"
    assert web["containers"] == [{"name": "app", "usage": {"cpu": "150m", "memory": "12345Ki"}},
                                 {"name": "sidecar", "usage": {"cpu": "2m", "memory": "3Mi"}}]
    assert got["items"][0]["containers"] == [{"name": "db", "usage": {"cpu": "0", "memory": "1k"}}]
    everywhere = await answer(api, clock, objects, metrics.Query("pods"))
    assert [i["metadata"]["name"] for i in everywhere["items"]] == ["db", "web", "x"]


@pytest.mark.parametrize(
    ("labels", "fields", "expected"),
    [("app=web", "", ["web"]), ("app!=web", "", ["db"]), ("", "metadata.name=db", ["db"]),
     ("", "metadata.namespace!=default", []), ("", "spec.nodeName=n1", [])],
    ids=["label", "label-not", "name-field", "namespace-field", "other-fields-match-nothing"],
)
async def test_pod_lists_take_label_and_metadata_field_selectors(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock, labels: str, fields: str, expected: list[str]) -> None:
    agents.containers["n1"] = {("default", "web", "app"): Workload(1, 1), ("default", "db", "db"): Workload(1, 1)}
    objects = Objects([node("n1")], [pod("web", "n1", "app", app="web"), pod("db", "n1", "db", app="db")])
    query = metrics.parse_query(["namespaces", "default", "pods"], {"labelSelector": labels, "fieldSelector": fields})
    got = await answer(api, clock, objects, query)
    assert [i["metadata"]["name"] for i in got["items"]] == expected


async def test_a_container_started_since_the_last_scrape_is_measured_from_its_start(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock) -> None:
    objects = Objects([node("n1")], [pod("web", "n1", "app")])
    await answer(api, clock, objects, metrics.Query("pods", "default"))
    agents.containers["n1"] = {("default", "web", "app"): Workload(500_000_000, 2**20, started=clock.monotonic() + 2)}
    clock.step(10)
    got = await answer(api, clock, objects, metrics.Query("pods", "default"))
    assert got["items"][0]["window"] == "8s" and got["items"][0]["containers"][0]["usage"]["cpu"] == "500m"


async def test_a_container_younger_than_the_first_window_has_no_figures_yet(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock) -> None:
    agents.containers["n1"] = {("default", "web", "app"): Workload(1, 1, started=0.5)}
    objects = Objects([node("n1")], [pod("web", "n1", "app")])
    got = await answer(api, clock, objects, metrics.Query("pods", "default"))
    assert got["items"] == []


# ----- single objects and errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (metrics.Query("pods", "default", "nope"), 'pods "nope" not found'),
        (metrics.Query("pods", "default", "waiting"), 'podmetrics.metrics.k8s.io "default/waiting" not found'),
        (metrics.Query("nodes", name="nope"), 'node "nope" not found'),
        (metrics.Query("nodes", name="down"), 'nodemetrics.metrics.k8s.io "down" not found'),
    ],
    ids=["no-pod", "pod-not-running", "no-node", "node-unreachable"],
)
async def test_missing_objects_and_missing_figures_are_upstreams_not_found(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock, query: metrics.Query, message: str) -> None:
    agents.unreachable.add("down")
    objects = Objects([node("n1"), node("down")], [pod("waiting", "n1", "w", phase="Pending")])
    with pytest.raises(errors.APIError) as raised:
        await answer(api, clock, objects, query)
    assert (raised.value.code, raised.value.reason, raised.value.message) == (404, "NotFound", message)


async def test_one_pod_by_name_is_a_single_pod_metrics(
        api: metrics.MetricsAPI, agents: Agents, clock: FakeClock) -> None:
    agents.containers["n1"] = {("default", "web", "app"): Workload(1_234_567, 12345 * 1024)}
    objects = Objects([node("n1")], [pod("web", "n1", "app")])
    got = await answer(api, clock, objects, metrics.Query("pods", "default", "web"))
    assert got["kind"] == "PodMetrics"
    assert got["containers"] == [{"name": "app", "usage": {"cpu": "1234567n", "memory": "12345Ki"}}]


@pytest.mark.parametrize(
    ("rest", "params", "code"),
    [(["nodes"], {"watch": "true"}, 405), (["pods", "web"], {}, 404), (["namespaces", "x", "nodes"], {}, 404),
     (["services"], {}, 404), (["pods"], {"labelSelector": "a in (b"}, 400)],
    ids=["watch", "pod-without-namespace", "namespaced-nodes", "other-resource", "bad-selector"],
)
def test_paths_and_queries_metrics_server_does_not_serve_are_refused(rest: list[str], params: dict[str, str], code: int) -> None:
    with pytest.raises(errors.APIError) as raised:
        metrics.parse_query(rest, params)
    assert raised.value.code == code


# ----- formats -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ns", "text"),
    [(0, "0s"), (1_000_000_000, "1s"), (1_007_000_000, "1.007s"), (60_500_000_000, "1m0.5s"),
     (3_723_000_000_000, "1h2m3s"), (500_000_000, "500ms"), (1500, "1.5µs"), (7, "7ns")],
    ids=["zero", "second", "ms-precision", "minute", "hour", "sub-second", "micro", "nano"],
)
def test_windows_are_written_as_go_durations(ns: int, text: str) -> None:
    assert metrics.go_duration(ns) == text


def test_a_page_from_the_agent_parses_back_into_the_same_figures() -> None:
    at = 1_700_000_000_123_000_000
    sample = resourcemetrics.ContainerSample('we"ird\\ns', "pod,1", "c=1", at - 5 * NANO, ContainerStats(at, 1_500_000_000, 4096))
    page = resourcemetrics.render(NodeStats(at, 10 * NANO, 2**30), [sample])
    scrape = metrics.parse_scrape(page, default_ns=0)
    assert scrape.node == metrics.Point(at // 1_000_000 * 1_000_000, 10 * NANO, 2**30)
    point = scrape.containers[('we"ird\\ns', "pod,1", "c=1")]
    assert (point.timestamp, point.cpu, point.memory) == (at // 1_000_000 * 1_000_000, 1_500_000_000, 4096)
    # Start times travel as float seconds: exact to well under a microsecond.
    assert abs(point.start_time - (at - 5 * NANO)) < 1000
    assert list(scrape.containers) == [('we"ird\\ns', "pod,1", "c=1")]


async def test_a_simulated_millicore_is_measured_as_exactly_one_millicore() -> None:
    # kubectl rounds CPU up to whole millicores: 1000001n would show as 2m.
    clock = FakeClock(datetime.datetime(2024, 1, 1, 0, 0, 0, 123457, tzinfo=datetime.timezone.utc))
    runtime = SimulatedRuntime(clock=clock)
    sandbox = await runtime.run_pod_sandbox(PodSandboxConfig(uid="u1", name="web", namespace="ns"))
    app = await runtime.create_container(sandbox, ContainerConfig(name="app", lowerdirs=()))
    clock.step(0.0004567)
    await runtime.start_container(app)

    async def scrape() -> metrics.Scrape:
        samples, _ = await resourcemetrics.collect(runtime)
        return metrics.parse_scrape(resourcemetrics.render(runtime.node_stats(), samples), default_ns=0)

    clock.step(1.2345678)
    first = await scrape()
    clock.step(3.3333333)
    second = await scrape()
    key = ("ns", "web", "app")
    from_start = metrics.container_usage(metrics.Scrape(None, {}), first, key, min_age=NANO)
    between = metrics.container_usage(first, second, key, min_age=NANO)
    assert from_start is not None and between is not None
    assert (from_start.cpu_nanocores, between.cpu_nanocores) == (1_000_000, 1_000_000)
    assert metrics.cpu_quantity(between.cpu_nanocores) == "1m"


# ----- a server without agents ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def agentless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A control plane of its own: its only node's agent does not answer (a closed port on loopback)."""
    data_dir = tmp_path_factory.mktemp("metrics") / "data"
    srv = start_server(data_dir)
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "silent"},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": free_port()}},
                       "allocatable": {"cpu": "2", "memory": "4Gi"}}}
    status, _, _ = API(srv).request("POST", "/api/v1/nodes", json.dumps(body).encode())
    assert status == 201
    yield srv
    srv.stop()


@pytest.fixture
def top_kubectl(agentless: RunningServer, tmp_path: Path) -> Kubectl:
    return _make_kubectl(agentless, "1.32", tmp_path)


def test_discovery_lists_the_metrics_group_legacy_and_aggregated(agentless: RunningServer) -> None:
    api = API(agentless)
    _, groups, _ = api.request("GET", "/apis")
    assert {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"} in next(
        g for g in groups["groups"] if g["name"] == "metrics.k8s.io")["versions"]
    _, resources, _ = api.request("GET", "/apis/metrics.k8s.io/v1beta1")
    assert resources["resources"] == [
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics", "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]},
    ]
    _, aggregated, _ = api.request("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    item = next(i for i in aggregated["items"] if i["metadata"]["name"] == "metrics.k8s.io")
    assert [(r["resource"], r["scope"]) for r in item["versions"][0]["resources"]] == [("nodes", "Cluster"), ("pods", "Namespaced")]


def test_an_unreachable_agent_gives_empty_lists_not_errors(agentless: RunningServer) -> None:
    api = API(agentless)
    assert api.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")[:2] == (
        200, {"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": {}, "items": []})
    status, body, _ = api.request("GET", "/apis/metrics.k8s.io/v1beta1/pods")
    assert (status, body["items"]) == (200, [])
    status, body, _ = api.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes/silent")
    assert (status, body["message"]) == (404, 'nodemetrics.metrics.k8s.io "silent" not found')


def test_kubectl_top_without_figures_says_so_as_upstream(top_kubectl: Kubectl) -> None:
    pods = top_kubectl("top", "pod", check=False)
    assert (pods.returncode, pods.stderr.strip()) == (0, f"No resources found in {top_kubectl.namespace} namespace.")
    nodes = top_kubectl("top", "node", check=False)
    assert (nodes.returncode, nodes.stderr.strip()) == (1, "error: metrics not available yet")
    missing = top_kubectl("top", "pod", "nope", check=False)
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
