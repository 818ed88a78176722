"""`kyb server`: first start makes certificates and a kubeconfig, restarts keep data, kill -9 loses no acknowledged write."""

from __future__ import annotations

import json
import os
import signal
import ssl
import stat
import subprocess
import sys
import urllib.request

from tests.conftest import REPO, free_port, start_server


def _get(server, path):
    with urllib.request.urlopen(urllib.request.Request(server.url + path), context=server.ssl_context(), timeout=5) as resp:
        return json.loads(resp.read())


def _post(server, path, obj):
    req = urllib.request.Request(server.url + path, data=json.dumps(obj).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, context=server.ssl_context(), timeout=5) as resp:
        return json.loads(resp.read())


def test_first_start_writes_secrets_privately_and_restarts_reuse_them(tmp_path):
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        tls = data / "server" / "tls"
        for key in ("server-ca.key", "serving-kube-apiserver.key", "client-admin.key"):
            assert stat.S_IMODE((tls / key).stat().st_mode) == 0o600
        assert stat.S_IMODE(srv.kubeconfig.stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "server" / "token").stat().st_mode) == 0o600
        ca_before = (tls / "server-ca.crt").read_bytes()
        namespaces = {n["metadata"]["name"] for n in _get(srv, "/api/v1/namespaces")["items"]}
        assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= namespaces
        _post(srv, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "survivor"}, "data": {"k": "v"}})
        assert srv.stop() == 0
        assert "shutting down" in srv.log()
        srv = start_server(data, port=srv.port)
        assert (tls / "server-ca.crt").read_bytes() == ca_before
        assert _get(srv, "/api/v1/namespaces/default/configmaps/survivor")["data"] == {"k": "v"}
    finally:
        srv.stop()


def test_kill_9_loses_no_acknowledged_write(tmp_path):
    data = tmp_path / "data"
    srv = start_server(data)
    acknowledged: list[str] = []
    try:
        for i in range(50):
            obj = _post(srv, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": f"cm-{i}"}})
            acknowledged.append(obj["metadata"]["name"])
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        srv = start_server(data, port=srv.port)
        have = {c["metadata"]["name"] for c in _get(srv, "/api/v1/namespaces/default/configmaps")["items"]}
        assert set(acknowledged) <= have
    finally:
        srv.stop()


def test_bad_flags_print_one_line_and_exit_non_zero(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kybernetes", "server", "--data-dir", str(tmp_path), "--service-cidr", "not-a-cidr"],
        capture_output=True, text=True, cwd=REPO, timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "kyb: error: --service-cidr" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_in_use_is_a_one_line_error(tmp_path, server):
    result = subprocess.run(
        [sys.executable, "-m", "kybernetes", "server", "--data-dir", str(tmp_path), "--https-listen-port", str(server.port)],
        capture_output=True, text=True, cwd=REPO, timeout=30,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("kyb: error: cannot start the server")


def test_tls_offers_http11_only_and_at_least_tls12(server):
    ctx = ssl.create_default_context(cafile=str(server.data_dir / "server" / "tls" / "server-ca.crt"))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    import socket

    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.selected_alpn_protocol() in (None, "http/1.1")
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1
    except ValueError:
        return
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        try:
            old.wrap_socket(raw)
        except (ssl.SSLError, OSError):
            return
    raise AssertionError("server accepted TLS < 1.2")


def test_watch_and_continue_from_before_the_kept_history_answer_410(tmp_path):
    srv = start_server(tmp_path / "data", "--watch-cache-size", "5")
    try:
        first = _post(srv, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "old"}})
        for i in range(20):
            _post(srv, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": f"n{i}"}})
        rv = first["metadata"]["resourceVersion"]
        req = urllib.request.Request(srv.url + f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}")
        with urllib.request.urlopen(req, context=srv.ssl_context(), timeout=10) as resp:
            event = json.loads(resp.readline())
        assert event["type"] == "ERROR"
        assert event["object"]["code"] == 410
        assert event["object"]["reason"] == "Expired"
        assert event["object"]["message"].startswith(f"too old resource version: {rv}")
    finally:
        srv.stop()


def test_a_watcher_that_stops_reading_is_dropped(tmp_path):
    """A client that never reads its watch is cut off instead of the server buffering for it."""
    import socket

    srv = start_server(tmp_path / "data", "--watch-queue-size", "20")
    try:
        raw = socket.create_connection(("127.0.0.1", srv.port))
        tls = srv.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
        tls.sendall(b"GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
        # 40 MB of events: far more than the kernel's socket buffers hold for a reader that waits.
        big = "x" * 1_000_000
        for i in range(40):
            _post(srv, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": f"big-{i}"}, "data": {"k": big}})
        # The server still answers others while the slow watcher is cut off.
        assert len(_get(srv, "/api/v1/namespaces/default/configmaps")["items"]) >= 40
        tls.settimeout(10)
        received = b""
        while True:
            chunk = tls.recv(1 << 20)
            if not chunk:
                break
            received += chunk
            if received.endswith(b"0\r\n\r\n"):
                break
        # It got fewer than all 40 events before its stream was ended.
        assert received.count(b'"type":"ADDED"') < 40
        tls.close()
        assert "watch on" in srv.log() and "ended" in srv.log()
    finally:
        srv.stop()
