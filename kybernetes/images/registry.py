"""Registry: a client of the OCI distribution (Docker registry v2) API with k3s' registries.yaml mirrors and auth.

Who answers for a registry is decided per reference: the endpoints of `mirrors[<registry>]` (or of
`mirrors["*"]`) in order, then the registry itself, as containerd does. Plain HTTP is used for loopback
registries and for endpoints written `http://`; `configs[<host>].tls.insecure_skip_verify` turns off
certificate checks and, as Docker's insecure registries, falls back to plain HTTP. Credentials for an
endpoint come from `configs[<host>].auth`, else from the caller's (a dockerconfigjson) for the
image's own registry. Authentication is answered when challenged: `WWW-Authenticate: Bearer realm=…,
service=…, scope=…` fetches a token (anonymously, or with the credentials as Docker Hub allows);
`Basic` sends the credentials. The header that worked is then sent up front on later requests.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from kybernetes.images.errors import (
    ConfigError,
    RegistryStatusError,
    RegistryUnavailableError,
    UnauthorizedError,
    status_error_class,
    truncate,
)

DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"
"""Where `docker.io` images are served from when no mirror is configured."""

_DOCKER_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
_TOKEN_SLACK = 10.0
"""Seconds before a token's expiry at which it is no longer reused."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """Credentials for one registry: a user and password, or an identity (refresh) token."""

    username: str = ""
    password: str = ""
    identity_token: str = ""

    def basic(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass(frozen=True, slots=True)
class Mirror:
    """Mirror is registries.yaml's `mirrors.<registry>`: endpoints tried in order, and repository rewrites."""

    endpoints: tuple[str, ...] = ()
    """URLs like `http://127.0.0.1:5000` or `https://mirror.example/v2`."""
    rewrite: tuple[tuple[str, str], ...] = ()
    """(regex, replacement) pairs applied to the repository path when pulling from these endpoints."""


@dataclass(frozen=True, slots=True)
class HostConfig:
    """HostConfig is registries.yaml's `configs.<host>`: credentials and TLS for one endpoint host."""

    credentials: Credentials | None = None
    insecure_skip_verify: bool = False
    """Accept any certificate; also fall back to plain HTTP."""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """RegistryConfig is a node's registries.yaml, in k3s' format."""

    mirrors: dict[str, Mirror] = field(default_factory=dict)
    """Registry name (`docker.io`, or `*` for any) → its mirrors."""
    configs: dict[str, HostConfig] = field(default_factory=dict)
    """Endpoint host (`127.0.0.1:5000`) → its auth and TLS."""
    disable_default_endpoint: bool = False
    """k3s' `--disable-default-registry-endpoint`: a registry that has mirrors (its own or `*`) is
    reached through them only, never directly. Tests use it so that no pull leaves the machine."""

    @classmethod
    def load(cls, path: Path) -> RegistryConfig:
        """load reads a registries.yaml; a missing file is an empty configuration."""
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror}") from exc
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
            problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
            raise ConfigError(f"{path}: not YAML: {where}{truncate(problem)}") from None
        try:
            return cls.from_dict(doc)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> RegistryConfig:
        return cls.load(Path(data_dir) / "agent" / "etc" / "registries.yaml")

    @classmethod
    def from_dict(cls, doc: Any) -> RegistryConfig:
        if not isinstance(doc, dict):
            raise ConfigError("registries.yaml must be a mapping")
        for key in ("mirrors", "configs"):
            if not isinstance(doc.get(key) or {}, dict):
                raise ConfigError(f"{key}: must be a mapping")
        mirrors: dict[str, Mirror] = {}
        for name, m in (doc.get("mirrors") or {}).items():
            if not isinstance(m, dict):
                raise ConfigError(f"mirrors.{name}: must be a mapping")
            endpoints = m.get("endpoint") or []
            if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
                raise ConfigError(f"mirrors.{name}.endpoint: must be a list of URLs")
            for e in endpoints:
                if urllib.parse.urlsplit(e if "://" in e else f"https://{e}").scheme not in ("http", "https"):
                    raise ConfigError(f"mirrors.{name}.endpoint: {e!r} is not an http(s) URL")
            rewrite = tuple((str(k), str(v)) for k, v in (m.get("rewrite") or {}).items())
            for pattern, _ in rewrite:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ConfigError(f"mirrors.{name}.rewrite: {pattern!r}: {exc}") from None
            mirrors[str(name)] = Mirror(tuple(endpoints), rewrite)
        configs: dict[str, HostConfig] = {}
        for host, c in (doc.get("configs") or {}).items():
            if not isinstance(c, dict):
                raise ConfigError(f"configs.{host}: must be a mapping")
            auth = c.get("auth") or {}
            tls = c.get("tls") or {}
            creds = _credentials_from_auth(auth, f"configs.{host}.auth") if auth else None
            configs[_host_of(str(host))] = HostConfig(
                credentials=creds, insecure_skip_verify=bool(tls.get("insecure_skip_verify")),
                ca_file=tls.get("ca_file") or "", cert_file=tls.get("cert_file") or "", key_file=tls.get("key_file") or "",
            )
        return cls(mirrors, configs)

    def endpoints(self, registry: str) -> list[Endpoint]:
        """endpoints are the places to try for `registry`, mirrors first, the registry itself last."""
        mirror = self.mirrors.get(registry) or self.mirrors.get("*") or Mirror()
        out = [self._endpoint(url, mirror.rewrite, mirror=True) for url in mirror.endpoints]
        default = DOCKER_HUB_ENDPOINT if registry == "docker.io" else registry
        host = _host_of(default)
        if _is_loopback(host):
            out.append(self._endpoint(f"http://{host}", ()))
        elif self.disable_default_endpoint and mirror.endpoints:
            pass
        else:
            out.append(self._endpoint(default if "://" in default else f"https://{default}", ()))
            if self.configs.get(host, HostConfig()).insecure_skip_verify:
                out.append(self._endpoint(f"http://{host}", ()))
        seen: set[str] = set()
        return [e for e in out if not (e.url in seen or seen.add(e.url))]  # type: ignore[func-returns-value]

    def _endpoint(self, url: str, rewrite: tuple[tuple[str, str], ...], *, mirror: bool = False) -> Endpoint:
        if "://" not in url:
            url = f"https://{url}"
        parts = urllib.parse.urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        if not base.endswith("/v2"):
            base += "/v2"
        return Endpoint(base, parts.netloc, self.configs.get(parts.netloc, HostConfig()), rewrite, mirror)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Endpoint is one base URL serving the v2 API, with the settings of its host."""

    url: str
    """`http://127.0.0.1:5000/v2`"""
    host: str
    config: HostConfig
    rewrite: tuple[tuple[str, str], ...] = ()
    mirror: bool = False
    """A mirror, not the registry itself: the caller's credentials for the registry are not sent here."""

    def repository(self, path: str) -> str:
        """repository applies the mirror's rewrites to a repository path."""
        for pattern, replacement in self.rewrite:
            new, n = re.subn(pattern, re.sub(r"\$(\d+)", r"\\\1", replacement), path, count=1)
            if n:
                return new
        return path


def _host_of(url_or_host: str) -> str:
    if "://" in url_or_host:
        return urllib.parse.urlsplit(url_or_host).netloc
    return url_or_host.split("/", 1)[0]


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _credentials_from_auth(auth: Any, where: str) -> Credentials:
    if not isinstance(auth, dict):
        raise ConfigError(f"{where}: must be a mapping")
    username, password = auth.get("username") or "", auth.get("password") or ""
    if encoded := auth.get("auth"):
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, TypeError, UnicodeDecodeError):
            raise ConfigError(f"{where}.auth: not base64 of user:password") from None
    token = auth.get("identitytoken") or auth.get("identity_token") or ""
    return Credentials(str(username), str(password), str(token))


def credentials_from_dockerconfigjson(doc: dict[str, Any] | bytes | str, registry: str) -> Credentials | None:
    """credentials_from_dockerconfigjson finds `registry`'s entry in a .dockerconfigjson (or legacy .dockercfg)."""
    if isinstance(doc, (bytes, str)):
        try:
            doc = orjson.loads(doc)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"dockerconfigjson is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError("dockerconfigjson must be a JSON object")
    auths = doc.get("auths") if isinstance(doc.get("auths"), dict) else doc
    want = _normalize_registry(registry)
    for key, entry in auths.items():
        if isinstance(entry, dict) and _normalize_registry(key) == want:
            return _credentials_from_auth(entry, f"auths.{key}")
    return None


def _normalize_registry(key: str) -> str:
    host = _host_of(key if "://" in key else f"https://{key}")
    return "docker.io" if host in _DOCKER_HUB_ALIASES else host


@dataclass(slots=True)
class _Token:
    header: str
    expires: float


class RegistryClient:
    """RegistryClient speaks the v2 API to the endpoints of one registry over one aiohttp session.

    Tokens are cached per (realm, service, scope) until they expire; a working Authorization header is
    remembered per (endpoint, repository) so only the first request of a pull is challenged.
    """

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._auth: dict[tuple[str, str], str] = {}
        self._ssl: dict[str, ssl.SSLContext | bool] = {}

    async def ping(self, endpoint: Endpoint, *, credentials: Credentials | None = None) -> None:
        """ping checks that the endpoint serves the v2 API and that we may use it."""
        async with self.request(endpoint, "", "GET", "/", credentials=credentials, reference=endpoint.host):
            pass

    def request(self, endpoint: Endpoint, repository: str, method: str, path: str, *,
                headers: dict[str, str] | None = None, credentials: Credentials | None = None,
                reference: str = "") -> _Request:
        """request is an async context manager giving the successful response of `method endpoint/path`."""
        return _Request(self, endpoint, repository, method, path, headers or {}, credentials, reference)

    async def _send(self, endpoint: Endpoint, repository: str, method: str, path: str, headers: dict[str, str],
                    credentials: Credentials | None, reference: str) -> aiohttp.ClientResponse:
        url = endpoint.url + path
        key = (endpoint.url, repository)
        for attempt in range(2):
            hdrs = dict(headers)
            if auth := self._auth.get(key):
                hdrs["Authorization"] = auth
            try:
                resp = await self._session.request(method, url, headers=hdrs, ssl=self._ssl_for(endpoint))
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise RegistryUnavailableError(f"{endpoint.url}: {_transport_reason(exc)}", reference=reference) from exc
            if resp.status != 401 or attempt == 1:
                break
            challenge = resp.headers.get("WWW-Authenticate", "")
            body = await resp.read()
            resp.release()
            self._auth[key] = await self._authorize(endpoint, repository, challenge, credentials, reference, body,
                                                    stale=hdrs.get("Authorization", ""))
        if resp.status >= 400:
            body = await resp.read()
            resp.release()
            raise _status_error(resp.status, body, f"{reference or url}", reference)
        return resp

    async def _authorize(self, endpoint: Endpoint, repository: str, challenge: str, credentials: Credentials | None,
                         reference: str, body: bytes, *, stale: str) -> str:
        """_authorize answers a 401's challenge with a header to retry with; `stale` is the header just refused."""
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if credentials is None or not (credentials.username or credentials.password):
                raise _status_error(401, body, f"{reference}: {endpoint.host} requires authentication (no credentials configured)", reference)
            return credentials.basic()
        if scheme != "bearer" or "realm" not in params:
            raise _status_error(401, body, f"{reference}: {endpoint.host} refused the request", reference)
        scope = params.get("scope") or (f"repository:{repository}:pull" if repository else "")
        cache_key = (params["realm"], params.get("service", ""), scope)
        cached = self._tokens.get(cache_key)
        if cached is not None and cached.expires > time.monotonic() and cached.header != stale:
            return cached.header
        token = await self._fetch_token(endpoint, params, scope, credentials, reference)
        self._tokens[cache_key] = token
        return token.header

    async def _fetch_token(self, endpoint: Endpoint, params: dict[str, str], scope: str,
                           credentials: Credentials | None, reference: str) -> _Token:
        query = {k: v for k, v in (("service", params.get("service", "")), ("scope", scope)) if v}
        headers = {}
        if credentials is not None and (credentials.username or credentials.password):
            headers["Authorization"] = credentials.basic()
        realm = params["realm"]
        try:
            async with self._session.get(realm, params=query, headers=headers, ssl=self._ssl_for(endpoint)) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    raise _status_error(resp.status, body, f"{reference}: token from {realm}", reference)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise RegistryUnavailableError(f"{reference}: token from {realm}: {_transport_reason(exc)}", reference=reference) from exc
        try:
            doc = orjson.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (orjson.JSONDecodeError, AttributeError):
            token = None
        if not token:
            raise UnauthorizedError(f"{reference}: {realm} gave no token", reference=reference, status=401)
        expires_in = doc.get("expires_in") or 60
        return _Token(f"Bearer {token}", time.monotonic() + max(float(expires_in) - _TOKEN_SLACK, 1.0))

    def _ssl_for(self, endpoint: Endpoint) -> ssl.SSLContext | bool:
        if not endpoint.url.startswith("https:"):
            return True  # unused for http
        cached = self._ssl.get(endpoint.host)
        if cached is not None:
            return cached
        cfg = endpoint.config
        result: ssl.SSLContext | bool = True
        if cfg.insecure_skip_verify:
            result = False
        elif cfg.ca_file or cfg.cert_file:
            ctx = ssl.create_default_context(cafile=cfg.ca_file or None)
            if cfg.cert_file:
                ctx.load_cert_chain(cfg.cert_file, cfg.key_file or None)
            result = ctx
        self._ssl[endpoint.host] = result
        return result


class _Request:
    """_Request is the async context manager `RegistryClient.request` returns."""

    def __init__(self, client: RegistryClient, endpoint: Endpoint, repository: str, method: str, path: str,
                 headers: dict[str, str], credentials: Credentials | None, reference: str) -> None:
        self._args = (endpoint, repository, method, path, headers, credentials, reference)
        self._client = client
        self._resp: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        self._resp = await self._client._send(*self._args)
        return self._resp

    async def __aexit__(self, *exc: object) -> None:
        if self._resp is not None:
            self._resp.release()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """parse_challenge reads `Bearer realm="…",service="…",scope="…"` into ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v1 if v1 or not v2 else v2 for k, v1, v2 in re.findall(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))', rest)}
    return scheme.lower(), params


def _status_error(status: int, body: bytes, what: str, reference: str) -> RegistryStatusError:
    """_status_error turns an error answer into our exception, keeping the registry's own reason."""
    code, reason = "", ""
    try:
        doc = orjson.loads(body)
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if errors and isinstance(errors[0], dict):
            code = str(errors[0].get("code", ""))
            reason = str(errors[0].get("message", "")) or code
        elif isinstance(doc, dict) and (doc.get("details") or doc.get("message")):
            reason = str(doc.get("details") or doc.get("message"))
    except (orjson.JSONDecodeError, IndexError, TypeError):
        reason = body.decode("utf-8", "replace").strip()
    reason = truncate(reason or _STATUS_TEXT.get(status, "error"))
    cls = status_error_class(status)
    message = f"{what}: {reason}" + (f" ({code})" if code else f" (HTTP {status})")
    return cls(message, reference=reference, status=status, code=code, reason=reason)


_STATUS_TEXT = {401: "unauthorized", 403: "forbidden", 404: "not found", 429: "too many requests"}


def _transport_reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Go's wording, as containerd reports it: `dial tcp 127.0.0.1:5000: connect: connection refused`.
        target = f"{exc.host}:{exc.port}"
        os_error = exc.os_error
        if isinstance(os_error, ConnectionRefusedError):
            return f"dial tcp {target}: connect: connection refused"
        if isinstance(os_error, OSError) and os_error.strerror:
            return f"dial tcp {target}: connect: {os_error.strerror.lower()}"
        return f"dial tcp {target}: {os_error or 'cannot connect'}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return truncate(str(exc) or type(exc).__name__)

