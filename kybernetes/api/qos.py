"""QoS class: Guaranteed, Burstable or BestEffort from a pod spec's cpu and memory (upstream's GetPodQOS).

Shared by the API server (status.qosClass on create) and the node agent (status it reports).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kybernetes.api import quantity

Obj = dict[str, Any]


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def qos_class(spec: Obj) -> str:
    """BestEffort, Burstable or Guaranteed from the cpu/memory requests and limits of all containers."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for key in ("containers", "initContainers"):
        for container in _l(spec.get(key)):
            resources = _d(_d(container).get("resources"))
            for bag, totals in ((_d(resources.get("requests")), requests), (_d(resources.get("limits")), limits)):
                found: set[str] = set()
                for name, value in bag.items():
                    if name not in ("cpu", "memory"):
                        continue
                    try:
                        amount = quantity.parse_quantity(value)
                    except ValueError:
                        continue
                    if amount > 0:
                        found.add(name)
                        totals[name] = totals.get(name, Decimal(0)) + amount
                if totals is limits and found != {"cpu", "memory"}:
                    guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(name) == amount for name, amount in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"
