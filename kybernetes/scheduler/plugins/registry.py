"""Registry: every scheduler plugin by name, and the default profile (filter order, score weights)."""

from __future__ import annotations

from typing import Callable

from kybernetes.scheduler.framework import Handle
from kybernetes.scheduler.plugins import (
    inter_pod_affinity,
    least_allocated,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    selector_spread,
    taint_toleration,
)

Factory = Callable[[Handle], object]

PLUGINS: dict[str, Factory] = {
    node_unschedulable.NAME: node_unschedulable.factory,
    node_name.NAME: node_name.factory,
    taint_toleration.NAME: taint_toleration.factory,
    node_affinity.NAME: node_affinity.factory,
    node_ports.NAME: node_ports.factory,
    node_resources_fit.NAME: node_resources_fit.factory,
    inter_pod_affinity.NAME: inter_pod_affinity.factory,
    least_allocated.NAME: least_allocated.factory,
    selector_spread.NAME: selector_spread.factory,
}
"""Every plugin by name; a profile picks from these."""

DEFAULT_FILTERS: tuple[str, ...] = (
    node_unschedulable.NAME,
    node_name.NAME,
    taint_toleration.NAME,
    node_affinity.NAME,
    node_ports.NAME,
    node_resources_fit.NAME,
    inter_pod_affinity.NAME,
)
"""Filters in upstream's default order: the first that rejects a node gives its reason."""

DEFAULT_SCORES: dict[str, int] = {
    taint_toleration.NAME: 3,
    node_affinity.NAME: 2,
    least_allocated.NAME: 1,
    selector_spread.NAME: 2,
}
"""Scorers and their weights (upstream's defaults; spreading has PodTopologySpread's weight)."""
