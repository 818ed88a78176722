"""join: `kyb agent --server URL --token TOKEN` — a node's TLS bootstrap against `kyb server`, as k3s' agent does it.

1. `GET /cacerts` without verifying TLS (there is nothing to verify against yet);
2. a secure token (`K10<hash>::…`) must name that CA by its sha256, or nothing more is sent;
   a short token pins nothing, so the CA is trusted on first use and a warning says so;
3. `POST /v1-kyb/node-credentials` over TLS verified with that CA, the token as bearer;
4. the node's certificates, keys and kubeconfig go to `<data-dir>/agent/` (keys 0600), and its pod
   range and the cluster's ranges to `<data-dir>/agent/join.json`.

On restart the stored credentials are reused while they are signed by the server's CA, meant for
the same server, name and addresses, and not near expiry; otherwise the node joins again (the
server gives a node that keeps its name the pod range it already has).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509

from kybernetes.apiserver.join import CACERTS_PATH, NODE_CREDENTIALS_PATH, JoinToken, ca_hash, ca_matches
from kybernetes.apiserver.pki import NodeCredentials, NodeTLSFiles

log = logging.getLogger("kybernetes")

TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)


class JoinError(Exception):
    """JoinError is why a node could not join, in one line for the user."""


@dataclass(frozen=True)
class JoinRequest:
    """What `kyb agent` knows before joining."""

    server_url: str
    """`https://host:port` of the API server."""
    token: JoinToken
    node_name: str
    node_ips: tuple[str, ...]
    """Addresses the node's serving certificate is valid for."""
    data_dir: Path


@dataclass(frozen=True)
class JoinedNode:
    """What the server gave the node: credentials on disk and the network ranges."""

    tls: NodeTLSFiles
    pod_cidr: str
    """This node's slice of the cluster CIDR."""
    cluster_cidr: str
    service_cidr: str
    cluster_dns: tuple[str, ...]


def normalize_server_url(url: str) -> str:
    """`https://host[:port][/]` → `https://host:port`; anything else is a JoinError."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise JoinError(f"--server: expected https://HOST[:PORT], got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise JoinError(f"--server: expected https://HOST[:PORT] without a path, got {url!r}")
    try:
        port = parts.port or 6443
    except ValueError:
        raise JoinError(f"--server: invalid port in {url!r}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"https://{host}:{port}"


def state_path(data_dir: Path) -> Path:
    return data_dir / "agent" / "join.json"


async def join(request: JoinRequest) -> JoinedNode:
    """Join the cluster at `request.server_url`, or reuse the credentials of an earlier join."""
    url = request.server_url
    tls = NodeTLSFiles.for_data_dir(request.data_dir)
    async with aiohttp.ClientSession(timeout=TIMEOUT, trust_env=False) as session:
        ca_pem = await _fetch_ca(session, url)
        if request.token.secure:
            if not ca_matches(ca_pem, request.token.ca_hash):
                raise JoinError(f"cannot join {url}: its CA certificate (sha256 {ca_hash(ca_pem)[:16]}…) is not the "
                                f"one the token names ({request.token.ca_hash[:16]}…)")
        else:
            log.warning("the token has no CA hash: trusting the CA %s presents (sha256 %s) without verifying it; "
                        "the full token (K10<hash>::server:<secret>) from the server's <data-dir>/server/token "
                        "verifies it", url, ca_hash(ca_pem))
        saved = _load_state(state_path(request.data_dir))
        if _reusable(saved, request, tls, ca_pem):
            log.info("join: reusing the credentials of node %s from %s", request.node_name, tls.directory)
            return _joined(tls, saved)
        answer = await _request_credentials(session, url, ca_pem, request)
    if answer.get("caCert") != ca_pem.decode("ascii"):
        raise JoinError(f"cannot join {url}: the credentials name another CA than /cacerts")
    try:
        credentials = NodeCredentials(
            ca_cert=ca_pem, client_cert=answer["clientCert"].encode(), client_key=answer["clientKey"].encode(),
            serving_cert=answer["servingCert"].encode(), serving_key=answer["servingKey"].encode(),
        )
        state = {
            "server": url, "nodeName": request.node_name, "nodeIPs": list(request.node_ips),
            "podCIDR": str(answer["podCIDR"]), "clusterCIDR": str(answer["clusterCIDR"]),
            "serviceCIDR": str(answer["serviceCIDR"]), "clusterDNS": [str(d) for d in answer.get("clusterDNS") or []],
        }
    except (KeyError, AttributeError, TypeError):
        raise JoinError(f"cannot join {url}: the server's answer lacks credentials or ranges") from None
    tls.write(credentials, url)
    _save_state(state_path(request.data_dir), state)
    log.info("join: node %s joined %s with pod range %s", request.node_name, url, state["podCIDR"])
    return _joined(tls, state)


def _joined(tls: NodeTLSFiles, state: dict[str, Any]) -> JoinedNode:
    return JoinedNode(tls=tls, pod_cidr=state["podCIDR"], cluster_cidr=state["clusterCIDR"],
                      service_cidr=state["serviceCIDR"], cluster_dns=tuple(state.get("clusterDNS") or ()))


def _reusable(saved: dict[str, Any] | None, request: JoinRequest, tls: NodeTLSFiles, ca_pem: bytes) -> bool:
    if not saved:
        return False
    same = (saved.get("server") == request.server_url and saved.get("nodeName") == request.node_name
            and tuple(saved.get("nodeIPs") or ()) == request.node_ips
            and all(isinstance(saved.get(k), str) for k in ("podCIDR", "clusterCIDR", "serviceCIDR")))
    return same and tls.usable(ca_pem)


async def _fetch_ca(session: aiohttp.ClientSession, url: str) -> bytes:
    # Nothing to verify the server against yet: the token's hash (or trust on first use) decides below.
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    async with _calling(url):
        async with session.get(url + CACERTS_PATH, ssl=insecure) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise JoinError(f"cannot join {url}: GET {CACERTS_PATH} answered {resp.status} {resp.reason}")
    try:
        body.decode("ascii")
        x509.load_pem_x509_certificates(body)
    except ValueError:  # UnicodeDecodeError included
        raise JoinError(f"cannot join {url}: {CACERTS_PATH} is not a PEM certificate (is it a kyb server?)") from None
    return body


async def _request_credentials(session: aiohttp.ClientSession, url: str, ca_pem: bytes,
                               request: JoinRequest) -> dict[str, Any]:
    verified = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    verified.set_alpn_protocols(["http/1.1"])
    body = {"nodeName": request.node_name, "nodeIPs": list(request.node_ips)}
    headers = {"Authorization": f"Bearer {request.token.text()}"}
    async with _calling(url):
        async with session.post(url + NODE_CREDENTIALS_PATH, json=body, headers=headers, ssl=verified) as resp:
            raw = await resp.read()
            status = resp.status
    if status == 401:
        raise JoinError(f"join refused by {url}: the token is not valid")
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if status != 200:
        message = answer.get("message") if isinstance(answer, dict) else ""
        raise JoinError(f"join refused by {url}: {message or f'HTTP {status}'}")
    if not isinstance(answer, dict):
        raise JoinError(f"cannot join {url}: the answer is not a JSON object")
    return answer


@contextlib.asynccontextmanager
async def _calling(url: str) -> AsyncIterator[None]:
    """Turn what can go wrong on the wire into one-line JoinErrors naming the server."""
    try:
        yield
    except aiohttp.ClientConnectorCertificateError as exc:
        raise JoinError(f"cannot join {url}: its certificate does not verify: {exc.certificate_error}") from None
    except aiohttp.ClientSSLError as exc:
        raise JoinError(f"cannot join {url}: TLS failed: {exc}") from None
    except aiohttp.ClientConnectorError as exc:
        # asyncio words a refused connection as "Connect call failed (…)": say it as the OS does.
        error = exc.os_error
        raise JoinError(f"cannot reach {url}: {os.strerror(error.errno) if error.errno else error}") from None
    except (asyncio.TimeoutError, TimeoutError):
        raise JoinError(f"cannot reach {url}: no answer in {TIMEOUT.total:.0f}s") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise JoinError(f"cannot join {url}: {exc}") from None


def _load_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _save_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=2)
    os.replace(tmp, path)
