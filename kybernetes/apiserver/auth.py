"""Authentication: client certificates (CN = user, O = groups) and bearer tokens; authorization's place.

Every authenticated user is allowed for now; `Authorizer` is where RBAC will decide later.
"""

from __future__ import annotations

import hmac
import weakref
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class User:
    name: str
    groups: tuple[str, ...] = ()


def _subject_fields(peercert: dict[str, Any]) -> tuple[str, list[str]]:
    common_name = ""
    organizations: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                common_name = value
            elif key == "organizationName":
                organizations.append(value)
    return common_name, organizations


_UNSET = object()


class Authenticator:
    """Authenticator maps a request to a User, or None (answered 401)."""

    def __init__(self, tokens: dict[str, User] | None = None) -> None:
        self._tokens = dict(tokens or {})
        self._by_session: weakref.WeakKeyDictionary[Any, User | None] = weakref.WeakKeyDictionary()

    def add_token(self, token: str, user: User) -> None:
        self._tokens[token] = user

    def authenticate(self, request: web.Request) -> User | None:
        transport = request.transport
        if transport is not None:
            # The certificate is fixed for the life of a connection: decode it once per TLS session.
            session = transport.get_extra_info("ssl_object")
            cached = self._by_session.get(session, _UNSET) if session is not None else _UNSET
            if cached is _UNSET:
                cached = None
                # The TLS layer verified the chain against our CA (CERT_OPTIONAL): a cert here is trusted.
                peercert = transport.get_extra_info("peercert")
                if peercert:
                    name, groups = _subject_fields(peercert)
                    if name:
                        cached = _authenticated(User(name, tuple(groups)))
                if session is not None:
                    self._by_session[session] = cached
            if cached is not None:
                return cached
        token = _bearer_token(request.headers.get("Authorization", ""))
        if token:
            for known, user in self._tokens.items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    return _authenticated(user)
        return None


def _bearer_token(header: str) -> str:
    """bearertoken.Authenticator: `Bearer <token>`, scheme case-insensitive; an empty token is none."""
    parts = header.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return ""
    return parts[1]


def _authenticated(user: User) -> User:
    """AuthenticatedGroupAdder: every authenticated user is in system:authenticated (once)."""
    if "system:authenticated" in user.groups or "system:unauthenticated" in user.groups:
        return user
    return User(user.name, user.groups + ("system:authenticated",))


def load_token_file(path: Path) -> dict[str, User]:
    """tokens.json: {"<token>": {"user": "...", "groups": [...]}}; missing file → no tokens."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {token: User(entry["user"], tuple(entry.get("groups", ()))) for token, entry in data.items()}


class Authorizer:
    """Authorizer allows every authenticated user; RBAC replaces this in a later issue."""

    def allowed(self, user: User, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return True
