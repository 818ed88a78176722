"""images: the `ImageService` the agent pulls through — the node's image store, or a simulated one.

The agent decides *whether* to pull (imagePullPolicy, back-off) and reports events; an image
service only says what is present and pulls. Errors carry the message a user sees in the
container's waiting state.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kybernetes.images import errors as image_errors
from kybernetes.images.reference import parse

Obj = dict[str, Any]

SIMULATED_MISSING = "doesnotexist"
"""An image whose name contains this cannot be pulled by the simulated image service."""


class ImagePullError(Exception):
    """ImagePullError: the pull failed; the text is what the kubelet would report."""


class InvalidImageName(Exception):
    """InvalidImageName: the reference does not parse."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """ImageInfo is what starting a container needs from a present image."""

    reference: str
    """The normalized reference, e.g. `docker.io/library/busybox:latest`; a container status's `image`."""
    image_ref: str
    """The digest reference a container status reports as `imageID`."""
    size: int = 0
    """Bytes of the image's blobs."""
    lowerdirs: tuple[Path, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    """The OCI image config's `config` section (Entrypoint, Cmd, Env, …)."""


class ImageService(Protocol):
    """ImageService looks images up and pulls them."""

    def normalize(self, image: str) -> str:
        """Return the full reference of `image`; raise InvalidImageName."""
        ...

    async def inspect(self, image: str) -> ImageInfo | None:
        """Return the image if it is present on the node, else None."""
        ...

    async def pull(self, image: str, *, dockerconfigjsons: list[Obj]) -> ImageInfo:
        """Pull `image` (credentials from the pod's imagePullSecrets); raise ImagePullError."""
        ...


def normalize(image: str) -> str:
    """The full form of an image reference, as the runtime reports it."""
    try:
        return str(parse(image))
    except image_errors.ImageError as err:
        raise InvalidImageName(str(err)) from err


def merged_auths(documents: list[Obj]) -> Obj:
    """Merge several .dockerconfigjson documents; the first secret naming a registry wins, as upstream."""
    auths: Obj = {}
    for doc in documents:
        entries = doc.get("auths") if isinstance(doc.get("auths"), dict) else doc
        for key, value in (entries or {}).items():
            auths.setdefault(key, value)
    return {"auths": auths}


class StoreImageService:
    """StoreImageService serves images from the node's image store and pulls with its puller."""

    def __init__(self, store: Any, puller: Any) -> None:
        # Typed loosely: `kybernetes.images.store.ImageStore` and `pull.Puller`, imported by the caller.
        self._store = store
        self._puller = puller

    def normalize(self, image: str) -> str:
        return normalize(image)

    def _info(self, image: Any, reference: str) -> ImageInfo:
        digests = image.repo_digests
        return ImageInfo(
            reference=reference,
            image_ref=digests[0] if digests else image.id,
            size=image.size,
            lowerdirs=tuple(self._store.lowerdirs(image)),
            config=self._store.image_config(image),
        )

    async def inspect(self, image: str) -> ImageInfo | None:
        reference = normalize(image)

        def look() -> ImageInfo | None:
            found = self._store.find(reference)
            return None if found is None else self._info(found, reference)

        return await asyncio.to_thread(look)

    async def pull(self, image: str, *, dockerconfigjsons: list[Obj]) -> ImageInfo:
        reference = normalize(image)
        try:
            result = await self._puller.pull(reference, dockerconfigjson=merged_auths(dockerconfigjsons)
                                             if dockerconfigjsons else None)
            return await asyncio.to_thread(self._info, result.image, reference)
        except image_errors.ImageError as err:
            raise ImagePullError(f'failed to pull and unpack image "{reference}": {err}') from err


class SimulatedImageService:
    """SimulatedImageService pulls every image at once, except those whose name contains `doesnotexist`."""

    def __init__(self, *, pull_seconds: float = 0.0) -> None:
        self._present: set[str] = set()
        self._pull_seconds = pull_seconds

    def normalize(self, image: str) -> str:
        return normalize(image)

    def _info(self, reference: str) -> ImageInfo:
        parsed = parse(reference)
        digest = "sha256:" + hashlib.sha256(reference.encode()).hexdigest()
        return ImageInfo(reference=reference, image_ref=str(parsed.with_digest(digest)), size=1_048_576)

    async def inspect(self, image: str) -> ImageInfo | None:
        reference = normalize(image)
        return self._info(reference) if reference in self._present else None

    async def pull(self, image: str, *, dockerconfigjsons: list[Obj]) -> ImageInfo:
        reference = normalize(image)
        if self._pull_seconds:
            await asyncio.sleep(self._pull_seconds)
        if SIMULATED_MISSING in reference:
            raise ImagePullError(
                f'failed to pull and unpack image "{reference}": failed to resolve reference "{reference}": '
                f"{reference}: not found")
        self._present.add(reference)
        return self._info(reference)
