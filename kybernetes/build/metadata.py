"""Metadata: how the instructions that make no layer (ENV, LABEL, EXPOSE, CMD, …) change an image config.

Pure functions over the OCI config section (`Env`, `Cmd`, `ExposedPorts`, …), so each rule can be
checked on its own; the builder calls them with already-substituted arguments.
"""

from __future__ import annotations

import re
import signal
from typing import Any

from kybernetes.build.errors import BuildError

DEFAULT_SHELL = ["/bin/sh", "-c"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


class InstructionError(BuildError):
    """InstructionError: an instruction's (substituted) arguments are not valid for it."""


def set_env(env: list[str], key: str, value: str) -> list[str]:
    """set_env replaces `key` in a `K=V` list in place, or appends it, as Docker does."""
    if not key:
        raise InstructionError("ENV names can not be blank")
    out = list(env)
    for i, entry in enumerate(out):
        if entry.split("=", 1)[0] == key:
            out[i] = f"{key}={value}"
            return out
    out.append(f"{key}={value}")
    return out


def env_map(env: list[str]) -> dict[str, str]:
    out = {}
    for entry in env:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def command(args: list[str], *, json_form: bool, config: dict[str, Any]) -> list[str]:
    """command is an exec-form argv as written, or a shell-form line wrapped in the image's SHELL."""
    if json_form:
        return list(args)
    return [*(config.get("Shell") or DEFAULT_SHELL), *args]


def exposed_ports(specs: list[str]) -> list[str]:
    """exposed_ports normalizes EXPOSE arguments (`80`, `53/udp`, `8000-8002`) to `port/proto` keys."""
    out: list[str] = []
    for spec in specs:
        port, _, proto = spec.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InstructionError(f"invalid proto: {proto}")
        low, dash, high = port.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise InstructionError(f"invalid containerPort: {port}")
        start, end = int(low), int(high) if dash else int(low)
        if not 0 < start <= end <= 65535:
            raise InstructionError(f"invalid range format for --expose: {port}" if dash else f"invalid containerPort: {port}")
        out.extend(f"{p}/{proto}" for p in range(start, end + 1) if f"{p}/{proto}" not in out)
    return out


def check_signal(name: str) -> str:
    """check_signal accepts STOPSIGNAL's `SIGTERM`, `TERM`, `9` or `SIGRTMIN+3`, and returns it unchanged."""
    text = name.strip().upper()
    if text.isdigit():
        if not 0 < int(text) < 65:
            raise InstructionError(f"invalid signal: {name}")
        return name
    base = text if text.startswith("SIG") else "SIG" + text
    if base in signal.Signals.__members__:
        return name
    rt = re.fullmatch(r"SIGRTM(IN|AX)([+-]\d+)?", base)
    if rt:
        return name
    raise InstructionError(f"invalid signal: {name}")


def parse_duration(text: str, flag: str) -> int:
    """parse_duration reads a Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds."""
    if text == "0":
        return 0
    pos = 0
    total = 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise InstructionError(f"--{flag}: invalid duration {text!r}")
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    if not text:
        raise InstructionError(f"--{flag}: invalid duration {text!r}")
    return int(total)


def healthcheck(args: list[str], *, json_form: bool, flags: dict[str, str]) -> dict[str, Any]:
    """healthcheck is the config's Healthcheck for `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD …`."""
    if args[0] == "NONE":
        return {"Test": ["NONE"]}
    cmd = args[1:]
    test = ["CMD", *cmd] if json_form else ["CMD-SHELL", cmd[0]]
    out: dict[str, Any] = {"Test": test}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                      ("start-interval", "StartInterval")):
        if flag in flags:
            value = parse_duration(flags[flag], flag)
            if 0 < value < 1_000_000:
                raise InstructionError(f"--{flag} cannot be less than 1ms")
            if value:
                out[key] = value
    if "retries" in flags:
        try:
            retries = int(flags["retries"])
        except ValueError:
            raise InstructionError(f"--retries: invalid number {flags['retries']!r}") from None
        if retries < 0:
            raise InstructionError("--retries cannot be negative")
        if retries:
            out["Retries"] = retries
    return out
