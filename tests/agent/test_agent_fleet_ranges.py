"""Pod ranges of simulated fleets: distinct, inside the cluster range, and clear of the ranges real nodes get."""

from __future__ import annotations

import ipaddress

import pytest

from kybernetes.agent.simulated_nodes import node_cidrs


@pytest.mark.parametrize("count", [1, 3, 256, 1000])
def test_fleet_ranges_are_distinct_and_inside_the_cluster_range(count: int) -> None:
    cluster = ipaddress.ip_network("10.42.0.0/16")
    ranges = [ipaddress.ip_network(c) for c in node_cidrs(str(cluster), count)]
    assert len(set(ranges)) == count
    assert all(r.subnet_of(cluster) for r in ranges)
    assert all(not a.overlaps(b) for a, b in zip(ranges, ranges[1:]))


def test_a_small_fleet_stays_clear_of_the_first_ranges() -> None:
    # The server's own node takes 10.42.0.0/24 and joining nodes the lowest free /24s.
    ranges = node_cidrs("10.42.0.0/16", 100)
    assert ranges[-1] == "10.42.255.0/24"
    assert all(not ipaddress.ip_network(r).overlaps(ipaddress.ip_network("10.42.0.0/22")) for r in ranges)


def test_too_many_nodes_for_the_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="too small"):
        node_cidrs("10.42.0.0/24", 200)
