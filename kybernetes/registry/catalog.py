"""Catalog: every served group/version/resource and the Strategy that stores it.

A kind is stored once, in its storage version; each extra served version (a retired API
version such as apps/v1beta2) is another `Resource` pointing at the same Strategy with a
converter. The list of kind modules is explicit, so what the server serves is read here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Iterable

from kybernetes.registry.base import Obj, ServedVersion, Strategy

KIND_MODULES: tuple[str, ...] = (
    "kybernetes.registry.core.pods",
    "kybernetes.registry.core.replicationcontrollers",
    "kybernetes.registry.core.services",
    "kybernetes.registry.core.endpoints",
    "kybernetes.registry.core.namespaces",
    "kybernetes.registry.core.nodes",
    "kybernetes.registry.core.events",
    "kybernetes.registry.core.configmaps",
    "kybernetes.registry.core.secrets",
    "kybernetes.registry.core.persistentvolumes",
    "kybernetes.registry.core.persistentvolumeclaims",
    "kybernetes.registry.core.serviceaccounts",
    "kybernetes.registry.apps.replicasets",
    "kybernetes.registry.apps.daemonsets",
    "kybernetes.registry.apps.deployments",
    "kybernetes.registry.apps.controllerrevisions",
    "kybernetes.registry.batch.jobs",
    "kybernetes.registry.batch.cronjobs",
    "kybernetes.registry.networking.ingresses",
    "kybernetes.registry.networking.ingressclasses",
    "kybernetes.registry.storage.storageclasses",
    "kybernetes.registry.discovery.endpointslices",
    "kybernetes.registry.coordination.leases",
    "kybernetes.registry.authorization.selfsubjectaccessreviews",
)


@dataclass(frozen=True, slots=True)
class Resource:
    """Resource is one served group/version/resource: a Strategy seen through one API version."""

    strategy: Strategy
    group: str
    version: str
    kind: str
    served: ServedVersion | None = None  # None: this is the storage version

    @property
    def plural(self) -> str:
        return self.strategy.plural

    @property
    def namespaced(self) -> bool:
        return self.strategy.namespaced

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_prefix(self) -> str:
        """The store key prefix of every object of this kind, shared by all served versions."""
        return f"/registry/{self.strategy.group or 'core'}/{self.strategy.plural}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return f"{self.storage_prefix}{name}"

    def list_prefix(self, namespace: str | None) -> str:
        if self.namespaced and namespace:
            return f"{self.storage_prefix}{namespace}/"
        return self.storage_prefix

    def to_storage(self, obj: Obj) -> Obj:
        if self.served is None:
            return obj
        return self.served.to_storage(obj)

    def from_storage(self, obj: Obj) -> Obj:
        if self.served is None:
            return obj
        return self.served.from_storage(obj)

    @property
    def warning(self) -> str:
        return self.served.warning if self.served else ""


@dataclass
class Catalog:
    """Catalog indexes served resources by (group, version, plural) and by kind."""

    resources: list[Resource] = field(default_factory=list)
    _by_path: dict[tuple[str, str, str], Resource] = field(default_factory=dict)
    _storage_by_kind: dict[tuple[str, str], Resource] = field(default_factory=dict)

    def add(self, resource: Resource) -> None:
        self.resources.append(resource)
        self._by_path[(resource.group, resource.version, resource.plural)] = resource
        if resource.served is None:
            self._storage_by_kind[(resource.group, resource.kind)] = resource

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def storage(self, group: str, kind: str) -> Resource | None:
        return self._storage_by_kind.get((group, kind))

    def group_versions(self) -> dict[str, list[str]]:
        """group → versions in preference order (storage version first).

        Groups that hold a storage version come first: kubectl resolves a resource name to the
        first group in discovery that serves it, so `ingress` must find networking.k8s.io before
        the retired extensions group.
        """
        out: dict[str, list[str]] = {}
        ordered = [r for r in self.resources if r.served is None] + [r for r in self.resources if r.served is not None]
        storage_groups = {r.group for r in self.resources if r.served is None}
        ordered.sort(key=lambda r: r.group not in storage_groups)
        for r in ordered:
            versions = out.setdefault(r.group, [])
            if r.version not in versions:
                if r.served is None:
                    versions.insert(0, r.version)
                else:
                    versions.append(r.version)
        return out

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]


def _strategies(modules: Iterable[str]) -> list[Strategy]:
    out: list[Strategy] = []
    for name in modules:
        module = importlib.import_module(name)
        out.append(module.STRATEGY)
    return out


def extra_served_versions() -> list[tuple[str, ServedVersion]]:
    """Served versions that belong to a kind defined in another group (events.k8s.io/v1 Event)."""
    from kybernetes.registry.events import events

    return [("Event", events.SERVED)]


def build_catalog(modules: Iterable[str] = KIND_MODULES) -> Catalog:
    catalog = Catalog()
    strategies = _strategies(modules)
    for strategy in strategies:
        catalog.add(Resource(strategy, strategy.group, strategy.version, strategy.kind))
        for served in strategy.served_versions:
            catalog.add(Resource(strategy, served.group, served.version, served.kind, served))
    for kind, served in extra_served_versions():
        storage = catalog.storage("", kind)
        if storage is not None:
            catalog.add(Resource(storage.strategy, served.group, served.version, served.kind, served))
    return catalog


def scale_object(resource: Resource, obj: Obj) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a scalable object (§11 of the protocol notes)."""
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "creationTimestamp": meta.get("creationTimestamp"),
        },
        "spec": {"replicas": int((obj.get("spec") or {}).get("replicas") or 0)},
        "status": {
            "replicas": resource.strategy.status_replicas(obj),
            "selector": resource.strategy.scale_selector(obj),
        },
    }
