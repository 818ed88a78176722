"""A tiny HTTPS client for raw API requests that kubectl and the Python client would never send."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request


class API:
    """A tiny HTTPS client for raw requests the real clients would never send."""

    def __init__(self, server, *, authenticated: bool = True) -> None:
        self.server = server
        self.ctx = server.ssl_context() if authenticated else ssl.create_default_context(cafile=str(server.data_dir / "server" / "tls" / "server-ca.crt"))

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = "application/json", headers: dict[str, str] | None = None):
        req = urllib.request.Request(self.server.url + path, data=body, method=method)
        if content_type and body is not None:
            req.add_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null"), resp.headers
        except urllib.error.HTTPError as err:
            data = err.read()
            return err.code, (json.loads(data) if data else None), err.headers
