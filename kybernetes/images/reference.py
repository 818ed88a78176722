"""Image references parsed and normalized as Docker and containerd do (`busybox` → `docker.io/library/busybox:latest`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kybernetes.images.errors import InvalidReferenceError

DEFAULT_DOMAIN = "docker.io"
"""The registry a name without a domain belongs to."""

LEGACY_DOMAIN = "index.docker.io"
"""Docker Hub's old name, folded into DEFAULT_DOMAIN."""

OFFICIAL_NAMESPACE = "library"
"""Docker Hub's namespace for one-component names (`busybox` → `library/busybox`)."""

DEFAULT_TAG = "latest"

MAX_NAME = 255
"""Longest repository name (domain/path) the distribution spec allows."""

# The grammar of github.com/distribution/reference, minus what no registry serves in practice.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")


@dataclass(frozen=True, slots=True)
class Reference:
    """Reference is a normalized image reference; `str()` gives its full form."""

    domain: str
    """Registry host and port: `docker.io`, `127.0.0.1:5000`."""
    path: str
    """Repository path inside the registry: `library/busybox`."""
    tag: str = ""
    """Tag, empty when the reference pins a digest."""
    digest: str = ""
    """Pinned manifest digest `sha256:…`, or empty."""

    @property
    def name(self) -> str:
        """name is the repository: `docker.io/library/busybox`."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag}"

    @property
    def object(self) -> str:
        """object is what the registry's manifest endpoint takes: the digest if pinned, else the tag."""
        return self.digest or self.tag

    def familiar(self) -> str:
        """familiar is the short display form: `busybox:latest`, `foo/bar@sha256:…`, `127.0.0.1:5000/x:1`."""
        name = familiar_name(self.name)
        return f"{name}@{self.digest}" if self.digest else f"{name}:{self.tag}"

    def with_digest(self, digest: str) -> Reference:
        """with_digest is the same repository pinned to `digest` (a "repo digest")."""
        return Reference(self.domain, self.path, "", digest)


def familiar_name(name: str) -> str:
    """familiar_name shortens a repository name as `docker images` shows it."""
    prefix = DEFAULT_DOMAIN + "/"
    if not name.startswith(prefix):
        return name
    rest = name[len(prefix):]
    official = OFFICIAL_NAMESPACE + "/"
    if rest.startswith(official) and "/" not in rest[len(official):]:
        return rest[len(official):]
    return rest


def parse(text: str) -> Reference:
    """parse normalizes `text` into a Reference, adding `docker.io`, `library/` and `:latest` as upstream does.

    A reference with both a tag and a digest keeps only the digest: the digest is what is pulled.
    """
    if not text or text != text.strip():
        raise InvalidReferenceError(f"invalid reference format: {text!r}")
    remainder, digest = text, ""
    if "@" in remainder:
        remainder, _, digest = remainder.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise InvalidReferenceError(f"invalid reference format: {text!r}: digest must be sha256: and 64 hex digits")
    name, tag = remainder, ""
    # A colon after the last slash starts a tag; one before it belongs to a domain's port.
    colon = remainder.rfind(":")
    if colon > remainder.rfind("/"):
        name, tag = remainder[:colon], remainder[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise InvalidReferenceError(f"invalid reference format: {text!r}: bad tag {tag!r}")
    domain, path = _split_domain(name, text)
    if not domain or not _DOMAIN.fullmatch(domain):
        raise InvalidReferenceError(f"invalid reference format: {text!r}: bad registry {domain!r}")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            if component.lower() != component and _PATH_COMPONENT.fullmatch(component.lower()):
                raise InvalidReferenceError(f"invalid reference format: {text!r}: repository name must be lowercase")
            raise InvalidReferenceError(f"invalid reference format: {text!r}")
    if len(domain) + 1 + len(path) > MAX_NAME:
        raise InvalidReferenceError(f"invalid reference format: {text!r}: repository name longer than {MAX_NAME}")
    if digest:
        return Reference(domain, path, "", digest)
    return Reference(domain, path, tag or DEFAULT_TAG, "")


def _split_domain(name: str, text: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    # Upstream's rule: the first component is a registry only if it looks like a host.
    if not slash or ("." not in first and ":" not in first and first != "localhost" and first.lower() == first):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if not path:
        raise InvalidReferenceError(f"invalid reference format: {text!r}")
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"{OFFICIAL_NAMESPACE}/{path}"
    return domain, path


def is_digest(text: str) -> bool:
    """is_digest tells whether `text` is a full `sha256:<64 hex>` digest."""
    return bool(_DIGEST.fullmatch(text))
