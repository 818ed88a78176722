"""The API server's side of logs, exec, attach and port-forward: which container, which query, which node address."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.errors import APIError
from kybernetes.apiserver import proxy


def _pod(*containers: str, inits: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"metadata": {"name": "web"},
            "spec": {"containers": [{"name": c} for c in containers], "initContainers": [{"name": i} for i in inits]}}


@pytest.mark.parametrize(
    ("resolve", "pod", "wanted", "expected"),
    [
        (proxy.resolve_log_container, _pod("a"), "", "a"),
        (proxy.resolve_log_container, _pod("a", "b", inits=("i",)), "i", "i"),
        (proxy.resolve_log_container, _pod("a", "b", inits=("i",)), "",
         "a container name must be specified for pod web, choose one of: [i a b]"),
        (proxy.resolve_log_container, _pod("a"), "x", "container x is not valid for pod web"),
        (proxy.resolve_stream_container, _pod("a", "b"), "", "a container name must be specified for pod web, choose one of: [a b]"),
        (proxy.resolve_stream_container, _pod("a", "b", inits=("i",)), "",
         "a container name must be specified for pod web, choose one of: [a b] or one of the init containers: [i]"),
        (proxy.resolve_stream_container, _pod("a", "b"), "b", "b"),
    ],
    ids=["only-one", "init-by-name", "log-choose", "log-invalid", "exec-choose", "exec-choose-with-inits", "exec-by-name"],
)
def test_containers_resolve_as_upstreams_api_server(resolve: Any, pod: dict[str, Any], wanted: str, expected: str) -> None:
    try:
        got = resolve(pod, wanted)
    except APIError as err:
        assert err.code == 400 and err.reason == "BadRequest"
        got = err.message
    assert got == expected


def test_log_options_go_to_the_agent_under_the_same_names() -> None:
    query = {"container": "a", "follow": "true", "previous": "false", "timestamps": "1", "tailLines": "2",
             "limitBytes": "100", "sinceSeconds": "60"}
    assert proxy.log_query(query, "web") == {"follow": "true", "timestamps": "true", "tailLines": "2",
                                             "limitBytes": "100", "sinceSeconds": "60"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"tailLines": "-1"}, "tailLines: Invalid value: -1: must be greater than or equal to 0"),
        ({"limitBytes": "0"}, "limitBytes: Invalid value: 0: must be greater than 0"),
        ({"sinceSeconds": "10", "sinceTime": "2024-01-01T00:00:00Z"}, "at most one of `sinceTime` or `sinceSeconds`"),
    ],
    ids=["tail", "limit", "since-both"],
)
def test_bad_log_options_are_invalid(query: dict[str, str], message: str) -> None:
    with pytest.raises(APIError) as raised:
        proxy.log_query(query, "web")
    assert raised.value.code == 422 and message in raised.value.message


def test_exec_streams_are_renamed_for_the_agent() -> None:
    query = {"stdin": "true", "stdout": "true", "stderr": "false", "tty": "true"}
    assert proxy.stream_query(query, command=["sh", "-c", "true"]) == [
        ("input", "1"), ("output", "1"), ("tty", "1"), ("command", "sh"), ("command", "-c"), ("command", "true")]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.5"}],
          "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}}}, ("10.0.0.5", 10251)),
        ({"addresses": [{"type": "Hostname", "address": "n1"}]}, ("n1", 10250)),
    ],
    ids=["internal-ip-and-port", "hostname-default-port"],
)
def test_the_agent_is_found_through_the_node_status(status: dict[str, Any], expected: tuple[str, int]) -> None:
    assert proxy.node_endpoint({"status": status}) == expected
