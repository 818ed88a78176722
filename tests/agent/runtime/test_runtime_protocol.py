"""The runc runtime offers every method of the `Runtime` protocol, with the same parameters."""

from __future__ import annotations

import inspect

from kybernetes.agent.runtime.protocol import Runtime
from kybernetes.agent.runtime.runc import RuncRuntime


def test_runc_runtime_implements_the_protocol() -> None:
    wanted = {name for name, member in vars(Runtime).items() if inspect.iscoroutinefunction(member)}
    assert wanted >= {"run_pod_sandbox", "create_container", "start_container", "stop_container", "exec", "adopt"}
    for name in sorted(wanted):
        ours = getattr(RuncRuntime, name)
        assert inspect.iscoroutinefunction(ours), name
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(getattr(Runtime, name)).parameters), name
