"""Label selectors: parsing the query-string syntax, matching labels, and formatting as kubectl shows them.

Grammar (k8s.io/apimachinery/pkg/labels): requirements joined by ',' (AND), each one of
`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists), `!k` (does not exist),
and the numeric `k>v`, `k<v` (rarely used; kept for completeness).

The lexer and parser follow upstream's selector.go step by step, so a bad selector is refused
with upstream's message (kubectl prints it verbatim after "Error from server (BadRequest):").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from kybernetes.api.validation import is_qualified_name, is_valid_label_value


class SelectorError(ValueError):
    """SelectorError is a selector string that cannot be parsed; the message is shown to the user."""


# Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no underscores or spaces.
_INT64 = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _parse_int64(text: str) -> int | None:
    if not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str  # "=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in ("=", "==", "in"):
            return self.key in labels and labels[self.key] in self.values
        if op in ("!=", "notin"):
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        if op in ("gt", "lt"):
            if self.key not in labels or len(self.values) != 1:
                return False
            have = _parse_int64(labels[self.key])
            want = _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == "gt" else have < want
        return False

    def __str__(self) -> str:
        """Requirement.String(): `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k>1`."""
        op = self.operator
        if op == "exists":
            return self.key
        if op == "!":
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if op in ("in", "notin"):
            return f"{self.key} {op} ({values})"
        if op == "gt":
            return f"{self.key}>{values}"
        if op == "lt":
            return f"{self.key}<{values}"
        return f"{self.key}{op}{values}"


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


# ----- NewRequirement: the checks and messages of upstream's constructor ---------------------

_SUPPORTED_OPERATORS = ("in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!")


def _go_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _go_strings(values: Sequence[str]) -> str:
    """Go's %#v of a []string, as field.Invalid renders a slice value (an empty one is nil there)."""
    if not values:
        return "[]string(nil)"
    return "[]string{" + ", ".join(_go_quote(v) for v in values) + "}"


def _field_invalid(path: str, value: str, detail: str) -> str:
    return f"{path}: Invalid value: {value}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, several in brackets (duplicates once)."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def _key_error(key: str, path: str) -> str | None:
    errs = is_qualified_name(key)
    if errs:
        return _field_invalid(path, _go_quote(key), "; ".join(errs))
    return None


def _new_requirement(key: str, op: str, values: Sequence[str]) -> Requirement:
    """labels.NewRequirement: validate key, operator, value count and values; raise with upstream's message."""
    errs: list[str] = []
    key_err = _key_error(key, "key")
    if key_err:
        errs.append(key_err)
    if op in ("in", "notin"):
        if not values:
            errs.append(_field_invalid("values", _go_strings(values), "for 'in', 'notin' operators, values set can't be empty"))
    elif op in ("=", "==", "!="):
        if len(values) != 1:
            errs.append(_field_invalid("values", _go_strings(values), "exact-match compatibility requires one single value"))
    elif op in ("exists", "!"):
        if values:
            errs.append(_field_invalid("values", _go_strings(values), "values set must be empty for exists and does not exist"))
    elif op in ("gt", "lt"):
        if len(values) != 1:
            errs.append(_field_invalid("values", _go_strings(values), "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, value in enumerate(values):
            if _parse_int64(value) is None:
                errs.append(_field_invalid(f"values[{i}]", _go_quote(value), "for 'Gt', 'Lt' operators, the value must be an integer"))
    else:
        supported = ", ".join(_go_quote(o) for o in _SUPPORTED_OPERATORS)
        errs.append(f"operator: Unsupported value: {_go_quote(op)}: supported values: {supported}")
    for i, value in enumerate(values):
        msgs = is_valid_label_value(value)
        if msgs:
            errs.append(_field_invalid(f"values[{i}][{key}]", _go_quote(value), "; ".join(msgs)))
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, op, tuple(values))


# ----- the lexer -------------------------------------------------------------------------------

_WHITESPACE = " \t\r\n"
_SPECIAL = "=!(),><"
_END, _ID = "end", "id"
# Literal → token kind; identifiers and the end of the string have their own kinds.
_KEYWORDS = {")": ")", ",": ",", "!": "!", "==": "==", "=": "=", ">": ">", "in": "in", "<": "<", "!=": "!=", "notin": "notin", "(": "("}


def _lex(text: str) -> list[tuple[str, str]]:
    """Lexer.Lex repeated to the end: (kind, literal) pairs ending with (end, '')."""
    out: list[tuple[str, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            out.append((_END, ""))
            return out
        if text[pos] in _SPECIAL:
            # scanSpecialSymbol: grow while the buffer is still a known symbol.
            buf = text[pos]
            end = pos + 1
            while end < n and text[end] in _SPECIAL and (buf + text[end]) in _KEYWORDS:
                buf += text[end]
                end += 1
            out.append((_KEYWORDS[buf], buf))
            pos = end
            continue
        end = pos
        while end < n and text[end] not in _SPECIAL and text[end] not in _WHITESPACE:
            end += 1
        word = text[pos:end]
        out.append((_KEYWORDS.get(word, _ID), word))
        pos = end


# ----- the parser ------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.items[self.pos]
        if values and kind in ("in", "notin"):
            kind = _ID
        return kind, lit

    def consume(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.lookahead(values)
        self.pos += 1
        return kind, lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.lookahead()
            if kind in (_ID, "!"):
                try:
                    reqs.append(self.requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                kind, lit = self.consume()
                if kind == _END:
                    return reqs
                if kind == ",":
                    kind2, lit2 = self.lookahead()
                    if kind2 not in (_ID, "!"):
                        raise SelectorError(f"found '{lit2}', expected: identifier after ','")
                    continue
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            if kind == _END:
                return reqs
            raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        key, op = self.key_and_inferred_operator()
        if op in ("exists", "!"):
            return _new_requirement(key, op, [])
        op = self.operator()
        if op in ("in", "notin"):
            values = self.values()
        else:
            values = self.exact_value()
        return _new_requirement(key, op, sorted(values))

    def key_and_inferred_operator(self) -> tuple[str, str]:
        op = ""
        kind, lit = self.consume()
        if kind == "!":
            op = "!"
            kind, lit = self.consume()
        if kind != _ID:
            raise SelectorError(f"found '{lit}', expected: identifier")
        err = _key_error(lit, "<nil>")
        if err:
            raise SelectorError(err)
        if self.lookahead()[0] in (_END, ","):
            if op != "!":
                op = "exists"
        return lit, op

    def operator(self) -> str:
        kind, lit = self.consume(values=False)
        ops = {"in": "in", "=": "=", "==": "==", ">": "gt", "<": "lt", "notin": "notin", "!=": "!="}
        if kind not in ops:
            raise SelectorError(f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt")
        return ops[kind]

    def values(self) -> set[str]:
        kind, lit = self.consume()
        if kind != "(":
            raise SelectorError(f"found '{lit}' expected: '('")
        kind, lit = self.lookahead()
        if kind in (_ID, ","):
            values = self.identifiers()
            if self.consume()[0] != ")":
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if kind == ")":
            self.consume()
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            kind, lit = self.consume()
            if kind == _ID:
                values.add(lit)
                kind2, lit2 = self.lookahead()
                if kind2 == ",":
                    continue
                if kind2 == ")":
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if kind == ",":
                if not values:
                    values.add("")  # "(,"
                kind2, _ = self.lookahead()
                if kind2 in (")", ","):
                    values.add("")  # ",)" and ",,"
                if kind2 == ")":
                    return values
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        kind, _ = self.lookahead()
        if kind in (_END, ","):
            return {""}
        kind, lit = self.consume()
        if kind == _ID:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_selector(text: str | None) -> Selector:
    """labels.Parse: the labelSelector query parameter; raise SelectorError with upstream's message."""
    if text is None:
        return EVERYTHING
    reqs = _Parser(text).parse()
    if not reqs:
        return EVERYTHING
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))


_EXPR_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def selector_from_label_selector(label_selector: Mapping[str, Any] | None) -> Selector:
    """metav1.LabelSelectorAsSelector: nil matches nothing, empty matches everything."""
    if label_selector is None:
        return NOTHING
    match_labels = label_selector.get("matchLabels") or {}
    expressions = label_selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    reqs: list[Requirement] = []
    for key, value in match_labels.items():
        reqs.append(_new_requirement(str(key), "=", [str(value)]))
    for expr in expressions:
        operator = expr.get("operator", "")
        op = _EXPR_OPS.get(operator)
        if op is None:
            raise SelectorError(f"{_go_quote(str(operator))} is not a valid label selector operator")
        reqs.append(_new_requirement(str(expr.get("key", "")), op, [str(v) for v in expr.get("values") or ()]))
    return Selector(tuple(sorted(reqs, key=lambda r: r.key)))


def selector_from_map(labels: Mapping[str, str] | None) -> Selector:
    """A ReplicationController/Service style selector (a plain map); empty or nil matches nothing."""
    if not labels:
        return NOTHING
    return Selector(tuple(Requirement(k, "=", (str(v),)) for k, v in sorted(labels.items())))


def selector_to_string(label_selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: `<none>` for nil or empty, `<error>` when it cannot be built."""
    try:
        text = str(selector_from_label_selector(label_selector))
    except SelectorError:
        return "<error>"
    return text or "<none>"


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: sorted `k=v,k2=v2`, or `<none>`."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
