"""Tests for Client: paths, parameters, bodies, error mapping, watch streams and discovery."""

import contextlib
from typing import AsyncIterator

import orjson
import pytest

from kybernetes.client import errors
from kybernetes.client.config import Config
from kybernetes.client.rest import (
    CONFIGMAPS,
    NAMESPACES,
    REPLICASETS,
    Client,
    Request,
    ResourceRef,
    Response,
)


def status(code: int, reason: str, message: str = "boom") -> bytes:
    return orjson.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                         "message": message, "code": code})


class Recorder:
    """Recorder plays the server: answers from a list and keeps every request."""

    def __init__(self, *answers: Response) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []

    async def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return self.answers.pop(0) if self.answers else Response(200, b"{}")


def client(transport: Recorder) -> Client:
    return Client(Config(server="https://127.0.0.1:1", namespace="ctx-ns"), transport=transport)


@pytest.mark.parametrize(
    ("ref", "namespace", "name", "sub", "path"),
    [
        (CONFIGMAPS, "ns1", "a", None, "/api/v1/namespaces/ns1/configmaps/a"),
        (CONFIGMAPS, None, None, None, "/api/v1/configmaps"),
        (REPLICASETS, "ns1", None, None, "/apis/apps/v1/namespaces/ns1/replicasets"),
        (NAMESPACES, "ignored", "x", "finalize", "/api/v1/namespaces/x/finalize"),
        (CONFIGMAPS, "ns", "a b", None, "/api/v1/namespaces/ns/configmaps/a%20b"),
    ],
    ids=["namespaced-object", "all-namespaces", "group", "cluster-subresource", "quoted"],
)
def test_paths(ref: ResourceRef, namespace: str | None, name: str | None, sub: str | None, path: str) -> None:
    assert ref.path(namespace, name, sub) == path


def test_refs_compare_without_verbs() -> None:
    discovered = ResourceRef("", "v1", "configmaps", True, "ConfigMap", frozenset({"get"}))
    assert discovered == CONFIGMAPS and hash(discovered) == hash(CONFIGMAPS)
    assert CONFIGMAPS.supports("deletecollection") and not discovered.supports("list")


async def test_get_defaults_to_the_context_namespace() -> None:
    server = Recorder(Response(200, b'{"kind":"ConfigMap"}'))
    assert await client(server).get(CONFIGMAPS, "a") == {"kind": "ConfigMap"}
    assert server.requests[0].path == "/api/v1/namespaces/ctx-ns/configmaps/a"
    assert server.requests[0].headers["Accept"] == "application/json"


async def test_list_sends_selectors_and_paging() -> None:
    server = Recorder(Response(200, b'{"items":[]}'))
    await client(server).list(CONFIGMAPS, "n", label_selector="a=b", field_selector="metadata.name=x",
                              resource_version="0", limit=5, continue_="tok")
    assert server.requests[0].query == {"labelSelector": "a=b", "fieldSelector": "metadata.name=x",
                                        "resourceVersion": "0", "limit": "5", "continue": "tok"}


async def test_list_all_follows_continue_tokens() -> None:
    server = Recorder(
        Response(200, b'{"metadata":{"continue":"c1","resourceVersion":"5"},"items":[{"a":1}]}'),
        Response(200, b'{"metadata":{"resourceVersion":"5"},"items":[{"a":2}]}'),
    )
    listed = await client(server).list_all(CONFIGMAPS, "n", page_size=1)
    assert listed["items"] == [{"a": 1}, {"a": 2}]
    assert server.requests[1].query["continue"] == "c1"


async def test_create_takes_the_namespace_from_the_object() -> None:
    server = Recorder(Response(201, b"{}"))
    await client(server).create(CONFIGMAPS, {"metadata": {"name": "a", "namespace": "obj-ns"}})
    request = server.requests[0]
    assert (request.method, request.path) == ("POST", "/api/v1/namespaces/obj-ns/configmaps")
    assert request.headers["Content-Type"] == "application/json"


async def test_delete_sends_propagation_and_uid_precondition() -> None:
    server = Recorder(Response(200, b'{"kind":"Status","status":"Success"}'))
    await client(server).delete(REPLICASETS, "rs", "n", propagation_policy="Foreground", uid="u1")
    assert orjson.loads(server.requests[0].body or b"") == {
        "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground", "preconditions": {"uid": "u1"}}


async def test_patch_uses_the_content_type_asked_for() -> None:
    server = Recorder(Response(200, b"{}"))
    await client(server).patch(CONFIGMAPS, "a", [{"op": "remove", "path": "/data/x"}], namespace="n",
                               content_type="application/json-patch+json")
    assert server.requests[0].headers["Content-Type"] == "application/json-patch+json"
    assert server.requests[0].method == "PATCH"


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (404, "NotFound", errors.NotFoundError),
        (409, "Conflict", errors.ConflictError),
        (409, "AlreadyExists", errors.AlreadyExistsError),
        (410, "Expired", errors.GoneError),
        (422, "Invalid", errors.InvalidError),
        (403, "Forbidden", errors.ForbiddenError),
        (503, "ServiceUnavailable", errors.ServiceUnavailableError),
        (599, "Weird", errors.ServerError),
        (418, "Teapot", errors.APIStatusError),
    ],
    ids=["404", "409-conflict", "409-exists", "410", "422", "403", "503", "5xx", "other"],
)
async def test_error_statuses_map_to_classes(code: int, reason: str, cls: type[errors.APIStatusError]) -> None:
    server = Recorder(Response(code, status(code, reason)))
    with pytest.raises(cls) as caught:
        await client(server).get(CONFIGMAPS, "a", "n")
    assert caught.value.code == code and caught.value.reason == reason
    assert caught.value.status["message"] == "boom"


async def test_conflict_and_already_exists_are_not_confused() -> None:
    assert not issubclass(errors.AlreadyExistsError, errors.ConflictError)
    assert not issubclass(errors.ConflictError, errors.AlreadyExistsError)


async def test_non_status_error_bodies_are_truncated() -> None:
    server = Recorder(Response(500, b"x" * 10_000))
    with pytest.raises(errors.InternalError) as caught:
        await client(server).get(CONFIGMAPS, "a", "n")
    assert len(str(caught.value)) < 400


async def test_non_json_success_is_a_decode_error() -> None:
    server = Recorder(Response(200, b"<html>"))
    with pytest.raises(errors.DecodeError):
        await client(server).get(CONFIGMAPS, "a", "n")


async def chunked(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_watch_splits_lines_across_chunk_boundaries() -> None:
    lines = b'{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"2"}}}\n' \
            b'{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}\n' \
            b'{"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"10"}}}'
    server = Recorder(Response(200, chunked(lines[:10], lines[10:80], lines[80:])))
    events = [e async for e in client(server).watch(CONFIGMAPS, "n", resource_version="1", timeout_seconds=30)]
    assert [(e.type, e.resource_version) for e in events] == [("ADDED", "2"), ("BOOKMARK", "9"), ("DELETED", "10")]
    assert server.requests[0].query == {"watch": "true", "resourceVersion": "1", "timeoutSeconds": "30",
                                        "allowWatchBookmarks": "true"}
    assert server.requests[0].stream


async def test_watch_error_event_raises_gone() -> None:
    gone = orjson.dumps({"type": "ERROR", "object": orjson.loads(status(410, "Expired", "too old resource version"))})
    server = Recorder(Response(200, chunked(gone + b"\n")))
    with pytest.raises(errors.GoneError, match="too old"):
        async for _ in client(server).watch(CONFIGMAPS):
            pass


async def test_closing_a_watch_early_closes_the_stream() -> None:
    closed = False

    async def endless() -> AsyncIterator[bytes]:
        nonlocal closed
        try:
            while True:
                yield b'{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n'
        finally:
            closed = True

    server = Recorder(Response(200, endless()))
    async with contextlib.aclosing(client(server).watch(CONFIGMAPS)) as events:
        async for _ in events:
            break
    assert closed


DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"]},
    "/apis": {"kind": "APIGroupList", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
        {"name": "broken", "versions": [{"groupVersion": "broken/v1", "version": "v1"}]},
    ]},
    "/api/v1": {"groupVersion": "v1", "resources": [
        {"name": "pods", "namespaced": True, "kind": "Pod", "verbs": ["get", "list", "watch", "delete"]},
        {"name": "pods/status", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
        {"name": "namespaces", "namespaced": False, "kind": "Namespace", "verbs": ["get", "list"]},
    ]},
    "/apis/apps/v1": {"groupVersion": "apps/v1", "resources": [
        {"name": "replicasets", "namespaced": True, "kind": "ReplicaSet", "verbs": ["list", "deletecollection"]},
    ]},
}


async def discovery_server(request: Request) -> Response:
    if request.path in DISCOVERY:
        return Response(200, orjson.dumps(DISCOVERY[request.path]))
    return Response(503, status(503, "ServiceUnavailable"))


async def test_discover_lists_top_level_resources_of_every_group() -> None:
    c = Client(Config(server="https://x"), transport=discovery_server)
    with pytest.raises(errors.ServiceUnavailableError):
        await c.discover()
    refs = await c.discover(partial=True)
    assert [(r.group, r.plural, r.namespaced, r.kind) for r in refs] == [
        ("", "pods", True, "Pod"), ("", "namespaces", False, "Namespace"), ("apps", "replicasets", True, "ReplicaSet")]
    assert refs[2].verbs == {"list", "deletecollection"}
