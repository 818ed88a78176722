"""Discovery documents: legacy (/api, /apis, group versions) and aggregated (apidiscovery v2 and v2beta1).

Resources come from the catalog, plus `HandledResource`s: groups served by a handler of their
own instead of the store (metrics.k8s.io, which upstream serves through API aggregation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from kybernetes.apiserver.negotiation import parse_accept
from kybernetes.registry.catalog import Catalog, Resource

# Subresource → (verbs, response group, response version, response kind); None kind = the parent's.
SUBRESOURCES: dict[str, tuple[tuple[str, ...], str | None, str | None, str | None]] = {
    "status": (("get", "patch", "update"), None, None, None),
    "scale": (("get", "patch", "update"), "autoscaling", "v1", "Scale"),
    "log": (("get",), "", "v1", "Pod"),
    "exec": (("create", "get"), "", "v1", "PodExecOptions"),
    "attach": (("create", "get"), "", "v1", "PodAttachOptions"),
    "portforward": (("create", "get"), "", "v1", "PodPortForwardOptions"),
    "proxy": (("create", "delete", "get", "patch", "update"), "", "v1", "{kind}ProxyOptions"),
    "binding": (("create",), "", "v1", "Binding"),
    "eviction": (("create",), "policy", "v1", "Eviction"),
    "ephemeralcontainers": (("get", "patch", "update"), None, None, None),
    "finalize": (("update",), None, None, None),
    "token": (("create",), "authentication.k8s.io", "v1", "TokenRequest"),
}

@dataclass(frozen=True, slots=True)
class HandledResource:
    """HandledResource is a resource answered by a handler of its own, not stored through the catalog."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]


AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def _sub(resource: Resource, name: str) -> tuple[tuple[str, ...], str, str, str]:
    verbs, group, version, kind = SUBRESOURCES.get(name, (("get",), None, None, None))
    if kind is None:
        return verbs, resource.group, resource.version, resource.kind
    return verbs, group or "", version or "v1", kind.replace("{kind}", resource.kind)


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _version_entry(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}" if group else version, "version": version}


def _group_versions(catalog: Catalog, handled: Sequence[HandledResource]) -> dict[str, list[str]]:
    """The catalog's groups and versions, then those of the handled resources."""
    out = catalog.group_versions()
    for h in handled:
        versions = out.setdefault(h.group, [])
        if h.version not in versions:
            versions.append(h.version)
    return out


def api_group(catalog: Catalog, group: str, handled: Sequence[HandledResource] = ()) -> dict[str, Any] | None:
    versions = _group_versions(catalog, handled).get(group)
    if not versions:
        return None
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": [_version_entry(group, v) for v in versions],
        "preferredVersion": _version_entry(group, versions[0]),
    }


def api_group_list(catalog: Catalog, handled: Sequence[HandledResource] = ()) -> dict[str, Any]:
    groups = []
    for group, versions in _group_versions(catalog, handled).items():
        if not group:
            continue
        groups.append(
            {
                "name": group,
                "versions": [_version_entry(group, v) for v in versions],
                "preferredVersion": _version_entry(group, versions[0]),
            }
        )
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(catalog: Catalog, group: str, version: str,
                      handled: Sequence[HandledResource] = ()) -> dict[str, Any] | None:
    resources = catalog.in_group_version(group, version)
    extra = [h for h in handled if (h.group, h.version) == (group, version)]
    if not resources and not extra:
        return None
    out: list[dict[str, Any]] = [
        {"name": h.plural, "singularName": h.singular, "namespaced": h.namespaced, "kind": h.kind, "verbs": list(h.verbs)}
        for h in extra
    ]
    for r in resources:
        s = r.strategy
        entry: dict[str, Any] = {
            "name": s.plural,
            "singularName": s.singular,
            "namespaced": s.namespaced,
            "kind": r.kind,
            "verbs": list(s.verbs),
        }
        if s.short_names:
            entry["shortNames"] = list(s.short_names)
        if s.categories:
            entry["categories"] = list(s.categories)
        out.append(entry)
        for sub in s.subresources:
            verbs, g, v, kind = _sub(r, sub)
            sub_entry: dict[str, Any] = {
                "name": f"{s.plural}/{sub}",
                "singularName": "",
                "namespaced": s.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
            if (g, v) != (r.group, r.version):
                sub_entry["group"] = g
                sub_entry["version"] = v
            out.append(sub_entry)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": out,
    }


def _aggregated_resource(r: Resource) -> dict[str, Any]:
    s = r.strategy
    entry: dict[str, Any] = {
        "resource": s.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if s.namespaced else "Cluster",
        "singularResource": s.singular,
        "verbs": list(s.verbs),
    }
    if s.short_names:
        entry["shortNames"] = list(s.short_names)
    if s.categories:
        entry["categories"] = list(s.categories)
    subs = []
    for sub in s.subresources:
        verbs, g, v, kind = _sub(r, sub)
        subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": kind}, "verbs": list(verbs)})
    if subs:
        entry["subresources"] = subs
    return entry


def _aggregated_handled(h: HandledResource) -> dict[str, Any]:
    return {
        "resource": h.plural,
        "responseKind": {"group": h.group, "version": h.version, "kind": h.kind},
        "scope": "Namespaced" if h.namespaced else "Cluster",
        "singularResource": h.singular,
        "verbs": list(h.verbs),
    }


def aggregated(catalog: Catalog, *, legacy: bool, version: str, handled: Sequence[HandledResource] = ()) -> dict[str, Any]:
    """APIGroupDiscoveryList for /api (legacy=True, the core group) or /apis."""
    items = []
    for group, versions in _group_versions(catalog, handled).items():
        if legacy != (group == ""):
            continue
        items.append(
            {
                "metadata": {"name": group, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [_aggregated_resource(r) for r in catalog.in_group_version(group, v)]
                        + [_aggregated_handled(h) for h in handled if (h.group, h.version) == (group, v)],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }


def aggregated_version_requested(accept: str) -> str | None:
    """Which aggregated discovery version the Accept header asks for first (v2 or v2beta1), if any.

    kubectl 1.30+ lists v2, then v2beta1, then plain JSON; 1.27–1.29 list only v2beta1 and JSON.
    """
    for media, params, q in parse_accept(accept):
        if q <= 0 or media not in ("application/json", "application/*", "*/*"):
            continue
        if params.get("g") != "apidiscovery.k8s.io" or params.get("as") != "APIGroupDiscoveryList":
            if not params:
                return None  # plain JSON comes first: the legacy documents
            continue
        if params.get("v") in ("v2", "v2beta1"):
            return params["v"]
    return None
