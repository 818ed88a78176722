"""Join tokens (k3s' secure and short formats), the CA hash check, and pod range allocation, without a server."""

from __future__ import annotations

import asyncio
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kybernetes.apiserver import pki
from kybernetes.apiserver.join import JoinToken, PodCIDRAllocator, RangeExhausted, ca_hash, ca_matches, first_pod_cidr
from kybernetes.daemons.control import _ensure_token


@pytest.fixture
def ca_pem(tmp_path: Path) -> bytes:
    files = pki.ensure_tls(tmp_path / "tls", bind_address="127.0.0.1")
    return files.ca_cert.read_bytes()


def test_a_new_token_names_the_ca_by_the_sha256_of_its_pem(ca_pem: bytes) -> None:
    token = JoinToken.generate(ca_pem)
    text = token.text()
    prefix, _, credentials = text.partition("::")
    assert prefix == "K10" + hashlib.sha256(ca_pem).hexdigest()
    user, _, secret = credentials.partition(":")
    assert user == "server" and len(secret) >= 32
    assert JoinToken.parse(text) == token
    assert JoinToken.parse(text).secret == secret


@pytest.mark.parametrize("text, secure, secret", [
    ("K10" + "ab" * 32 + "::server:s3cret", True, "s3cret"),
    ("K10" + "ab" * 32 + "::node:s3cret", True, "s3cret"),
    ("K10" + "ab" * 32 + "::bearer-only", True, "bearer-only"),
    ("K10" + "cd" * 24, False, "K10" + "cd" * 24),
    ("just-a-password", False, "just-a-password"),
], ids=["secure-server", "secure-node", "secure-bearer", "old-kyb-format", "short"])
def test_tokens_parse_as_k3s_reads_them(text: str, secure: bool, secret: str) -> None:
    token = JoinToken.parse(text + "\n")
    assert token.secure is secure
    assert token.secret == secret
    assert token.text() == text


def test_a_token_accepts_its_secret_in_either_format_and_nothing_else(ca_pem: bytes) -> None:
    token = JoinToken.generate(ca_pem)
    assert token.accepts(token.text())
    assert token.accepts(token.secret)
    assert not token.accepts(token.text()[:-1] + "x")
    assert not token.accepts("")
    assert not JoinToken(secret="").accepts("")


def test_the_secret_never_shows_in_a_repr(ca_pem: bytes) -> None:
    token = JoinToken.generate(ca_pem)
    assert token.secret not in repr(token)


def test_the_ca_check_takes_the_pem_hash_or_the_der_fingerprint_and_rejects_other_cas(tmp_path: Path, ca_pem: bytes) -> None:
    der = x509.load_pem_x509_certificate(ca_pem).public_bytes(serialization.Encoding.DER)
    assert ca_matches(ca_pem, ca_hash(ca_pem))
    assert ca_matches(ca_pem, ca_hash(ca_pem).upper())
    assert ca_matches(ca_pem, hashlib.sha256(der).hexdigest())
    other = pki.ensure_tls(tmp_path / "other", bind_address="127.0.0.1").ca_cert.read_bytes()
    assert not ca_matches(other, ca_hash(ca_pem))
    assert not ca_matches(b"not a certificate", ca_hash(ca_pem))


def test_the_token_file_is_private_secure_and_kept_across_restarts(tmp_path: Path, ca_pem: bytes) -> None:
    path = tmp_path / "server" / "token"
    token, created = _ensure_token(path, ca_pem)
    assert created and token.secure and token.ca_hash == ca_hash(ca_pem)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == token.text() + "\n"
    again, created = _ensure_token(path, ca_pem)
    assert not created and again == token


def test_a_token_file_in_the_old_format_is_kept_as_it_is(tmp_path: Path, ca_pem: bytes) -> None:
    path = tmp_path / "token"
    old = "K10" + "0123456789abcdef" * 3
    path.write_text(old + "\n")
    token, created = _ensure_token(path, ca_pem)
    assert not created and not token.secure
    assert token.accepts(old)
    assert path.read_text() == old + "\n"


def test_a_remade_ca_gets_its_hash_in_the_token_with_the_same_secret(tmp_path: Path, ca_pem: bytes) -> None:
    path = tmp_path / "token"
    token, _ = _ensure_token(path, ca_pem)
    other = pki.ensure_tls(tmp_path / "other", bind_address="127.0.0.1").ca_cert.read_bytes()
    renewed, changed = _ensure_token(path, other)
    assert changed and renewed.secret == token.secret and renewed.ca_hash == ca_hash(other)
    assert JoinToken.parse(path.read_text()) == renewed


def _node(name: str, cidr: str = "") -> dict:
    return {"metadata": {"name": name}, "spec": {"podCIDR": cidr} if cidr else {}}


def _allocate(allocator: PodCIDRAllocator, name: str) -> str:
    return asyncio.run(allocator.allocate(name))


def test_nodes_get_distinct_ranges_the_lowest_free_first() -> None:
    nodes = [_node("server", "10.42.0.0/24"), _node("b", "10.42.2.0/24"), _node("no-range")]
    allocator = PodCIDRAllocator(cluster_cidr="10.42.0.0/16", nodes=lambda: nodes)
    assert _allocate(allocator, "c") == "10.42.1.0/24"
    # c has not registered yet: its range stays promised to it, and d gets the next free one.
    assert _allocate(allocator, "d") == "10.42.3.0/24"
    assert _allocate(allocator, "c") == "10.42.1.0/24"


def test_a_node_keeps_its_range_when_it_joins_again() -> None:
    nodes = [_node("a", "10.42.7.0/24")]
    allocator = PodCIDRAllocator(cluster_cidr="10.42.0.0/16", nodes=lambda: nodes)
    assert _allocate(allocator, "a") == "10.42.7.0/24"
    assert _allocate(allocator, "a") == "10.42.7.0/24"


def test_the_servers_own_node_keeps_the_first_range_before_it_registers() -> None:
    nodes: list[dict] = []
    allocator = PodCIDRAllocator(cluster_cidr="10.42.0.0/16", nodes=lambda: nodes,
                                 reserved={"server": first_pod_cidr("10.42.0.0/16")})
    assert _allocate(allocator, "joined") == "10.42.1.0/24"
    assert _allocate(allocator, "server") == "10.42.0.0/24"


def test_a_deleted_node_frees_its_range() -> None:
    nodes = [_node("a")]
    allocator = PodCIDRAllocator(cluster_cidr="10.42.0.0/16", nodes=lambda: nodes)
    assert _allocate(allocator, "a") == "10.42.0.0/24"
    nodes[0] = _node("a", "10.42.0.0/24")  # a registered with its range
    assert _allocate(allocator, "b") == "10.42.1.0/24"
    nodes.clear()  # kubectl delete node a
    nodes.append(_node("b", "10.42.1.0/24"))
    assert _allocate(allocator, "c") == "10.42.0.0/24"


def test_concurrent_joins_never_share_a_range() -> None:
    allocator = PodCIDRAllocator(cluster_cidr="10.42.0.0/16", nodes=lambda: [])

    async def many() -> list[str]:
        return list(await asyncio.gather(*(allocator.allocate(f"n{i}") for i in range(20))))

    ranges = asyncio.run(many())
    assert len(set(ranges)) == 20


def test_a_full_cluster_cidr_says_so() -> None:
    allocator = PodCIDRAllocator(cluster_cidr="10.42.0.0/23", nodes=lambda: [])
    assert {_allocate(allocator, "a"), _allocate(allocator, "b")} == {"10.42.0.0/24", "10.42.1.0/24"}
    with pytest.raises(RangeExhausted, match="no free /24 left in the cluster CIDR 10.42.0.0/23"):
        _allocate(allocator, "c")


def test_a_cluster_cidr_smaller_than_a_slash_24_is_one_nodes_range() -> None:
    assert first_pod_cidr("10.42.0.0/16") == "10.42.0.0/24"
    assert first_pod_cidr("10.42.5.0/26") == "10.42.5.0/26"
