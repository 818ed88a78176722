"""Field selectors parse and match as upstream's k8s.io/apimachinery/pkg/fields.ParseSelector."""

from __future__ import annotations

import pytest

from kybernetes.api.fields import (
    FieldRequirement,
    FieldSelectorError,
    escape_value,
    parse_field_selector,
    unescape_value,
)


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("metadata.name=web", [("metadata.name", "web", False)]),
        ("metadata.name==web", [("metadata.name", "web", False)]),
        ("status.phase!=Running", [("status.phase", "Running", True)]),
        ("spec.nodeName=", [("spec.nodeName", "", False)]),
        (
            "status.phase!=Failed,metadata.name=web",
            [("metadata.name", "web", False), ("status.phase", "Failed", True)],
        ),
        (",metadata.name=web,,", [("metadata.name", "web", False)]),
        ("a=x\\,y", [("a", "x,y", False)]),
        ("a=x\\=y", [("a", "x=y", False)]),
        ("a=x\\\\y", [("a", "x\\y", False)]),
        ("a=x\\,y,b=z", [("a", "x,y", False), ("b", "z", False)]),
        ("a!=\\=b", [("a", "=b", True)]),
        (" a = b ", [(" a ", " b ", False)]),
    ],
    ids=[
        "equals",
        "double-equals",
        "not-equals",
        "empty-value",
        "several-sorted",
        "empty-terms-skipped",
        "escaped-comma",
        "escaped-equals",
        "escaped-backslash",
        "escaped-comma-does-not-split",
        "escaped-equals-after-not-equals",
        "spaces-are-kept",
    ],
)
def test_selectors_parse_into_upstreams_requirements(text: str, requirements: list[tuple[str, str, bool]]) -> None:
    parsed = parse_field_selector(text)
    assert [(r.field, r.value, r.negate) for r in parsed.requirements] == requirements


@pytest.mark.parametrize("text", [None, ""], ids=["none", "empty"])
def test_no_selector_selects_everything(text: str | None) -> None:
    selector = parse_field_selector(text)
    assert selector.empty
    assert selector.matches({"metadata.name": "x"})
    assert selector.fields() == set()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a=x\\y", "invalid field selector: invalid escape sequence: \\y"),
        ("a=x\\", "invalid field selector: invalid escape sequence: \\"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        ("a\\=b=c", "invalid field selector: unescaped character in value: 61"),
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("a=b,oops", "invalid selector: 'a=b,oops'; can't understand 'oops'"),
        ("  ", "invalid selector: '  '; can't understand '  '"),
        ("a<b", "invalid selector: 'a<b'; can't understand 'a<b'"),
    ],
    ids=[
        "unknown-escape",
        "trailing-backslash",
        "unescaped-equals-in-value",
        "no-escapes-in-the-field-name",
        "no-operator",
        "one-bad-term",
        "only-spaces",
        "label-only-operator",
    ],
)
def test_bad_selectors_fail_with_upstreams_message(text: str, message: str) -> None:
    with pytest.raises(FieldSelectorError) as info:
        parse_field_selector(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "fields", "matches"),
    [
        ("metadata.name=web", {"metadata.name": "web"}, True),
        ("metadata.name=web", {"metadata.name": "db"}, False),
        ("status.phase!=Running", {"status.phase": "Pending"}, True),
        ("status.phase!=Running", {"status.phase": "Running"}, False),
        ("spec.nodeName=", {}, True),
        ("spec.nodeName!=", {}, False),
        ("metadata.name=web,status.phase=Running", {"metadata.name": "web", "status.phase": "Pending"}, False),
        ("a=x\\,y", {"a": "x,y"}, True),
    ],
    ids=["equal", "different", "not-equal", "not-equal-same", "missing-is-empty", "missing-not-empty", "all-must-match", "escaped"],
)
def test_selectors_match_fields_as_upstream(text: str, fields: dict[str, str], matches: bool) -> None:
    assert parse_field_selector(text).matches(fields) is matches


@pytest.mark.parametrize(
    ("text", "name", "value"),
    [
        ("metadata.name=web", "metadata.name", "web"),
        ("metadata.name==web", "metadata.name", "web"),
        ("metadata.name!=web", "metadata.name", None),
        ("metadata.namespace=default", "metadata.name", None),
        ("metadata.name=b,metadata.name=a", "metadata.name", "a"),
        ("metadata.name=a\\,b", "metadata.name", "a,b"),
        ("", "metadata.name", None),
    ],
    ids=["equals", "double-equals", "not-equals-is-no-exact-match", "other-field", "first-after-sorting", "unescaped", "empty"],
)
def test_exact_reports_the_value_an_equality_requires(text: str, name: str, value: str | None) -> None:
    assert parse_field_selector(text).exact(name) == value


def test_fields_lists_every_field_used() -> None:
    assert parse_field_selector("a=1,b!=2,a=3").fields() == {"a", "b"}


@pytest.mark.parametrize(
    ("literal", "escaped"),
    [("plain", "plain"), ("a,b", "a\\,b"), ("a=b", "a\\=b"), ("a\\b", "a\\\\b"), ("\\,=", "\\\\\\,\\=")],
    ids=["plain", "comma", "equals", "backslash", "all"],
)
def test_escaping_round_trips(literal: str, escaped: str) -> None:
    assert escape_value(literal) == escaped
    assert unescape_value(escaped) == literal
    assert parse_field_selector(f"f={escaped}").exact("f") == literal


def test_requirements_print_with_escaped_values() -> None:
    assert str(FieldRequirement("a", "x,y", negate=True)) == "a!=x\\,y"
    assert str(parse_field_selector("b=2,a!=1")) == "a!=1,b=2"
