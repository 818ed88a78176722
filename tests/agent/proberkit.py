"""Helpers for the prober's tests: a prober answering from a script, and a way to let workers run."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from kybernetes.agent.prober.probes import Outcome, ProbeResult

Obj = dict[str, Any]
OK = Outcome(ProbeResult.SUCCESS)


class ScriptedProber:
    """ScriptedProber answers each probe (named by its exec command) from a script; success when the script is empty."""

    def __init__(self) -> None:
        self.scripts: dict[str, collections.deque[Outcome]] = collections.defaultdict(collections.deque)
        self.calls: list[tuple[str, str]] = []

    def script(self, name: str, *outcomes: Outcome) -> None:
        self.scripts[name].extend(outcomes)

    async def probe(self, probe: Obj, *, pod: Obj, container: Obj, container_id: Any, pod_ip: str) -> Outcome:
        name = probe["exec"]["command"][0]
        self.calls.append((name, str(container_id)))
        script = self.scripts[name]
        return script.popleft() if script else OK


def failed(output: str) -> Outcome:
    return Outcome(ProbeResult.FAILURE, output)


async def settle() -> None:
    """Let woken tasks run (the fake clock only resolves futures)."""
    for _ in range(10):
        await asyncio.sleep(0)
