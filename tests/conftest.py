"""Shared fixtures: a real `kyb server` subprocess and the real kubectl binaries pointed at it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
GCLOUD_BIN = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_VERSIONS = ("1.27", "1.32", "1.33")


def kubectl_binary(version: str) -> str | None:
    path = GCLOUD_BIN / f"kubectl.{version}"
    return str(path) if path.exists() else None


LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})


def resolve_only_local_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse to resolve any name but loopback in this process: a bug that reaches for docker.io
    fails in the test, sending nothing."""
    real = socket.getaddrinfo

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOCAL_NAMES and not name.startswith("127."):
            raise socket.gaierror(socket.EAI_NONAME, f"test guard: {name} is not a local host")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    """A `kyb server` process started by a test, with what a client needs to reach it."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    extra_args: tuple[str, ...] = ()

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def ssl_context(self) -> ssl.SSLContext:
        cfg = yaml.safe_load(self.kubeconfig.read_text())
        import base64

        ctx = ssl.create_default_context(cadata=base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]).decode())
        user = cfg["users"][0]["user"]
        cert = self.data_dir / "test-client.crt"
        key = self.data_dir / "test-client.key"
        if not cert.exists():
            cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
        ctx.load_cert_chain(cert, key)
        return ctx

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_server(data_dir: Path, *extra: str, port: int | None = None, timeout: float = 20.0,
                 control_plane_only: bool = True) -> RunningServer:
    """Start `kyb server`; by default the control plane alone, without scheduler (see below) or agent."""
    port = port or free_port()
    log_path = data_dir.parent / f"{data_dir.name}-server-{port}.log"
    log_file = open(log_path, "ab")
    cmd = [
        sys.executable, "-m", "kybernetes", "server",
        "--data-dir", str(data_dir), "--https-listen-port", str(port), "--bind-address", "127.0.0.1",
    ]
    if control_plane_only:
        # No scheduler in the shared test server: it would write status to other tests' pending pods.
        cmd += ["--disable-agent", "--disable", "scheduler"]
    cmd += list(extra)
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO)
    server = RunningServer(data_dir, port, proc, log_path, tuple(extra))
    deadline = time.monotonic() + timeout
    ctx: ssl.SSLContext | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kyb server exited with {proc.returncode}:\n{server.log()}")
        if server.kubeconfig.exists():
            try:
                ctx = ctx or ssl.create_default_context(cafile=str(data_dir / "server" / "tls" / "server-ca.crt"))
                with urllib.request.urlopen(f"{server.url}/readyz", context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        return server
            except Exception:  # noqa: BLE001 - not up yet
                pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"kyb server not ready in {timeout}s:\n{server.log()}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the whole session; tests isolate themselves with their own namespaces."""
    data_dir = tmp_path_factory.mktemp("kyb") / "data"
    srv = start_server(data_dir)
    yield srv
    srv.stop()


@dataclass
class Kubectl:
    """Runs a real kubectl binary against the test server with a fresh discovery cache."""

    server: RunningServer
    version: str
    namespace: str
    cache_dir: Path
    binary: str = ""

    def __call__(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60, env: dict[str, str] | None = None, namespaced: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "--kubeconfig", str(self.server.kubeconfig), "--cache-dir", str(self.cache_dir)]
        if namespaced:
            cmd += ["-n", self.namespace]
        cmd += list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        result = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=full_env)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {self.version} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def apply_yaml(self, manifest: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self("apply", "-f", "-", *args, input=manifest)

    def create_yaml(self, manifest: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self("create", "-f", "-", *args, input=manifest)


def _make_kubectl(server: RunningServer, version: str, tmp_path: Path) -> Kubectl:
    binary = kubectl_binary(version)
    if binary is None:
        pytest.fail(f"kubectl {version} is not installed at {GCLOUD_BIN}")
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    cache = tmp_path / f"kubectl-cache-{version}"
    kc = Kubectl(server, version, namespace, cache, binary)
    kc("create", "namespace", namespace, namespaced=False)
    return kc


@pytest.fixture(params=KUBECTL_VERSIONS, ids=lambda v: f"kubectl-{v}")
def kubectl(request: pytest.FixtureRequest, server: RunningServer, tmp_path: Path) -> Kubectl:
    """kubectl 1.27, 1.32 and 1.33 in turn, each in a fresh namespace."""
    return _make_kubectl(server, request.param, tmp_path)


@pytest.fixture
def kubectl132(server: RunningServer, tmp_path: Path) -> Kubectl:
    """kubectl 1.32 alone, for behaviour that does not differ between versions."""
    return _make_kubectl(server, "1.32", tmp_path)
