"""ImageStore: a node's images as an OCI layout of sha256 blobs, tagged in index.json, unpacked once into shared snapshots.

On disk, below the store's root (`<data-dir>/agent/images`):

    oci-layout, index.json     an OCI image layout: index.json names every image (annotation
                               org.opencontainers.image.ref.name = the full reference; none = untagged)
    blobs/sha256/<hex>         manifests, configs and layer blobs, content-addressed
    snapshots/<chain-hex>/fs   one layer unpacked in overlayfs form, keyed by chain id so equal layer
                               stacks are unpacked once; a stack of these is a container's lowerdir
    snapshots/<chain-hex>/meta.json   {diff_id, parent, size}
    leases/<holder>            an image id a container holds: GC keeps that image
    tmp/                       files being written; renamed into place only once complete and verified

Every write is a temp file (or directory) renamed into place, so a crash or a failed pull leaves no
half-written blob, snapshot or index. index.json is rewritten under an exclusive flock on `lock`;
pulls and unpacks hold `gc.lock` shared and garbage collection holds it exclusively, so GC never
deletes a blob that a pull has written but not yet tagged. Blobs are not fsynced: content is
verified again when it is used (a layer's diff_id on unpack).

Every method blocks (disk, flock): async callers run them with `asyncio.to_thread`, which also keeps
a `remove`/`prune` waiting for an in-flight pull from stalling the event loop that pull runs on.

Runtime: `lowerdirs(image)` (unpacking first if needed) and `image_config(image)` (the OCI config
section: Entrypoint, Cmd, Env, User, WorkingDir, StopSignal, …); `add_lease(holder,
image)` when a container is created and `remove_lease(holder)` when it is removed.

Builder: `add_layer(tar)` (an uncompressed layer tar, stored gzip-compressed) or
`add_layer_from_dir(dir)` (an overlay upper directory, whiteouts translated back), then
`commit_image(config=..., layers=[...], references=[...])` writes the config and an OCI manifest and tags it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Collection, Iterator

import orjson

from kybernetes.images import layers as layerfs
from kybernetes.images import oci
from kybernetes.images.errors import (
    ContentError,
    DigestMismatchError,
    ImageInUseError,
    ImageNotFoundError,
    ImageError,
    StorageError,
)
from kybernetes.images.reference import is_digest, parse

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Layer:
    """Layer is one layer of an image: its blob and the digest of its uncompressed tar."""

    digest: str
    size: int
    media_type: str
    diff_id: str


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """ImageConfig is, typed, what a runtime needs from an image's config to start a container."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    user: str = ""
    working_dir: str = ""
    stop_signal: str = ""
    exposed_ports: list[str] = field(default_factory=list)
    """`80/tcp`-style keys of ExposedPorts."""
    volumes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    os: str = "linux"
    architecture: str = ""

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ImageConfig:
        c = doc.get("config") or {}
        return cls(
            entrypoint=list(c.get("Entrypoint") or []), cmd=list(c.get("Cmd") or []), env=list(c.get("Env") or []),
            user=c.get("User") or "", working_dir=c.get("WorkingDir") or "", stop_signal=c.get("StopSignal") or "",
            exposed_ports=sorted(c.get("ExposedPorts") or {}), volumes=sorted(c.get("Volumes") or {}),
            labels=dict(c.get("Labels") or {}), os=doc.get("os") or "linux", architecture=doc.get("architecture") or "",
        )


@dataclass(frozen=True, slots=True)
class Image:
    """Image is a stored image: its manifest, config and layers, and the references that name it."""

    id: str
    """The config digest, as `docker images` and crictl show it."""
    manifest_digest: str
    manifest_media_type: str
    config_digest: str
    config: dict[str, Any]
    """The whole image config document (os, architecture, config, rootfs, history)."""
    layers: tuple[Layer, ...]
    chain_ids: tuple[str, ...]
    size: int
    """Bytes of manifest, config and layer blobs: what a pull transfers."""
    references: tuple[str, ...] = ()
    """Full references (`docker.io/library/busybox:latest`); empty for an untagged image."""

    @property
    def diff_ids(self) -> tuple[str, ...]:
        return tuple(layer.diff_id for layer in self.layers)

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:13]

    @property
    def repo_digests(self) -> tuple[str, ...]:
        """repo_digests are `name@<manifest digest>` per repository, what a kubelet reports as imageID."""
        names = sorted({str(parse(r).with_digest(self.manifest_digest)) for r in self.references})
        return tuple(names)


@dataclass(frozen=True, slots=True)
class ImageUsage:
    """ImageUsage is one image's share of the disk."""

    image: Image
    blobs: int
    """Bytes of its blobs."""
    unpacked: int
    """Bytes of its unpacked snapshots (0 if not unpacked)."""
    unique: int
    """Bytes of blobs and snapshots no other image uses: what removing it frees."""


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """DiskUsage is the store's disk use, in total and per image."""

    images: list[ImageUsage]
    blobs: int
    snapshots: int

    @property
    def total(self) -> int:
        return self.blobs + self.snapshots


@dataclass(frozen=True, slots=True)
class PruneResult:
    """PruneResult says what a prune or GC removed."""

    images: list[Image]
    reclaimed: int
    """Bytes of blobs and snapshots deleted."""


class BlobWriter:
    """BlobWriter receives a blob's bytes into a temp file, hashing as it goes; `commit` verifies and renames."""

    def __init__(self, store: ImageStore, expected: str, expected_size: int) -> None:
        self._store = store
        self.expected = expected
        self.expected_size = expected_size
        fd, name = tempfile.mkstemp(dir=store.root / "tmp", prefix="blob-")
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.written = 0

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            raise StorageError(f"writing blob {self.expected}: {exc.strerror}") from exc
        self._hash.update(data)
        self.written += len(data)
        if self.expected_size >= 0 and self.written > self.expected_size:
            raise DigestMismatchError(f"blob {self.expected}: more than the {self.expected_size} bytes its descriptor says")

    def commit(self) -> Path:
        try:
            self._file.close()
        except OSError as exc:
            raise StorageError(f"writing blob {self.expected}: {exc.strerror}") from exc
        got = "sha256:" + self._hash.hexdigest()
        if self.expected_size >= 0 and self.written != self.expected_size:
            raise DigestMismatchError(f"blob {self.expected}: got {self.written} bytes, its descriptor says {self.expected_size}")
        if self.expected and got != self.expected:
            raise DigestMismatchError(f"blob {self.expected}: content hashes to {got}")
        self.expected = got
        dest = self._store.blob_path(got)
        os.chmod(self.path, 0o444)
        os.rename(self.path, dest)
        return dest

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class ImageStore:
    """ImageStore keeps images, their blobs and their unpacked snapshots below `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._unpack_locks: dict[str, threading.Lock] = {}
        self._unpack_locks_guard = threading.Lock()
        self._docs: dict[str, bytes] = {}
        try:
            for sub in ("blobs/sha256", "snapshots", "leases", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            if not (self.root / "oci-layout").exists():
                self._write_atomic(self.root / "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            if not (self.root / "index.json").exists():
                self._write_index([])
        except OSError as exc:
            raise StorageError(f"image store {self.root}: {exc.strerror or exc}") from exc

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ImageStore:
        """for_data_dir opens the store of the node whose data directory is `data_dir`."""
        return cls(Path(data_dir) / "agent" / "images")

    # --- blobs ---------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise ContentError(f"not a sha256 digest: {digest!r}")
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def read_blob(self, digest: str) -> bytes:
        """read_blob reads a small blob (manifest, config), cached: content never changes."""
        if (data := self._docs.get(digest)) is not None:
            return data
        try:
            data = self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise ImageNotFoundError(f"blob {digest} is not in the store") from None
        self._docs[digest] = data
        return data

    @contextlib.contextmanager
    def blob_writer(self, expected: str = "", size: int = -1) -> Iterator[BlobWriter]:
        """blob_writer yields a BlobWriter; leaving the block without `commit()` removes the temp file."""
        try:
            writer = BlobWriter(self, expected, size)
        except OSError as exc:
            raise StorageError(f"writing blob {expected}: {exc.strerror}") from exc
        try:
            yield writer
        finally:
            writer.discard()

    def write_blob(self, data: bytes, expected: str = "") -> str:
        """write_blob stores `data` (verifying it against `expected` if given) and returns its digest."""
        digest = oci.sha256_digest(data)
        if expected and digest != expected:
            raise DigestMismatchError(f"blob {expected}: content hashes to {digest}")
        if not self.has_blob(digest):
            with self.blob_writer(digest, len(data)) as w:
                w.write(data)
                w.commit()
        return digest

    def import_blob(self, src: BinaryIO, expected: str = "", size: int = -1) -> str:
        """import_blob copies a stream into the store, verifying digest and size when given."""
        if expected and self.has_blob(expected):
            return expected
        with self.blob_writer(expected, size) as w:
            while chunk := src.read(_CHUNK):
                w.write(chunk)
            w.commit()
            return w.expected

    @contextlib.contextmanager
    def ingesting(self) -> Iterator[None]:
        """ingesting holds off garbage collection while blobs are written but not yet tagged."""
        with self._flock("gc.lock", fcntl.LOCK_SH):
            yield

    # --- images --------------------------------------------------------------------------------

    def image_from_manifest(self, manifest_digest: str, references: tuple[str, ...] = ()) -> Image:
        """image_from_manifest builds the Image record of a stored manifest, checking its config and blobs are there."""
        doc = self.read_blob(manifest_digest)
        parsed = oci.parse_document(doc)
        if not isinstance(parsed, oci.Manifest):
            raise ContentError(f"{manifest_digest} is an index, not an image manifest")
        config = oci.load_json(self.read_blob(parsed.config.digest), "image config")
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(parsed.layers):
            raise ContentError(f"image {parsed.config.digest}: {len(parsed.layers)} layers but {len(diff_ids)} diff_ids")
        image_layers = tuple(
            Layer(d.digest, d.size, d.media_type, diff_id) for d, diff_id in zip(parsed.layers, diff_ids)
        )
        return Image(
            id=parsed.config.digest, manifest_digest=manifest_digest, manifest_media_type=parsed.media_type,
            config_digest=parsed.config.digest, config=config, layers=image_layers,
            chain_ids=chain_ids(diff_ids), size=len(doc) + parsed.config.size + sum(layer.size for layer in image_layers),
            references=references,
        )

    def tag(self, manifest_digest: str, references: Collection[str] = ()) -> Image:
        """tag records the stored manifest as an image named by `references` (untagged if none).

        A reference already naming another image moves to this one, as `docker tag` does.
        """
        refs = [str(parse(r)) for r in references]
        image = self.image_from_manifest(manifest_digest)
        for layer in image.layers:
            if not self.has_blob(layer.digest):
                raise ContentError(f"image {image.id}: layer {layer.digest} is not in the store")
        with self._flock("lock", fcntl.LOCK_EX):
            entries = [e for e in self._read_index() if e.annotations.get(oci.REF_NAME) not in refs]
            # An untagged entry of the same manifest is superseded by a tagged one.
            entries = [e for e in entries if not (e.digest == manifest_digest and oci.REF_NAME not in e.annotations)]
            desc = oci.Descriptor(image.manifest_media_type, manifest_digest, len(self.read_blob(manifest_digest)))
            new = [oci.Descriptor(desc.media_type, desc.digest, desc.size, annotations={oci.REF_NAME: r}) for r in refs]
            if not new and not any(e.digest == manifest_digest for e in entries):
                new = [desc]
            self._write_index(entries + new)
        return self.get(refs[0]) if refs else self._image_by_manifest(manifest_digest)

    def images(self) -> list[Image]:
        """images lists the stored images, one per manifest, each with all its references."""
        by_manifest: dict[str, list[str]] = {}
        for entry in self._read_index():
            refs = by_manifest.setdefault(entry.digest, [])
            if name := entry.annotations.get(oci.REF_NAME):
                refs.append(name)
        out = []
        for digest, refs in by_manifest.items():
            try:
                out.append(self.image_from_manifest(digest, tuple(sorted(refs))))
            except (ImageNotFoundError, ContentError):
                continue  # an entry whose blobs are gone is not an image; GC drops it
        return out

    def find(self, ref: str) -> Image | None:
        """find looks an image up by reference, repo digest, image id or an id prefix of at least 4 hex digits."""
        images = self.images()
        try:
            wanted = parse(ref)
        except ImageError:
            wanted = None
        if wanted is not None:
            full = str(wanted)
            for image in images:
                if full in image.references:
                    return image
            if wanted.digest:
                for image in images:
                    if image.manifest_digest == wanted.digest and any(parse(r).name == wanted.name for r in image.references):
                        return image
        hexpart = ref.removeprefix("sha256:")
        if len(hexpart) >= 4 and all(c in "0123456789abcdef" for c in hexpart):
            matches = {image.id: image for image in images if image.id.removeprefix("sha256:").startswith(hexpart)}
            if len(matches) == 1:
                return next(iter(matches.values()))
            if len(matches) > 1:
                raise ImageNotFoundError(f"{ref}: ambiguous image id prefix")
        return None

    def get(self, ref: str) -> Image:
        """get is `find`, raising ImageNotFoundError when nothing matches."""
        image = self.find(ref)
        if image is None:
            raise ImageNotFoundError(f"image {ref!r} not found")
        return image

    def image_config(self, image: Image | str) -> dict[str, Any]:
        """image_config is the `config` section of the OCI image config, as the runtime reads it.

        Keys as the OCI spec spells them: Entrypoint, Cmd, Env, User, WorkingDir, StopSignal,
        ExposedPorts, Volumes, Labels. `ImageConfig.from_json(image.config)` gives the same typed.
        """
        return dict(self._image(image).config.get("config") or {})

    # --- snapshots -----------------------------------------------------------------------------

    def snapshot_dir(self, chain_id: str) -> Path:
        return self.root / "snapshots" / chain_id.removeprefix("sha256:")

    def is_unpacked(self, image: Image | str) -> bool:
        return all((self.snapshot_dir(c) / "fs").is_dir() for c in self._image(image).chain_ids)

    def unpack(self, image: Image | str) -> None:
        """unpack makes a snapshot of each layer not yet unpacked; layers shared with other images are reused."""
        img = self._image(image)
        with self.ingesting():
            for i, layer in enumerate(img.layers):
                chain = img.chain_ids[i]
                if (self.snapshot_dir(chain) / "fs").is_dir():
                    continue
                with self._unpack_lock(chain):
                    if (self.snapshot_dir(chain) / "fs").is_dir():
                        continue
                    self._unpack_layer(layer, chain, img.chain_ids[:i])

    def _unpack_layer(self, layer: Layer, chain: str, parents: tuple[str, ...]) -> None:
        blob = self.blob_path(layer.digest)
        if not blob.exists():
            raise ImageNotFoundError(f"layer {layer.digest} is not in the store")
        if os.geteuid() != 0:
            raise StorageError("unpacking image layers needs root (overlayfs whiteouts and trusted.* xattrs)")
        try:
            tmp = Path(tempfile.mkdtemp(dir=self.root / "snapshots", prefix=".tmp-"))
        except OSError as exc:
            raise StorageError(f"unpacking layer {layer.digest}: {exc.strerror}") from exc
        try:
            (tmp / "fs").mkdir()
            lowers = [self.snapshot_dir(c) / "fs" for c in reversed(parents)]
            layerfs.apply(blob, tmp / "fs", lowers=lowers, diff_id=layer.diff_id)
            meta = {"chain_id": chain, "diff_id": layer.diff_id, "parent": parents[-1] if parents else "",
                    "size": layerfs.disk_usage(tmp / "fs")}
            (tmp / "meta.json").write_bytes(orjson.dumps(meta))
            os.chmod(tmp, 0o755)
            try:
                os.rename(tmp, self.snapshot_dir(chain))
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                # Another process unpacked the same chain meanwhile: keep theirs.
        except OSError as exc:
            raise StorageError(f"unpacking layer {layer.digest}: {exc.strerror or exc}") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def lowerdirs(self, image: Image | str) -> list[Path]:
        """lowerdirs are the image's snapshot directories, top-most first, as overlayfs' lowerdir= wants them."""
        img = self._image(image)
        if not self.is_unpacked(img):
            self.unpack(img)
        return [self.snapshot_dir(c) / "fs" for c in reversed(img.chain_ids)]

    def _snapshot_size(self, chain_id: str) -> int:
        try:
            return int(orjson.loads((self.snapshot_dir(chain_id) / "meta.json").read_bytes())["size"])
        except (OSError, ValueError, KeyError):
            return 0

    # --- leases, removal, GC -------------------------------------------------------------------

    def add_lease(self, holder: str, image: Image | str) -> None:
        """add_lease records that `holder` (a container id) uses the image; GC and rm leave it alone."""
        _check_holder(holder)
        self._write_atomic(self.root / "leases" / holder, self._image(image).id.encode())

    def remove_lease(self, holder: str) -> None:
        _check_holder(holder)
        with contextlib.suppress(FileNotFoundError):
            (self.root / "leases" / holder).unlink()

    def leases(self) -> dict[str, str]:
        """leases maps holder to image id."""
        out = {}
        for path in (self.root / "leases").iterdir():
            with contextlib.suppress(OSError):
                out[path.name] = path.read_text().strip()
        return out

    def remove(self, ref: str, *, in_use: Collection[str] = (), force: bool = False) -> Image:
        """remove deletes a reference; the image goes with its last one, unless a container uses it.

        By image id, every reference goes. An image in use (in `in_use` or leased) keeps its content:
        without `force` its last reference is not removed (ImageInUseError); with it, the image stays untagged.
        """
        image = self.get(ref)
        busy = set(in_use) | set(self.leases().values())
        try:
            parsed = str(parse(ref))
        except ImageError:
            parsed = ""
        refs = [parsed] if parsed in image.references else list(image.references)
        last = len(refs) == len(image.references)
        if last and image.id in busy and not force:
            raise ImageInUseError(f"image {ref} ({image.short_id}) is used by a container")
        with self._flock("lock", fcntl.LOCK_EX):
            entries = self._read_index()
            kept = [e for e in entries if not (e.digest == image.manifest_digest and (
                e.annotations.get(oci.REF_NAME) in refs or (last and oci.REF_NAME not in e.annotations)))]
            if last and image.id in busy:
                kept.append(oci.Descriptor(image.manifest_media_type, image.manifest_digest, len(self.read_blob(image.manifest_digest))))
            self._write_index(kept)
        if last and image.id not in busy:
            self.gc()
        return image

    def prune(self, in_use: Collection[str] = ()) -> PruneResult:
        """prune removes every image no container uses (ids in `in_use` or leased), then collects garbage."""
        busy = set(in_use) | set(self.leases().values())
        removed = [image for image in self.images() if image.id not in busy]
        gone = {image.manifest_digest for image in removed}
        with self._flock("lock", fcntl.LOCK_EX):
            self._write_index([e for e in self._read_index() if e.digest not in gone])
        return PruneResult(removed, self.gc().reclaimed)

    def gc(self) -> PruneResult:
        """gc deletes blobs and snapshots no stored image reaches, and leftovers of interrupted writes."""
        reclaimed = 0
        with self._flock("gc.lock", fcntl.LOCK_EX):
            images = self.images()
            keep_blobs = set()
            keep_chains = set()
            for image in images:
                keep_blobs.update({image.manifest_digest, image.config_digest}, (layer.digest for layer in image.layers))
                keep_chains.update(c.removeprefix("sha256:") for c in image.chain_ids)
            with self._flock("lock", fcntl.LOCK_EX):
                # Entries whose manifest or config went missing name nothing: drop them.
                entries = self._read_index()
                if any(e.digest not in keep_blobs for e in entries):
                    self._write_index([e for e in entries if e.digest in keep_blobs])
            for path in (self.root / "blobs" / "sha256").iterdir():
                if "sha256:" + path.name not in keep_blobs:
                    reclaimed += path.lstat().st_size
                    path.unlink()
                    self._docs.pop("sha256:" + path.name, None)
            for path in (self.root / "snapshots").iterdir():
                if path.name not in keep_chains:
                    reclaimed += self._snapshot_size(path.name) if not path.name.startswith(".") else 0
                    _remove_tree(path)
            for path in (self.root / "tmp").iterdir():
                _remove_tree(path)
        return PruneResult([], reclaimed)

    def discard_blobs(self, digests: Collection[str]) -> None:
        """discard_blobs deletes those of `digests` no image uses, unless pulls are in flight (GC will, later)."""
        if not digests:
            return
        with self._flock("gc.lock", fcntl.LOCK_EX | fcntl.LOCK_NB) as locked:
            if not locked:
                return
            used = set()
            for image in self.images():
                used.update({image.manifest_digest, image.config_digest}, (layer.digest for layer in image.layers))
            for digest in set(digests) - used:
                with contextlib.suppress(FileNotFoundError):
                    self.blob_path(digest).unlink()
                self._docs.pop(digest, None)

    def disk_usage(self) -> DiskUsage:
        """disk_usage reports bytes of blobs and snapshots, in total and per image (shared content counted once in totals)."""
        images = self.images()
        blob_users: dict[str, int] = {}
        chain_users: dict[str, int] = {}
        for image in images:
            for d in {image.manifest_digest, image.config_digest, *(layer.digest for layer in image.layers)}:
                blob_users[d] = blob_users.get(d, 0) + 1
            for c in set(image.chain_ids):
                chain_users[c] = chain_users.get(c, 0) + 1
        sizes = {p.name: p.lstat().st_size for p in (self.root / "blobs" / "sha256").iterdir()}
        snap_sizes = {c: self._snapshot_size(c) for c in chain_users}
        usages = []
        for image in images:
            blob_set = {image.manifest_digest, image.config_digest, *(layer.digest for layer in image.layers)}
            blobs = sum(sizes.get(d.removeprefix("sha256:"), 0) for d in blob_set)
            unpacked = sum(snap_sizes[c] for c in set(image.chain_ids))
            unique = sum(sizes.get(d.removeprefix("sha256:"), 0) for d in blob_set if blob_users[d] == 1)
            unique += sum(snap_sizes[c] for c in set(image.chain_ids) if chain_users[c] == 1)
            usages.append(ImageUsage(image, blobs, unpacked, unique))
        snapshots = sum(self._snapshot_size(p.name) for p in (self.root / "snapshots").iterdir() if not p.name.startswith("."))
        return DiskUsage(usages, sum(sizes.values()), snapshots)

    # --- builder -------------------------------------------------------------------------------

    def add_layer(self, tar: BinaryIO) -> Layer:
        """add_layer stores an uncompressed layer tar read from `tar` as a gzip blob and describes it."""
        diff = hashlib.sha256()
        with self.ingesting(), self.blob_writer() as w:
            try:
                with gzip.GzipFile(fileobj=_WriterFile(w), mode="wb", compresslevel=6, mtime=0) as gz:
                    while chunk := tar.read(_CHUNK):
                        diff.update(chunk)
                        gz.write(chunk)
            except OSError as exc:
                raise StorageError(f"writing layer: {exc.strerror or exc}") from exc
            w.commit()
            return Layer(w.expected, w.written, oci.OCI_LAYER_GZIP, "sha256:" + diff.hexdigest())

    def add_layer_from_dir(self, path: Path) -> Layer:
        """add_layer_from_dir stores the directory (an overlay upper dir: whiteouts become `.wh.` entries) as a layer."""
        with tempfile.TemporaryFile(dir=self.root / "tmp") as spool:
            layerfs.write_tar(Path(path), spool)  # type: ignore[arg-type]
            spool.seek(0)
            return self.add_layer(spool)  # type: ignore[arg-type]

    def commit_image(self, *, config: dict[str, Any], layers: list[Layer], references: Collection[str] = ()) -> Image:
        """commit_image writes the config (its rootfs set from `layers`) and an OCI manifest, and tags them."""
        doc = dict(config)
        doc.setdefault("os", "linux")
        doc.setdefault("architecture", oci.host_platform().architecture)
        doc["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}
        with self.ingesting():
            config_data = oci.dumps(doc)
            config_digest = self.write_blob(config_data)
            manifest = {
                "schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
                "config": {"mediaType": oci.OCI_CONFIG, "digest": config_digest, "size": len(config_data)},
                "layers": [{"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size} for layer in layers],
            }
            return self.tag(self.write_blob(oci.dumps(manifest)), references)

    # --- internals -----------------------------------------------------------------------------

    def _image(self, image: Image | str) -> Image:
        return image if isinstance(image, Image) else self.get(image)

    def _image_by_manifest(self, manifest_digest: str) -> Image:
        for image in self.images():
            if image.manifest_digest == manifest_digest:
                return image
        raise ImageNotFoundError(f"manifest {manifest_digest} is not tagged")

    def _read_index(self) -> list[oci.Descriptor]:
        try:
            doc = orjson.loads((self.root / "index.json").read_bytes())
        except FileNotFoundError:
            return []
        return [oci.Descriptor.from_json(m) for m in doc.get("manifests") or []]

    def _write_index(self, entries: list[oci.Descriptor]) -> None:
        doc = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [e.to_json() for e in entries]}
        self._write_atomic(self.root / "index.json", orjson.dumps(doc, option=orjson.OPT_INDENT_2), sync=True)

    def _write_atomic(self, path: Path, data: bytes, *, sync: bool = False) -> None:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                if sync:
                    f.flush()
                    os.fsync(f.fileno())
            os.chmod(name, 0o644)
            os.rename(name, path)
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise StorageError(f"writing {path}: {exc.strerror or exc}") from exc

    @contextlib.contextmanager
    def _flock(self, name: str, mode: int) -> Iterator[bool]:
        """_flock holds flock `mode` on `root/name`; with LOCK_NB it yields False instead of waiting."""
        fd = os.open(self.root / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, mode)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _unpack_lock(self, chain: str) -> threading.Lock:
        with self._unpack_locks_guard:
            return self._unpack_locks.setdefault(chain, threading.Lock())


class _WriterFile:
    """_WriterFile adapts a BlobWriter to the file interface GzipFile writes to."""

    def __init__(self, writer: BlobWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> int:
        self._writer.write(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def chain_ids(diff_ids: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """chain_ids names each layer stack: the first layer's diff_id, then sha256 of "<parent chain> <diff_id>"."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else oci.sha256_digest(f"{out[-1]} {diff_id}".encode()))
    return tuple(out)


def _check_holder(holder: str) -> None:
    if not holder or "/" in holder or holder.startswith("."):
        raise ValueError(f"lease holder {holder!r}: must be a plain file name")


def _remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

