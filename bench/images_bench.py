"""Image benchmark: pull throughput from a local docker-registry against `skopeo copy`, and disk use of 50 containers on one image.

Run: python bench/images_bench.py [--quick]   (needs root for unpacking and overlay mounts)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Allow `python bench/images_bench.py` from a checkout without installing.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kybernetes.images.layers import disk_usage
from kybernetes.images.pull import Puller
from kybernetes.images.store import ImageStore
from tests.images.registry_fixture import OCILayout, push, skopeo, start_registry

LAYERS = 4
LAYER_BYTES = 12_500_000
"""Four layers of random bytes: a 50 MB image that does not compress."""
CONTAINERS = 50


def _random_layer(i: int, size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(f"data/layer-{i}.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return buf.getvalue()


def _median_seconds(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _pull(store_root: Path, ref: str, *, unpack: bool) -> tuple[ImageStore, Any]:
    shutil.rmtree(store_root, ignore_errors=True)
    store = ImageStore(store_root)

    async def go() -> Any:
        async with Puller(store) as puller:
            return await puller.pull(ref, unpack=unpack)

    return store, asyncio.run(go())


def _containers(store: ImageStore, ref: str, root: Path, count: int) -> dict[str, Any]:
    """_containers gives `count` containers private upper/work dirs over the image's shared lowerdirs."""
    lowers = ":".join(str(p) for p in store.lowerdirs(ref))
    mounted: list[Path] = []
    try:
        for i in range(count):
            c = root / f"ctr-{i}"
            for d in ("upper", "work", "merged"):
                (c / d).mkdir(parents=True)
            opts = f"lowerdir={lowers},upperdir={c / 'upper'},workdir={c / 'work'}"
            if subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(c / "merged")], capture_output=True).returncode == 0:
                mounted.append(c / "merged")
                (c / "merged" / "hello").write_text(f"container {i}\n")  # each writes a little to its own upper
        containers_bytes = sum(disk_usage(root / f"ctr-{i}" / "upper") for i in range(count))
    finally:
        for m in mounted:
            subprocess.run(["umount", str(m)], check=False)
    image = store.disk_usage()
    unpacked = image.snapshots
    return {
        "containers": count,
        "mounted": len(mounted),
        "image_unpacked_bytes": unpacked,
        "image_blob_bytes": image.blobs,
        "containers_upper_bytes": containers_bytes,
        "total_bytes": image.total + containers_bytes,
        "if_copied_per_container_bytes": unpacked * count,
    }


def run(quick: bool = False) -> dict[str, Any]:
    """run measures pull throughput (ours vs skopeo) and the disk use of 50 containers on one image."""
    runs = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="kyb-images-bench-"))
    registry = None
    try:
        layout = OCILayout(work / "layout")
        layers = [(_random_layer(i, LAYER_BYTES // (4 if quick else 1)), "gzip") for i in range(LAYERS)]
        layout.image(layers, tag="bench")
        registry = start_registry(work / "registry")
        push(layout.root, "bench", registry, "bench:1", workdir=work)
        ref = f"{registry.host}/bench:1"

        def skopeo_copy() -> None:
            shutil.rmtree(work / "skopeo-dir", ignore_errors=True)
            skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"dir:{work / 'skopeo-dir'}", workdir=work)

        skopeo_s = _median_seconds(skopeo_copy, runs)
        _, result = _pull(work / "store", ref, unpack=False)
        size = result.size
        fetch_s = _median_seconds(lambda: _pull(work / "store", ref, unpack=False), runs)
        full_s = _median_seconds(lambda: _pull(work / "store", ref, unpack=True), runs)
        store = ImageStore(work / "store")
        sharing = _containers(store, ref, work / "containers", CONTAINERS)
        mb = size / 1e6
        return {
            "image_bytes": size,
            "pull_fetch_s": round(fetch_s, 3),
            "pull_fetch_MBps": round(mb / fetch_s, 1),
            "pull_and_unpack_s": round(full_s, 3),
            "pull_and_unpack_MBps": round(mb / full_s, 1),
            "skopeo_copy_s": round(skopeo_s, 3),
            "skopeo_copy_MBps": round(mb / skopeo_s, 1),
            "fetch_vs_skopeo": round(skopeo_s / fetch_s, 2),
            "sharing": sharing,
        }
    finally:
        if registry is not None:
            registry.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="images_bench")
    parser.add_argument("--quick", action="store_true", help="a 12.5 MB image and one run each")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
