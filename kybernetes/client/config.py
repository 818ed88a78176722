"""Config: where the API server is and how to prove who we are, loaded from a kubeconfig file."""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kybernetes.client.errors import ConfigError


@dataclass(frozen=True)
class Config:
    """Config is one resolved kubeconfig context: the server and the credentials for it."""

    server: str
    """Base URL of the API server, e.g. `https://127.0.0.1:6443`."""
    ca_data: bytes | None = None
    """PEM bundle the server's certificate must chain to; None means the system trust store."""
    cert_data: bytes | None = None
    """PEM client certificate presented over TLS."""
    key_data: bytes | None = None
    """PEM private key of `cert_data`."""
    token: str | None = None
    """Bearer token sent in `Authorization` over TLS."""
    insecure_skip_tls_verify: bool = False
    """Accept any server certificate (kubeconfig `insecure-skip-tls-verify`)."""
    namespace: str = "default"
    """The context's default namespace."""

    @property
    def is_tls(self) -> bool:
        return self.server.startswith("https://")

    def ssl_context(self) -> ssl.SSLContext | None:
        """Return the TLS context for `server` (None for plain http), offering only HTTP/1.1 by ALPN."""
        if not self.is_tls:
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.insecure_skip_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            context.load_verify_locations(cadata=self.ca_data.decode("ascii"))
        if self.cert_data and self.key_data:
            _load_cert_chain(context, self.cert_data, self.key_data)
        # Our server speaks HTTP/1.1 only; offering h2 would let a server pick a protocol we can't speak.
        context.set_alpn_protocols(["http/1.1"])
        return context


def _load_cert_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # The ssl module only loads certificate chains from files: write them to a private
    # directory for the duration of the call.
    with tempfile.TemporaryDirectory(prefix="kyb-client-") as tmp:
        cert_path, key_path = Path(tmp, "client.crt"), Path(tmp, "client.key")
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as err:
            raise ConfigError(f"client certificate or key unusable: {err}") from err


def default_kubeconfig_path() -> Path:
    """Return the first path in `$KUBECONFIG`, else `~/.kube/config`."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first) if first else Path.home() / ".kube" / "config"


def load_kubeconfig(path: str | os.PathLike[str] | None = None, *, context: str | None = None) -> Config:
    """Load `path` (default: `default_kubeconfig_path()`) and resolve `context` (default: current-context)."""
    path = Path(path) if path is not None else default_kubeconfig_path()
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read kubeconfig {path}: {err}") from err
    if not isinstance(document, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    return from_dict(document, context=context, base_dir=path.parent)


def from_dict(document: dict[str, Any], *, context: str | None = None, base_dir: Path | None = None) -> Config:
    """Resolve a decoded kubeconfig; relative file paths are taken relative to `base_dir`."""
    name = context or document.get("current-context")
    if not name:
        raise ConfigError("kubeconfig has no current-context and none was given")
    ctx = _named(document, "contexts", name, "context")
    cluster = _named(document, "clusters", ctx.get("cluster"), "cluster")
    user = _named(document, "users", ctx.get("user"), "user") if ctx.get("user") else {}
    server = cluster.get("server")
    if not server:
        raise ConfigError(f"cluster {ctx.get('cluster')!r} has no server")
    base = base_dir or Path.cwd()
    return Config(
        server=str(server).rstrip("/"),
        ca_data=_data_or_file(cluster, "certificate-authority", base),
        cert_data=_data_or_file(user, "client-certificate", base),
        key_data=_data_or_file(user, "client-key", base),
        token=user.get("token") or _token_file(user, base),
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        namespace=ctx.get("namespace") or "default",
    )


def _named(document: dict[str, Any], section: str, name: Any, field: str) -> dict[str, Any]:
    for entry in document.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(field) or {}
            if not isinstance(value, dict):
                raise ConfigError(f"kubeconfig {section}[{name!r}].{field} is not a mapping")
            return value
    raise ConfigError(f"kubeconfig has no {section[:-1]} named {name!r}")


def _data_or_file(section: dict[str, Any], field: str, base: Path) -> bytes | None:
    if data := section.get(f"{field}-data"):
        try:
            return base64.b64decode(data, validate=True)
        except ValueError as err:
            raise ConfigError(f"{field}-data is not base64: {err}") from err
    if file := section.get(field):
        try:
            return (base / os.path.expanduser(file)).read_bytes()
        except OSError as err:
            raise ConfigError(f"cannot read {field} {file}: {err}") from err
    return None


def _token_file(user: dict[str, Any], base: Path) -> str | None:
    if file := user.get("tokenFile"):
        try:
            return (base / os.path.expanduser(file)).read_text().strip()
        except OSError as err:
            raise ConfigError(f"cannot read tokenFile {file}: {err}") from err
    return None
