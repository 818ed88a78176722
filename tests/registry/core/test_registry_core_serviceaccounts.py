"""ServiceAccounts: the catalogue entry, name rules and the SECRETS cell."""

from __future__ import annotations

from kybernetes.registry.core.serviceaccounts import STRATEGY


def test_service_accounts_are_catalogued_as_upstream() -> None:
    assert (STRATEGY.plural, STRATEGY.singular, STRATEGY.short_names, STRATEGY.subresources) == ("serviceaccounts", "serviceaccount", ("sa",), ("token",))
    assert [c.name for c in STRATEGY.columns] == ["Name", "Secrets", "Age"]


def test_names_must_be_dns_subdomains(create) -> None:
    _, errors = create(STRATEGY, {"metadata": {"name": "Builder", "namespace": "default"}})
    assert len(errors) == 1 and errors[0].startswith('metadata.name: Invalid value: "Builder": a lowercase RFC 1123 subdomain')
    _, errors = create(STRATEGY, {"metadata": {"name": "ci.builder", "namespace": "default"}})
    assert errors == []


def test_the_secrets_cell_counts_listed_secrets(clock) -> None:
    obj = {"metadata": {"name": "default", "creationTimestamp": "2024-05-01T11:59:58Z"}, "secrets": [{"name": "t1"}, {"name": "t2"}]}
    assert STRATEGY.row(obj) == ["default", 2, "2s"]
    assert STRATEGY.row({"metadata": {"name": "bare"}}) == ["bare", 0, "<unknown>"]
