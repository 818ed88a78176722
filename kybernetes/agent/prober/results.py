"""results: each probe worker's newest verdict by container ID, reporting only changes (upstream's results manager).

There is one `ResultsManager` per probe type. Workers `set` a result each time a threshold is
crossed; only a result that differs from the cached one reaches the `on_update` callback, so a
container that stays healthy costs the pod no syncs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable


class Result(enum.Enum):
    """Result is what the node believes about a container for one probe type."""

    SUCCESS = "Success"
    FAILURE = "Failure"
    UNKNOWN = "Unknown"
    """Not known yet: a startup probe's value until it first crosses a threshold."""


@dataclass(frozen=True, slots=True)
class Update:
    """Update reports that a container's result changed."""

    container_id: str
    result: Result
    pod_uid: str


OnUpdate = Callable[[Update], None]


def _ignore(update: Update) -> None:
    pass


class ResultsManager:
    """ResultsManager caches results by container ID (the runtime's ID, without the `runc://` prefix)."""

    def __init__(self, on_update: OnUpdate = _ignore) -> None:
        self._results: dict[str, Result] = {}
        self._on_update = on_update

    def get(self, container_id: str) -> Result | None:
        """The cached result, or None when no worker has set one for this container."""
        return self._results.get(container_id)

    def set(self, container_id: str, result: Result, pod_uid: str) -> None:
        """Cache `result`; report it if it differs from what was cached."""
        if self._results.get(container_id) is result:
            return
        self._results[container_id] = result
        self._on_update(Update(container_id, result, pod_uid))

    def remove(self, container_id: str) -> None:
        """Forget the container (its worker stopped, or it was replaced); nothing is reported."""
        self._results.pop(container_id, None)

    def __len__(self) -> int:
        return len(self._results)
