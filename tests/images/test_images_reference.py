"""References normalize as Docker's and containerd's do."""

from __future__ import annotations

import pytest

from kybernetes.images.errors import InvalidReferenceError
from kybernetes.images.reference import parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("rancher/k3s:v1.30", "docker.io/rancher/k3s:v1.30", "rancher/k3s:v1.30"),
        ("index.docker.io/library/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
        ("docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
        ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
        ("127.0.0.1:5000/a/b/c:v1.0-rc_1", "127.0.0.1:5000/a/b/c:v1.0-rc_1", "127.0.0.1:5000/a/b/c:v1.0-rc_1"),
        ("quay.io/coreos/etcd", "quay.io/coreos/etcd:latest", "quay.io/coreos/etcd:latest"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
        (f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
        ("my-registry.example:443/team/app_x:2", "my-registry.example:443/team/app_x:2", "my-registry.example:443/team/app_x:2"),
    ],
    ids=["bare", "tag", "library", "org", "legacy-hub", "hub-no-library", "localhost-port", "localhost", "ip-port-deep",
         "quay", "digest", "tag-and-digest", "port-underscore"],
)
def test_references_normalize_as_upstream(text: str, full: str, familiar: str) -> None:
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert str(parse(full)) == full  # normal form is a fixed point


@pytest.mark.parametrize(
    "text",
    ["", "Busybox", "busybox:", "busybox:-x", "busybox@sha256:abc", "a//b", "/busybox", "busybox ", "a:b:c",
     "busybox@md5:" + "a" * 32, "-a/b", "x" * 300],
    ids=["empty", "uppercase", "empty-tag", "bad-tag", "short-digest", "double-slash", "leading-slash", "space",
         "two-colons", "md5", "dash", "too-long"],
)
def test_bad_references_are_rejected_with_the_text(text: str) -> None:
    with pytest.raises(InvalidReferenceError, match="invalid reference format"):
        parse(text)


def test_uppercase_repository_names_say_lowercase() -> None:
    with pytest.raises(InvalidReferenceError, match="must be lowercase"):
        parse("docker.io/Library/busybox")


def test_an_uppercase_first_component_is_a_registry_host() -> None:
    assert parse("Example.com/app").domain == "Example.com"
