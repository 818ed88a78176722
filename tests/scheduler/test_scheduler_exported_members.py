"""The public surface of kybernetes.scheduler and of the plugin registry is pinned: changing it is a decision."""

import kybernetes.scheduler
from kybernetes.scheduler.plugins.registry import DEFAULT_FILTERS, DEFAULT_SCORES, PLUGINS


def test_exported_members() -> None:
    assert sorted(kybernetes.scheduler.__all__) == ["DEFAULT_SCHEDULER", "Scheduler", "Settings", "run"]
    assert kybernetes.scheduler.DEFAULT_SCHEDULER == "default-scheduler"


def test_every_plugin_is_registered_once_and_the_default_profile_uses_only_registered_ones() -> None:
    assert sorted(PLUGINS) == sorted([
        "InterPodAffinity", "NodeAffinity", "NodeName", "NodePorts", "NodeResourcesFit", "NodeResourcesLeastAllocated",
        "NodeUnschedulable", "SelectorSpread", "TaintToleration",
    ])
    assert set(DEFAULT_FILTERS) | set(DEFAULT_SCORES) <= set(PLUGINS)
    assert DEFAULT_FILTERS[:4] == ("NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity")
