"""`docker save` tarballs and OCI archives, in (made by skopeo) and out (read back by skopeo)."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from kybernetes.images import oci
from kybernetes.images.archive import export_archive, import_archive
from kybernetes.images.errors import ArchiveError, CorruptLayerError
from kybernetes.images.store import ImageStore
from tests.images.conftest import needs_root
from tests.images.registry_fixture import Registries, skopeo

pytestmark = needs_root()


def skopeo_archive(registries: Registries, tag: str, dest: str, *extra: str) -> None:
    skopeo("copy", "--quiet", *extra, f"oci:{registries.layout}:{tag}", dest, workdir=registries.work)


def test_a_docker_save_tarball_is_imported_and_unpacked(store: ImageStore, registries: Registries, tmp_path: Path) -> None:
    path = tmp_path / "app.tar"
    skopeo_archive(registries, "v2s2", f"docker-archive:{path}:example.com/app:1")
    with tarfile.open(path) as tar:
        assert {"manifest.json", "repositories"} <= set(tar.getnames())  # really the `docker save` layout
    [image] = import_archive(store, path)
    assert image.references == ("example.com/app:1",)
    assert list(image.diff_ids) == registries.images["v2s2"].diff_ids
    assert store.is_unpacked(image)
    assert (store.lowerdirs(image)[0] / "hello.txt").read_text() == "hello from layer 2\n"


def test_a_gzip_compressed_docker_save_tarball_is_imported(store: ImageStore, registries: Registries, tmp_path: Path) -> None:
    path = tmp_path / "app.tar"
    skopeo_archive(registries, "v2s2", f"docker-archive:{path}:busybox:test")
    gz = tmp_path / "app.tar.gz"
    gz.write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
    [image] = import_archive(store, gz)
    assert image.references == ("docker.io/library/busybox:test",)


def test_an_oci_archive_names_its_images_from_the_name_given(store: ImageStore, registries: Registries, tmp_path: Path) -> None:
    path = tmp_path / "app-oci.tar"
    skopeo_archive(registries, "testimg", f"oci-archive:{path}:v3")
    [untagged] = import_archive(store, path, unpack=False)  # the archive names it only by tag
    assert untagged.references == () and untagged.manifest_digest == registries.images["testimg"].manifest_digest
    [image] = import_archive(store, path, name="example.com/team/app")
    assert image.references == ("example.com/team/app:v3",)
    assert len(store.images()) == 1  # the untagged entry became the tagged one


def test_a_multi_platform_oci_archive_gives_the_nodes_platform(store: ImageStore, registries: Registries, tmp_path: Path) -> None:
    path = tmp_path / "multi.tar"
    skopeo_archive(registries, "multi", f"oci-archive:{path}:multi", "--all")
    [image] = import_archive(store, path, name="multi:1", platform=oci.Platform("linux", "arm64"))
    assert image.manifest_digest == registries.images["multi-arm64"].manifest_digest


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_an_export_reads_back_in_skopeo_and_in_the_store(store: ImageStore, registries: Registries, tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "in.tar"
    skopeo_archive(registries, "testimg", f"oci-archive:{source}:1")
    [image] = import_archive(store, source, name="example.com/app:1", unpack=False)
    out = tmp_path / f"out-{fmt}.tar"
    export_archive(store, ["example.com/app:1"], out, format=fmt)  # type: ignore[arg-type]
    transport = "docker-archive:" if fmt == "docker" else "oci-archive:"
    suffix = "" if fmt == "docker" else ":1"
    # skopeo reads our archive and can write it elsewhere: the format is right.
    skopeo("copy", "--quiet", f"{transport}{out}{suffix}", f"dir:{tmp_path / 'copied'}", workdir=registries.work)
    if fmt == "docker":
        manifest = json.loads(tarfile.open(out).extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert manifest[0]["RepoTags"] == ["example.com/app:1"]
    again = ImageStore(tmp_path / "other-store")
    [back] = import_archive(again, out)
    assert back.references == ("example.com/app:1",)
    assert back.id == image.id and back.diff_ids == image.diff_ids
    if fmt == "oci":
        assert back.manifest_digest == image.manifest_digest  # blobs copied as stored


def test_a_corrupt_layer_in_an_archive_is_rejected_and_nothing_is_stored(store: ImageStore, registries: Registries, tmp_path: Path) -> None:
    path = tmp_path / "app.tar"
    skopeo_archive(registries, "v2s2", f"docker-archive:{path}:example.com/app:1")
    bad = tmp_path / "bad.tar"
    with tarfile.open(path) as src, tarfile.open(bad, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            if data is not None and member.name.endswith(".tar") and len(data) > 100_000:
                data = data[:50_000] + b"X" + data[50_001:]
            dst.addfile(member, io.BytesIO(data) if data is not None else None)
    with pytest.raises(CorruptLayerError, match="does not match diff_id"):
        import_archive(store, bad)
    assert store.images() == []
    assert list((store.root / "blobs" / "sha256").iterdir()) == []


@pytest.mark.parametrize("content", [b"not a tar at all", None], ids=["garbage", "missing"])
def test_a_file_that_is_no_image_archive_says_so(store: ImageStore, tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "x.tar"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ArchiveError):
        import_archive(store, path)


def test_a_tar_without_image_metadata_says_what_it_expected(store: ImageStore, tmp_path: Path) -> None:
    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(shutil.which("true") or "/bin/true", arcname="true")
    with pytest.raises(ArchiveError, match="neither a docker save tarball"):
        import_archive(store, path)
