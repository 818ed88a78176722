"""OCI and Docker schema 2 documents: media types, descriptors, manifests, indexes and platform selection."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import orjson

from kybernetes.images.errors import ContentError, UnsupportedError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
LAYER_TYPES = frozenset({OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER, DOCKER_LAYER_GZIP})

REF_NAME = "org.opencontainers.image.ref.name"
"""The annotation naming an image in an OCI layout's index.json."""
CONTAINERD_NAME = "io.containerd.image.name"
"""containerd's (and `docker save`'s) annotation with the full image name."""

ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
"""The Accept header of a manifest request: every schema we read, none we do not."""


def sha256_digest(data: bytes) -> str:
    """sha256_digest is `sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(doc: Any) -> bytes:
    """dumps is the canonical JSON of a document we write: the bytes its digest is taken of."""
    return orjson.dumps(doc)


@dataclass(frozen=True, slots=True)
class Platform:
    """Platform is an os/architecture[/variant] triple as manifest lists describe it."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


_MACHINE_ARCH = {
    "x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"), "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "i686": ("386", ""), "i386": ("386", ""),
    "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
}


def host_platform() -> Platform:
    """host_platform is this node's platform, from `uname -m` named as Go's GOARCH."""
    arch, variant = _MACHINE_ARCH.get(os.uname().machine, (os.uname().machine, ""))
    return Platform("linux", arch, variant)


@dataclass(frozen=True, slots=True)
class Descriptor:
    """Descriptor points at content by digest, size and media type."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, doc: Any) -> Descriptor:
        if not isinstance(doc, dict):
            raise ContentError("descriptor is not an object")
        try:
            digest, size = doc["digest"], doc["size"]
        except KeyError as exc:
            raise ContentError(f"descriptor without {exc.args[0]}") from None
        if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71:
            raise UnsupportedError(f"digest {digest!r}: only sha256 is supported")
        if not isinstance(size, int) or size < 0:
            raise ContentError(f"descriptor {digest}: bad size {size!r}")
        platform = None
        if isinstance(p := doc.get("platform"), dict):
            platform = Platform(p.get("os", ""), p.get("architecture", ""), p.get("variant", ""))
        return cls(
            media_type=doc.get("mediaType", ""), digest=digest, size=size, platform=platform,
            annotations=dict(doc.get("annotations") or {}), urls=tuple(doc.get("urls") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform is not None:
            doc["platform"] = {"os": self.platform.os, "architecture": self.platform.architecture}
            if self.platform.variant:
                doc["platform"]["variant"] = self.platform.variant
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc


@dataclass(frozen=True, slots=True)
class Manifest:
    """Manifest is an image manifest (OCI or Docker schema 2): a config and layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True, slots=True)
class Index:
    """Index is a manifest list or OCI index: one manifest per platform."""

    media_type: str
    manifests: tuple[Descriptor, ...]


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ContentError(f"{what} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ContentError(f"{what} is not a JSON object")
    return doc


def parse_document(data: bytes, media_type: str = "") -> Manifest | Index:
    """parse_document reads a manifest or an index; `media_type` is the HTTP Content-Type, if any."""
    doc = load_json(data, "manifest")
    kind = doc.get("mediaType") or media_type.split(";")[0].strip()
    if doc.get("schemaVersion") == 1 or kind in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
        raise UnsupportedError("Docker image manifest schema 1 is not supported; push the image again with a current client")
    if not kind:
        # OCI allows omitting mediaType: the shape tells.
        kind = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if kind in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise ContentError("index without a manifests list")
        return Index(kind, tuple(Descriptor.from_json(m) for m in entries))
    if kind in MANIFEST_TYPES:
        if "config" not in doc or not isinstance(doc.get("layers"), list):
            raise ContentError("manifest without config or layers")
        layers = tuple(Descriptor.from_json(layer) for layer in doc["layers"])
        for layer in layers:
            if layer.media_type == DOCKER_FOREIGN_LAYER or layer.urls:
                raise UnsupportedError(f"layer {layer.digest}: foreign (non-distributable) layers are not supported")
            if layer.media_type not in LAYER_TYPES:
                raise UnsupportedError(f"layer {layer.digest}: media type {layer.media_type!r} is not supported")
        return Manifest(kind, Descriptor.from_json(doc["config"]), layers)
    raise UnsupportedError(f"manifest media type {kind!r} is not supported")


def select_platform(index: Index, want: Platform) -> Descriptor | None:
    """select_platform picks `want`'s manifest from an index as containerd does: exact variant first, then none."""
    best: Descriptor | None = None
    best_rank = 99
    for desc in index.manifests:
        p = desc.platform
        if p is None or desc.media_type not in MANIFEST_TYPES | {""}:
            continue
        if p.os != want.os or p.architecture != want.architecture:
            continue
        if p.variant == want.variant:
            rank = 0
        elif not p.variant or not want.variant:
            rank = 1
        elif want.architecture in ("arm", "arm64") and p.variant < want.variant:
            rank = 2  # an older ARM variant runs on a newer core
        else:
            continue
        if rank < best_rank:
            best, best_rank = desc, rank
    return best


def platforms_of(index: Index) -> list[str]:
    """platforms_of lists the platforms an index offers, for an error message."""
    return [str(d.platform) for d in index.manifests if d.platform is not None and d.platform.os != "unknown"]
