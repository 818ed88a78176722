"""Label selectors parse, match and print as upstream's k8s.io/apimachinery/pkg/labels does."""

from __future__ import annotations

import pytest

from kybernetes.api.labels import (
    EVERYTHING,
    NOTHING,
    Requirement,
    SelectorError,
    format_labels,
    parse_selector,
    selector_from_label_selector,
    selector_from_map,
    selector_to_string,
)

KEY_REGEX = "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'"
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    f"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is {KEY_REGEX})"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation "
    "is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app==web", {"app": "web"}, True),
        ("app==web", {"app": "db"}, False),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {"app": "web"}, False),
        ("app!=web", {}, True),
        ("env in (prod,staging)", {"env": "staging"}, True),
        ("env in (prod,staging)", {"env": "dev"}, False),
        ("env in (prod,staging)", {}, False),
        ("env notin (prod,staging)", {"env": "dev"}, True),
        ("env notin (prod,staging)", {"env": "prod"}, False),
        ("env notin (prod,staging)", {}, True),
        ("tier", {"tier": ""}, True),
        ("tier", {"app": "web"}, False),
        ("!tier", {"app": "web"}, True),
        ("!tier", {"tier": "x"}, False),
        ("replicas>2", {"replicas": "3"}, True),
        ("replicas>2", {"replicas": "2"}, False),
        ("replicas>2", {"replicas": "x"}, False),
        ("replicas>2", {}, False),
        ("replicas<2", {"replicas": "-5"}, True),
        ("replicas<2", {"replicas": "2"}, False),
        ("replicas>2", {"replicas": "1_000"}, False),
        ("app=", {"app": ""}, True),
        ("app=", {"app": "x"}, False),
        ("env in ()", {"env": ""}, True),
        ("env in (,prod)", {"env": ""}, True),
        ("app=web,tier", {"app": "web", "tier": "fe"}, True),
        ("app=web,tier", {"app": "web"}, False),
        ("in in (in)", {"in": "in"}, True),
    ],
    ids=[
        "equals",
        "equals-other-value",
        "equals-missing-key",
        "double-equals",
        "double-equals-other-value",
        "not-equals",
        "not-equals-same-value",
        "not-equals-missing-key",
        "in",
        "in-other-value",
        "in-missing-key",
        "notin",
        "notin-listed-value",
        "notin-missing-key",
        "exists-empty-value",
        "exists-missing",
        "does-not-exist",
        "does-not-exist-present",
        "greater-than",
        "greater-than-equal",
        "greater-than-not-a-number",
        "greater-than-missing",
        "less-than-negative",
        "less-than-equal",
        "greater-than-go-would-not-parse",
        "empty-value",
        "empty-value-other",
        "in-empty-parentheses-is-the-empty-value",
        "in-leading-comma-adds-the-empty-value",
        "and-both",
        "and-one-missing",
        "keywords-as-key-and-value",
    ],
)
def test_every_operator_matches_as_upstream(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_selector(selector).matches(labels) is matches


@pytest.mark.parametrize(
    ("selector", "printed"),
    [
        ("app=web", "app=web"),
        ("app==web", "app==web"),
        ("app!=web", "app!=web"),
        ("  app =  web  ", "app=web"),
        ("\tapp\n=\rweb", "app=web"),
        ("x in (b, a ,c)", "x in (a,b,c)"),
        ("x notin(a)", "x notin (a)"),
        ("x in (a,a)", "x in (a)"),
        ("x in (,a)", "x in (,a)"),
        ("x in (a,,b)", "x in (,a,b)"),
        ("z,a=1,!m", "a=1,!m,z"),
        ("n>1,n<9", "n>1,n<9"),
        ("example.com/app=web", "example.com/app=web"),
    ],
    ids=[
        "equals",
        "double-equals-kept",
        "not-equals",
        "spaces",
        "tab-newline-return",
        "in-values-sorted",
        "notin-without-space",
        "duplicate-values-once",
        "empty-value-first",
        "double-comma-is-empty-value",
        "sorted-by-key",
        "gt-lt",
        "prefixed-key",
    ],
)
def test_a_parsed_selector_prints_as_upstreams_string(selector: str, printed: str) -> None:
    assert str(parse_selector(selector)) == printed


@pytest.mark.parametrize("text", [None, "", "   ", "\t\n"], ids=["none", "empty", "spaces", "tab-newline"])
def test_an_empty_selector_matches_everything(text: str | None) -> None:
    selector = parse_selector(text)
    assert selector.empty
    assert selector.matches({"any": "thing"})
    assert selector.matches({})


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a IN (b)", "unable to parse requirement: found 'IN', expected: in, notin, =, ==, !=, gt, lt"),
        ("a!b", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),
        ("a in", "unable to parse requirement: found '' expected: '('"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (b,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        ("a==(", "unable to parse requirement: found '(', expected: identifier"),
        ("app:web", f'unable to parse requirement: <nil>: Invalid value: "app:web": {NAME_PART}'),
        ("!-a", f'unable to parse requirement: <nil>: Invalid value: "-a": {NAME_PART}'),
        (
            "a/b/c=d",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            f"'my.name',  or '123-abc', regex used for validation is {KEY_REGEX}) with an optional DNS subdomain prefix "
            "and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "Example.com/a",
            'unable to parse requirement: <nil>: Invalid value: "Example.com/a": prefix part a lowercase RFC 1123 '
            "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        ("a=b_", f'unable to parse requirement: values[0][a]: Invalid value: "b_": {LABEL_VALUE}'),
        ("x in (zz, a_)", f'unable to parse requirement: values[0][x]: Invalid value: "a_": {LABEL_VALUE}'),
        ("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"),
        ("a<", "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer"),
        (
            "a=" + "v" * 64,
            f'unable to parse requirement: values[0][a]: Invalid value: "{"v" * 64}": must be no more than 63 characters',
        ),
    ],
    ids=[
        "trailing-comma",
        "leading-comma",
        "leading-operator",
        "two-values",
        "two-operators",
        "does-not-exist-with-value",
        "no-operator",
        "upper-case-in",
        "bang-as-operator",
        "bang-alone",
        "not-equals-without-key",
        "in-without-parenthesis-at-end",
        "in-without-parenthesis",
        "unclosed-values",
        "values-without-comma",
        "operator-as-value",
        "operator-after-comma",
        "parenthesis-as-value",
        "colon-in-key",
        "bad-key-after-bang",
        "two-slashes-in-key",
        "upper-case-prefix",
        "bad-value",
        "bad-value-is-indexed-in-sorted-order",
        "gt-not-a-number",
        "lt-without-value",
        "value-too-long",
    ],
)
def test_unparsable_selectors_fail_with_upstreams_message(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_selector(selector)
    assert str(info.value) == message


def test_nil_label_selector_matches_nothing() -> None:
    selector = selector_from_label_selector(None)
    assert selector is NOTHING
    assert not selector.empty
    assert not selector.matches({})
    assert not selector.matches({"app": "web"})


def test_empty_label_selector_matches_everything() -> None:
    for spec in ({}, {"matchLabels": {}, "matchExpressions": []}):
        selector = selector_from_label_selector(spec)
        assert selector.empty
        assert selector.matches({})
        assert selector.matches({"app": "web"})


@pytest.mark.parametrize(
    ("spec", "labels", "matches"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "db"}, False),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}, {"env": "b"}, True),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["a"]}]}, {"env": "a"}, False),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {"env": ""}, True),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, {"env": "a"}, False),
        (
            {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]},
            {"app": "web", "env": "dev"},
            False,
        ),
    ],
    ids=[
        "match-labels",
        "match-labels-other-value",
        "in",
        "in-missing",
        "notin-missing",
        "notin-listed",
        "exists",
        "exists-missing",
        "does-not-exist",
        "does-not-exist-present",
        "labels-and-expressions-together",
    ],
)
def test_label_selector_requirements_match_as_upstream(spec: dict, labels: dict[str, str], matches: bool) -> None:
    assert selector_from_label_selector(spec).matches(labels) is matches


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, '"Gt" is not a valid label selector operator'),
        ({"matchExpressions": [{"key": "a", "operator": "in", "values": ["x"]}]}, '"in" is not a valid label selector operator'),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist',
        ),
        ({"matchLabels": {"a b": "x"}}, f'key: Invalid value: "a b": {NAME_PART}'),
        ({"matchLabels": {"a": "x y"}}, f'values[0][a]: Invalid value: "x y": {LABEL_VALUE}'),
    ],
    ids=["gt-operator", "lower-case-operator", "in-without-values", "exists-with-values", "bad-key", "bad-value"],
)
def test_invalid_label_selectors_fail_as_label_selector_as_selector(spec: dict, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        selector_from_label_selector(spec)
    assert str(info.value) == message


def test_selector_from_map_requires_every_pair() -> None:
    selector = selector_from_map({"b": "2", "a": "1"})
    assert str(selector) == "a=1,b=2"
    assert selector.requirements == (Requirement("a", "=", ("1",)), Requirement("b", "=", ("2",)))
    assert selector.matches({"a": "1", "b": "2", "c": "3"})
    assert not selector.matches({"a": "1"})


@pytest.mark.parametrize("labels", [None, {}], ids=["nil", "empty"])
def test_selector_from_an_empty_map_matches_nothing(labels: dict[str, str] | None) -> None:
    # A Service or ReplicationController without a selector selects no pods at all.
    assert selector_from_map(labels) is NOTHING
    assert not selector_from_map(labels).matches({"app": "web"})


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (None, "<none>"),
        ({}, "<none>"),
        ({"matchLabels": {}, "matchExpressions": []}, "<none>"),
        ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2"),
        (
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "env", "operator": "NotIn", "values": ["qa", "dev"]},
                    {"key": "tier", "operator": "Exists"},
                    {"key": "canary", "operator": "DoesNotExist"},
                ],
            },
            "app=web,!canary,env notin (dev,qa),tier",
        ),
        ({"matchExpressions": [{"key": "a", "operator": "Near"}]}, "<error>"),
    ],
    ids=["nil", "empty", "empty-lists", "match-labels-sorted", "expressions", "invalid"],
)
def test_format_label_selector_shows_none_for_nil_and_empty(spec: dict | None, text: str) -> None:
    assert selector_to_string(spec) == text


@pytest.mark.parametrize(
    ("labels", "text"),
    [(None, "<none>"), ({}, "<none>"), ({"b": "2", "a": "1"}, "a=1,b=2"), ({"app": ""}, "app=")],
    ids=["nil", "empty", "sorted", "empty-value"],
)
def test_format_labels_is_sorted_pairs_or_none(labels: dict[str, str] | None, text: str) -> None:
    assert format_labels(labels) == text


def test_everything_and_nothing_are_opposites() -> None:
    assert EVERYTHING.empty and EVERYTHING.matches({})
    assert not NOTHING.empty and not NOTHING.matches({})
    assert str(EVERYTHING) == "" and str(NOTHING) == ""
