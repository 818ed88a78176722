"""Authentication: a verified client certificate (CN = user, O = groups) or a known bearer token."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kybernetes.apiserver.auth import Authenticator, Authorizer, User, load_token_file


@dataclass
class FakeTransport:
    peercert: dict[str, Any] | None = None

    def get_extra_info(self, name: str) -> Any:
        return self.peercert if name == "peercert" else None


@dataclass
class FakeRequest:
    """What authenticate() reads from an aiohttp request: the transport and the headers."""

    transport: FakeTransport | None = None
    headers: dict[str, str] = field(default_factory=dict)


def peercert(common_name: str, *organizations: str) -> dict[str, Any]:
    """ssl.SSLSocket.getpeercert()'s shape: subject is a tuple of RDNs of (key, value) pairs."""
    subject = tuple((("organizationName", o),) for o in organizations)
    if common_name:
        subject += ((("commonName", common_name),),)
    return {"subject": ((("countryName", "ZZ"),),) + subject, "issuer": ((("commonName", "kybernetes-ca"),),)}


def request(cert: dict[str, Any] | None = None, authorization: str | None = None, transport: bool = True) -> Any:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return FakeRequest(FakeTransport(cert) if transport else None, headers)


ALICE = User("alice", ("dev",))


@pytest.fixture
def auth() -> Authenticator:
    return Authenticator({"s3cret": ALICE})


def test_a_verified_certificate_maps_cn_to_user_and_o_to_groups(auth: Authenticator) -> None:
    user = auth.authenticate(request(peercert("system:admin", "system:masters", "ops")))
    assert user == User("system:admin", ("system:masters", "ops", "system:authenticated"))


def test_a_certificate_without_organizations_gives_only_the_authenticated_group(auth: Authenticator) -> None:
    assert auth.authenticate(request(peercert("bob"))) == User("bob", ("system:authenticated",))


def test_a_certificate_wins_over_a_bearer_token(auth: Authenticator) -> None:
    user = auth.authenticate(request(peercert("bob"), "Bearer s3cret"))
    assert user is not None and user.name == "bob"


def test_a_certificate_without_a_common_name_falls_back_to_the_token(auth: Authenticator) -> None:
    assert auth.authenticate(request(peercert("", "ops"), "Bearer s3cret")) == User("alice", ("dev", "system:authenticated"))
    assert auth.authenticate(request(peercert("", "ops"))) is None


@pytest.mark.parametrize(
    "header",
    ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "  Bearer s3cret  ", "Bearer s3cret trailing"],
    ids=["bearer", "lower-case", "upper-case", "surrounding-spaces", "extra-field"],
)
def test_a_known_bearer_token_authenticates(auth: Authenticator, header: str) -> None:
    assert auth.authenticate(request(authorization=header)) == User("alice", ("dev", "system:authenticated"))


@pytest.mark.parametrize(
    "header",
    ["Bearer wrong", "Bearer ", "Bearer", "Bearer  s3cret", "Basic czNjcmV0", "s3cret", ""],
    ids=["unknown", "empty", "no-token", "double-space", "basic", "no-scheme", "blank"],
)
def test_an_unknown_or_malformed_token_is_nobody(auth: Authenticator, header: str) -> None:
    assert auth.authenticate(request(authorization=header)) is None


def test_no_credentials_is_nobody(auth: Authenticator) -> None:
    assert auth.authenticate(request()) is None
    assert auth.authenticate(request(transport=False)) is None
    assert auth.authenticate(request({})) is None


def test_tokens_can_be_added_later() -> None:
    auth = Authenticator()
    assert auth.authenticate(request(authorization="Bearer K10abc")) is None
    auth.add_token("K10abc", User("system:kyb-agent", ("system:nodes",)))
    assert auth.authenticate(request(authorization="Bearer K10abc")) == User("system:kyb-agent", ("system:nodes", "system:authenticated"))


def test_the_authenticated_group_is_added_once() -> None:
    auth = Authenticator({"t": User("carol", ("system:authenticated", "x"))})
    assert auth.authenticate(request(authorization="Bearer t")) == User("carol", ("system:authenticated", "x"))
    cert_user = auth.authenticate(request(peercert("dave", "system:authenticated")))
    assert cert_user == User("dave", ("system:authenticated",))


def test_the_token_file_maps_tokens_to_users(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"t1": {"user": "alice", "groups": ["dev", "ops"]}, "t2": {"user": "bob"}}))
    assert load_token_file(path) == {"t1": User("alice", ("dev", "ops")), "t2": User("bob", ())}
    assert load_token_file(tmp_path / "missing.json") == {}
    auth = Authenticator(load_token_file(path))
    assert auth.authenticate(request(authorization="Bearer t2")) == User("bob", ("system:authenticated",))


def test_every_authenticated_user_is_allowed_for_now() -> None:
    assert Authorizer().allowed(ALICE, "delete", "apps", "deployments", "default")
