"""Puller: pull an image into the store — resolve through mirrors, pick the node's platform, verify, unpack, tag.

A pull stores nothing under the image's name until every blob is verified (sha256 and size) and,
by default, every layer is unpacked and matches its diff_id; only then is the reference tagged.
Blobs of a failed pull are deleted again unless another pull is in flight (then GC takes them).
Pulls of the same reference at the same time share one download; each caller gets progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Protocol

import aiohttp

from kybernetes.images import oci
from kybernetes.images.errors import (
    ContentError,
    DigestMismatchError,
    PlatformNotFoundError,
    PullError,
    RegistryStatusError,
    RegistryUnavailableError,
    StorageError,
)
from kybernetes.images.reference import Reference, parse
from kybernetes.images.registry import Credentials, Endpoint, RegistryClient, RegistryConfig, credentials_from_dockerconfigjson
from kybernetes.images.store import Image, ImageStore

MAX_MANIFEST = 4 << 20
"""Largest manifest or config we read into memory, as containerd limits it."""

_CHUNK = 1 << 20


class Progress(Protocol):
    """Progress is told the bytes done so far and the bytes in all (both include blobs already stored)."""

    def __call__(self, done: int, total: int) -> None: ...


@dataclass(frozen=True, slots=True)
class PullResult:
    """PullResult is what a pull gives the caller, for its Pulling/Pulled events."""

    image: Image
    reference: str
    """The normalized reference pulled."""
    size: int
    """Bytes of the image's blobs (manifest, config, layers)."""
    downloaded: int
    """Bytes fetched by this pull; less than `size` when layers were already stored."""
    duration: float
    """Seconds from start to tagged."""


@dataclass(slots=True)
class _Tracker:
    """_Tracker adds up bytes across concurrent blob downloads and tells every listener."""

    total: int = 0
    done: int = 0
    downloaded: int = 0
    listeners: list[Progress] = field(default_factory=list)

    def advance(self, n: int, *, fetched: bool = True) -> None:
        self.done += n
        if fetched:
            self.downloaded += n
        for listener in self.listeners:
            listener(self.done, self.total)


@dataclass(frozen=True, slots=True)
class PullSettings:
    """PullSettings tune the puller."""

    max_concurrent_downloads: int = 3
    """Layers fetched at once per image, as containerd's default."""
    connect_timeout: float = 30.0
    """Seconds to connect to an endpoint."""
    read_timeout: float = 60.0
    """Seconds without a byte before a download is abandoned."""


class Puller:
    """Puller pulls images into `store` from registries as `config` (registries.yaml) directs."""

    def __init__(self, store: ImageStore, config: RegistryConfig | None = None, *,
                 platform: oci.Platform | None = None, settings: PullSettings | None = None) -> None:
        self.store = store
        self.config = config or RegistryConfig()
        self.platform = platform or oci.host_platform()
        self.settings = settings or PullSettings()
        self._session: aiohttp.ClientSession | None = None
        self._client: RegistryClient | None = None
        self._inflight: dict[tuple[str, bool], tuple[asyncio.Task[PullResult], _Tracker]] = {}

    async def __aenter__(self) -> Puller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._client = None

    async def pull(self, reference: str, *, credentials: Credentials | None = None,
                   dockerconfigjson: dict[str, object] | None = None, progress: Progress | None = None,
                   unpack: bool = True) -> PullResult:
        """pull fetches `reference` and returns the stored image; raises PullError (or InvalidReferenceError).

        `credentials` (or the matching entry of a `dockerconfigjson` document, as an imagePullSecret
        holds) authenticate to the image's own registry; registries.yaml's configs cover mirrors.
        """
        ref = parse(reference)
        if credentials is None and dockerconfigjson is not None:
            credentials = credentials_from_dockerconfigjson(dockerconfigjson, ref.domain)
        key = (str(ref), unpack)
        if key in self._inflight:
            task, tracker = self._inflight[key]
        else:
            tracker = _Tracker()
            task = asyncio.ensure_future(self._pull(ref, credentials, tracker, unpack))
            self._inflight[key] = (task, tracker)
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        if progress is not None:
            tracker.listeners.append(progress)
        # Shielded: one caller giving up does not cancel the download others wait for.
        return await asyncio.shield(task)

    async def _pull(self, ref: Reference, credentials: Credentials | None, tracker: _Tracker, unpack: bool) -> PullResult:
        started = time.monotonic()
        written: list[str] = []
        try:
            async with self._ingesting():
                image = await self._fetch(ref, credentials, tracker, written)
                if unpack:
                    await asyncio.to_thread(self.store.unpack, image)
                image = self.store.tag(image.manifest_digest, [str(ref)])
        except (ContentError, StorageError) as exc:
            await asyncio.to_thread(self.store.discard_blobs, written)
            raise PullError(f"pulling {ref}: {exc}", reference=str(ref)) from exc
        except BaseException:
            await asyncio.to_thread(self.store.discard_blobs, written)
            raise
        return PullResult(image, str(ref), image.size, tracker.downloaded, time.monotonic() - started)

    async def _fetch(self, ref: Reference, credentials: Credentials | None, tracker: _Tracker, written: list[str]) -> Image:
        client = self._registry_client()
        endpoint, repo, digest, body, media_type = await self._resolve(client, ref, credentials)
        creds = self._credentials_for(endpoint, ref, credentials)
        doc = oci.parse_document(body, media_type)
        if isinstance(doc, oci.Index):
            chosen = oci.select_platform(doc, self.platform)
            if chosen is None:
                offered = ", ".join(oci.platforms_of(doc)) or "none"
                raise PlatformNotFoundError(f"{ref}: no image for {self.platform} (offered: {offered})", reference=str(ref))
            digest = chosen.digest
            body, media_type = await self._manifest(client, endpoint, repo, chosen.digest, creds, str(ref))
            doc = oci.parse_document(body, media_type)
            if not isinstance(doc, oci.Manifest):
                raise ContentError(f"{chosen.digest}: an index inside an index")
        assert isinstance(doc, oci.Manifest)
        tracker.total = len(body) + doc.config.size + sum(layer.size for layer in doc.layers)
        tracker.advance(len(body), fetched=False)
        config = await self._small_blob(client, endpoint, repo, doc.config, creds, str(ref), tracker)
        cfg = oci.load_json(config, "image config")
        diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(doc.layers):
            raise ContentError(f"image config lists {len(diff_ids)} diff_ids for {len(doc.layers)} layers")
        self._record(self.store.write_blob(config, doc.config.digest), written)
        limit = asyncio.Semaphore(self.settings.max_concurrent_downloads)
        try:
            async with asyncio.TaskGroup() as tg:
                for layer in doc.layers:
                    tg.create_task(self._layer(client, endpoint, repo, layer, creds, str(ref), tracker, limit, written))
        except BaseExceptionGroup as group:
            # The first layer's failure is the pull's; the others were cancelled because of it.
            raise _first(group) from None
        self._record(self.store.write_blob(body, digest), written)
        return self.store.image_from_manifest(digest)

    async def _resolve(self, client: RegistryClient, ref: Reference, credentials: Credentials | None
                       ) -> tuple[Endpoint, str, str, bytes, str]:
        """_resolve asks each endpoint in turn for the manifest; the first answer wins."""
        errors: list[PullError] = []
        for endpoint in self.config.endpoints(ref.domain):
            repo = endpoint.repository(ref.path)
            creds = self._credentials_for(endpoint, ref, credentials)
            try:
                body, media_type = await self._manifest(client, endpoint, repo, ref.object, creds, str(ref))
            except (RegistryStatusError, RegistryUnavailableError) as exc:
                errors.append(exc)
                continue
            digest = oci.sha256_digest(body)
            return endpoint, repo, digest, body, media_type
        # The registry's own words beat a mirror's absence: report the first error answered over HTTP.
        status = [e for e in errors if isinstance(e, RegistryStatusError)]
        raise (status[0] if status else errors[-1])

    async def _manifest(self, client: RegistryClient, endpoint: Endpoint, repo: str, obj: str,
                        creds: Credentials | None, reference: str) -> tuple[bytes, str]:
        async with client.request(endpoint, repo, "GET", f"/{repo}/manifests/{obj}", headers={"Accept": oci.ACCEPT},
                                  credentials=creds, reference=reference) as resp:
            body = await _read_limited(resp, MAX_MANIFEST, reference)
            media_type = resp.headers.get("Content-Type", "")
            header_digest = resp.headers.get("Docker-Content-Digest", "")
        digest = oci.sha256_digest(body)
        if obj.startswith("sha256:") and digest != obj:
            raise DigestMismatchError(f"manifest {obj}: content hashes to {digest}")
        if header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatchError(f"manifest of {reference}: registry says {header_digest}, content hashes to {digest}")
        return body, media_type

    async def _small_blob(self, client: RegistryClient, endpoint: Endpoint, repo: str, desc: oci.Descriptor,
                          creds: Credentials | None, reference: str, tracker: _Tracker) -> bytes:
        if self.store.has_blob(desc.digest):
            tracker.advance(desc.size, fetched=False)
            return self.store.read_blob(desc.digest)
        if desc.size > MAX_MANIFEST:
            raise ContentError(f"config {desc.digest}: {desc.size} bytes is too large")
        async with client.request(endpoint, repo, "GET", f"/{repo}/blobs/{desc.digest}", credentials=creds, reference=reference) as resp:
            data = await _read_limited(resp, MAX_MANIFEST, reference)
        if len(data) != desc.size or oci.sha256_digest(data) != desc.digest:
            raise DigestMismatchError(f"config {desc.digest}: got {len(data)} bytes hashing to {oci.sha256_digest(data)}")
        tracker.advance(len(data))
        return data

    async def _layer(self, client: RegistryClient, endpoint: Endpoint, repo: str, desc: oci.Descriptor,
                     creds: Credentials | None, reference: str, tracker: _Tracker, limit: asyncio.Semaphore,
                     written: list[str]) -> None:
        if self.store.has_blob(desc.digest):
            tracker.advance(desc.size, fetched=False)
            return
        async with limit:
            async with client.request(endpoint, repo, "GET", f"/{repo}/blobs/{desc.digest}", credentials=creds, reference=reference) as resp:
                with self.store.blob_writer(desc.digest, desc.size) as w:
                    try:
                        async for chunk in resp.content.iter_chunked(_CHUNK):
                            w.write(chunk)
                            tracker.advance(len(chunk))
                    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                        raise RegistryUnavailableError(f"{reference}: downloading {desc.digest}: {exc or type(exc).__name__}", reference=reference) from exc
                    w.commit()
                    self._record(desc.digest, written)

    def _credentials_for(self, endpoint: Endpoint, ref: Reference, credentials: Credentials | None) -> Credentials | None:
        if endpoint.config.credentials is not None:
            return endpoint.config.credentials
        return None if endpoint.mirror else credentials

    def _registry_client(self) -> RegistryClient:
        if self._client is None:
            timeout = aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout, sock_read=self.settings.read_timeout)
            # trust_env off: a proxy from the environment must not see node credentials or reroute pulls.
            self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False, trust_env=False)
            self._client = RegistryClient(self._session)
        return self._client

    @contextlib.asynccontextmanager
    async def _ingesting(self) -> AsyncIterator[None]:
        cm = self.store.ingesting()
        await asyncio.to_thread(cm.__enter__)
        try:
            yield
        finally:
            cm.__exit__(None, None, None)

    @staticmethod
    def _record(digest: str, written: list[str]) -> None:
        written.append(digest)


def _first(group: BaseExceptionGroup) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


async def _read_limited(resp: aiohttp.ClientResponse, limit: int, reference: str) -> bytes:
    if resp.content_length is not None and resp.content_length > limit:
        raise ContentError(f"{reference}: a {resp.content_length}-byte document is larger than {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise ContentError(f"{reference}: document larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
