"""Fixtures for the core kinds: a frozen clock and the create/update flows the generic store runs."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any, Callable

import pytest

from kybernetes.api import duration
from kybernetes.registry.base import Strategy

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)

Obj = dict[str, Any]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Freeze `duration.now` so AGE cells and timestamps are predictable."""
    monkeypatch.setattr(duration, "now", lambda: NOW)
    return NOW


def _create(strategy: Strategy, obj: Obj) -> tuple[Obj, list[str]]:
    obj = copy.deepcopy(obj)
    strategy.default(obj)
    strategy.prepare_for_create(obj)
    return obj, [str(e) for e in strategy.validate(obj)]


def _update(strategy: Strategy, new: Obj, old: Obj) -> tuple[Obj, list[str]]:
    new = copy.deepcopy(new)
    strategy.default(new)
    strategy.prepare_for_update(new, old)
    return new, [str(e) for e in strategy.validate_update(new, old)]


def _status_update(strategy: Strategy, new: Obj, old: Obj) -> tuple[Obj, list[str]]:
    new = copy.deepcopy(new)
    strategy.prepare_for_status_update(new, old)
    return new, [str(e) for e in strategy.validate_status_update(new, old)]


@pytest.fixture
def create() -> Callable[[Strategy, Obj], tuple[Obj, list[str]]]:
    """Run default → prepare_for_create → validate on a copy; return the object and the error strings."""
    return _create


@pytest.fixture
def update() -> Callable[[Strategy, Obj, Obj], tuple[Obj, list[str]]]:
    """Run default → prepare_for_update → validate_update on a copy of `new` against stored `old`."""
    return _update


@pytest.fixture
def status_update() -> Callable[[Strategy, Obj, Obj], tuple[Obj, list[str]]]:
    """Run prepare_for_status_update → validate_status_update on a copy of `new` against stored `old`."""
    return _status_update
