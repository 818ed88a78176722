"""backoff: per-key exponential back-off with expiry, as client-go's flowcontrol.Backoff that the kubelet uses.

Container restarts and image pulls back off 10 s, 20 s, 40 s … up to 5 min. An entry not
touched for twice the cap (10 min) is forgotten, so a container that ran for ten minutes starts
over at 10 s. Times are monotonic seconds from the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kybernetes.aio.clock import Clock

INITIAL = 10.0
"""Upstream's backOffPeriod for container restarts and image pulls, in seconds."""
CAP = 300.0
"""Upstream's MaxContainerBackOff, in seconds."""


@dataclass(slots=True)
class _Entry:
    backoff: float
    last_update: float


@dataclass
class KeyedBackoff:
    """KeyedBackoff remembers, per key, the current delay and when it last grew."""

    clock: Clock
    initial: float = INITIAL
    cap: float = CAP
    _entries: dict[str, _Entry] = field(default_factory=dict, init=False, repr=False)

    def _expired(self, entry: _Entry, at: float) -> bool:
        return at - entry.last_update > self.cap * 2

    def next(self, key: str, at: float) -> None:
        """Record an event at `at`: start at `initial`, or double the delay (capped)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, at):
            self._entries[key] = _Entry(self.initial, at)
            return
        entry.backoff = min(entry.backoff * 2, self.cap)
        entry.last_update = at

    def get(self, key: str) -> float:
        """The current delay of `key`, 0 when it has none."""
        entry = self._entries.get(key)
        return entry.backoff if entry is not None else 0.0

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        """True while less than the delay has passed since `event_time` (e.g. a container's exit)."""
        entry = self._entries.get(key)
        now = self.clock.monotonic()
        if entry is None or self._expired(entry, now):
            return False
        return now - event_time < entry.backoff

    def in_backoff_since_update(self, key: str) -> bool:
        """True while less than the delay has passed since the key's last `next`."""
        entry = self._entries.get(key)
        now = self.clock.monotonic()
        if entry is None or self._expired(entry, now):
            return False
        return now - entry.last_update < entry.backoff

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until `in_backoff_since(key, event_time)` turns false."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, event_time + entry.backoff - self.clock.monotonic())

    def remaining_since_update(self, key: str) -> float:
        """Seconds until `in_backoff_since_update(key)` turns false."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last_update + entry.backoff - self.clock.monotonic())

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every key that starts with `prefix` (a pod's keys, once it is gone)."""
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def gc(self) -> None:
        """Drop expired entries."""
        now = self.clock.monotonic()
        for key in [k for k, e in self._entries.items() if self._expired(e, now)]:
            del self._entries[key]


def go_duration(seconds: float) -> str:
    """Format a duration as Go's time.Duration prints it: `10s`, `1m20s`, `5m0s`, `1.5s`, `250ms`."""
    if seconds == 0:
        return "0s"
    negative = seconds < 0
    seconds = abs(seconds)
    if seconds < 1:
        for unit, scale in (("ms", 1e3), ("µs", 1e6), ("ns", 1e9)):
            value = seconds * scale
            if value >= 1 or unit == "ns":
                text = f"{value:.6f}".rstrip("0").rstrip(".")
                return ("-" if negative else "") + text + unit
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    secs_text = f"{secs:.9f}".rstrip("0").rstrip(".")
    text = ""
    if hours:
        text += f"{int(hours)}h"
    if hours or minutes:
        text += f"{int(minutes)}m"
    text += f"{secs_text}s"
    return ("-" if negative else "") + text
