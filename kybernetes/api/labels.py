"""Label selectors: parsing the query-string syntax, matching labels, and formatting as kubectl shows them.

Grammar (k8s.io/apimachinery/pkg/labels): requirements joined by ',' (AND), each one of
`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k` (does not exist),
and the numeric `k>v`, `k<v` (rarely used; kept for completeness).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from kybernetes.api.validation import is_qualified_name, is_valid_label_value


class SelectorError(ValueError):
    """SelectorError is a selector string that cannot be parsed; the message is shown to the user."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in ("=", "in"):
            return self.key in labels and labels[self.key] in self.values
        if op in ("!=", "notin"):
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        if op in ("gt", "lt"):
            if self.key not in labels:
                return False
            try:
                have = int(labels[self.key])
                want = int(self.values[0])
            except ValueError:
                return False
            return have > want if op == "gt" else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return "!" + self.key
        if op in ("in", "notin"):
            return f"{self.key} {op} ({','.join(self.values)})"
        if op == "gt":
            return f"{self.key}>{self.values[0]}"
        if op == "lt":
            return f"{self.key}<{self.values[0]}"
        return f"{self.key}{op}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class Selector:
    """Selector is a conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()
    # A selector that matches nothing (a nil metav1.LabelSelector in a controller's spec).
    nothing: bool = False

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = Selector()
NOTHING = Selector(nothing=True)

_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


def _tokens(text: str) -> list[str]:
    pos = 0
    out: list[str] = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise SelectorError(f"unable to parse requirement: found '{text[pos:]}'")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _check_key(key: str) -> None:
    errs = is_qualified_name(key)
    if errs:
        raise SelectorError(f'unable to parse requirement: values[0][{key}]: Invalid value: "{key}": {errs[0]}'.replace("values[0]", "key"))


def _check_value(key: str, value: str) -> None:
    errs = is_valid_label_value(value)
    if errs:
        raise SelectorError(f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": {errs[0]}')


def parse_selector(text: str | None) -> Selector:
    """Parse a labelSelector query parameter; raise SelectorError with a message as upstream's."""
    if text is None or not text.strip():
        return EVERYTHING
    toks = _tokens(text)
    reqs: list[Requirement] = []
    i = 0
    n = len(toks)

    def expect_more() -> None:
        if i >= n:
            raise SelectorError(f"found '', expected: identifier after '{toks[-1]}'" if toks else "empty selector")

    while i < n:
        tok = toks[i]
        if tok == "!":
            i += 1
            expect_more()
            key = toks[i]
            _check_key(key)
            reqs.append(Requirement(key, "!"))
            i += 1
        else:
            key = tok
            if key in ("=", "==", "!=", "(", ")", ",", ">", "<"):
                raise SelectorError(f"found '{key}', expected: !, identifier, or 'end of string'")
            _check_key(key)
            i += 1
            if i >= n or toks[i] == ",":
                reqs.append(Requirement(key, "exists"))
            else:
                op = toks[i]
                i += 1
                if op in ("=", "==", "!="):
                    value = ""
                    if i < n and toks[i] != ",":
                        value = toks[i]
                        i += 1
                    _check_value(key, value)
                    reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
                elif op in (">", "<"):
                    expect_more()
                    value = toks[i]
                    i += 1
                    try:
                        int(value)
                    except ValueError:
                        raise SelectorError(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer") from None
                    reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
                elif op.lower() in ("in", "notin"):
                    if i >= n or toks[i] != "(":
                        raise SelectorError(f"found '{toks[i] if i < n else ''}', expected: '('")
                    i += 1
                    values: list[str] = []
                    while True:
                        if i >= n:
                            raise SelectorError("found '', expected: ')'")
                        if toks[i] == ")":
                            i += 1
                            break
                        if toks[i] == ",":
                            i += 1
                            continue
                        _check_value(key, toks[i])
                        values.append(toks[i])
                        i += 1
                    reqs.append(Requirement(key, op.lower(), tuple(sorted(set(values)))))
                else:
                    raise SelectorError(f"found '{op}', expected: '=', '!=', '==', 'in', notin'")
        if i < n:
            if toks[i] != ",":
                raise SelectorError(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= n:
                raise SelectorError("found '', expected: identifier after ','")
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))


_EXPR_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def selector_from_label_selector(label_selector: Mapping[str, Any] | None) -> Selector:
    """metav1.LabelSelectorAsSelector: nil matches nothing, empty matches everything."""
    if label_selector is None:
        return NOTHING
    reqs: list[Requirement] = []
    for key, value in (label_selector.get("matchLabels") or {}).items():
        reqs.append(Requirement(key, "=", (str(value),)))
    for expr in label_selector.get("matchExpressions") or []:
        op = _EXPR_OPS.get(expr.get("operator", ""))
        if op is None:
            raise SelectorError(f'"{expr.get("operator")}" is not a valid label selector operator')
        reqs.append(Requirement(expr.get("key", ""), op, tuple(sorted(expr.get("values") or ()))))
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))


def selector_from_map(labels: Mapping[str, str] | None) -> Selector:
    """A ReplicationController/Service style selector (a plain map); empty or nil matches nothing."""
    if not labels:
        return NOTHING
    return Selector(tuple(Requirement(k, "=", (str(v),)) for k, v in sorted(labels.items())))


def selector_to_string(label_selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: `<none>` for nil, `<none>`-free text otherwise."""
    if label_selector is None:
        return "<none>"
    try:
        text = str(selector_from_label_selector(label_selector))
    except SelectorError:
        return "<error>"
    if not label_selector.get("matchLabels") and not label_selector.get("matchExpressions"):
        return "<none>"
    return text or "<none>"


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: sorted `k=v,k2=v2`, or `<none>`."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
