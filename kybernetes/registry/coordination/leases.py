"""Lease: a named lock with a holder and renew time, for leader election and heartbeats (coordination.k8s.io/v1)."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy

STRATEGIES = ("OldestEmulationVersion",)


def _relabel(obj: Obj, api_version: str) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = api_version
    return out


COORDINATION_V1BETA1 = ServedVersion(
    "coordination.k8s.io",
    "v1beta1",
    "Lease",
    lambda obj: _relabel(obj, "coordination.k8s.io/v1"),
    lambda obj: _relabel(obj, "coordination.k8s.io/v1beta1"),
    "coordination.k8s.io/v1beta1 Lease is deprecated in v1.19+, unavailable in v1.22+; use coordination.k8s.io/v1 Lease",
)


def _validate_strategy(strategy: str, path: str) -> list[FieldError]:
    # Upstream names the child twice here (spec.strategy.strategy); its paths are kept.
    if "/" not in strategy:
        if strategy not in STRATEGIES:
            return [not_supported(f"{path}.strategy", strategy, list(STRATEGIES))]
        return []
    return [invalid(f"{path}.strategy", strategy, msg) for msg in validation.is_qualified_name(strategy)]


class LeaseStrategy(Strategy):
    """LeaseStrategy: durations positive, transition counts non-negative."""

    group = "coordination.k8s.io"
    version = "v1"
    kind = "Lease"
    plural = "leases"
    singular = "lease"
    served_versions = (COORDINATION_V1BETA1,)
    columns = (
        NAME_COLUMN,
        Column("Holder", description="Identity of the current holder of the lease."),
        AGE_COLUMN,
    )

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        lease_duration = spec.get("leaseDurationSeconds")
        if isinstance(lease_duration, (int, float)) and lease_duration <= 0:
            errs.append(invalid("spec.leaseDurationSeconds", lease_duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if isinstance(transitions, (int, float)) and transitions < 0:
            errs.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
        strategy = spec.get("strategy")
        if strategy is not None:
            errs.extend(_validate_strategy(strategy, "spec.strategy"))
        if spec.get("preferredHolder") and not strategy:
            errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
        return errs

    def row(self, obj: Obj) -> list[Any]:
        holder = (obj.get("spec") or {}).get("holderIdentity")
        return [obj["metadata"]["name"], holder or "", duration.age(obj)]


STRATEGY = LeaseStrategy()
