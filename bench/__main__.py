"""`make bench`: run every benchmark and write the figures to bench/results/<name>.json."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
from pathlib import Path

from bench import agent_bench, apiserver_bench, build_bench, cluster_bench, images_bench, runtime_bench, scheduler_bench

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    figures = {
        "when": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "apiserver": apiserver_bench.run(quick=args.quick),
        "images": images_bench.run(quick=args.quick),
        "build": build_bench.run(quick=args.quick),
        "runtime": runtime_bench.run(quick=args.quick),
        "scheduler": scheduler_bench.run(quick=args.quick),
        "agent": agent_bench.run(quick=args.quick),
        "cluster": cluster_bench.run(quick=args.quick),
    }
    out = RESULTS / "latest.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
