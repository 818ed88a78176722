"""resourcemetrics: the agent's `/metrics/resource` page, upstream's kubelet resource metrics in Prometheus text.

metrics-server (here: the API server's `metrics.k8s.io`) scrapes it and computes CPU rates from
two scrapes. Names, help texts, labels and number formatting are upstream's:

    node_cpu_usage_seconds_total                                   counter, with a timestamp (ms)
    node_memory_working_set_bytes                                  gauge,   with a timestamp
    container_cpu_usage_seconds_total{container,namespace,pod}     counter, with a timestamp
    container_memory_working_set_bytes{container,namespace,pod}    gauge,   with a timestamp
    container_start_time_seconds{container,namespace,pod}          gauge
    resource_scrape_error                                          1 if some container could not be read

Only running containers appear; a container whose cgroup cannot be read is left out and sets
`resource_scrape_error`, as upstream does when its summary is incomplete.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Sequence

from kybernetes.agent.runtime.protocol import Runtime, RuntimeFailure
from kybernetes.agent.runtime.stats import NodeStats
from kybernetes.agent.runtime.types import ContainerId, ContainerState, ContainerStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ContainerSample:
    """ContainerSample is one running container's reading with the names it is reported under."""

    namespace: str
    pod: str
    container: str
    started_at: int
    """When the container started, UTC nanoseconds since the epoch."""
    stats: ContainerStats


async def collect(runtime: Runtime) -> tuple[list[ContainerSample], bool]:
    """Read every running container of the runtime: (samples, whether some could not be read)."""
    sandboxes = {s.id: s for s in await runtime.list_sandboxes()}
    samples: list[ContainerSample] = []
    failed = False
    for status in await runtime.list_containers():
        sandbox = sandboxes.get(status.sandbox_id)
        if sandbox is None or status.state is not ContainerState.RUNNING:
            continue
        stats: ContainerStats | None = None
        with contextlib.suppress(RuntimeFailure):
            stats = await runtime.container_stats(status.id)
        if stats is None:
            # Exited between the listing and the reading, or its cgroup is unreadable.
            failed = failed or (await _still_running(runtime, status.id))
            continue
        samples.append(ContainerSample(sandbox.namespace, sandbox.name, status.name, status.started_at, stats))
    samples.sort(key=lambda s: (s.container, s.namespace, s.pod))
    return samples, failed


async def _still_running(runtime: Runtime, container_id: ContainerId) -> bool:
    try:
        return (await runtime.container_status(container_id)).state is ContainerState.RUNNING
    except RuntimeFailure:
        return False


def go_float(value: float) -> str:
    """The text of Go's strconv.FormatFloat(value, 'g', -1, 64), which Prometheus' text format writes."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    point = len(digits) + int(exponent)  # where the decimal point falls after the first `point` digits
    prefix = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:  # shortest formatting decides with precision 6, as Go does
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{prefix}{digits}{'0' * (point - len(digits))}"
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(sample: ContainerSample) -> str:
    return (f'{{container="{_label_value(sample.container)}",namespace="{_label_value(sample.namespace)}",'
            f'pod="{_label_value(sample.pod)}"}}')


def _family(name: str, kind: str, help_text: str, lines: Iterable[str]) -> list[str]:
    body = list(lines)
    if not body:
        return []
    return [f"# HELP {name} [STABLE] {help_text}", f"# TYPE {name} {kind}", *body]


def render(node: NodeStats | None, containers: Sequence[ContainerSample], *, scrape_error: bool = False) -> str:
    """The `/metrics/resource` page for a node reading and container readings."""

    def ms(ns: int) -> int:
        return ns // 1_000_000

    out: list[str] = []
    if node is not None:
        out += _family("node_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the node in core-seconds",
                       [f"node_cpu_usage_seconds_total {go_float(node.cpu_usage_core_nanoseconds / 1e9)} {ms(node.timestamp)}"])
        out += _family("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes",
                       [f"node_memory_working_set_bytes {go_float(float(node.memory_working_set_bytes))} {ms(node.timestamp)}"])
    out += _family("container_cpu_usage_seconds_total", "counter",
                   "Cumulative cpu time consumed by the container in core-seconds",
                   (f"container_cpu_usage_seconds_total{_labels(c)} "
                    f"{go_float(c.stats.cpu_usage_core_nanoseconds / 1e9)} {ms(c.stats.timestamp)}" for c in containers))
    out += _family("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes",
                   (f"container_memory_working_set_bytes{_labels(c)} "
                    f"{go_float(float(c.stats.memory_working_set_bytes))} {ms(c.stats.timestamp)}" for c in containers))
    out += _family("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds",
                   (f"container_start_time_seconds{_labels(c)} {go_float(c.started_at / 1e9)}"
                    for c in containers if c.started_at > 0))
    out += _family("resource_scrape_error", "gauge", "1 if there was an error while getting container metrics, 0 otherwise",
                   [f"resource_scrape_error {1 if scrape_error else 0}"])
    return "\n".join(out) + "\n"
