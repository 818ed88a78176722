"""Restart and pull back-off: 10 s doubling to 5 min, forgotten after 10 min; Go's duration format."""

from __future__ import annotations

import pytest

from kybernetes.agent.backoff import KeyedBackoff, go_duration
from kybernetes.aio.clock import FakeClock


def test_delays_double_up_to_the_cap() -> None:
    clock = FakeClock()
    backoff = KeyedBackoff(clock)
    seen = []
    for _ in range(7):
        backoff.next("k", clock.monotonic())
        seen.append(backoff.get("k"))
        clock.step(backoff.get("k"))
    assert seen == [10, 20, 40, 80, 160, 300, 300]


def test_an_event_is_in_back_off_until_the_delay_has_passed_since_it() -> None:
    clock = FakeClock()
    backoff = KeyedBackoff(clock)
    assert not backoff.in_backoff_since("k", clock.monotonic())
    backoff.next("k", clock.monotonic())
    clock.step(9.9)
    assert backoff.in_backoff_since("k", 0.0) and backoff.remaining("k", 0.0) == pytest.approx(0.1)
    clock.step(0.2)
    assert not backoff.in_backoff_since("k", 0.0)
    assert backoff.in_backoff_since_update("k") is False


def test_an_entry_untouched_for_twice_the_cap_starts_over() -> None:
    clock = FakeClock()
    backoff = KeyedBackoff(clock)
    for _ in range(4):
        backoff.next("k", clock.monotonic())
    assert backoff.get("k") == 80
    clock.step(601)
    assert not backoff.in_backoff_since_update("k")
    backoff.next("k", clock.monotonic())
    assert backoff.get("k") == 10


def test_keys_of_a_pod_are_forgotten_together() -> None:
    backoff = KeyedBackoff(FakeClock())
    for key in ("uid1_a", "uid1_b", "uid2_a"):
        backoff.next(key, 0)
    backoff.forget_prefix("uid1_")
    assert [backoff.get(k) for k in ("uid1_a", "uid1_b", "uid2_a")] == [0, 0, 10]


@pytest.mark.parametrize(("seconds", "text"), [
    (10, "10s"), (80, "1m20s"), (300, "5m0s"), (3725, "1h2m5s"), (1.5, "1.5s"), (0.25, "250ms"),
    (0.000070014, "70.014µs"), (0, "0s"),
])
def test_durations_print_as_go_prints_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
