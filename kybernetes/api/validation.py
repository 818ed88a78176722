"""Validation rules shared by every kind: names, labels, annotations, selectors and object metadata.

The `is_*` checks return upstream's messages (k8s.io/apimachinery/pkg/util/validation) as a list,
empty when the value is fine; the `validate_*` functions return FieldErrors with paths.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable

from kybernetes.api.errors import FieldError, duplicate, forbidden, invalid, not_supported, required, too_long

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
DNS1035_LABEL_MAX = 63
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
TOTAL_ANNOTATION_SIZE = 256 * 1024

_dns1123_label = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_dns1123_subdomain = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_dns1035_label = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_qualified_name = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_label_value = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_c_identifier = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_config_map_key = re.compile(r"^[-._a-zA-Z0-9]+$")
_port_name_chars = re.compile(r"^[-a-z0-9]+$")
_port_name_letter = re.compile(r"[a-z]")

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + QUALIFIED_NAME_FMT + ")?"


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Upstream's RegexError, spacing included: `(e.g. 'a',  or 'b', regex used for validation is '…')`."""
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    return msg + " (e.g. " + " or ".join(f"'{e}', " for e in examples) + "regex used for validation is '" + fmt + "')"


def _max_len(length: int) -> str:
    return f"must be no more than {length} characters"


def is_dns1123_label(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        errs.append(_max_len(DNS1123_LABEL_MAX))
    if not _dns1123_label.match(value):
        if _dns1123_subdomain.match(value):
            # A valid subdomain that is not a label can only be wrong by its dots; upstream says so.
            errs.append("must not contain dots")
            return errs
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                "and must start and end with an alphanumeric character",
                DNS1123_LABEL_FMT,
                "my-name",
                "123-abc",
            )
        )
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _dns1123_subdomain.match(value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character",
                DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1035_LABEL_MAX:
        errs.append(_max_len(DNS1035_LABEL_MAX))
    if not _dns1035_label.match(value):
        errs.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


def is_qualified_name(value: str) -> list[str]:
    """A label or annotation key: an optional DNS subdomain prefix and '/', then a name part."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + "must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            _regex_error(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character",
                QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + _max_len(QUALIFIED_NAME_MAX))
    if not _qualified_name.match(name):
        errs.append(
            "name part "
            + _regex_error(
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character",
                QUALIFIED_NAME_FMT,
                "MyName",
                "my.name",
                "123-abc",
            )
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > LABEL_VALUE_MAX:
        errs.append(_max_len(LABEL_VALUE_MAX))
    if not _label_value.match(value):
        errs.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character",
                LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def is_valid_port_num(port: Any) -> list[str]:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return ["must be between 1 and 65535, inclusive"]
    return []


def is_valid_port_name(name: str) -> list[str]:
    """An IANA_SVC_NAME: at most 15 characters, lower-case letters, digits and '-', at least one letter."""
    errs: list[str] = []
    if len(name) > 15:
        errs.append(_max_len(15))
    if not _port_name_chars.match(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _port_name_letter.search(name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_c_identifier(value: str) -> list[str]:
    if not _c_identifier.match(value):
        return [
            _regex_error(
                "a valid C identifier must start with alphabetic character or '_', followed by a string of "
                "alphanumeric characters or '_'",
                "[A-Za-z_][A-Za-z0-9_]*",
                "my_name",
                "MY_NAME",
                "MyName",
            )
        ]
    return []


def is_env_var_name(value: str) -> list[str]:
    """Upstream (1.30+) accepts any printable ASCII except '=' in environment variable names."""
    if not value:
        return ["environment variable name must be non-empty"]
    if any(ch == "=" or not (32 <= ord(ch) <= 126) for ch in value):
        return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]
    return []


def is_config_map_key(value: str) -> list[str]:
    errs: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        errs.append(_max_len(DNS1123_SUBDOMAIN_MAX))
    if not _config_map_key.match(value):
        errs.append(
            _regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                "[-._a-zA-Z0-9]+",
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def is_valid_ip(value: str) -> list[str]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []


# ----- field-level validators -------------------------------------------------------------


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if labels is None:
        return errs
    if not isinstance(labels, dict):
        return [invalid(path, labels, "must be a map of string keys and values")]
    for key, value in labels.items():
        for msg in is_qualified_name(key):
            errs.append(invalid(path, key, msg))
        if not isinstance(value, str):
            errs.append(invalid(f"{path}", value, "label values must be strings"))
            continue
        for msg in is_valid_label_value(value):
            errs.append(invalid(path, value, msg))
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if annotations is None:
        return errs
    if not isinstance(annotations, dict):
        return [invalid(path, annotations, "must be a map of string keys and values")]
    total = 0
    for key, value in annotations.items():
        for msg in is_qualified_name(key.lower()):
            errs.append(invalid(path, key, msg))
        total += len(key.encode()) + len((value if isinstance(value, str) else str(value)).encode())
    if total > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(path, "", TOTAL_ANNOTATION_SIZE))
    return errs


_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: Any, path: str) -> list[FieldError]:
    """metav1.LabelSelector: matchLabels as labels, matchExpressions with valid operators and values."""
    errs: list[FieldError] = []
    if selector is None:
        return errs
    if not isinstance(selector, dict):
        return [invalid(path, selector, "must be a label selector")]
    errs.extend(validate_labels(selector.get("matchLabels"), f"{path}.matchLabels"))
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        epath = f"{path}.matchExpressions[{i}]"
        op = expr.get("operator")
        values = expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{epath}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(f"{epath}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(f"{epath}.operator", op, "not a valid selector operator"))
        key = expr.get("key") or ""
        for msg in is_qualified_name(key):
            errs.append(invalid(f"{epath}.key", key, msg))
        for vi, value in enumerate(values):
            for msg in is_valid_label_value(str(value)):
                errs.append(invalid(f"{epath}.values[{vi}]", value, msg))
    return errs


def validate_nonnegative(value: Any, path: str) -> list[FieldError]:
    if value is not None and isinstance(value, (int, float)) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def validate_immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    if new != old:
        return [invalid(path, new, "field is immutable")]
    return []


_OWNER_REQUIRED = ("apiVersion", "kind", "name", "uid")
# Finalizers the system itself uses; any other must be domain-qualified (`example.com/cleanup`).
# Finalizers Namespace spec.finalizers may carry without a domain.
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def validate_object_meta(
    meta: dict[str, Any],
    *,
    namespaced: bool,
    name_rule: Callable[[str], list[str]] = is_dns1123_subdomain,
    path: str = "metadata",
) -> list[FieldError]:
    """ValidateObjectMeta: name or generateName, namespace presence, labels, annotations, owners, finalizers."""
    errs: list[FieldError] = []
    name = meta.get("name") or ""
    generate_name = meta.get("generateName") or ""
    if generate_name:
        # Upstream masks a trailing '-' (the generated suffix follows it) before checking the prefix.
        masked = generate_name[:-1] + "a" if len(generate_name) > 1 and generate_name.endswith("-") else generate_name
        for msg in name_rule(masked):
            errs.append(invalid(f"{path}.generateName", generate_name, msg))
    if not name:
        errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        for msg in name_rule(name):
            errs.append(invalid(f"{path}.name", name, msg))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            errs.append(required(f"{path}.namespace"))
        else:
            for msg in is_dns1123_label(namespace):
                errs.append(invalid(f"{path}.namespace", namespace, msg))
    elif namespace:
        errs.append(forbidden(f"{path}.namespace", "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int) and generation < 0:
        errs.append(invalid(f"{path}.generation", generation, "must be greater than or equal to 0"))
    errs.extend(validate_labels(meta.get("labels"), f"{path}.labels"))
    errs.extend(validate_annotations(meta.get("annotations"), f"{path}.annotations"))
    controllers: list[str] = []
    for ref in meta.get("ownerReferences") or []:
        # Upstream reports owner errors at the list path, without an index.
        rpath = f"{path}.ownerReferences"
        api_version = ref.get("apiVersion") or ""
        version = api_version.split("/")[-1] if api_version else ""
        if not version:
            errs.append(invalid(f"{rpath}.apiVersion", api_version, "version must not be empty"))
        for key in ("kind", "name", "uid"):
            if not ref.get(key):
                errs.append(invalid(f"{rpath}.{key}", ref.get(key, ""), "must not be empty"))
        if api_version == "v1" and ref.get("kind") == "Event":
            errs.append(invalid(rpath, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller"):
            controllers.append(f"{ref.get('kind')}/{ref.get('name')}")
    if len(controllers) > 1:
        errs.append(invalid(
            f"{path}.ownerReferences", meta.get("ownerReferences"),
            "Only one reference can have Controller set to true. Found \"true\" in references for " + " and ".join(controllers),
        ))
    finalizers = meta.get("finalizers") or []
    for i, fin in enumerate(finalizers):
        if not isinstance(fin, str):
            errs.append(invalid(f"{path}.finalizers[{i}]", fin, "must be a string"))
            continue
        # Unqualified names are accepted (upstream only warns); the standard-name rule is the Namespace spec's.
        for msg in is_qualified_name(fin):
            errs.append(invalid(f"{path}.finalizers", fin, msg))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(f"{path}.finalizers", finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def validate_object_meta_update(new: dict[str, Any], old: dict[str, Any], path: str = "metadata") -> list[FieldError]:
    """ValidateObjectMetaUpdate: identity fields may not change."""
    errs: list[FieldError] = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if (new.get(key) or "") != (old.get(key) or ""):
            errs.append(invalid(f"{path}.{key}", new.get(key) or "", "field is immutable"))
    if new.get("deletionTimestamp") != old.get("deletionTimestamp"):
        errs.append(invalid(f"{path}.deletionTimestamp", new.get("deletionTimestamp"), "field is immutable"))
    if old.get("deletionTimestamp"):
        added = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if added:
            shown = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
            errs.append(forbidden(f"{path}.finalizers", f"no new finalizers can be added if the object is being deleted, found new finalizers {shown}"))
    if new.get("deletionGracePeriodSeconds") != old.get("deletionGracePeriodSeconds"):
        errs.append(invalid(f"{path}.deletionGracePeriodSeconds", new.get("deletionGracePeriodSeconds"), "field is immutable"))
    if int(new.get("generation") or 0) < int(old.get("generation") or 0):
        errs.append(invalid(f"{path}.generation", new.get("generation"), "must not be decremented"))
    return errs


def validate_enum(value: Any, path: str, supported: tuple[str, ...]) -> list[FieldError]:
    if value not in supported:
        return [not_supported(path, value, sorted(supported))]
    return []
