"""The cluster PKI: made once, reused after, reissued only where needed; the kubeconfig carries it."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import socket
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kybernetes.apiserver import pki


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(path: Path) -> tuple[set[str], set[str]]:
    san = load(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {str(i) for i in san.get_values_for_type(x509.IPAddress)}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    return tmp_path / "server" / "tls"


def test_first_start_creates_the_ca_serving_and_admin_certificates(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    for path in (files.ca_cert, files.ca_key, files.serving_cert, files.serving_key, files.admin_cert, files.admin_key):
        assert path.exists(), path
    ca = load(files.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    serving, admin = load(files.serving_cert), load(files.admin_cert)
    for leaf in (serving, admin):
        leaf.verify_directly_issued_by(ca)
        assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ExtendedKeyUsageOID.SERVER_AUTH in serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value


def test_private_keys_are_readable_by_the_owner_only(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    for key in (files.ca_key, files.serving_key, files.admin_key):
        assert mode(key) == 0o600, key
    assert mode(tls_dir) == 0o700


def test_loose_key_permissions_are_tightened_on_the_next_start(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    os.chmod(files.admin_key, 0o644)
    pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    assert mode(files.admin_key) == 0o600


def test_a_leftover_temporary_file_does_not_leak_its_mode_to_a_key(tls_dir: Path) -> None:
    tls_dir.mkdir(parents=True)
    tmp = tls_dir / "server-ca.key.tmp"
    tmp.write_bytes(b"stale")
    os.chmod(tmp, 0o666)
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    assert mode(files.ca_key) == 0o600


def test_the_admin_certificate_is_system_admin_in_system_masters(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    subject = load(files.admin_cert).subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["system:admin"]
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:masters"]


def test_serving_sans_cover_loopback_localhost_bind_address_and_extras(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="192.0.2.10", extra_sans=("api.example.com", "198.51.100.7", "0:0::1"))
    dns, ips = sans(files.serving_cert)
    assert {"localhost", socket.gethostname(), "kubernetes", "kubernetes.default.svc.cluster.local", "api.example.com"} <= dns
    assert ips == {"127.0.0.1", "192.0.2.10", "198.51.100.7", "::1"}


@pytest.mark.parametrize("bind", ["0.0.0.0", "::"], ids=["any-ipv4", "any-ipv6"])
def test_a_wildcard_bind_address_is_not_a_san(tls_dir: Path, bind: str) -> None:
    files = pki.ensure_tls(tls_dir, bind_address=bind)
    assert sans(files.serving_cert)[1] == {"127.0.0.1"}


def test_a_second_start_reuses_every_file(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1", extra_sans=("0:0::1",))
    before = {p: p.read_bytes() for p in files.__dict__.values()}
    again = pki.ensure_tls(tls_dir, bind_address="127.0.0.1", extra_sans=("0:0::1",))
    assert again == files
    assert {p: p.read_bytes() for p in again.__dict__.values()} == before


def test_changed_sans_reissue_only_the_serving_certificate(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    kept = {p: p.read_bytes() for p in (files.ca_cert, files.ca_key, files.admin_cert, files.admin_key)}
    serving = files.serving_cert.read_bytes()
    pki.ensure_tls(tls_dir, bind_address="127.0.0.1", extra_sans=("203.0.113.5",))
    assert files.serving_cert.read_bytes() != serving
    assert "203.0.113.5" in sans(files.serving_cert)[1]
    assert {p: p.read_bytes() for p in kept} == kept
    load(files.serving_cert).verify_directly_issued_by(load(files.ca_cert))


def test_a_missing_serving_key_reissues_the_serving_certificate(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    files.serving_key.unlink()
    pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    key = serialization.load_pem_private_key(files.serving_key.read_bytes(), None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == load(files.serving_cert).public_key().public_bytes(
        serialization.Encoding.DER, spki
    )


def test_a_new_ca_reissues_the_leaves(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    files.ca_key.unlink()
    pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    ca = load(files.ca_cert)
    load(files.serving_cert).verify_directly_issued_by(ca)
    load(files.admin_cert).verify_directly_issued_by(ca)


def test_an_admin_certificate_near_expiry_is_renewed(tls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    ca = load(files.ca_cert)
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
    with monkeypatch.context() as patch:
        patch.setattr(pki, "LEAF_VALIDITY", dt.timedelta(days=10))
        cert_pem, key_pem = pki.issue(ca, ca_key, common_name="system:admin", organizations=("system:masters",))
    files.admin_cert.write_bytes(cert_pem)
    files.admin_key.write_bytes(key_pem)
    pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    assert load(files.admin_cert).not_valid_after_utc > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=300)


def test_the_kubeconfig_embeds_the_ca_and_admin_credentials(tls_dir: Path, tmp_path: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    text = pki.kubeconfig("https://127.0.0.1:6443", files)
    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == "v1" and doc["kind"] == "Config"
    cluster = doc["clusters"][0]
    assert cluster["cluster"]["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == files.ca_cert.read_bytes()
    user = doc["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == files.admin_cert.read_bytes()
    assert base64.b64decode(user["client-key-data"]) == files.admin_key.read_bytes()
    context = doc["contexts"][0]
    assert doc["current-context"] == context["name"]
    assert context["context"] == {"cluster": cluster["name"], "user": doc["users"][0]["name"]}
    path = tmp_path / "admin.kubeconfig"
    pki.write_kubeconfig(path, text)
    assert mode(path) == 0o600
    assert yaml.safe_load(path.read_text()) == doc


def test_issue_puts_ip_and_dns_sans_on_server_certificates_only(tls_dir: Path) -> None:
    files = pki.ensure_tls(tls_dir, bind_address="127.0.0.1")
    ca = load(files.ca_cert)
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
    server_pem, _ = pki.issue(ca, ca_key, common_name="s", dns_names=("a.example",), ips=("10.0.0.1",), server=True)
    client_pem, _ = pki.issue(ca, ca_key, common_name="c", dns_names=("a.example",), ips=("10.0.0.1",))
    san = x509.load_pem_x509_certificate(server_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.1")]
    with pytest.raises(x509.ExtensionNotFound):
        x509.load_pem_x509_certificate(client_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
