"""metrics: `metrics.k8s.io/v1beta1` NodeMetrics and PodMetrics for `kubectl top` — metrics-server, in the API server.

Upstream, metrics-server scrapes every kubelet's `/metrics/resource` (Prometheus text: cumulative
CPU seconds and working-set bytes, for the node and each container), keeps the last two scrapes
of each node, and serves CPU as the rate between them and memory as the latest reading, behind
API aggregation. Here the API server does the same itself, on demand: a request scrapes the
agents of the nodes it concerns, over the mTLS path the streaming proxy uses (the kubelet-client
certificate; see `proxy.NodeProxy`).

Windows (`MetricsSettings`). A rate needs two scrapes of a node:
  * a scrape younger than `fresh` (5 s) is answered from again, with the one before it, so that a
    burst of requests does not scrape a node over and over;
  * otherwise the node is scraped now, and the window is the time since its previous scrape, if
    that is at most `max_window` (60 s, metrics-server's default resolution);
  * with no scrape yet, or only an older one, the node is scraped twice `first_window` (1 s)
    apart: the first `kubectl top` takes about a second, and its window is about a second.
A container that started after the earlier scrape is measured from its start time, with no CPU
used then (metrics-server's rule for fresh containers), once it has run `first_window`.

As metrics-server: a node whose agent cannot be reached is left out of lists (and not asked again
for `retry_after`), a pod appears only if it is Running and every container it reports could be
measured, a missing object is upstream's NotFound (`pods "x" not found`, `node "x" not found`) and
an object without figures is `podmetrics.metrics.k8s.io "ns/x" not found`. Lists accept label
selectors and `metadata.name`/`metadata.namespace` field selectors; only get and list are served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol

import aiohttp
import yarl
from aiohttp import web

from kybernetes.aio.clock import Clock, RealClock
from kybernetes.api import errors
from kybernetes.api.duration import format_time
from kybernetes.api.fields import FieldSelector, FieldSelectorError, parse_field_selector
from kybernetes.api.labels import Selector, SelectorError, parse_selector
from kybernetes.api.quantity import BINARY_SI, DECIMAL_SI, format_quantity, parse_quantity
from kybernetes.apiserver import discovery, tables
from kybernetes.apiserver.negotiation import Accept
from kybernetes.apiserver.proxy import NodeProxy, node_endpoint

if TYPE_CHECKING:
    from kybernetes.apiserver.app import APIServer

log = logging.getLogger(__name__)

Obj = dict[str, Any]
GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
# No singular names, as metrics-server (since its PR #1436): kubectl then derives `nodemetrics` and
# `podmetrics` from the kinds, so `kubectl get podmetrics` works.
RESOURCES = (
    discovery.HandledResource(GROUP, VERSION, "nodes", "", "NodeMetrics", False, ("get", "list")),
    discovery.HandledResource(GROUP, VERSION, "pods", "", "PodMetrics", True, ("get", "list")),
)
NANO = 1_000_000_000

ContainerKey = tuple[str, str, str]
"""(namespace, pod, container), as the agent labels its container series."""


# ----- one scrape --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    """Point is one reading: cumulative CPU core-nanoseconds and working-set bytes at a time (metrics-server's MetricsPoint)."""

    timestamp: int
    """UTC nanoseconds since the epoch."""
    cpu: int
    memory: int
    start_time: int = 0
    """When the container started (nanoseconds); 0 when unknown and for the node."""


@dataclass(frozen=True, slots=True)
class Scrape:
    """Scrape is one node agent's `/metrics/resource` page, parsed."""

    node: Point | None
    containers: dict[ContainerKey, Point]


def _parse_labels(text: str) -> dict[str, str]:
    """`a="x",b="y"` (the inside of the braces) with Prometheus' escapes."""
    labels: dict[str, str] = {}
    i = 0
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0 or eq + 1 >= len(text) or text[eq + 1] != '"':
            break
        name = text[i:eq].strip().lstrip(",").strip()
        j, value = eq + 2, []
        while j < len(text) and text[j] != '"':
            if text[j] == "\\" and j + 1 < len(text):
                j += 1
                value.append({"n": "\n"}.get(text[j], text[j]))
            else:
                value.append(text[j])
            j += 1
        labels[name] = "".join(value)
        i = j + 1
    return labels


def _series(line: str) -> tuple[str, dict[str, str], float, int | None] | None:
    """(name, labels, value, timestamp in ms) of a sample line; None for anything else."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    brace = line.find("{")
    space = line.find(" ")
    if brace >= 0 and (space < 0 or brace < space):
        close = line.rfind("}")
        if close < brace:
            return None
        name, labels, rest = line[:brace], _parse_labels(line[brace + 1:close]), line[close + 1:]
    else:
        name, labels, rest = line[:space], {}, line[space:]
    parts = rest.split()
    try:
        value = float(parts[0])
        timestamp = int(parts[1]) if len(parts) > 1 else None
    except (IndexError, ValueError):
        return None
    return name, labels, value, timestamp


def parse_scrape(text: str, *, default_ns: int) -> Scrape:
    """Read the node and container series of a resource metrics page; samples without a timestamp get `default_ns`."""
    node: dict[str, float] = {}
    node_ts = 0
    containers: dict[ContainerKey, dict[str, float]] = {}
    stamps: dict[ContainerKey, int] = {}
    for line in text.splitlines():
        parsed = _series(line)
        if parsed is None:
            continue
        name, labels, value, ms = parsed
        at = ms * 1_000_000 if ms is not None else default_ns
        if name in ("node_cpu_usage_seconds_total", "node_memory_working_set_bytes"):
            node[name] = value
            node_ts = max(node_ts, at)
        elif name in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                      "container_start_time_seconds"):
            key = (labels.get("namespace", ""), labels.get("pod", ""), labels.get("container", ""))
            containers.setdefault(key, {})[name] = value
            if name != "container_start_time_seconds":
                stamps[key] = max(stamps.get(key, 0), at)
    node_point = None
    if "node_cpu_usage_seconds_total" in node and "node_memory_working_set_bytes" in node:
        node_point = Point(node_ts, round(node["node_cpu_usage_seconds_total"] * NANO),
                           int(node["node_memory_working_set_bytes"]))
    points = {
        key: Point(stamps[key], round(v["container_cpu_usage_seconds_total"] * NANO),
                   int(v["container_memory_working_set_bytes"]),
                   round(v.get("container_start_time_seconds", 0) * NANO))
        for key, v in containers.items()
        if "container_cpu_usage_seconds_total" in v and "container_memory_working_set_bytes" in v
    }
    return Scrape(node_point, points)


# ----- rates -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """Usage is a measured rate: CPU in nanocores over `window` nanoseconds ending at `timestamp`, and memory."""

    timestamp: int
    window: int
    cpu_nanocores: int
    memory: int


def rate(prev: Point, last: Point) -> Usage | None:
    """The use between two readings; None if they do not follow each other (same time, counter went back)."""
    window = last.timestamp - prev.timestamp
    if window <= 0 or last.cpu < prev.cpu:
        return None
    return Usage(last.timestamp, window, (last.cpu - prev.cpu) * NANO // window, last.memory)


def container_usage(prev: Scrape, last: Scrape, key: ContainerKey, *, min_age: int) -> Usage | None:
    """A container's use between two scrapes; a container started since `prev` is measured from its start."""
    point = last.containers.get(key)
    if point is None:
        return None
    before = prev.containers.get(key)
    if before is not None and before.start_time == point.start_time and before.timestamp < point.timestamp:
        return rate(before, point)
    if point.start_time and point.timestamp - point.start_time >= min_age:
        return rate(Point(point.start_time, 0, 0), point)
    return None


def pod_usage(prev: Scrape, last: Scrape, namespace: str, name: str, *, min_age: int) -> list[tuple[str, Usage]] | None:
    """(container, use) of each container the pod's latest scrape reports; None unless all could be measured."""
    keys = sorted(k for k in last.containers if k[0] == namespace and k[1] == name)
    out = []
    for key in keys:
        usage = container_usage(prev, last, key, min_age=min_age)
        if usage is None:
            return None
        out.append((key[2], usage))
    return out or None


# ----- formatting --------------------------------------------------------------------------------


def go_duration(ns: int) -> str:
    """A duration as Go's time.Duration.String() writes it (`1.002s`, `1m0.5s`, `500ms`), which metav1.Duration carries."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)

    def fraction(value: int, scale: int) -> str:
        whole, rest = divmod(value, scale)
        digits = str(rest).rjust(len(str(scale)) - 1, "0").rstrip("0")
        return f"{whole}.{digits}" if digits else str(whole)

    if u < 1000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{fraction(u, 1000)}µs"
    if u < NANO:
        return f"{sign}{fraction(u, 1_000_000)}ms"
    hours, rest = divmod(u, 3600 * NANO)
    minutes, rest = divmod(rest, 60 * NANO)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{fraction(rest, NANO)}s"
    return sign + text


def cpu_quantity(nanocores: int) -> str:
    return format_quantity(Decimal(nanocores).scaleb(-9), DECIMAL_SI)


def memory_quantity(value: int) -> str:
    return format_quantity(Decimal(value), BINARY_SI)


def _time(ns: int) -> str:
    return format_time(datetime.fromtimestamp(ns / NANO, timezone.utc))


def _usage_json(usage: Usage) -> dict[str, str]:
    return {"cpu": cpu_quantity(usage.cpu_nanocores), "memory": memory_quantity(usage.memory)}


def node_metrics(node: Obj, usage: Usage, *, now: str) -> Obj:
    meta = node.get("metadata") or {}
    metadata: Obj = {"name": meta.get("name"), "creationTimestamp": now}
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    return {"kind": "NodeMetrics", "apiVersion": API_VERSION, "metadata": metadata,
            "timestamp": _time(usage.timestamp), "window": go_duration(usage.window), "usage": _usage_json(usage)}


def pod_metrics(pod: Obj, containers: list[tuple[str, Usage]], *, now: str) -> Obj:
    meta = pod.get("metadata") or {}
    metadata: Obj = {"name": meta.get("name"), "namespace": meta.get("namespace"), "creationTimestamp": now}
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    # Upstream reports the earliest reading's time and window; the first container's on a tie.
    first = min((u for _, u in containers), key=lambda u: u.timestamp)
    spec_order = {c.get("name"): i for i, c in enumerate((pod.get("spec") or {}).get("containers") or [])
                  if isinstance(c, dict)}
    ordered = sorted(containers, key=lambda c: (spec_order.get(c[0], len(spec_order)), c[0]))
    return {"kind": "PodMetrics", "apiVersion": API_VERSION, "metadata": metadata,
            "timestamp": _time(first.timestamp), "window": go_duration(first.window),
            "containers": [{"name": name, "usage": _usage_json(u)} for name, u in ordered]}


def metrics_table(items: list[Obj], *, include_object: str, beta: bool) -> Obj:
    """The Table metrics-server gives `kubectl get nodemetrics|podmetrics`: name, cpu, memory, window."""
    rows = []
    for item in items:
        parts = [item["usage"]] if "usage" in item else [c["usage"] for c in item.get("containers") or []]
        cpu = sum(_nanocores(p.get("cpu", "0")) for p in parts)
        memory = sum(_bytes(p.get("memory", "0")) for p in parts)
        row: Obj = {"cells": [item["metadata"]["name"], cpu_quantity(cpu), memory_quantity(memory), item["window"]]}
        if include_object == "Object":
            row["object"] = item
        elif include_object != "None":
            row["object"] = tables.partial_metadata(item)
        rows.append(row)
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1beta1" if beta else "meta.k8s.io/v1", "metadata": {},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name of the resource", "priority": 0},
            {"name": "cpu", "type": "string", "format": "quantity", "description": "", "priority": 0},
            {"name": "memory", "type": "string", "format": "quantity", "description": "", "priority": 0},
            {"name": "Window", "type": "string", "format": "duration", "description": "", "priority": 0},
        ],
        "rows": rows,
    }


def _nanocores(text: str) -> int:
    return int(parse_quantity(text).scaleb(9))


def _bytes(text: str) -> int:
    return int(parse_quantity(text))


# ----- scraping ----------------------------------------------------------------------------------


class ScrapeError(Exception):
    """ScrapeError: a node agent's resource metrics could not be read."""


class Scraper(Protocol):
    """Scraper fetches a node agent's `/metrics/resource` page; raises ScrapeError when it cannot."""

    async def __call__(self, node: Obj) -> str: ...


@dataclass
class AgentScraper:
    """AgentScraper calls a node's agent over HTTPS with the API server's kubelet-client certificate."""

    proxy: NodeProxy
    timeout: float = 5.0
    """Seconds a scrape may take before the node is left out."""

    async def __call__(self, node: Obj) -> str:
        if self.proxy.tls is None:
            raise ScrapeError("the API server has no client certificate for node agents")
        try:
            host, port = node_endpoint(node)
        except errors.APIError as exc:
            raise ScrapeError(exc.message) from exc
        url = yarl.URL.build(scheme="https", host=host, port=port, path="/metrics/resource")
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
                async with session.get(url, ssl=self.proxy.ssl_context()) as resp:
                    body = await resp.text()
                    if resp.status != 200:
                        raise ScrapeError(f"{url}: {resp.status} {body[:200]}")
                    return body
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ScrapeError(f"{url}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """MetricsSettings decide when nodes are scraped again (see the module docstring)."""

    fresh: float = 5.0
    """A scrape younger than this many seconds is answered from again."""
    max_window: float = 60.0
    """A previous scrape older than this is too old to average over: two new scrapes are taken."""
    first_window: float = 1.0
    """Seconds between the two scrapes of a node without a usable previous one."""
    retry_after: float = 10.0
    """A node whose agent could not be reached is left out for this many seconds before it is tried again."""
    concurrency: int = 32
    """Nodes scraped at once."""


@dataclass
class _NodeScrapes:
    prev: Scrape | None = None
    last: Scrape | None = None
    last_at: float = 0.0
    failed_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Objects(Protocol):
    """Objects is what the metrics API reads of the API's own objects."""

    def nodes(self, selector: Selector) -> list[Obj]: ...

    def node(self, name: str) -> Obj:
        """The node; raises upstream's NotFound (`node "x" not found`)."""
        ...

    def pods(self, namespace: str | None, selector: Selector) -> list[Obj]: ...

    def pod(self, namespace: str, name: str) -> Obj:
        """The pod; raises NotFound (`pods "x" not found`)."""
        ...


@dataclass
class RegistryObjects:
    """RegistryObjects reads nodes and pods from the API server's registry (its watch cache)."""

    api: APIServer

    def _resource(self, plural: str) -> Any:
        resource = self.api.catalog.lookup("", "v1", plural)
        assert resource is not None
        return resource

    def _list(self, plural: str, namespace: str | None, selector: Selector) -> list[Obj]:
        _, kvs = self.api.registry.list_kvs(self._resource(plural), namespace, label_selector=selector,
                                            field_selector=parse_field_selector(""))
        return [self.api.registry.cached_object(kv) for kv in kvs]

    def nodes(self, selector: Selector) -> list[Obj]:
        return self._list("nodes", None, selector)

    def node(self, name: str) -> Obj:
        try:
            return self.api.registry.get(self._resource("nodes"), None, name)
        except errors.APIError as err:
            if err.code == 404:
                # metrics-server finds nodes through client-go's node lister, which names the resource so.
                raise errors.not_found_error("node", name) from None
            raise

    def pods(self, namespace: str | None, selector: Selector) -> list[Obj]:
        return self._list("pods", namespace, selector)

    def pod(self, namespace: str, name: str) -> Obj:
        return self.api.registry.get(self._resource("pods"), namespace, name)


@dataclass(frozen=True, slots=True)
class Query:
    """Query is one metrics request: which resource, which namespace (None: all), which name, which selectors."""

    resource: str
    namespace: str | None = None
    name: str | None = None
    labels: Selector = field(default_factory=Selector)
    fields: FieldSelector = field(default_factory=lambda: parse_field_selector(""))


def _meta_fields(obj: Obj) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    out = {"metadata.name": str(meta.get("name") or "")}
    if meta.get("namespace") is not None:
        out["metadata.namespace"] = str(meta.get("namespace"))
    return out


class MetricsAPI:
    """MetricsAPI answers metrics.k8s.io/v1beta1 from the node agents' resource metrics."""

    def __init__(self, scraper: Scraper, *, clock: Clock = RealClock(), settings: MetricsSettings = MetricsSettings()) -> None:
        self.scraper = scraper
        self.clock = clock
        self.settings = settings
        self._nodes: dict[str, _NodeScrapes] = {}
        self._limit = asyncio.Semaphore(settings.concurrency)

    # -- HTTP ---------------------------------------------------------------------------------------

    async def dispatch(self, api: APIServer, request: web.Request, rest: list[str]) -> web.StreamResponse:
        """Answer `/apis/metrics.k8s.io/<rest>`: the group's discovery documents, then its resources."""
        from kybernetes.apiserver.app import json_response

        if request.method != "GET":
            raise errors.method_not_allowed(request.method)
        if not rest:
            doc = discovery.api_group(api.catalog, GROUP, RESOURCES)
            assert doc is not None
            return json_response(doc)
        if rest[0] != VERSION:
            raise errors.path_not_found()
        if len(rest) == 1:
            return json_response(discovery.api_resource_list(api.catalog, GROUP, VERSION, RESOURCES))
        query = parse_query(rest[1:], request.query)
        body = await self.answer(RegistryObjects(api), query)
        accept = Accept.parse(request.headers.get("Accept"))
        if accept.table:
            items = body["items"] if "items" in body else [body]
            table = metrics_table(items, include_object=request.query.get("includeObject", "Metadata"),
                                  beta=accept.table_beta)
            return json_response(table, content_type=tables.TABLE_CONTENT_TYPE_BETA if accept.table_beta
                                 else tables.TABLE_CONTENT_TYPE)
        return json_response(body)

    # -- answers ------------------------------------------------------------------------------------

    async def answer(self, objects: Objects, query: Query) -> Obj:
        """The NodeMetrics(List) or PodMetrics(List) a query asks for."""
        if query.resource == "nodes":
            return await self._nodes_answer(objects, query)
        return await self._pods_answer(objects, query)

    async def _nodes_answer(self, objects: Objects, query: Query) -> Obj:
        nodes = [objects.node(query.name)] if query.name is not None else [
            n for n in objects.nodes(query.labels) if query.fields.matches(_meta_fields(n))]
        pairs = await self._pairs(nodes)
        now = format_time(self.clock.now())
        items = []
        for node in sorted(nodes, key=lambda n: str(n["metadata"]["name"])):
            pair = pairs.get(str(node["metadata"]["name"]))
            usage = rate(pair[0].node, pair[1].node) if pair and pair[0].node and pair[1].node else None
            if usage is not None:
                items.append(node_metrics(node, usage, now=now))
        if query.name is not None:
            if not items:
                raise errors.not_found_error("nodemetrics", query.name, GROUP)
            return items[0]
        return {"kind": "NodeMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items}

    async def _pods_answer(self, objects: Objects, query: Query) -> Obj:
        if query.name is not None:
            assert query.namespace is not None
            pods = [objects.pod(query.namespace, query.name)]
        else:
            pods = [p for p in objects.pods(query.namespace, query.labels) if query.fields.matches(_meta_fields(p))]
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
                   and (p.get("spec") or {}).get("nodeName")]
        node_names = sorted({str(p["spec"]["nodeName"]) for p in running})
        nodes = []
        for name in node_names:
            try:
                nodes.append(objects.node(name))
            except errors.APIError:
                continue  # a pod bound to a node that is gone has no one to measure it
        pairs = await self._pairs(nodes)
        now = format_time(self.clock.now())
        min_age = int(self.settings.first_window * NANO)
        items = []
        for pod in sorted(running, key=lambda p: (str(p["metadata"].get("namespace")), str(p["metadata"]["name"]))):
            pair = pairs.get(str(pod["spec"]["nodeName"]))
            if pair is None:
                continue
            meta = pod["metadata"]
            containers = pod_usage(pair[0], pair[1], str(meta.get("namespace")), str(meta["name"]), min_age=min_age)
            if containers:
                items.append(pod_metrics(pod, containers, now=now))
        if query.name is not None:
            if not items:
                raise errors.not_found_error("podmetrics", f"{query.namespace}/{query.name}", GROUP)
            return items[0]
        return {"kind": "PodMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items}

    # -- scrapes ------------------------------------------------------------------------------------

    async def _pairs(self, nodes: Iterable[Obj]) -> dict[str, tuple[Scrape, Scrape]]:
        """The (earlier, later) scrapes of each node that could be reached, scraping where needed."""
        by_name = {str(n["metadata"]["name"]): n for n in nodes}
        names = list(by_name)
        results = await asyncio.gather(*(self._pair(by_name[name]) for name in names))
        return {name: pair for name, pair in zip(names, results) if pair is not None}

    async def _pair(self, node: Obj) -> tuple[Scrape, Scrape] | None:
        name = str(node["metadata"]["name"])
        state = self._nodes.setdefault(name, _NodeScrapes())
        s = self.settings
        async with state.lock:
            now = self.clock.monotonic()
            if state.failed_at is not None and now - state.failed_at < s.retry_after:
                return None
            if state.prev is not None and state.last is not None and now - state.last_at < s.fresh:
                return state.prev, state.last
            try:
                scrape = await self._scrape(node)
                if state.last is None or now - state.last_at > s.max_window:
                    await self.clock.sleep(s.first_window)
                    state.prev, state.last = scrape, await self._scrape(node)
                else:
                    state.prev, state.last = state.last, scrape
            except ScrapeError as exc:
                log.info("metrics: node %s left out: %s", name, exc)
                state.failed_at, state.prev, state.last = self.clock.monotonic(), None, None
                return None
            state.failed_at = None
            state.last_at = self.clock.monotonic()
            return state.prev, state.last

    async def _scrape(self, node: Obj) -> Scrape:
        async with self._limit:
            text = await self.scraper(node)
        return parse_scrape(text, default_ns=time.time_ns())


def parse_query(rest: list[str], params: Mapping[str, str]) -> Query:
    """The resource path below `/apis/metrics.k8s.io/v1beta1/` and its query, checked."""
    if params.get("watch") in ("true", "1", "True"):
        raise errors.method_not_allowed()
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if rest[0] not in ("nodes", "pods") or len(rest) > 2 or (rest[0] == "nodes" and namespace is not None):
        raise errors.path_not_found()
    name = rest[1] if len(rest) == 2 else None
    if rest[0] == "pods" and name is not None and namespace is None:
        raise errors.path_not_found()
    try:
        labels = parse_selector(params.get("labelSelector"))
        fields = parse_field_selector(params.get("fieldSelector"))
    except (SelectorError, FieldSelectorError) as exc:
        raise errors.bad_request(str(exc)) from None
    return Query(rest[0], namespace, name, labels, fields)
