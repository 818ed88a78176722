"""The image store: overlayfs-form snapshots shared between images and containers, GC, leases, the builder API."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from kybernetes.images import oci
from kybernetes.images.errors import CorruptLayerError, ImageInUseError, ImageNotFoundError
from kybernetes.images.store import Image, ImageConfig, ImageStore, Layer
from tests.images.conftest import needs_root
from tests.images.registry_fixture import Entry, base_layer, layer_tar, top_layer

pytestmark = needs_root()


def commit(store: ImageStore, tars: list[bytes], refs: list[str], **config: object) -> Image:
    layers = [store.add_layer(io.BytesIO(t)) for t in tars]
    return store.commit_image(config={"config": {"Cmd": ["/bin/sh"], **config}}, layers=layers, references=refs)


def tree(root: Path) -> dict[str, tuple[str, bytes | str]]:
    """tree describes a directory as {path: (kind, content)} for comparisons."""
    out: dict[str, tuple[str, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISCHR(st.st_mode):
                out[rel] = ("whiteout" if st.st_rdev == 0 else "chardev", "")
            elif stat.S_ISDIR(st.st_mode):
                opaque = b"y" if "trusted.overlay.opaque" in os.listxattr(path, follow_symlinks=False) else b""
                out[rel] = ("dir", opaque)
            else:
                out[rel] = ("file", path.read_bytes())
    return out


def test_whiteouts_and_opaque_dirs_become_overlayfs_form(store: ImageStore) -> None:
    image = commit(store, [base_layer(), top_layer()], ["app:1"])
    top, base = store.lowerdirs(image)
    assert (base / "bin" / "busybox").stat().st_mode & 0o111
    assert os.readlink(base / "bin" / "sh") == "busybox"
    whiteout = (top / "data" / "a").lstat()
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    assert os.getxattr(top / "opaque", "trusted.overlay.opaque") == b"y"
    assert (top / "opaque" / "new").read_text() == "new\n"
    # The same layer's own file wins over its whiteout, whatever the order in the tar.
    assert (top / "etc" / "hostname").read_text() == "top\n"
    # A hard link inside a layer shares the inode.
    assert (top / "hello-link").stat().st_ino == (top / "hello.txt").stat().st_ino
    # A directory the tar only implies keeps the lower layer's mode, so it does not mask it.
    assert stat.S_IMODE((top / "data").stat().st_mode) == 0o750


def mount_overlay(lowers: list[Path], container: Path) -> Path:
    for d in ("upper", "work", "merged"):
        (container / d).mkdir(parents=True)
    opts = f"lowerdir={':'.join(map(str, lowers))},upperdir={container / 'upper'},workdir={container / 'work'}"
    result = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(container / "merged")], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"overlayfs mount not available: {result.stderr.strip()}")
    return container / "merged"


def test_two_containers_share_the_image_layers_on_disk(store: ImageStore, tmp_path: Path) -> None:
    image = commit(store, [base_layer(), top_layer()], ["app:1"])
    lowers_a, lowers_b = store.lowerdirs(image), store.lowerdirs("app:1")
    assert lowers_a == lowers_b  # the same directories, not copies
    merged_a = mount_overlay(lowers_a, tmp_path / "ctr-a")
    try:
        merged_b = mount_overlay(lowers_b, tmp_path / "ctr-b")
        try:
            for merged in (merged_a, merged_b):
                assert sorted(os.listdir(merged / "data")) == ["b", "c"]
                assert os.listdir(merged / "opaque") == ["new"]
                assert (merged / "etc" / "hostname").read_text() == "top\n"
            out = subprocess.run(["chroot", str(merged_a), "/bin/sh", "-c", "cat /hello.txt; echo x > /data/b"],
                                 capture_output=True, text=True, check=True)
            assert out.stdout == "hello from layer 2\n"
            # A write lands in container A's upper dir only.
            assert (merged_b / "data" / "b").read_text() == "b\n"
            assert (tmp_path / "ctr-a" / "upper" / "data" / "b").read_text() == "x\n"
            assert (lowers_a[1] / "data" / "b").read_text() == "b\n"
        finally:
            subprocess.run(["umount", str(merged_b)], check=True)
    finally:
        subprocess.run(["umount", str(merged_a)], check=True)
    usage = store.disk_usage()
    assert usage.snapshots == sum(store._snapshot_size(c) for c in image.chain_ids)


def test_images_on_one_base_unpack_it_once(store: ImageStore) -> None:
    one = commit(store, [base_layer(), layer_tar([Entry("one", b"1")])], ["one:1"])
    two = commit(store, [base_layer(), layer_tar([Entry("two", b"2")])], ["two:1"])
    store.unpack(one)
    store.unpack(two)
    assert store.lowerdirs(one)[-1] == store.lowerdirs(two)[-1]
    assert len([p for p in (store.root / "snapshots").iterdir()]) == 3
    usage = {u.image.id: u for u in store.disk_usage().images}
    base_size = store._snapshot_size(one.chain_ids[0])
    assert base_size > 1_000_000  # busybox
    assert usage[one.id].unpacked >= base_size
    assert usage[one.id].unique < 100_000  # the base (layer blob and snapshot) is shared, so not unique


def test_concurrent_unpacks_of_one_image_make_one_snapshot(store: ImageStore) -> None:
    image = commit(store, [base_layer(), top_layer()], ["app:1"])
    errors: list[BaseException] = []

    def unpack() -> None:
        try:
            store.unpack(image)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=unpack) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(p.name for p in (store.root / "snapshots").iterdir()) == sorted(c[7:] for c in image.chain_ids)


def test_a_layer_not_matching_its_diff_id_is_rejected_and_nothing_is_left(store: ImageStore) -> None:
    good = store.add_layer(io.BytesIO(base_layer()))
    lying = Layer(good.digest, good.size, good.media_type, "sha256:" + "0" * 64)
    image = store.commit_image(config={}, layers=[lying], references=["liar:1"])
    with pytest.raises(CorruptLayerError, match="image config says"):
        store.unpack(image)
    assert list((store.root / "snapshots").iterdir()) == []


@pytest.mark.parametrize(
    "entries",
    [
        [Entry("../escaped", b"x")],
        [Entry("link", kind="symlink", target="/tmp"), Entry("link/escaped", b"x")],
        [Entry("hard", kind="hardlink", target="../../etc/passwd")],
    ],
    ids=["dotdot", "through-symlink", "hardlink-out"],
)
def test_a_layer_reaching_outside_its_directory_is_rejected(store: ImageStore, entries: list[Entry]) -> None:
    image = commit(store, [layer_tar(entries)], ["evil:1"])
    with pytest.raises(CorruptLayerError):
        store.unpack(image)
    assert not Path("/tmp/escaped").exists()
    assert list((store.root / "snapshots").iterdir()) == []


def test_a_gzip_layer_cut_short_is_corrupt(store: ImageStore) -> None:
    layer = store.add_layer(io.BytesIO(base_layer()))
    blob = store.blob_path(layer.digest)
    data = blob.read_bytes()
    os.chmod(blob, 0o644)
    blob.write_bytes(data[: len(data) // 2])
    image = store.commit_image(config={}, layers=[Layer(layer.digest, len(data) // 2, layer.media_type, layer.diff_id)], references=["cut:1"])
    with pytest.raises(CorruptLayerError):
        store.unpack(image)


def test_remove_and_prune_collect_what_no_image_references(store: ImageStore) -> None:
    one = commit(store, [base_layer(), layer_tar([Entry("one", b"1")])], ["one:1", "one:alias"])
    two = commit(store, [base_layer(), layer_tar([Entry("two", b"2")])], ["two:1"])
    store.unpack(one)
    store.unpack(two)
    store.remove("one:alias")
    assert store.get("one:1").id == one.id  # another reference keeps it
    store.remove("one:1")
    assert store.find("one:1") is None
    blobs = {p.name for p in (store.root / "blobs" / "sha256").iterdir()}
    assert blobs == {d[7:] for d in (two.manifest_digest, two.config_digest, *(layer.digest for layer in two.layers))}
    assert {p.name for p in (store.root / "snapshots").iterdir()} == {c[7:] for c in two.chain_ids}
    store.add_lease("ctr-1", two)
    assert store.prune().images == []
    store.remove_lease("ctr-1")
    result = store.prune()
    assert [i.id for i in result.images] == [two.id]
    assert result.reclaimed > 1_000_000
    assert list((store.root / "blobs" / "sha256").iterdir()) == []
    assert list((store.root / "snapshots").iterdir()) == []


def test_an_image_a_container_uses_is_not_removed(store: ImageStore) -> None:
    image = commit(store, [base_layer()], ["busy:1"])
    store.add_lease("ctr-1", "busy:1")
    with pytest.raises(ImageInUseError):
        store.remove("busy:1")
    store.remove("busy:1", force=True)  # untagged, content kept
    [left] = store.images()
    assert left.id == image.id and left.references == ()
    assert store.has_blob(image.layers[0].digest)
    assert store.prune(in_use=[image.id]).images == []


def test_lookups_by_reference_id_prefix_and_repo_digest(store: ImageStore) -> None:
    image = commit(store, [layer_tar([Entry("f", b"f")])], ["docker.io/library/app:1"])
    assert store.get("app:1").id == image.id
    assert store.get(image.id).id == image.id
    assert store.get(image.id[7:19]).id == image.id
    assert store.get(f"app@{image.manifest_digest}").id == image.id
    assert image.repo_digests == (f"docker.io/library/app@{image.manifest_digest}",)
    with pytest.raises(ImageNotFoundError, match="'nope:1' not found"):
        store.get("nope:1")


def test_a_tag_moves_to_the_image_committed_last(store: ImageStore) -> None:
    first = commit(store, [layer_tar([Entry("v", b"1")])], ["app:latest"])
    second = commit(store, [layer_tar([Entry("v", b"2")])], ["app:latest"])
    assert store.get("app").id == second.id
    assert [i.references for i in store.images() if i.id == first.id] == []  # nothing names it; GC may take it


def test_image_config_gives_the_runtime_its_fields(store: ImageStore) -> None:
    image = commit(store, [layer_tar([Entry("f", b"f")])], ["app:1"], Entrypoint=["/bin/app"], Env=["A=1"], User="1000:1000",
                   WorkingDir="/srv", StopSignal="SIGINT", ExposedPorts={"8080/tcp": {}}, Labels={"k": "v"})
    raw = store.image_config("app:1")
    assert (raw["Entrypoint"], raw["Cmd"], raw["User"], raw["StopSignal"]) == (["/bin/app"], ["/bin/sh"], "1000:1000", "SIGINT")
    cfg = ImageConfig.from_json(image.config)
    assert (cfg.entrypoint, cfg.cmd, cfg.env, cfg.user, cfg.working_dir, cfg.stop_signal, cfg.exposed_ports, cfg.labels) == (
        ["/bin/app"], ["/bin/sh"], ["A=1"], "1000:1000", "/srv", "SIGINT", ["8080/tcp"], {"k": "v"})
    assert cfg.os == "linux" and cfg.architecture == oci.host_platform().architecture


def test_a_layer_built_from_an_upper_dir_keeps_its_whiteouts(store: ImageStore) -> None:
    image = commit(store, [base_layer(), top_layer()], ["app:1"])
    top, base = store.lowerdirs(image)
    rebuilt = store.add_layer_from_dir(top)
    again = store.commit_image(config={}, layers=[image.layers[0], rebuilt], references=["app:rebuilt"])
    new_top = store.lowerdirs(again)[0]
    assert new_top != top
    assert tree(new_top) == tree(top)
    # Equal trees give equal tars: a rebuild is reproducible.
    assert store.add_layer_from_dir(top).diff_id == rebuilt.diff_id


def test_leftovers_of_interrupted_writes_are_collected(store: ImageStore) -> None:
    (store.root / "tmp" / "blob-123").write_bytes(b"partial")
    (store.root / "snapshots" / ".tmp-abc").mkdir()
    store.gc()
    assert list((store.root / "tmp").iterdir()) == []
    assert list((store.root / "snapshots").iterdir()) == []


def test_the_store_is_an_oci_layout_skopeo_can_read(store: ImageStore, tmp_path: Path) -> None:
    commit(store, [base_layer()], ["app:1"])
    policy = tmp_path / "policy.json"
    policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
    out = subprocess.run(["skopeo", "--policy", str(policy), "inspect", "--raw", f"oci:{store.root}:docker.io/library/app:1"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert oci.OCI_MANIFEST in out.stdout


@pytest.mark.parametrize("decoder", ["zstandard", "zstd-tool"])
def test_zstd_layers_unpack_with_the_module_or_the_tool(store: ImageStore, monkeypatch: pytest.MonkeyPatch, decoder: str) -> None:
    import hashlib
    import shutil as sh
    import sys

    if sh.which("zstd") is None:
        pytest.skip("no zstd tool to compress with")
    tar = layer_tar([Entry("z.txt", b"zstd\n" * 1000)])
    blob = subprocess.run(["zstd", "-q", "-c"], input=tar, capture_output=True, check=True).stdout
    if decoder == "zstd-tool":
        monkeypatch.setitem(sys.modules, "zstandard", None)  # import fails: fall back to the tool
    elif "zstandard" not in sys.modules and not __import__("importlib").util.find_spec("zstandard"):
        pytest.skip("zstandard is not installed")
    digest = store.write_blob(blob)
    layer = Layer(digest, len(blob), oci.OCI_LAYER_ZSTD, "sha256:" + hashlib.sha256(tar).hexdigest())
    image = store.commit_image(config={}, layers=[layer], references=["zstd:1"])
    assert (store.lowerdirs(image)[0] / "z.txt").read_bytes() == b"zstd\n" * 1000
