"""join: what a joining node asks the API server for (k3s' TLS bootstrap): the public CA and its credentials.

A node starts with a URL and a token `K10<sha256 of the CA PEM>::server:<secret>`. It fetches
`GET /cacerts` without verifying TLS, compares the PEM's hash with the token's (a server that is
not ours is caught before any secret is sent), then calls `POST /v1-kyb/node-credentials` over
verified TLS with the token as bearer. The answer holds the node's `system:node:<name>` client
certificate, its serving certificate and key, and the node's slice of the cluster CIDR.

Private keys travel only in that answer (over TLS); nothing here logs them or the token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import orjson
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kybernetes.api import errors
from kybernetes.api.validation import is_dns1123_subdomain
from kybernetes.apiserver import pki
from kybernetes.registry.base import Obj

log = logging.getLogger("kybernetes.apiserver")

TOKEN_PREFIX = "K10"
"""k3s' fixed prefix of a secure token."""
CACERTS_PATH = "/cacerts"
NODE_CREDENTIALS_PATH = "/v1-kyb/node-credentials"
NODE_PREFIX = 24
"""Each node's pod range is a /24 of the cluster CIDR, as kube-controller-manager's default --node-cidr-mask-size."""


def ca_hash(ca_pem: bytes) -> str:
    """The hash a secure token carries: sha256 of the CA PEM exactly as the server stores (and serves) it."""
    return hashlib.sha256(ca_pem).hexdigest()


def ca_matches(ca_pem: bytes, wanted: str) -> bool:
    """Tell whether `ca_pem` is the CA a token's hash names.

    k3s hashes the PEM bytes of a self-signed CA, and the DER of the root (its fingerprint) of a
    custom CA; either form is accepted.
    """
    wanted = wanted.lower()
    if hmac.compare_digest(ca_hash(ca_pem), wanted):
        return True
    try:
        certs = x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        return False
    return any(hmac.compare_digest(hashlib.sha256(c.public_bytes(serialization.Encoding.DER)).hexdigest(), wanted)
               for c in certs)


@dataclass(frozen=True)
class JoinToken:
    """JoinToken is a k3s token: secure `K10<ca hash>::<user>:<secret>`, or short (the secret alone).

    A short token pins no CA: an agent holding one trusts whatever CA the server presents on first
    contact. Tokens written before the secure format (`K10<hex>`) are short tokens.
    """

    secret: str = field(repr=False)
    ca_hash: str = ""
    username: str = ""

    @classmethod
    def parse(cls, text: str) -> "JoinToken":
        text = text.strip()
        if text.startswith(TOKEN_PREFIX) and "::" in text:
            digest, _, credentials = text[len(TOKEN_PREFIX):].partition("::")
            username, sep, password = credentials.partition(":")
            if not sep:
                # `K10<hash>::<bearer token>`: credentials without a user name.
                username, password = "", credentials
            return cls(secret=password, ca_hash=digest.lower(), username=username)
        return cls(secret=text)

    @classmethod
    def generate(cls, ca_pem: bytes) -> "JoinToken":
        """A new server token for the cluster whose CA is `ca_pem`."""
        return cls(secret=secrets.token_hex(16), ca_hash=ca_hash(ca_pem), username="server")

    @property
    def secure(self) -> bool:
        return bool(self.ca_hash)

    def text(self) -> str:
        """The token as written to the token file and given to `kyb agent --token`."""
        if not self.secure:
            return self.secret
        credentials = f"{self.username}:{self.secret}" if self.username else self.secret
        return f"{TOKEN_PREFIX}{self.ca_hash}::{credentials}"

    def accepts(self, presented: str) -> bool:
        """Tell whether a presented token (secure or short) carries this token's secret."""
        offered = JoinToken.parse(presented).secret
        return bool(self.secret) and hmac.compare_digest(offered.encode(), self.secret.encode())


def first_pod_cidr(cluster_cidr: str) -> str:
    """The server's own node's range: the first /24 of the cluster CIDR (all of it if that is smaller)."""
    return str(next(_node_ranges(ipaddress.ip_network(cluster_cidr, strict=False))))


def _node_ranges(cluster: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Iterable[Any]:
    if cluster.prefixlen >= NODE_PREFIX:
        return iter([cluster])
    return cluster.subnets(new_prefix=NODE_PREFIX)


class RangeExhausted(Exception):
    """RangeExhausted: every node range of the cluster CIDR is taken."""


class PodCIDRAllocator:
    """PodCIDRAllocator gives each node its own /24 of the cluster CIDR: the lowest one no Node uses.

    Like upstream's range allocator, a Node's spec.podCIDR is the record of what is taken, so
    restarts lose nothing. A range handed out but whose Node does not exist yet is remembered in
    memory, so two nodes joining at once do not get the same range; `reserved` holds ranges
    promised before any request (the server's own node's first /24).
    """

    def __init__(self, *, cluster_cidr: str, nodes: Callable[[], Iterable[Obj]],
                 reserved: dict[str, str] | None = None) -> None:
        self.cluster = ipaddress.ip_network(cluster_cidr, strict=False)
        self._nodes = nodes
        self._reserved = dict(reserved or {})
        self._pending: dict[str, str] = {}
        # Allocation reads the Nodes and then decides: one at a time, whatever awaits come to sit between.
        self._lock = asyncio.Lock()

    async def allocate(self, node_name: str) -> str:
        """The node's range: the one its Node already has, else the one promised to it, else the lowest free one."""
        async with self._lock:
            return self._allocate(node_name)

    def _allocate(self, node_name: str) -> str:
        existing: dict[str, str] = {}
        for node in self._nodes():
            name = (node.get("metadata") or {}).get("name", "")
            cidr = (node.get("spec") or {}).get("podCIDR") or ""
            if name and cidr:
                existing[name] = cidr
        # A Node that registered with its range records it from now on; forget the promise, so a
        # deleted Node frees its range.
        for name in [n for n in self._pending if n in existing]:
            del self._pending[name]
        mine = existing.get(node_name) or self._pending.get(node_name) or self._reserved.get(node_name)
        if mine:
            return mine
        used = [_network(c) for c in (*existing.values(), *self._pending.values(), *self._reserved.values())]
        for candidate in _node_ranges(self.cluster):
            if not any(u is not None and candidate.overlaps(u) for u in used):
                self._pending[node_name] = str(candidate)
                return str(candidate)
        raise RangeExhausted(f"no free /{NODE_PREFIX} left in the cluster CIDR {self.cluster}")


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


@dataclass
class JoinService:
    """JoinService answers `GET /cacerts` (public) and `POST /v1-kyb/node-credentials` (join token)."""

    tls: pki.TLSFiles
    """The cluster CA (its key signs node certificates)."""
    token: JoinToken
    """The server's join token; requests present it as a bearer token."""
    allocator: PodCIDRAllocator
    cluster_cidr: str
    service_cidr: str

    def register(self, router: web.UrlDispatcher) -> None:
        """Add both paths ahead of the API's catch-all route; they authenticate by themselves."""
        router.add_route("*", CACERTS_PATH, self.cacerts)
        router.add_route("*", NODE_CREDENTIALS_PATH, self.node_credentials)

    @property
    def cluster_dns(self) -> str:
        """The cluster DNS Service's address: the tenth of the Service range, as k3s has it."""
        return str(ipaddress.ip_network(self.service_cidr, strict=False).network_address + 10)

    async def cacerts(self, request: web.Request) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed(request.method)
        return web.Response(body=self.tls.ca_cert.read_bytes(), content_type="text/plain")

    async def node_credentials(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            raise errors.method_not_allowed(request.method)
        if not self.token.accepts(_bearer(request.headers.get("Authorization", ""))):
            raise errors.unauthorized()
        name, ips = _parse_request(await request.read())
        try:
            pod_cidr = await self.allocator.allocate(name)
        except RangeExhausted as exc:
            raise errors.service_unavailable(str(exc)) from None
        # Signing is a few milliseconds of ECDSA: not worth a thread.
        credentials = pki.issue_node_credentials(self.tls, name, ips=ips)
        log.info("join: node %s got its credentials and pod range %s", name, pod_cidr)
        body = {
            "nodeName": name,
            "caCert": credentials.ca_cert.decode(),
            "clientCert": credentials.client_cert.decode(),
            "clientKey": credentials.client_key.decode(),
            "servingCert": credentials.serving_cert.decode(),
            "servingKey": credentials.serving_key.decode(),
            "podCIDR": pod_cidr,
            "clusterCIDR": self.cluster_cidr,
            "serviceCIDR": self.service_cidr,
            "clusterDNS": [self.cluster_dns],
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json",
                            headers={"Cache-Control": "no-store"})


def _bearer(header: str) -> str:
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _parse_request(raw: bytes) -> tuple[str, tuple[str, ...]]:
    """`{"nodeName": "…", "nodeIPs": ["…"]}` → (name, ips), or 400 naming what is wrong."""
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise errors.bad_request("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object")
    name = body.get("nodeName")
    if not isinstance(name, str) or not name:
        raise errors.bad_request("nodeName: Required value")
    problems = is_dns1123_subdomain(name)
    if problems:
        raise errors.bad_request(f"nodeName: Invalid value: {name!r}: {'; '.join(problems)}")
    ips = body.get("nodeIPs") or []
    if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
        raise errors.bad_request("nodeIPs: must be a list of IP addresses")
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise errors.bad_request(f"nodeIPs: Invalid value: {ip!r}: must be a valid IP address") from None
    return name, tuple(ips)
