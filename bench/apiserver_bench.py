"""API server benchmarks: start time, idle RSS, durable creates, GET latency, big LISTs, watch fan-out.

Each figure that depends on the machine is also reported as a ratio to a baseline measured in
the same run (raw durable SQLite commits for writes), because these machines are noisy.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ssl(data_dir: Path) -> ssl.SSLContext:
    tls = data_dir / "server" / "tls"
    ctx = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
    ctx.load_cert_chain(tls / "client-admin.crt", tls / "client-admin.key")
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


# The API server alone: controllers and the scheduler run in the same process in `kyb server`
# and would share its one core with the write path being measured (reported separately).
API_ONLY = ("--disable", "scheduler", "--disable", "garbagecollector", "--disable", "namespace", "--disable", "nodelifecycle")


def start(data_dir: Path, port: int, extra: tuple[str, ...] = API_ONLY) -> tuple[subprocess.Popen[bytes], float]:
    """Start `kyb server`; return the process and seconds until /readyz answered ok."""
    import urllib.request

    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kybernetes", "server", "--disable-agent", *extra,
         "--data-dir", str(data_dir), "--https-listen-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
    )
    ca = data_dir / "server" / "tls" / "server-ca.crt"
    ctx: ssl.SSLContext | None = None
    while True:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        if ca.exists():
            try:
                ctx = ctx or ssl.create_default_context(cafile=str(ca))
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=1) as r:
                    if r.status == 200:
                        return proc, time.monotonic() - t0
            except Exception:  # noqa: BLE001 - not up yet
                pass
        time.sleep(0.005)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def raw_sqlite_commits_per_s(seconds: float = 2.0) -> float:
    """Baseline: one small INSERT + COMMIT per transaction, WAL, synchronous=FULL, one thread."""
    with tempfile.TemporaryDirectory() as d:
        db = sqlite3.connect(Path(d) / "raw.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, value BLOB)")
        payload = b"x" * 600
        n = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            db.execute("BEGIN")
            db.execute("INSERT INTO t (name, value) VALUES (?, ?)", (f"k{n}", payload))
            db.execute("COMMIT")
            n += 1
        db.close()
    return n / seconds


def wrk_creates(port: int, data_dir: Path, ns: str, *, seconds: int = 10, connections: int = 32) -> float | None:
    """Durable pod creates/s measured by wrk (a C load generator), or None when wrk is missing."""
    import re
    import shutil

    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    env = dict(os.environ, TOKEN=(data_dir / "server" / "token").read_text().strip(), NAMESPACE=ns)
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(REPO / "bench" / "wrk" / "create_pods.lua"), f"https://127.0.0.1:{port}/"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw failed creates:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]}]},
    }


async def create_pods(base: str, ctx: ssl.SSLContext, ns: str, count: int, clients: int) -> tuple[float, list[float]]:
    conn = aiohttp.TCPConnector(ssl=ctx, limit=clients)
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=conn) as session:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = json.dumps(pod(f"p-{i}")).encode()
                t = time.monotonic()
                async with session.post(f"{base}/api/v1/namespaces/{ns}/pods", data=body, headers={"Content-Type": "application/json"}) as r:
                    await r.read()
                    if r.status != 201:
                        raise RuntimeError(f"create failed: {r.status}")
                latencies.append(time.monotonic() - t)

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.monotonic() - t0
    return count / elapsed, latencies


async def get_latencies(base: str, ctx: ssl.SSLContext, ns: str, n: int) -> list[float]:
    out = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=1)) as session:
        for i in range(n):
            t = time.monotonic()
            async with session.get(f"{base}/api/v1/namespaces/{ns}/pods/p-{i % 100}") as r:
                await r.read()
            out.append(time.monotonic() - t)
    return out


async def list_time(base: str, ctx: ssl.SSLContext, ns: str, *, table: bool, repeat: int = 5) -> float:
    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"} if table else {}
    times = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        for _ in range(repeat):
            t = time.monotonic()
            async with session.get(f"{base}/api/v1/namespaces/{ns}/pods", headers=headers) as r:
                data = await r.read()
                assert r.status == 200 and len(data) > 1000
            times.append(time.monotonic() - t)
    return statistics.median(times)


async def watch_fanout(base: str, ctx: ssl.SSLContext, ns: str, watchers: int, writes: int = 10) -> list[float]:
    """Latency from a write's acknowledgement to its event at each of `watchers` open watches.

    Writes are spaced so each one's fan-out is measured on its own: the target is the latency of
    one write to every watcher, not a throughput under which the single client process would lag.
    """
    arrivals: dict[str, list[float]] = {}
    conn = aiohttp.TCPConnector(ssl=ctx, limit=watchers + 8)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=None)) as session:
        ready = 0
        all_ready = asyncio.Event()

        async def watch() -> None:
            nonlocal ready
            async with session.get(f"{base}/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={start_rv}&timeoutSeconds=120") as r:
                ready += 1
                if ready == watchers:
                    all_ready.set()
                async for line in r.content:
                    ev = json.loads(line)
                    name = ev["object"]["metadata"]["name"]
                    arrivals.setdefault(name, []).append(time.monotonic())
                    if name == f"w-{writes - 1}" and len(arrivals[name]) >= 1:
                        return

        async with session.get(f"{base}/api/v1/namespaces/{ns}/configmaps") as r:
            start_rv = (await r.json())["metadata"]["resourceVersion"]
        tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
        await asyncio.wait_for(all_ready.wait(), 60)
        await asyncio.sleep(0.5)
        sent: dict[str, float] = {}
        for i in range(writes):
            name = f"w-{i}"
            body = json.dumps({"metadata": {"name": name}}).encode()
            t = time.monotonic()
            async with session.post(f"{base}/api/v1/namespaces/{ns}/configmaps", data=body, headers={"Content-Type": "application/json"}) as r:
                await r.read()
            sent[name] = t
            await asyncio.sleep(0.3)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    lat = []
    for name, t in sent.items():
        lat.extend(a - t for a in arrivals.get(name, []))
    return lat


def _run_fast(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def _namespace(base: str, ctx: ssl.SSLContext, name: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        async with session.post(f"{base}/api/v1/namespaces", json={"metadata": {"name": name}}) as r:
            assert r.status == 201, await r.text()


def run(quick: bool = False) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data"
        port = _free_port()
        # First start generates the certificates; the figure that matters is a normal start.
        proc, first = start(data, port)
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        starts = []
        for _ in range(3):
            proc, t = start(data, port)
            starts.append(t)
            if len(starts) < 3:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
        results["start_to_readyz_s"] = {"first_start": round(first, 3), "restart_median": round(statistics.median(starts), 3), "target": 0.5}
        try:
            time.sleep(2)
            results["idle_rss_mb"] = {"value": round(rss_mb(proc.pid), 1), "target": 80}
            base = f"https://127.0.0.1:{port}"
            ctx = _ssl(data)
            baseline = raw_sqlite_commits_per_s()
            asyncio.run(_namespace(base, ctx, "bench"))
            count = 2000 if quick else 10000
            # The Python client's own overhead caps what it can send; wrk measures the server.
            asyncio.run(_namespace(base, ctx, "wrk"))
            # A short warm-up first: the first seconds pay for connection set-up and cache growth.
            wrk_creates(port, data, "wrk", seconds=2)
            wrk_rate = wrk_creates(port, data, "wrk", seconds=5 if quick else 10)
            rate, lat = asyncio.run(create_pods(base, ctx, "bench", count, 32))
            best = wrk_rate or rate
            results["pod_creates_per_s"] = {
                "value": round(best), "clients": 32, "target": 2000, "load_generator": "wrk" if wrk_rate else "aiohttp",
                "python_client_value": round(rate), "python_client_pods": count,
                "raw_sqlite_commits_per_s": round(baseline), "ratio_to_raw_sqlite": round(best / baseline, 2),
                "python_client_create_p99_ms": round(p(lat, 0.99) * 1000, 2),
            }
            gets = asyncio.run(get_latencies(base, ctx, "bench", 1000))
            results["get_latency_ms"] = {"p50": round(p(gets, 0.5) * 1000, 2), "p99": round(p(gets, 0.99) * 1000, 2), "target_p99": 5}
            results["list_pods_ms"] = {
                "pods": count,
                "json": round(asyncio.run(list_time(base, ctx, "bench", table=False)) * 1000, 1),
                "table": round(asyncio.run(list_time(base, ctx, "bench", table=True)) * 1000, 1),
                "target": 250,
            }
            asyncio.run(_namespace(base, ctx, "watch"))
            watchers = 200 if quick else 1000
            # The one client process reads 1,000 TLS streams; uvloop keeps it from being what is measured.
            fan = _run_fast(watch_fanout(base, ctx, "watch", watchers))
            results["watch_fanout_ms"] = {"watchers": watchers, "p50": round(p(fan, 0.5) * 1000, 1), "p99": round(p(fan, 0.99) * 1000, 1), "target_p99": 200, "events": len(fan)}
            results["rss_after_load_mb"] = round(rss_mb(proc.pid), 1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
        results["pod_creates_per_s"]["with_in_process_controllers"] = _creates_with_controllers(quick)
    return results


def _creates_with_controllers(quick: bool) -> float | None:
    """The same wrk create load against a server that also runs the garbage collector and the
    namespace controller in its process (what `kyb server` does by default, minus the scheduler)."""
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data"
        port = _free_port()
        proc, _ = start(data, port, extra=("--disable", "scheduler"))
        try:
            base = f"https://127.0.0.1:{port}"
            asyncio.run(_namespace(base, _ssl(data), "wrk"))
            wrk_creates(port, data, "wrk", seconds=2)
            rate = wrk_creates(port, data, "wrk", seconds=5 if quick else 10)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
    return round(rate) if rate else None
