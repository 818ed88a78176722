"""Shell words: quote removal and `$VAR` substitution in Dockerfile arguments, as BuildKit's shell lexer does them.

Outside quotes the escape token (`\\` or a backtick) takes the next character literally. Single
quotes keep everything literally; double quotes allow `$` substitution and escaping of `"`, `$` and
the escape token only. Substitutions: `$NAME`, `${NAME}`, `${NAME:-word}` (word if unset or empty),
`${NAME-word}` (if unset), `${NAME:+word}` (word if set and non-empty), `${NAME+word}` (if set),
`${NAME:?msg}`/`${NAME?msg}` (an error), `${NAME#pat}`, `${NAME##pat}`, `${NAME%pat}`, `${NAME%%pat}`
(remove the shortest/longest matching prefix/suffix). Unset names expand to nothing.
"""

from __future__ import annotations

import re
from typing import Mapping

from kybernetes.build.errors import BuildError

_SPECIAL_PARAMS = "@*#?-$!0"


class SubstitutionError(BuildError):
    """SubstitutionError: a word with an unterminated quote or a malformed `${...}`."""


def process_word(word: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """process_word removes quotes and substitutes variables in `word`, keeping its whitespace."""
    return _Lexer(word, env, escape).process_stop_on("")


class _Lexer:
    """_Lexer walks one word; its methods mirror BuildKit's shellWord."""

    def __init__(self, word: str, env: Mapping[str, str], escape: str) -> None:
        self.text = word
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        if self.pos >= len(self.text):
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def process_stop_on(self, stop: str) -> str:
        out: list[str] = []
        while (ch := self.peek()) != "":
            if stop and ch == stop:
                self.next()
                return "".join(out)
            if ch == "'":
                out.append(self.single_quote())
            elif ch == '"':
                out.append(self.double_quote())
            elif ch == "$":
                out.append(self.dollar())
            else:
                ch = self.next()
                if ch == self.escape:
                    ch = self.next()
                    if ch == "":
                        break  # an escape at the very end is dropped
                out.append(ch)
        if stop:
            raise SubstitutionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out)

    def single_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.next()
            if ch == "":
                raise SubstitutionError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == "":
                raise SubstitutionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if following == "":
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        chars: list[str] = []
        while (ch := self.peek()) != "":
            if not chars and ch.isdigit():
                while self.peek().isdigit():
                    chars.append(self.next())
                return "".join(chars)
            if not chars and ch in _SPECIAL_PARAMS:
                return self.next()
            if not (ch.isalnum() or ch == "_"):
                break
            chars.append(self.next())
        return "".join(chars)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.env.get(name, "") if name else "$"
        self.next()
        if self.peek() == "":
            raise SubstitutionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise SubstitutionError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        value = self.env.get(name)
        if ch == "}":
            return value or ""
        if ch == "":
            raise SubstitutionError("syntax error: missing '}'")
        colon = ch == ":"
        modifier = self.next() if colon else ch
        if modifier in ("#", "%") and self.peek() == modifier and not colon:
            modifier += self.next()
        word = self._word_until_brace()
        if modifier == "-":
            return word if value is None or (colon and value == "") else value
        if modifier == "+":
            return "" if value is None or (colon and value == "") else word
        if modifier == "?":
            if value is None:
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}")
            if colon and value == "":
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if not colon and modifier in ("#", "##", "%", "%%"):
            return _trim(value or "", word, modifier)
        raise SubstitutionError(f"unsupported modifier ({modifier}) in substitution")

    def _word_until_brace(self) -> str:
        try:
            return self.process_stop_on("}")
        except SubstitutionError:
            raise SubstitutionError("syntax error: missing '}'") from None


def _trim(value: str, pattern: str, how: str) -> str:
    """_trim removes the shortest (`#`, `%`) or longest (`##`, `%%`) prefix or suffix matching the glob `pattern`."""
    regex = re.compile(glob_regex(pattern, separator=""), re.DOTALL)
    spans = range(len(value) + 1)
    if how.startswith("#"):
        order = reversed(spans) if how == "##" else spans
        for n in order:
            if regex.fullmatch(value[:n]):
                return value[n:]
    else:
        order = spans if how == "%%" else reversed(spans)
        for n in order:
            if regex.fullmatch(value[n:]):
                return value[:n]
    return value


def glob_regex(pattern: str, *, separator: str = "/") -> str:
    """glob_regex translates a Go filepath.Match pattern (`*`, `?`, `[a-z]`, `[^a]`, `\\x`) to a regex.

    `*` and `?` never match `separator` (none when empty), as in Go.
    """
    not_sep = f"[^{re.escape(separator)}]" if separator else "."
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(not_sep + "*")
        elif ch == "?":
            out.append(not_sep)
        elif ch == "\\" and i < len(pattern):
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 1 if pattern[i:i + 1] in ("^", "!") else i)
            if end < 0:
                out.append(re.escape(ch))
                continue
            body = pattern[i:end]
            i = end + 1
            negate = body[:1] in ("^", "!")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"[{'^' if negate else ''}{body}]")
        else:
            out.append(re.escape(ch))
    return "".join(out)
