"""Field selectors: `a=b,c!=d` over a per-kind set of selectable fields.

Parsed as upstream's fields.ParseSelector: terms split at unescaped ',' and sorted, each term
split at the first '!=', '==' or '=', and the value unescaped (`\\,`, `\\=` and `\\\\`; any other
escape, a trailing '\\' or an unescaped '=' in the value is an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


class FieldSelectorError(ValueError):
    """FieldSelectorError is an unparsable selector or an unsupported field label."""


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        have = fields.get(self.field, "")
        return (have != self.value) if self.negate else (have == self.value)

    def __str__(self) -> str:
        return f"{self.field}{'!=' if self.negate else '='}{escape_value(self.value)}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def exact(self, name: str) -> str | None:
        """RequiresExactMatch: the value required by the first `name=value`, used to narrow a list to one key."""
        for r in self.requirements:
            if r.field == name and not r.negate:
                return r.value
        return None

    def fields(self) -> set[str]:
        return {r.field for r in self.requirements}

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_value(value: str) -> str:
    """fields.EscapeValue: a literal value made safe for a selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(value: str) -> str:
    """fields.UnescapeValue, with its errors."""
    if not any(ch in value for ch in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for ch in value:
        if in_slash:
            if ch not in "\\,=":
                raise FieldSelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch in ",=":
            # Go prints the rune with %v: its code point.
            raise FieldSelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if in_slash:
        raise FieldSelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """splitTerms: split at commas not preceded by a backslash; escapes are kept."""
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, ch in enumerate(text):
        if in_slash:
            in_slash = False
        elif ch == "\\":
            in_slash = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


_OPERATORS = ("!=", "==", "=")


def _split_term(term: str) -> tuple[str, str, str] | None:
    """splitTerm: the first operator from the left (no escaping in the field name)."""
    for i in range(len(term)):
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse_field_selector(text: str | None) -> FieldSelector:
    """fields.ParseSelector: the fieldSelector query parameter."""
    if not text:
        return FieldSelector()
    reqs: list[FieldRequirement] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        reqs.append(FieldRequirement(field, unescape_value(raw), op == "!="))
    return FieldSelector(tuple(reqs))
