"""probes: the actions probes and lifecycle hooks share (HTTP GET, TCP connect, exec) and the `Prober` backends.

This is upstream's pkg/probe (http, tcp, exec) and the runProbe half of pkg/kubelet/prober. The
outputs are upstream's, Go's error texts included, because users read them in `kubectl describe`:

    HTTP probe failed with statuscode: 500
    Get "http://10.42.0.5:8080/healthz": dial tcp 10.42.0.5:8080: connect: connection refused
    dial tcp 10.42.0.5:81: connect: connection refused
    command "sleep 5" timed out

An `Outcome` with an `error` means the probe could not be run at all (a port name the container
does not have, a container that is gone); upstream throws such results away instead of counting
them as failures.
"""

from __future__ import annotations

import asyncio
import enum
import os
import socket
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import aiohttp
from yarl import URL

from kybernetes.agent.events import format_pod
from kybernetes.agent.node import KUBELET_VERSION
from kybernetes.agent.runtime.protocol import Runtime, RuntimeFailure
from kybernetes.agent.runtime.bundle import expand, mapping_for
from kybernetes.agent.runtime.types import ContainerId

Obj = dict[str, Any]

MAX_OUTPUT = 10 * 1024
"""Upstream reads at most 10 KiB of a response body or of a command's output."""
MAX_REDIRECTS = 10
"""Go's http.Client gives up after ten redirects."""
REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))
DEFAULT_TIMEOUT = 1.0
"""A probe's timeoutSeconds when the spec leaves it out."""


def _minor_version(version: str) -> str:
    """`v1.32.0+kyb` → `1.32`, as upstream's `kube-probe/<major>.<minor>` user agent has it."""
    parts = version.lstrip("v").split(".")
    return ".".join(parts[:2])


PROBE_USER_AGENT = f"kube-probe/{_minor_version(KUBELET_VERSION)}"
LIFECYCLE_USER_AGENT = f"kube-lifecycle/{_minor_version(KUBELET_VERSION)}"


class ProbeResult(enum.Enum):
    """ProbeResult is upstream's probe.Result: what one run of a probe found."""

    SUCCESS = "success"
    WARNING = "warning"
    """Success, with something worth an event (an HTTP redirect to another host)."""
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Outcome is one run of a probe: the result, the output users see, and why it could not run, if so."""

    result: ProbeResult
    output: str = ""
    error: str = ""


class ActionError(Exception):
    """ActionError: an HTTP request found no answer; the message is Go's, e.g. `Get "…": dial tcp …`."""


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
               '"': '\\"', "\\": "\\\\"}


def go_quote(text: str) -> str:
    """Quote like Go's %q (strconv.Quote), which upstream's event messages use."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def join_host_port(host: str, port: int) -> str:
    """Go's net.JoinHostPort: IPv6 addresses get brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _dial_error(host: str, port: int, err: OSError) -> str:
    """Go's net.Dial error text: `dial tcp 10.42.0.5:80: connect: connection refused`, or a failed lookup."""
    if isinstance(err, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    return f"dial tcp {join_host_port(host, port)}: connect: {_go_errno(err.errno)}"


def _go_errno(number: int | None) -> str:
    """Go's text for a system error: glibc's, lower-cased (`connection refused`)."""
    if number is None:
        return "unknown error"
    text = os.strerror(number)
    return text[:1].lower() + text[1:]


def resolve_port(port: Any, container: Obj) -> int:
    """Upstream's ResolveContainerPort: a number, or the name of one of the container's ports (or a number as text)."""
    if isinstance(port, bool):
        raise ValueError(f"invalid port number: {port}")
    if isinstance(port, int):
        number = port
    else:
        text = str(port if port is not None else "")
        for spec in container.get("ports") or []:
            if isinstance(spec, dict) and spec.get("name") == text:
                number = int(spec.get("containerPort") or 0)
                break
        else:
            try:
                number = int(text, 10)
            except ValueError:
                raise ValueError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax") from None
    if 0 < number < 65536:
        return number
    raise ValueError(f"invalid port number: {number}")


def http_url(action: Obj, container: Obj, pod_ip: str) -> str:
    """The URL of an httpGet action (upstream's GetProbeUrl): scheme, host (default the pod IP), port, path."""
    scheme = str(action.get("scheme") or "HTTP").lower()
    host = str(action.get("host") or pod_ip)
    if not host:
        # An empty host would reach this machine instead of the pod.
        raise ValueError("the pod has no IP address yet")
    port = resolve_port(action.get("port"), container)
    path = str(action.get("path") or "").split("#", 1)[0]
    if path and not path.startswith("/"):
        path = "/" + path
    return f"{scheme}://{join_host_port(host, port)}{path}"


def _canonical_header(name: str) -> str:
    """Go's CanonicalMIMEHeaderKey: `user-agent` → `User-Agent`."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def request_headers(action: Obj, user_agent: str) -> list[tuple[str, str]]:
    """The action's httpHeaders plus upstream's defaults: a kube-probe User-Agent and `Accept: */*`."""
    headers = [(_canonical_header(str(h.get("name", ""))), str(h.get("value", "")))
               for h in action.get("httpHeaders") or [] if isinstance(h, dict) and h.get("name")]
    names = {name for name, _ in headers}
    if "User-Agent" not in names:
        headers.append(("User-Agent", user_agent))
    if "Accept" not in names:
        headers.append(("Accept", "*/*"))
    elif not any(value for name, value in headers if name == "Accept"):
        # An Accept header set to nothing means "send none" (upstream).
        headers = [(name, value) for name, value in headers if name != "Accept"]
    return headers


async def _read_some(response: aiohttp.ClientResponse) -> bytes:
    body = b""
    while len(body) < MAX_OUTPUT:
        chunk = await response.content.read(MAX_OUTPUT - len(body))
        if not chunk:
            break
        body += chunk
    return body


async def http_get(url: str, headers: Sequence[tuple[str, str]], *, timeout: float | None,
                   follow_redirects: bool) -> tuple[int, bytes]:
    """GET `url` once (following redirects to the same host if asked); return the status and up to 10 KiB of body.

    Certificates are not verified, as upstream's probes and hooks do not. Raises `ActionError`
    with Go's message when no answer came.
    """
    current = URL(url, encoded=True)
    try:
        async with asyncio.timeout(timeout):
            # No proxies from the environment (trust_env) and no kept-alive connections, as upstream's prober.
            connector = aiohttp.TCPConnector(force_close=True, ssl=False)
            async with aiohttp.ClientSession(connector=connector, trust_env=False,
                                             cookie_jar=aiohttp.DummyCookieJar()) as session:
                for hop in range(MAX_REDIRECTS + 1):
                    async with session.get(current, headers=list(headers), allow_redirects=False) as response:
                        body = await _read_some(response)
                        location = response.headers.get("Location")
                        if not (follow_redirects and response.status in REDIRECT_CODES and location):
                            return response.status, body
                        target = current.join(URL(location))
                        if target.host != current.host:
                            # Upstream follows redirects only on the same host; the redirect itself is the answer.
                            return response.status, body
                        if hop == MAX_REDIRECTS:
                            raise ActionError(f"Get {go_quote(str(target))}: stopped after {MAX_REDIRECTS} redirects")
                        current = target
    except TimeoutError:
        raise ActionError(f"Get {go_quote(str(current))}: context deadline exceeded "
                          "(Client.Timeout exceeded while awaiting headers)") from None
    except aiohttp.ClientSSLError as err:
        raise ActionError(f"Get {go_quote(str(current))}: {err}") from err
    except aiohttp.ClientConnectorError as err:
        dial = _dial_error(str(current.host or ""), int(current.port or 0), err.os_error)
        raise ActionError(f"Get {go_quote(str(current))}: {dial}") from err
    except aiohttp.ServerDisconnectedError as err:
        raise ActionError(f"Get {go_quote(str(current))}: EOF") from err
    except aiohttp.ClientOSError as err:
        raise ActionError(f"Get {go_quote(str(current))}: read: {_go_errno(err.errno)}") from err
    except (aiohttp.ClientError, OSError, ValueError) as err:
        raise ActionError(f"Get {go_quote(str(current))}: {err}") from err
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises


async def http_probe(url: str, headers: Sequence[tuple[str, str]], timeout: float) -> Outcome:
    """Upstream's DoHTTPProbe: 200–399 is success (3xx a warning: a redirect not followed), anything else a failure."""
    try:
        status, body = await http_get(url, headers, timeout=timeout, follow_redirects=True)
    except ActionError as err:
        return Outcome(ProbeResult.FAILURE, str(err))
    text = body.decode("utf-8", "replace")
    if 200 <= status < 400:
        if status >= 300:
            return Outcome(ProbeResult.WARNING, f"Probe terminated redirects, Response body: {text}")
        return Outcome(ProbeResult.SUCCESS, text)
    return Outcome(ProbeResult.FAILURE, f"HTTP probe failed with statuscode: {status}")


async def tcp_probe(host: str, port: int, timeout: float) -> Outcome:
    """Upstream's DoTCPProbe: success if a connection opens within the timeout."""
    address = join_host_port(host, port)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return Outcome(ProbeResult.FAILURE, f"dial tcp {address}: i/o timeout")
    except OSError as err:
        return Outcome(ProbeResult.FAILURE, _dial_error(host, port, err))
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass  # the peer hung up first: the connection still opened
    return Outcome(ProbeResult.SUCCESS)


@dataclass(frozen=True, slots=True)
class ExecResult:
    """ExecResult is a finished command: its exit code, stdout and stderr together, and stderr alone."""

    exit_code: int
    output: bytes
    stderr: bytes


async def exec_in_container(runtime: Runtime, container_id: ContainerId, command: Sequence[str], *,
                            timeout: float | None) -> ExecResult:
    """Run `command` in the container and collect up to 10 KiB of output; raises TimeoutError or RuntimeFailure."""
    output = bytearray()
    stderr = bytearray()

    async def out(data: bytes) -> None:
        output.extend(data[:MAX_OUTPUT - len(output)])

    async def err(data: bytes) -> None:
        output.extend(data[:MAX_OUTPUT - len(output)])
        stderr.extend(data[:MAX_OUTPUT - len(stderr)])

    async with asyncio.timeout(timeout):
        code = await runtime.exec(container_id, list(command), stdout=out, stderr=err)
    return ExecResult(code, bytes(output), bytes(stderr))


async def exec_probe(runtime: Runtime, container_id: ContainerId, command: Sequence[str], timeout: float) -> Outcome:
    """Upstream's exec prober: exit code 0 is success; the output is the command's stdout and stderr."""
    try:
        done = await exec_in_container(runtime, container_id, command, timeout=timeout)
    except TimeoutError:
        return Outcome(ProbeResult.FAILURE, f"command {go_quote(' '.join(command))} timed out")
    except RuntimeFailure as err:
        return Outcome(ProbeResult.UNKNOWN, error=str(err))
    text = done.output.decode("utf-8", "replace")
    return Outcome(ProbeResult.SUCCESS if done.exit_code == 0 else ProbeResult.FAILURE, text)


def probe_timeout(probe: Obj) -> float:
    seconds = probe.get("timeoutSeconds")
    return float(seconds) if isinstance(seconds, (int, float)) and seconds > 0 else DEFAULT_TIMEOUT


def static_command(command: Sequence[Any], container: Obj) -> list[str]:
    """Upstream's ExpandContainerCommandOnlyStatic: `$(VAR)` from the container's literal env values only."""
    env = {str(e.get("name")): str(e.get("value") or "") for e in container.get("env") or [] if isinstance(e, dict)}
    lookup = mapping_for(env)
    return [expand(str(part), lookup) for part in command]


class Prober(Protocol):
    """Prober runs one probe of a container once."""

    async def probe(self, probe: Obj, *, pod: Obj, container: Obj, container_id: ContainerId, pod_ip: str) -> Outcome:
        ...


class RuntimeProber:
    """RuntimeProber execs in containers through the runtime and connects to the pod's IP from the node."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def probe(self, probe: Obj, *, pod: Obj, container: Obj, container_id: ContainerId, pod_ip: str) -> Outcome:
        timeout = probe_timeout(probe)
        if isinstance(probe.get("exec"), dict):
            command = static_command(probe["exec"].get("command") or [], container)
            if not command:
                return Outcome(ProbeResult.UNKNOWN, error="exec probe has no command")
            return await exec_probe(self._runtime, container_id, command, timeout)
        if isinstance(probe.get("httpGet"), dict):
            action = probe["httpGet"]
            try:
                url = http_url(action, container, pod_ip)
            except ValueError as err:
                return Outcome(ProbeResult.UNKNOWN, error=str(err))
            return await http_probe(url, request_headers(action, PROBE_USER_AGENT), timeout)
        if isinstance(probe.get("tcpSocket"), dict):
            action = probe["tcpSocket"]
            try:
                port = resolve_port(action.get("port"), container)
            except ValueError as err:
                return Outcome(ProbeResult.UNKNOWN, error=str(err))
            host = str(action.get("host") or pod_ip)
            if not host:
                return Outcome(ProbeResult.UNKNOWN, error="the pod has no IP address yet")
            return await tcp_probe(host, port, timeout)
        if isinstance(probe.get("grpc"), dict):
            return Outcome(ProbeResult.UNKNOWN, error="gRPC probes are not supported by this node")
        return Outcome(ProbeResult.UNKNOWN,
                       error=f"missing probe handler for {format_pod(pod)}:{container.get('name', '')}")


class SimulatedProber:
    """SimulatedProber: every probe succeeds at once; a simulated pod's IP is on no interface and nothing runs."""

    def __init__(self) -> None:
        self.probed = 0
        """Probes answered, for tests and benchmarks."""

    async def probe(self, probe: Obj, *, pod: Obj, container: Obj, container_id: ContainerId, pod_ip: str) -> Outcome:
        self.probed += 1
        return Outcome(ProbeResult.SUCCESS)

