"""Archives: import `docker save` tarballs and OCI archives into the store, and export images as either.

Import takes a `docker save` tarball (manifest.json, repositories, <config>.json, <layer>/layer.tar) or an
OCI archive (oci-layout, index.json, blobs/sha256/…), plain or gzip-compressed; Docker 25's archives,
which are both, are read as OCI. Every blob is verified (digest, size, each layer's diff_id) and the
images unpacked before any name is tagged, so a corrupt archive leaves nothing behind. Names come from
RepoTags, or from the `io.containerd.image.name` annotation, else `org.opencontainers.image.ref.name`
(a bare tag there needs `name=` to become a reference); an image without a name is stored untagged.

Export writes the same two formats: `docker` keeps layers uncompressed as `docker load` expects;
`oci` copies the blobs as stored and names images as containerd does (full name and tag annotations).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator, Literal

import orjson

from kybernetes.images import layers as layerfs
from kybernetes.images import oci
from kybernetes.images.errors import ArchiveError, ContentError, CorruptLayerError, ImageError
from kybernetes.images.reference import parse
from kybernetes.images.store import Image, ImageStore

Format = Literal["docker", "oci"]
FORMATS: tuple[Format, ...] = ("docker", "oci")


@dataclass(frozen=True, slots=True)
class _Pending:
    """_Pending is an image whose blobs are stored but which is not yet tagged."""

    manifest_digest: str
    references: tuple[str, ...]


def import_archive(store: ImageStore, path: Path, *, name: str = "", unpack: bool = True,
                   platform: oci.Platform | None = None) -> list[Image]:
    """import_archive loads every image of the archive at `path` into `store` and returns them, tagged."""
    written: list[str] = []
    try:
        with store.ingesting(), _open_archive(path) as tar:
            members = {_member_name(m.name): m for m in tar.getmembers() if m.isfile()}
            reader = _Reader(store, tar, members, written)
            if "index.json" in members and "oci-layout" in members:
                pending = reader.oci(name, platform or oci.host_platform())
            elif "manifest.json" in members:
                pending = reader.docker(name)
            else:
                raise ArchiveError(f"{path}: neither a docker save tarball (manifest.json) nor an OCI archive (index.json, oci-layout)")
            images = [store.image_from_manifest(p.manifest_digest) for p in pending]
            if unpack:
                for image in images:
                    store.unpack(image)
            return [store.tag(p.manifest_digest, p.references) for p in pending]
    except BaseException:
        store.discard_blobs(written)
        raise


@contextlib.contextmanager
def _open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    try:
        tar = tarfile.open(path, "r:*")
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no such file") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{path}: not a tar archive: {exc}") from exc
    with tar:
        yield tar


def _member_name(name: str) -> str:
    return "/".join(p for p in name.split("/") if p not in ("", "."))


class _Reader:
    """_Reader copies one archive's images into the store, verifying as it goes."""

    def __init__(self, store: ImageStore, tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], written: list[str]) -> None:
        self.store = store
        self.tar = tar
        self.members = members
        self.written = written

    def _open(self, name: str) -> IO[bytes]:
        member = self.members.get(_member_name(name))
        if member is None:
            raise ArchiveError(f"archive has no {name}")
        f = self.tar.extractfile(member)
        if f is None:
            raise ArchiveError(f"archive entry {name} is not a file")
        return f

    def _json(self, name: str) -> object:
        try:
            return orjson.loads(self._open(name).read())
        except (orjson.JSONDecodeError, tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveError(f"archive entry {name}: {exc}") from exc

    def _copy(self, name: str, digest: str = "", size: int = -1) -> str:
        try:
            got = self.store.import_blob(self._open(name), digest, size)
        except (tarfile.TarError, EOFError) as exc:
            raise ArchiveError(f"archive entry {name}: {exc}") from exc
        self.written.append(got)
        return got

    def docker(self, name: str) -> list[_Pending]:
        manifest = self._json("manifest.json")
        if not isinstance(manifest, list) or not manifest:
            raise ArchiveError("manifest.json: expected a non-empty list")
        out = []
        for entry in manifest:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) or not isinstance(entry.get("Layers"), list):
                raise ArchiveError("manifest.json: each entry needs Config and Layers")
            config_digest = self._copy(entry["Config"])
            config = oci.load_json(self.store.read_blob(config_digest), "image config")
            diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
            if len(diff_ids) != len(entry["Layers"]):
                raise ContentError(f"{entry['Config']}: {len(diff_ids)} diff_ids for {len(entry['Layers'])} layers")
            descs = []
            for layer_name, diff_id in zip(entry["Layers"], diff_ids):
                digest = self._copy(layer_name)
                blob = self.store.blob_path(digest)
                kind = layerfs.compression_of(blob)
                if (digest if not kind else layerfs.diff_id_of(blob)) != diff_id:
                    raise CorruptLayerError(f"{layer_name}: content does not match diff_id {diff_id}")
                media = {"": oci.OCI_LAYER, "gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD}[kind]
                descs.append({"mediaType": media, "digest": digest, "size": blob.stat().st_size})
            doc = {
                "schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
                "config": {"mediaType": oci.OCI_CONFIG, "digest": config_digest, "size": len(self.store.read_blob(config_digest))},
                "layers": descs,
            }
            manifest_digest = self.store.write_blob(oci.dumps(doc))
            self.written.append(manifest_digest)
            tags = [str(parse(t)) for t in entry.get("RepoTags") or []]
            if name and not tags:
                tags = [str(parse(name))]
            out.append(_Pending(manifest_digest, tuple(tags)))
        return out

    def oci(self, name: str, platform: oci.Platform) -> list[_Pending]:
        index = self._json("index.json")
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise ArchiveError("index.json: not an OCI index")
        by_manifest: dict[str, list[str]] = {}
        for raw in index["manifests"]:
            desc = oci.Descriptor.from_json(raw)
            manifest_digest = self._image_manifest(desc, platform)
            refs = by_manifest.setdefault(manifest_digest, [])
            if ref := self._oci_name(desc, name):
                refs.append(ref)
        return [_Pending(d, tuple(refs)) for d, refs in by_manifest.items()]

    def _image_manifest(self, desc: oci.Descriptor, platform: oci.Platform) -> str:
        """_image_manifest copies an image manifest (picking `platform` from an index) and its blobs."""
        digest = self._copy(_blob_name(desc.digest), desc.digest, desc.size)
        doc = oci.parse_document(self.store.read_blob(digest), desc.media_type)
        if isinstance(doc, oci.Index):
            chosen = oci.select_platform(doc, platform)
            if chosen is None:
                raise ArchiveError(f"index {desc.digest}: no image for {platform} (offered: {', '.join(oci.platforms_of(doc)) or 'none'})")
            return self._image_manifest(chosen, platform)
        self._copy(_blob_name(doc.config.digest), doc.config.digest, doc.config.size)
        for layer in doc.layers:
            self._copy(_blob_name(layer.digest), layer.digest, layer.size)
        return digest

    @staticmethod
    def _oci_name(desc: oci.Descriptor, name: str) -> str:
        full = desc.annotations.get(oci.CONTAINERD_NAME, "")
        tag = desc.annotations.get(oci.REF_NAME, "")
        if full:
            return str(parse(full))
        if tag and ("/" in tag or ":" in tag or "@" in tag):
            return str(parse(tag))
        if name:
            ref = parse(name)
            # `--name repo` with a tag-only annotation `1.0` gives repo:1.0.
            if tag and not ref.digest and ":" not in name.rsplit("/", 1)[-1]:
                return str(parse(f"{ref.name}:{tag}"))
            return str(ref)
        return ""


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.removeprefix("sha256:")


def export_archive(store: ImageStore, references: list[str], path: Path, *, format: Format = "docker") -> list[Image]:
    """export_archive writes the named images to `path` (atomically) as a `docker save` tarball or an OCI archive."""
    if format not in FORMATS:
        raise ArchiveError(f"unknown archive format {format!r}: use docker or oci")
    images = [store.get(r) for r in references]
    names = [_export_names(store, r, image) for r, image in zip(references, images)]
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            if format == "docker":
                _write_docker(store, tar, images, names)
            else:
                _write_oci(store, tar, images, names)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise ImageError(f"writing {path}: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return images


def _export_names(store: ImageStore, ref: str, image: Image) -> list[str]:
    """_export_names are the references an export records: the one asked for, or all of an id's."""
    try:
        full = str(parse(ref))
    except ImageError:
        return list(image.references)
    return [full] if full in image.references else list(image.references)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, src: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = src.stat().st_size
    info.mode = 0o644
    with open(src, "rb") as f:
        tar.addfile(info, f)


def _write_docker(store: ImageStore, tar: tarfile.TarFile, images: list[Image], names: list[list[str]]) -> None:
    manifest = []
    repositories: dict[str, dict[str, str]] = {}
    done: set[str] = set()
    for image, refs in zip(images, names):
        config_name = image.config_digest.removeprefix("sha256:") + ".json"
        if config_name not in done:
            _add_bytes(tar, config_name, store.read_blob(image.config_digest))
            done.add(config_name)
        layer_names = []
        for layer in image.layers:
            layer_dir = layer.diff_id.removeprefix("sha256:")
            layer_names.append(f"{layer_dir}/layer.tar")
            if layer_dir in done:
                continue
            done.add(layer_dir)
            _add_dir(tar, layer_dir)
            blob = store.blob_path(layer.digest)
            if not layerfs.compression_of(blob):
                _add_file(tar, f"{layer_dir}/layer.tar", blob)
                continue
            # The tar header needs the size first: spool the uncompressed layer.
            with tempfile.TemporaryFile(dir=store.root / "tmp") as spool, layerfs.open_uncompressed(blob) as stream:
                shutil.copyfileobj(stream, spool, 1 << 20)
                info = tarfile.TarInfo(f"{layer_dir}/layer.tar")
                info.size = spool.tell()
                info.mode = 0o644
                spool.seek(0)
                tar.addfile(info, spool)
        tags = []
        for r in refs:
            ref = parse(r)
            if ref.tag:
                display = ref.familiar()
                tags.append(display)
                repo, _, tag = display.rpartition(":")
                repositories.setdefault(repo, {})[tag] = image.layers[-1].diff_id.removeprefix("sha256:") if image.layers else ""
        manifest.append({"Config": config_name, "RepoTags": tags or None, "Layers": layer_names})
    _add_bytes(tar, "manifest.json", orjson.dumps(manifest))
    _add_bytes(tar, "repositories", orjson.dumps(repositories))


def _write_oci(store: ImageStore, tar: tarfile.TarFile, images: list[Image], names: list[list[str]]) -> None:
    _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    _add_dir(tar, "blobs")
    _add_dir(tar, "blobs/sha256")
    entries = []
    done: set[str] = set()
    for image, refs in zip(images, names):
        for digest in (image.manifest_digest, image.config_digest, *(layer.digest for layer in image.layers)):
            if digest not in done:
                done.add(digest)
                _add_file(tar, _blob_name(digest), store.blob_path(digest))
        size = len(store.read_blob(image.manifest_digest))
        base = {"mediaType": image.manifest_media_type, "digest": image.manifest_digest, "size": size}
        for r in refs or [""]:
            entry = dict(base)
            if r:
                ref = parse(r)
                entry["annotations"] = {oci.CONTAINERD_NAME: str(ref), oci.REF_NAME: ref.tag or ref.digest}
            entries.append(entry)
    _add_bytes(tar, "index.json", orjson.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": entries}))
