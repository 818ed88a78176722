"""Tests for kubeconfig loading and the real HTTPS transport (client certificates, ALPN, streaming)."""

import asyncio
import base64
import datetime
import ipaddress
import ssl
from pathlib import Path
from typing import AsyncIterator

import pytest
import yaml
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kybernetes.client import errors
from kybernetes.client.config import Config, load_kubeconfig
from kybernetes.client.rest import CONFIGMAPS, Client


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _cert(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool = False, san_ip: str | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san_ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(_name("test-ca"), ca_key, _name("test-ca"), ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert(_name("kyb"), server_key, ca.subject, ca_key, san_ip="127.0.0.1")
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert(_name("admin", "system:masters"), client_key, ca.subject, ca_key)
    files = {"ca": _pem(ca), "server.crt": _pem(server), "server.key": _key_pem(server_key),
             "client.crt": _pem(client), "client.key": _key_pem(client_key)}
    paths = {}
    for name, data in files.items():
        paths[name] = tmp / name
        paths[name].write_bytes(data)
    return paths


def _kubeconfig(server: str, user: dict, cluster: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "k", "cluster": {"server": server, **cluster}}],
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": "team"}}],
            "users": [{"name": "u", "user": user}]}


def test_kubeconfig_with_inline_data(tmp_path: Path, pki: dict[str, Path]) -> None:
    b64 = lambda p: base64.b64encode(p.read_bytes()).decode()  # noqa: E731
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(_kubeconfig(
        "https://127.0.0.1:6443/",
        {"client-certificate-data": b64(pki["client.crt"]), "client-key-data": b64(pki["client.key"]), "token": "t0k"},
        {"certificate-authority-data": b64(pki["ca"])})))
    config = load_kubeconfig(path)
    assert config.server == "https://127.0.0.1:6443"
    assert config.namespace == "team" and config.token == "t0k"
    assert config.ca_data == pki["ca"].read_bytes() and config.cert_data == pki["client.crt"].read_bytes()
    assert isinstance(config.ssl_context(), ssl.SSLContext)


def test_kubeconfig_with_relative_files(tmp_path: Path, pki: dict[str, Path]) -> None:
    for name in ("ca", "client.crt", "client.key"):
        (tmp_path / name).write_bytes(pki[name].read_bytes())
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(_kubeconfig(
        "https://127.0.0.1:6443", {"client-certificate": "client.crt", "client-key": "client.key"},
        {"certificate-authority": "ca"})))
    config = load_kubeconfig(path)
    assert config.key_data == pki["client.key"].read_bytes() and config.ca_data == pki["ca"].read_bytes()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"contexts": []}, "current-context"),
        ({"current-context": "nope", "contexts": []}, "no context named 'nope'"),
        (_kubeconfig("", {}, {}), "has no server"),
        (_kubeconfig("https://x", {"client-certificate-data": "!!"}, {}), "not base64"),
    ],
    ids=["no-context", "unknown-context", "no-server", "bad-base64"],
)
def test_broken_kubeconfigs_raise_config_error(tmp_path: Path, document: dict, message: str) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(errors.ConfigError, match=message):
        load_kubeconfig(path)


def test_plain_http_needs_no_tls_context() -> None:
    assert Config("http://127.0.0.1:8080").ssl_context() is None


@pytest.fixture
async def tls_server(pki: dict[str, Path]) -> AsyncIterator[str]:
    async def whoami(request: web.Request) -> web.Response:
        ssl_object = request.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
        peer = ssl_object.getpeercert()
        cn = dict(x[0] for x in peer["subject"])["commonName"]
        return web.json_response({"metadata": {"name": cn, "annotations": {
            "alpn": ssl_object.selected_alpn_protocol() or "", "auth": request.headers.get("Authorization", "")}}})

    async def watch(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for i in range(3):
            await response.write(b'{"type":"ADDED","object":{"metadata":{"name":"cm%d","resourceVersion":"%d"}}}\n' % (i, i))
            await asyncio.sleep(0.01)
        return response

    async def missing(request: web.Request) -> web.Response:
        return web.json_response({"kind": "Status", "code": 404, "reason": "NotFound", "message": "configmaps \"x\" not found"}, status=404)

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/team/configmaps/me", whoami)
    app.router.add_get("/api/v1/namespaces/team/configmaps/x", missing)
    app.router.add_get("/api/v1/namespaces/team/configmaps", watch)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["server.crt"], pki["server.key"])
    context.load_verify_locations(cafile=str(pki["ca"]))
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2", "http/1.1"])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"https://127.0.0.1:{port}"
    await runner.cleanup()


async def test_https_transport_presents_the_client_cert_and_speaks_http11(tls_server: str, pki: dict[str, Path]) -> None:
    config = Config(tls_server, ca_data=pki["ca"].read_bytes(), cert_data=pki["client.crt"].read_bytes(),
                    key_data=pki["client.key"].read_bytes(), token="secret", namespace="team")
    async with Client(config) as client:
        me = await client.get(CONFIGMAPS, "me")
        assert me["metadata"]["name"] == "admin"
        assert me["metadata"]["annotations"] == {"alpn": "http/1.1", "auth": "Bearer secret"}
        with pytest.raises(errors.NotFoundError, match='configmaps "x" not found'):
            await client.get(CONFIGMAPS, "x")
        names = [e.object["metadata"]["name"] async for e in client.watch(CONFIGMAPS, "team")]
        assert names == ["cm0", "cm1", "cm2"]


async def test_an_untrusted_server_is_a_transport_error(tls_server: str, pki: dict[str, Path]) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_ca = _pem(_cert(_name("other"), other_key, _name("other"), other_key, ca=True))
    async with Client(Config(tls_server, ca_data=other_ca)) as client:
        with pytest.raises(errors.TransportError):
            await client.get(CONFIGMAPS, "me", "team")
