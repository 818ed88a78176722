"""Name, label and metadata checks give upstream's messages (k8s.io/apimachinery/pkg/util/validation,
pkg/api/validation/objectmeta.go).

Cases marked `upstream_differs` document where kybernetes/api/validation.py still disagrees with
upstream; they are strict xfails, so fixing the module turns them into failures to un-mark.
"""

from __future__ import annotations

import pytest

from kybernetes.api import validation as v


def upstream_differs(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"validation.py differs from upstream: {reason}")


LABEL_RE = "'[a-z0-9]([-a-z0-9]*[a-z0-9])?'"
SUBDOMAIN_RE = "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'"
DNS1123_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    f"with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is {LABEL_RE})"
)
DNS1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    f"and end with an alphanumeric character (e.g. 'example.com', regex used for validation is {SUBDOMAIN_RE})"
)
DNS1035_LABEL = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
    "'[a-z]([-a-z0-9]*[a-z0-9])?')"
)
QUALIFIED = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
    "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation "
    "is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
CONFIG_KEY = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  "
    "or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)
BAD_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


# ----- the is_* checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("my-name", []),
        ("123-abc", []),
        ("a" * 63, []),
        ("a" * 64, ["must be no more than 63 characters"]),
        ("", [DNS1123_LABEL]),
        ("-a", [DNS1123_LABEL]),
        ("a-", [DNS1123_LABEL]),
        ("My-name", [DNS1123_LABEL]),
        ("a_b", [DNS1123_LABEL]),
        pytest.param("a.b", ["must not contain dots"]),
    ],
    ids=["name", "leading-digit", "63", "64", "empty", "leading-hyphen", "trailing-hyphen", "upper-case", "underscore", "dots"],
)
def test_dns1123_labels(value: str, messages: list[str]) -> None:
    assert v.is_dns1123_label(value) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("example.com", []),
        ("a", []),
        ("a" * 253, []),
        ("a" * 254, ["must be no more than 253 characters"]),
        ("a..b", [DNS1123_SUBDOMAIN]),
        (".a", [DNS1123_SUBDOMAIN]),
        ("Example.com", [DNS1123_SUBDOMAIN]),
        ("", [DNS1123_SUBDOMAIN]),
    ],
    ids=["domain", "one-char", "253", "254", "double-dot", "leading-dot", "upper-case", "empty"],
)
def test_dns1123_subdomains(value: str, messages: list[str]) -> None:
    assert v.is_dns1123_subdomain(value) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("abc-123", []),
        ("a" * 64, ["must be no more than 63 characters"]),
        ("1abc", [DNS1035_LABEL]),
        ("a.b", [DNS1035_LABEL]),
        ("", [DNS1035_LABEL]),
    ],
    ids=["name", "64", "leading-digit", "dot", "empty"],
)
def test_dns1035_labels(value: str, messages: list[str]) -> None:
    assert v.is_dns1035_label(value) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("MyName", []),
        ("my.name", []),
        ("123-abc", []),
        ("example.com/MyName", []),
        ("a" * 63, []),
        ("a" * 64, ["name part must be no more than 63 characters"]),
        ("-a", ["name part " + QUALIFIED]),
        ("a b", ["name part " + QUALIFIED]),
        ("/a", ["prefix part must be non-empty"]),
        ("a/", ["name part must be non-empty", "name part " + QUALIFIED]),
        ("", ["name part must be non-empty", "name part " + QUALIFIED]),
        ("Example.com/a", ["prefix part " + DNS1123_SUBDOMAIN]),
        ("a" * 254 + "/a", ["prefix part must be no more than 253 characters"]),
        (
            "a/b/c",
            ["a qualified name " + QUALIFIED + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"],
        ),
    ],
    ids=[
        "mixed-case",
        "dots",
        "leading-digit",
        "prefixed",
        "63",
        "64",
        "leading-hyphen",
        "space",
        "empty-prefix",
        "empty-name",
        "empty",
        "upper-case-prefix",
        "long-prefix",
        "two-slashes",
    ],
)
def test_qualified_names(value: str, messages: list[str]) -> None:
    assert v.is_qualified_name(value) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("", []),
        ("MyValue", []),
        ("my_value", []),
        ("12345", []),
        ("a" * 64, ["must be no more than 63 characters"]),
        ("-a", [LABEL_VALUE]),
        ("a b", [LABEL_VALUE]),
        ("a/b", [LABEL_VALUE]),
    ],
    ids=["empty", "mixed-case", "underscore", "digits", "64", "leading-hyphen", "space", "slash"],
)
def test_label_values(value: str, messages: list[str]) -> None:
    assert v.is_valid_label_value(value) == messages


@pytest.mark.parametrize(
    ("port", "ok"),
    [(1, True), (65535, True), (0, False), (65536, False), (-1, False), ("80", False), (True, False)],
    ids=["1", "65535", "0", "65536", "negative", "string", "bool"],
)
def test_port_numbers(port: object, ok: bool) -> None:
    assert v.is_valid_port_num(port) == ([] if ok else ["must be between 1 and 65535, inclusive"])


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("http", []),
        ("h2c-9", []),
        ("a" * 15, []),
        ("a" * 16, ["must be no more than 15 characters"]),
        ("HTTP", ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)", "must contain at least one letter (a-z)"]),
        ("123", ["must contain at least one letter (a-z)"]),
        ("-http", ["must not begin or end with a hyphen"]),
        ("a--b", ["must not contain consecutive hyphens"]),
        pytest.param(
            "1--2",
            ["must contain at least one letter (a-z)", "must not contain consecutive hyphens"],
        ),
        pytest.param(
            "",
            ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)", "must contain at least one letter (a-z)"],
        ),
    ],
    ids=["http", "digits-and-hyphen", "15", "16", "upper-case", "no-letter", "leading-hyphen", "double-hyphen", "order", "empty"],
)
def test_port_names(name: str, messages: list[str]) -> None:
    assert v.is_valid_port_name(name) == messages


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("MY_VAR", []),
        ("my.var-1", []),
        ("1ST", []),
        ("with space", []),
        ("A=B", ["a valid environment variable name must consist only of printable ASCII characters other than '='"]),
        ("caf\u00e9", ["a valid environment variable name must consist only of printable ASCII characters other than '='"]),
        ("tab\there", ["a valid environment variable name must consist only of printable ASCII characters other than '='"]),
        pytest.param("", ["environment variable name must be non-empty"]),
    ],
    ids=["upper", "dots-and-hyphens", "leading-digit", "space", "equals", "non-ascii", "tab", "empty"],
)
def test_environment_variable_names_are_relaxed(name: str, messages: list[str]) -> None:
    assert v.is_env_var_name(name) == messages


@pytest.mark.parametrize(
    ("key", "messages"),
    [
        ("key.name", []),
        ("KEY_NAME", []),
        ("key-name", []),
        (".dotfile", []),
        ("a b", [CONFIG_KEY]),
        ("a/b", [CONFIG_KEY]),
        (".", ["must not be '.'"]),
        ("..", ["must not be '..'"]),
        ("..a", ["must not start with '..'"]),
        ("a" * 254, ["must be no more than 253 characters"]),
    ],
    ids=["dots", "upper", "hyphen", "leading-dot", "space", "slash", "dot", "dot-dot", "dot-dot-prefix", "254"],
)
def test_config_map_keys(key: str, messages: list[str]) -> None:
    assert v.is_config_map_key(key) == messages


@pytest.mark.parametrize(
    ("ip", "ok"),
    [
        ("10.9.8.7", True),
        ("2001:db8::ffff", True),
        ("::1", True),
        ("10.0.0.300", False),
        ("10.0.0", False),
        ("", False),
        ("example.com", False),
        ("10.0.0.0/8", False),
        pytest.param("fe80::1%eth0", False, marks=upstream_differs("Go's net.ParseIP refuses zoned IPv6 addresses")),
        pytest.param("010.0.0.1", True, marks=upstream_differs("ParseIPSloppy accepts leading zeros in legacy fields")),
    ],
    ids=["ipv4", "ipv6", "loopback6", "octet-too-big", "three-octets", "empty", "name", "cidr", "zoned", "leading-zero"],
)
def test_ip_addresses(ip: str, ok: bool) -> None:
    assert v.is_valid_ip(ip) == ([] if ok else [BAD_IP])


# ----- ObjectMeta on create ------------------------------------------------------------------


def meta_errors(meta: dict, *, namespaced: bool = True, **kwargs: object) -> list[str]:
    return [str(e) for e in v.validate_object_meta(meta, namespaced=namespaced, **kwargs)]


def good_meta(**extra: object) -> dict:
    return {"name": "web", "namespace": "default", **extra}


def test_good_metadata_has_no_errors() -> None:
    meta = good_meta(
        labels={"app": "web", "example.com/tier": ""},
        annotations={"Example.com/Note": "anything at all"},
        ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1", "controller": True}],
        finalizers=["example.com/cleanup", "kubernetes", "orphan"],
    )
    assert meta_errors(meta) == []


@pytest.mark.parametrize(
    ("meta", "namespaced", "expected"),
    [
        ({"namespace": "default"}, True, ["metadata.name: Required value: name or generateName is required"]),
        (good_meta(name="Web_1"), True, [f'metadata.name: Invalid value: "Web_1": {DNS1123_SUBDOMAIN}']),
        ({"generateName": "web-", "name": "web-x7k2p", "namespace": "default"}, True, []),
        (
            {"generateName": "Web-", "name": "Web-x7k2p", "namespace": "default"},
            True,
            [
                f'metadata.generateName: Invalid value: "Web-": {DNS1123_SUBDOMAIN}',
                f'metadata.name: Invalid value: "Web-x7k2p": {DNS1123_SUBDOMAIN}',
            ],
        ),
        pytest.param(
            {"generateName": "web.-", "name": "web.-abcde", "namespace": "default"},
            True,
            [f'metadata.name: Invalid value: "web.-abcde": {DNS1123_SUBDOMAIN}'],
        ),
        ({"name": "web"}, True, ["metadata.namespace: Required value"]),
        ({"name": "node-1", "namespace": "default"}, False, ["metadata.namespace: Forbidden: not allowed on this type"]),
        (good_meta(namespace="Default"), True, [f'metadata.namespace: Invalid value: "Default": {DNS1123_LABEL}']),
        pytest.param(
            good_meta(namespace="a.b"),
            True,
            ['metadata.namespace: Invalid value: "a.b": must not contain dots'],
        ),
        (good_meta(generation=-1), True, ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
        (good_meta(labels={"a b": "x"}), True, [f'metadata.labels: Invalid value: "a b": name part {QUALIFIED}']),
        (good_meta(labels={"app": "-x"}), True, [f'metadata.labels: Invalid value: "-x": {LABEL_VALUE}']),
        (good_meta(annotations={"a b": "x"}), True, [f'metadata.annotations: Invalid value: "a b": name part {QUALIFIED}']),
        (good_meta(annotations={"big": "x" * (256 * 1024)}), True, ["metadata.annotations: Too long: may not be more than 262144 bytes"]),
        (good_meta(annotations={"big": "x" * (256 * 1024 - 3)}), True, []),
        pytest.param(
            good_meta(annotations={"big": "\u00e9" * (128 * 1024)}),
            True,
            ["metadata.annotations: Too long: may not be more than 262144 bytes"],
        ),
    ],
    ids=[
        "name-required",
        "bad-name",
        "generate-name",
        "bad-generate-name",
        "generate-name-masks-trailing-dash",
        "namespace-required",
        "namespace-forbidden",
        "bad-namespace",
        "namespace-with-dots",
        "negative-generation",
        "bad-label-key",
        "bad-label-value",
        "bad-annotation-key",
        "annotations-too-big",
        "annotations-at-the-limit",
        "annotation-size-in-bytes",
    ],
)
def test_object_meta_reports_upstreams_errors(meta: dict, namespaced: bool, expected: list[str]) -> None:
    assert meta_errors(meta, namespaced=namespaced) == expected


def test_a_kind_may_validate_names_with_its_own_rule() -> None:
    assert meta_errors(good_meta(name="a.b"), name_rule=v.is_dns1123_label) == [
        'metadata.name: Invalid value: "a.b": must not contain dots'
    ]
    assert meta_errors(good_meta(name="A_b"), name_rule=v.is_dns1123_label) == [
        f'metadata.name: Invalid value: "A_b": {DNS1123_LABEL}'
    ]


OWNER = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u1"}


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        pytest.param(
            {**OWNER, "apiVersion": ""},
            ['metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty'],
        ),
        pytest.param(
            {**OWNER, "kind": ""},
            ['metadata.ownerReferences.kind: Invalid value: "": must not be empty'],
        ),
        pytest.param(
            {**OWNER, "name": ""},
            ['metadata.ownerReferences.name: Invalid value: "": must not be empty'],
        ),
        pytest.param(
            {**OWNER, "uid": ""},
            ['metadata.ownerReferences.uid: Invalid value: "": must not be empty'],
        ),
    ],
    ids=["api-version", "kind", "name", "uid"],
)
def test_owner_references_need_every_identifying_field(owner: dict, expected: list[str]) -> None:
    assert meta_errors(good_meta(ownerReferences=[owner])) == expected


def test_an_owner_reference_missing_everything_reports_each_field() -> None:
    fields = sorted(e.field.rsplit(".", 1)[-1] for e in v.validate_object_meta(good_meta(ownerReferences=[{}]), namespaced=True))
    assert fields == ["apiVersion", "kind", "name", "uid"]


def test_only_one_owner_reference_may_be_the_controller() -> None:
    refs = [{**OWNER, "name": "a", "controller": True}, {**OWNER, "name": "b", "uid": "u2", "controller": True}]
    errs = v.validate_object_meta(good_meta(ownerReferences=refs), namespaced=True)
    assert [(e.field, e.detail) for e in errs] == [
        (
            "metadata.ownerReferences",
            'Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and ReplicaSet/b',
        )
    ]


def test_two_controllers_are_refused() -> None:
    refs = [{**OWNER, "name": "a", "controller": True}, {**OWNER, "name": "b", "uid": "u2", "controller": True}]
    errs = v.validate_object_meta(good_meta(ownerReferences=refs), namespaced=True)
    assert [e.field for e in errs] == ["metadata.ownerReferences"]
    assert errs[0].detail.startswith("Only one reference can have Controller set to true")


def test_events_may_not_be_owners() -> None:
    refs = [{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u"}]
    errs = v.validate_object_meta(good_meta(ownerReferences=refs), namespaced=True)
    assert [(e.field, e.detail) for e in errs] == [("metadata.ownerReferences", "/v1, Kind=Event is disallowed from being an owner")]


@pytest.mark.parametrize(
    ("finalizers", "expected"),
    [
        (["example.com/cleanup"], []),
        (["kubernetes"], []),
        (["orphan"], []),
        (["foregroundDeletion"], []),
        (["example.com/a b"], [f'metadata.finalizers: Invalid value: "example.com/a b": name part {QUALIFIED}']),
        (["example.com/"], ['metadata.finalizers: Invalid value: "example.com/": name part must be non-empty', f'metadata.finalizers: Invalid value: "example.com/": name part {QUALIFIED}']),
        pytest.param(
            ["cleanup"],
            [],
        ),
        pytest.param(
            ["example.com/a", "example.com/a"],
            [],
        ),
    ],
    ids=["qualified", "kubernetes", "orphan", "foreground", "bad-name", "empty-name-part", "unqualified", "duplicate"],
)
def test_finalizer_names(finalizers: list[str], expected: list[str]) -> None:
    assert meta_errors(good_meta(finalizers=finalizers)) == expected


def test_orphan_and_foreground_deletion_finalizers_conflict() -> None:
    errs = v.validate_object_meta(good_meta(finalizers=["orphan", "foregroundDeletion"]), namespaced=True)
    assert [(e.field, e.detail) for e in errs] == [("metadata.finalizers", "finalizer orphan and foregroundDeletion cannot be both set")]


# ----- ObjectMeta on update ------------------------------------------------------------------

OLD = {
    "name": "web",
    "namespace": "default",
    "uid": "u1",
    "creationTimestamp": "2024-01-01T00:00:00Z",
    "resourceVersion": "5",
    "generation": 2,
}


def update_errors(new: dict, old: dict = OLD) -> list[str]:
    return [str(e) for e in v.validate_object_meta_update(new, old)]


def test_an_unchanged_identity_is_accepted() -> None:
    assert update_errors(dict(OLD, labels={"changed": "yes"})) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": "other"}, 'metadata.name: Invalid value: "other": field is immutable'),
        ({"namespace": "kube-system"}, 'metadata.namespace: Invalid value: "kube-system": field is immutable'),
        ({"uid": "u2"}, 'metadata.uid: Invalid value: "u2": field is immutable'),
        ({"creationTimestamp": "2025-01-01T00:00:00Z"}, 'metadata.creationTimestamp: Invalid value: "2025-01-01T00:00:00Z": field is immutable'),
    ],
    ids=["name", "namespace", "uid", "creation-timestamp"],
)
def test_identity_fields_are_immutable(change: dict, expected: str) -> None:
    assert update_errors({**OLD, **change}) == [expected]


def test_a_deletion_timestamp_may_not_change() -> None:
    old = {**OLD, "deletionTimestamp": "2024-01-02T00:00:00Z"}
    errs = v.validate_object_meta_update({**old, "deletionTimestamp": "2024-01-03T00:00:00Z"}, old)
    assert [(e.field, e.detail) for e in errs] == [("metadata.deletionTimestamp", "field is immutable")]


def test_an_update_may_not_set_a_deletion_timestamp() -> None:
    errs = v.validate_object_meta_update({**OLD, "deletionTimestamp": "2024-01-03T00:00:00Z"}, OLD)
    assert [(e.field, e.detail) for e in errs] == [("metadata.deletionTimestamp", "field is immutable")]


def test_generation_may_not_go_down() -> None:
    assert update_errors({**OLD, "generation": 1}) == ["metadata.generation: Invalid value: 1: must not be decremented"]


def test_no_finalizers_may_be_added_while_deleting() -> None:
    old = {**OLD, "deletionTimestamp": "2024-01-02T00:00:00Z", "finalizers": ["example.com/a"]}
    assert update_errors({**old, "finalizers": ["example.com/a", "example.com/b"]}, old) == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/b"}'
    ]


def test_finalizers_may_be_removed_while_deleting() -> None:
    old = {**OLD, "deletionTimestamp": "2024-01-02T00:00:00Z", "finalizers": ["example.com/a", "example.com/b"]}
    assert update_errors({**old, "finalizers": ["example.com/b"]}, old) == []


def test_finalizers_may_be_added_before_deletion() -> None:
    assert update_errors({**OLD, "finalizers": ["example.com/b"]}) == []


def test_new_finalizers_are_reported_sorted_and_once() -> None:
    old = {**OLD, "deletionTimestamp": "2024-01-02T00:00:00Z"}
    assert update_errors({**old, "finalizers": ["example.com/z", "example.com/a", "example.com/z"]}, old) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, "
        'found new finalizers []string{"example.com/a", "example.com/z"}'
    ]


# ----- label selectors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["a"]}]}, []),
        (
            {"matchExpressions": [{"key": "env", "operator": "In"}]},
            ["spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"],
        ),
        (
            {"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["a"]}]},
            ["spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"],
        ),
        (
            {"matchExpressions": [{"key": "env", "operator": "Near"}]},
            ['spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator'],
        ),
        (
            {"matchLabels": {"a b": "x"}},
            [f'spec.selector.matchLabels: Invalid value: "a b": name part {QUALIFIED}'],
        ),
        pytest.param(
            {"matchExpressions": [{"key": "env", "operator": "In", "values": ["ok", "-bad"]}]},
            [f'spec.selector.matchExpressions[0].values[1]: Invalid value: "-bad": {LABEL_VALUE}'],
        ),
    ],
    ids=["good", "in-without-values", "exists-with-values", "bad-operator", "bad-match-label", "bad-value-indexed"],
)
def test_label_selectors(selector: dict, expected: list[str]) -> None:
    assert [str(e) for e in v.validate_label_selector(selector, "spec.selector")] == expected
