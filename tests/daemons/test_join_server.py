"""The server's join endpoints: `/cacerts` is public, node credentials need the join token, pod ranges are distinct."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from kybernetes.apiserver.join import JoinToken
from tests.conftest import RunningServer, start_server


@pytest.fixture(scope="module")
def join_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    srv = start_server(tmp_path_factory.mktemp("join") / "data")
    yield srv
    srv.stop()


def _insecure() -> ssl.SSLContext:
    """What a joining node has before it trusts anything: no CA, no client certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _token(server: RunningServer) -> str:
    return (server.data_dir / "server" / "token").read_text().strip()


def _ca(server: RunningServer) -> bytes:
    return (server.data_dir / "server" / "tls" / "server-ca.crt").read_bytes()


def _call(server: RunningServer, method: str, path: str, body: Any = None, token: str | None = None,
          ctx: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx or _insecure(), timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _join(server: RunningServer, name: str, ips: list[str] | None = None) -> dict[str, Any]:
    code, body = _call(server, "POST", "/v1-kyb/node-credentials", {"nodeName": name, "nodeIPs": ips or []},
                       token=_token(server), ctx=ssl.create_default_context(cadata=_ca(server).decode()))
    assert code == 200, body
    return json.loads(body)


def test_cacerts_is_public_and_is_the_ca_the_token_names(join_server: RunningServer) -> None:
    code, body = _call(join_server, "GET", "/cacerts")
    assert code == 200
    assert body == _ca(join_server)
    token = JoinToken.parse(_token(join_server))
    assert token.secure and token.username == "server"
    assert _token(join_server).startswith("K10" + hashlib.sha256(body).hexdigest() + "::server:")


@pytest.mark.parametrize("token", [None, "wrong", "K10" + "00" * 32 + "::server:wrong", ""],
                         ids=["no-token", "wrong-short", "wrong-secure", "empty"])
def test_node_credentials_need_the_join_token(join_server: RunningServer, token: str | None) -> None:
    code, body = _call(join_server, "POST", "/v1-kyb/node-credentials", {"nodeName": "intruder"}, token=token)
    assert code == 401
    status = json.loads(body)
    assert status["kind"] == "Status" and status["reason"] == "Unauthorized"
    assert b"PRIVATE KEY" not in body


def test_the_admin_certificate_is_no_join_token(join_server: RunningServer) -> None:
    code, _ = _call(join_server, "POST", "/v1-kyb/node-credentials", {"nodeName": "admin-made"},
                    ctx=join_server.ssl_context())
    assert code == 401


def test_the_issued_identity_is_system_node_name_and_the_api_server_accepts_it(
        join_server: RunningServer, tmp_path: Path) -> None:
    answer = _join(join_server, "join-identity", ["127.0.0.1", "192.0.2.7"])
    assert answer["caCert"].encode() == _ca(join_server)
    ca = x509.load_pem_x509_certificate(_ca(join_server))
    client = x509.load_pem_x509_certificate(answer["clientCert"].encode())
    client.verify_directly_issued_by(ca)
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:join-identity"
    assert [a.value for a in client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:nodes"]
    serving = x509.load_pem_x509_certificate(answer["servingCert"].encode())
    serving.verify_directly_issued_by(ca)
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "join-identity" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("192.0.2.7") in san.get_values_for_type(x509.IPAddress)
    key = serialization.load_pem_private_key(answer["clientKey"].encode(), None)
    assert key.public_key().public_numbers() == client.public_key().public_numbers()  # type: ignore[union-attr]
    (tmp_path / "c.crt").write_text(answer["clientCert"])
    (tmp_path / "c.key").write_text(answer["clientKey"])
    ctx = ssl.create_default_context(cadata=_ca(join_server).decode())
    ctx.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    code, body = _call(join_server, "GET", "/api/v1/nodes", ctx=ctx)
    assert code == 200 and json.loads(body)["kind"] == "NodeList"


def test_pod_ranges_are_distinct_stable_and_skip_ranges_nodes_have(join_server: RunningServer) -> None:
    first = _join(join_server, "join-range-a")
    second = _join(join_server, "join-range-b")
    assert first["podCIDR"] != second["podCIDR"]
    for answer in (first, second):
        network = ipaddress.ip_network(answer["podCIDR"])
        assert network.prefixlen == 24 and network.subnet_of(ipaddress.ip_network("10.42.0.0/16"))
        assert answer["clusterCIDR"] == "10.42.0.0/16" and answer["serviceCIDR"] == "10.43.0.0/16"
        assert answer["clusterDNS"] == ["10.43.0.10"]
    assert _join(join_server, "join-range-a")["podCIDR"] == first["podCIDR"]
    # A Node that exists with a range (registered some other way) keeps it: the next join skips it.
    taken = str(max(ipaddress.ip_network(a["podCIDR"]) for a in (first, second)).network_address + 256) + "/24"
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "join-range-manual"},
            "spec": {"podCIDR": taken, "podCIDRs": [taken]}}
    code, body = _call(join_server, "POST", "/api/v1/nodes", node, ctx=join_server.ssl_context())
    assert code == 201, body
    third = _join(join_server, "join-range-c")
    assert third["podCIDR"] not in (first["podCIDR"], second["podCIDR"], taken)
    assert _join(join_server, "join-range-manual")["podCIDR"] == taken


@pytest.mark.parametrize("body, message", [
    ({}, "nodeName: Required value"),
    ({"nodeName": "Not_A_Name"}, "nodeName: Invalid value"),
    ({"nodeName": "ok", "nodeIPs": ["not-an-ip"]}, "nodeIPs: Invalid value"),
], ids=["no-name", "bad-name", "bad-ip"])
def test_a_bad_join_request_is_400_naming_the_field(join_server: RunningServer, body: dict, message: str) -> None:
    code, raw = _call(join_server, "POST", "/v1-kyb/node-credentials", body, token=_token(join_server))
    assert code == 400
    assert message in json.loads(raw)["message"]


def test_the_log_shows_how_to_join_but_no_secret(join_server: RunningServer) -> None:
    _join(join_server, "join-log")
    log = join_server.log()
    token_file = join_server.data_dir / "server" / "token"
    assert f"to add a node: kyb agent --server {join_server.url} --token-file {token_file}" in log
    assert JoinToken.parse(_token(join_server)).secret not in log
    assert "PRIVATE KEY" not in log
    assert "join: node join-log got its credentials" in log


def test_a_server_keeps_a_token_file_in_the_old_format(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "server").mkdir(parents=True)
    old = "K10" + "5f" * 24
    (data / "server" / "token").write_text(old + "\n")
    srv = start_server(data)
    try:
        assert _token(srv) == old
        code, _ = _call(srv, "POST", "/v1-kyb/node-credentials", {"nodeName": "old-token"}, token=old)
        assert code == 200
        code, _ = _call(srv, "GET", "/api/v1/namespaces", token=old)
        assert code == 200
    finally:
        srv.stop()
