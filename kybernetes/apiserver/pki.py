"""PKI: the cluster CA, the serving certificate, client certificates and the admin kubeconfig.

Made once on first start and reused after, as k3s does under its data dir. Keys are ECDSA P-256:
as strong as RSA-3072 and generated in a millisecond, which keeps first start fast.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
# Leaf certificates this close to expiry are reissued at start (the admin kubeconfig is rewritten then).
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TLSFiles:
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    kubelet_client_cert: Path
    kubelet_client_key: Path
    """The API server's client certificate towards node agents (logs, exec, attach, port-forward)."""


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    # A leftover temporary file keeps its old mode through O_CREAT, and the umask narrows a new
    # one: set the mode explicitly before the secret is written.
    os.fchmod(fd, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)


def _new_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kybernetes-ca@{int(_now().timestamp())}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    common_name: str,
    organizations: tuple[str, ...] = (),
    dns_names: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    server: bool = False,
) -> tuple[bytes, bytes]:
    """A leaf certificate signed by the CA: (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH] if server else [ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server:
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def ensure_tls(tls_dir: Path, *, bind_address: str, extra_sans: tuple[str, ...] = ()) -> TLSFiles:
    """Create the CA, serving and admin certificates unless present; reissue the serving cert if SANs changed."""
    files = TLSFiles(
        ca_cert=tls_dir / "server-ca.crt",
        ca_key=tls_dir / "server-ca.key",
        serving_cert=tls_dir / "serving-kube-apiserver.crt",
        serving_key=tls_dir / "serving-kube-apiserver.key",
        admin_cert=tls_dir / "client-admin.crt",
        admin_key=tls_dir / "client-admin.key",
        kubelet_client_cert=tls_dir / "client-kube-apiserver.crt",
        kubelet_client_key=tls_dir / "client-kube-apiserver.key",
    )
    tls_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(tls_dir, 0o700)
    if files.ca_cert.exists() and files.ca_key.exists():
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    else:
        ca_cert, ca_key = _new_ca()
        _write(files.ca_key, _key_pem(ca_key), 0o600)
        _write(files.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
        for stale in (files.serving_cert, files.admin_cert, files.kubelet_client_cert):
            stale.unlink(missing_ok=True)
    hostname = socket.gethostname()
    dns = tuple(dict.fromkeys(("localhost", hostname, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")))
    # Addresses in canonical form, so `0:0::1` and `::1` compare equal with what the certificate holds.
    candidates = (str(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", bind_address, *extra_sans) if _is_ip(ip))
    ips = tuple(dict.fromkeys(ip for ip in candidates if ip not in ("0.0.0.0", "::")))
    extra_dns = tuple(s for s in extra_sans if not _is_ip(s))
    if not _leaf_usable(files.serving_cert, files.serving_key, ca_cert) or not _serving_matches(files.serving_cert, dns + extra_dns, ips):
        cert_pem, key_pem = issue(ca_cert, ca_key, common_name="kube-apiserver", dns_names=dns + extra_dns, ips=ips, server=True)
        _write(files.serving_key, key_pem, 0o600)
        _write(files.serving_cert, cert_pem, 0o644)
    if not _leaf_usable(files.admin_cert, files.admin_key, ca_cert):
        cert_pem, key_pem = issue(ca_cert, ca_key, common_name="system:admin", organizations=("system:masters",))
        _write(files.admin_key, key_pem, 0o600)
        _write(files.admin_cert, cert_pem, 0o644)
    if not _leaf_usable(files.kubelet_client_cert, files.kubelet_client_key, ca_cert):
        # Upstream's name for this identity; system:masters lets a node agent authorize it fully.
        cert_pem, key_pem = issue(ca_cert, ca_key, common_name="kube-apiserver-kubelet-client",
                                  organizations=("system:masters",))
        _write(files.kubelet_client_key, key_pem, 0o600)
        _write(files.kubelet_client_cert, cert_pem, 0o644)
    for key_file in (files.ca_key, files.serving_key, files.admin_key, files.kubelet_client_key):
        if key_file.stat().st_mode & 0o077:
            os.chmod(key_file, 0o600)
    return files


def server_ssl_context(cert: Path, key: Path, ca: Path, *, client_certs: ssl.VerifyMode) -> ssl.SSLContext:
    """A TLS ≥ 1.2 server context verifying client certificates against `ca` (required or optional).

    HTTP/1.1 only in ALPN: kubectl would switch to h2 if it were offered, and we do not speak it.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cafile=str(ca))
    ctx.verify_mode = client_certs
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def load_ca(files: TLSFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    return ca_cert, ca_key


@dataclass(frozen=True)
class NodeCredentials:
    """What a node agent needs, as PEM: its client identity `system:node:<name>` (group system:nodes),
    its serving certificate for the agent's HTTPS port, and the CA that signs both sides."""

    ca_cert: bytes
    client_cert: bytes
    client_key: bytes
    serving_cert: bytes
    serving_key: bytes


def issue_node_credentials(files: TLSFiles, node_name: str, *, ips: tuple[str, ...] = ()) -> NodeCredentials:
    """Sign a node's client and serving certificates (what kubelet TLS bootstrap ends with upstream)."""
    ca_cert, ca_key = load_ca(files)
    client_cert, client_key = issue(ca_cert, ca_key, common_name=f"system:node:{node_name}",
                                    organizations=("system:nodes",))
    node_ips = tuple(dict.fromkeys(str(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", *ips) if _is_ip(ip)))
    serving_cert, serving_key = issue(ca_cert, ca_key, common_name=node_name, dns_names=(node_name, "localhost"),
                                      ips=node_ips, server=True)
    return NodeCredentials(ca_cert=files.ca_cert.read_bytes(), client_cert=client_cert, client_key=client_key,
                           serving_cert=serving_cert, serving_key=serving_key)


@dataclass(frozen=True)
class NodeTLSFiles:
    """Where a node agent keeps its credentials: `<data-dir>/agent/tls/` and `<data-dir>/agent/kubelet.kubeconfig`."""

    directory: Path
    kubeconfig: Path

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> "NodeTLSFiles":
        return cls(data_dir / "agent" / "tls", data_dir / "agent" / "kubelet.kubeconfig")

    @property
    def ca_cert(self) -> Path:
        """Verifies the API server, and the API server's client certificate on the agent's port."""
        return self.directory / "server-ca.crt"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client-kubelet.crt"

    @property
    def client_key(self) -> Path:
        return self.directory / "client-kubelet.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "serving-kubelet.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "serving-kubelet.key"

    def exists(self) -> bool:
        return all(p.exists() for p in (self.ca_cert, self.client_cert, self.client_key, self.serving_cert,
                                        self.serving_key, self.kubeconfig))

    def write(self, credentials: NodeCredentials, server_url: str) -> None:
        """Write the node's credentials and a kubeconfig naming them (keys 0600)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        _write(self.ca_cert, credentials.ca_cert, 0o644)
        _write(self.client_key, credentials.client_key, 0o600)
        _write(self.client_cert, credentials.client_cert, 0o644)
        _write(self.serving_key, credentials.serving_key, 0o600)
        _write(self.serving_cert, credentials.serving_cert, 0o644)
        files = TLSFiles(ca_cert=self.ca_cert, ca_key=Path("/nonexistent"), serving_cert=self.serving_cert,
                         serving_key=self.serving_key, admin_cert=self.client_cert, admin_key=self.client_key,
                         kubelet_client_cert=Path("/nonexistent"), kubelet_client_key=Path("/nonexistent"))
        write_kubeconfig(self.kubeconfig, kubeconfig(server_url, files, user="node"))

    def usable(self, ca_cert_pem: bytes) -> bool:
        """Present, signed by this CA, and not close to expiry."""
        if not self.exists() or self.ca_cert.read_bytes() != ca_cert_pem:
            return False
        ca = x509.load_pem_x509_certificate(ca_cert_pem)
        return _leaf_usable(self.client_cert, self.client_key, ca) and _leaf_usable(self.serving_cert, self.serving_key, ca)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _leaf_usable(cert_path: Path, key_path: Path, ca_cert: x509.Certificate) -> bool:
    """A leaf worth keeping: both files present, signed by this CA, key matching, not about to expire."""
    if not cert_path.exists() or not key_path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    own = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, own) != cert.public_key().public_bytes(serialization.Encoding.DER, own):
        return False
    return cert.not_valid_after_utc >= dt.datetime.now(dt.timezone.utc) + RENEW_BEFORE


def _serving_matches(path: Path, dns: tuple[str, ...], ips: tuple[str, ...]) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    if cert.not_valid_after_utc < dt.datetime.now(dt.timezone.utc) + RENEW_BEFORE:
        return False
    return set(dns) <= have_dns and set(ips) <= have_ips


def kubeconfig(server_url: str, files: TLSFiles, *, cluster: str = "default", user: str = "default") -> str:
    """An admin kubeconfig with the CA and the admin client certificate embedded."""

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server_url, "certificate-authority-data": b64(files.ca_cert)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
        "preferences": {},
        "users": [{"name": user, "user": {"client-certificate-data": b64(files.admin_cert), "client-key-data": b64(files.admin_key)}}],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(path: Path, content: str) -> None:
    _write(path, content.encode(), 0o600)
