"""Build benchmark: the busybox-httpd example built from nothing, then rebuilt unchanged (target: at most 1 s).

The unchanged rebuild is timed twice: in-process (the builder alone) and as a `kyb build` process
(interpreter start-up and imports included, which is what a person waits for).
Run: python bench/build_bench.py [--quick]   (needs root: RUN steps use overlay mounts and runc)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Allow `python bench/build_bench.py` from a checkout without installing.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kybernetes.build.builder import Builder, BuildOptions, BuildSettings
from kybernetes.build.runner import RunnerSettings
from kybernetes.images.store import ImageStore

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "busybox-httpd"
TAG = "busybox-httpd:bench"

# `kyb build` as kyb's main runs it, so the figure holds before and after main.py registers the command.
_CLI = """\
import argparse, sys
from kybernetes.cli import build
from kybernetes.cli.main import CLIError
parser = argparse.ArgumentParser(prog="kyb")
build.register(parser.add_subparsers())
args = parser.parse_args(sys.argv[1:])
try:
    args.run(args)
except CLIError as exc:
    sys.exit(f"kyb: error: {exc}")
"""


def run(quick: bool = False) -> dict[str, Any]:
    """run builds the example once (cold cache) and times unchanged rebuilds."""
    rebuilds = 3 if quick else 10
    work = Path(tempfile.mkdtemp(prefix="kyb-build-bench-"))
    try:
        context = work / "busybox-httpd"
        shutil.copytree(EXAMPLE, context, ignore=shutil.ignore_patterns("busybox"))
        subprocess.run([str(context / "prepare.sh")], check=True, capture_output=True)
        data_dir = work / "data"
        settings = BuildSettings(data_dir=data_dir, runner=RunnerSettings(state_dir=work / "runc"))
        options = BuildOptions(context=context, tags=(TAG,))

        async def build() -> Any:
            return await Builder(ImageStore.for_data_dir(data_dir), settings).build(options)

        started = time.perf_counter()
        first = asyncio.run(build())
        first_s = time.perf_counter() - started
        in_process = []
        misses = 0
        for _ in range(rebuilds):
            started = time.perf_counter()
            again = asyncio.run(build())
            in_process.append(time.perf_counter() - started)
            misses += len(again.cache_misses)
        cli = []
        for _ in range(rebuilds):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", _CLI, "build", "-q", "--data-dir", str(data_dir), "-t", TAG, str(context)],
                           check=True, capture_output=True, cwd=REPO)
            cli.append(time.perf_counter() - started)
        return {
            "steps": len(first.steps),
            "layers": len(first.image.layers),
            "first_build_s": round(first_s, 3),
            "unchanged_rebuild_s": round(statistics.median(in_process), 4),
            "unchanged_rebuild_cli_s": round(statistics.median(cli), 3),
            "unchanged_rebuild_cache_misses": misses,
            "target_s": 1.0,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="build_bench")
    parser.add_argument("--quick", action="store_true", help="three rebuilds instead of ten")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
