"""Drive a Strategy through the hooks in the order the generic store calls them, without a store."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from kybernetes.api.errors import FieldError
from kybernetes.registry.base import Obj, ServedVersion, Strategy

BOOK = Path(__file__).resolve().parents[2] / "manifests" / "book"
CREATED_AT = "2024-01-01T00:00:00Z"


def book(name: str) -> Obj:
    """A manifest from *Kubernetes in Action*, first edition, as the book prints it."""
    return yaml.safe_load((BOOK / name).read_text())


def create(strategy: Strategy, obj: Obj, *, served: ServedVersion | None = None, uid: str = "uid-1") -> tuple[Obj, list[FieldError]]:
    """Create as the store does: convert in, system metadata, default, prepare, validate."""
    obj = copy.deepcopy(obj)
    if served is not None:
        obj = served.to_storage(obj)
    meta = obj.setdefault("metadata", {})
    if strategy.namespaced:
        meta.setdefault("namespace", "default")
    meta["uid"] = uid
    meta["creationTimestamp"] = CREATED_AT
    if strategy.tracks_generation:
        meta["generation"] = 1
    strategy.default(obj)
    strategy.prepare_for_create(obj)
    return obj, strategy.validate(obj)


def valid(strategy: Strategy, obj: Obj, *, served: ServedVersion | None = None) -> Obj:
    stored, errs = create(strategy, obj, served=served)
    assert not errs, [str(e) for e in errs]
    return stored


def update(strategy: Strategy, old: Obj, new: Obj, *, served: ServedVersion | None = None) -> tuple[Obj, list[FieldError]]:
    """Update as the store does: keep system metadata, default, prepare, validate, bump generation."""
    new = copy.deepcopy(new)
    if served is not None:
        new = served.to_storage(new)
    meta = new.setdefault("metadata", {})
    for key in ("uid", "creationTimestamp", "generation", "namespace", "name"):
        if key in old["metadata"]:
            meta[key] = old["metadata"][key]
    strategy.default(new)
    strategy.prepare_for_update(new, old)
    errs = strategy.validate_update(new, old)
    changed = any(new.get(k) != old.get(k) for k in (set(new) | set(old)) - {"metadata", "status", "apiVersion", "kind"})
    if strategy.tracks_generation and changed:
        new["metadata"]["generation"] = int(old["metadata"].get("generation") or 0) + 1
    return new, errs


def update_status(strategy: Strategy, old: Obj, status: Any) -> tuple[Obj, list[FieldError]]:
    new = copy.deepcopy(old)
    new["status"] = status
    strategy.prepare_for_status_update(new, old)
    return new, strategy.validate_status_update(new, old)


def messages(errs: list[FieldError]) -> list[str]:
    return [str(e) for e in errs]
