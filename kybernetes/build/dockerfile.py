"""Dockerfile parser: text to stages of instructions, following BuildKit's parser and instructions packages.

Lines are read as BuildKit reads them: parser directives (`# syntax=`, `# escape=`) only at the very
top; whole-line comments anywhere, also inside a continuation; the escape token at the end of a
line continues it (the pieces are joined as written, without a separator). Builder flags
(`--from=…`) come first; the rest is the JSON exec form (`["a", "b"]`) when it parses as a JSON
array of strings, else the shell form. Words keep their quotes here: substitution and quote
removal happen at build time, when the variables are known (see `shell`).

Every error carries the instruction's first line: `Dockerfile:7: unknown instruction: FOOBAR`.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Callable

from kybernetes.build.errors import DockerfileError

INSTRUCTIONS = (
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
)

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")

_ErrorFactory = Callable[[str], DockerfileError]

# Flags each instruction accepts; the value says whether it is a boolean flag.
_FLAGS: dict[str, dict[str, bool]] = {
    "FROM": {"platform": False},
    "RUN": {"network": False, "mount": False, "security": False},
    "COPY": {"from": False, "chown": False, "chmod": False, "link": True},
    "ADD": {"chown": False, "chmod": False, "link": True, "checksum": False, "keep-git-dir": True},
    "HEALTHCHECK": {"interval": False, "timeout": False, "start-period": False, "start-interval": False, "retries": False},
}


@dataclass(frozen=True, slots=True)
class Instruction:
    """Instruction is one Dockerfile instruction as written, split but not yet substituted."""

    keyword: str
    """Upper case: `RUN`."""
    args: tuple[str, ...] = ()
    """Words, JSON elements, or (shell form) the one string of the rest of the line."""
    flags: tuple[tuple[str, str], ...] = ()
    """Builder flags in order, without the leading `--` (a bare boolean flag has the value `true`)."""
    json: bool = False
    """The arguments were written in JSON exec form."""
    pairs: tuple[tuple[str, str], ...] = ()
    """ENV and LABEL: (key, value) as written; ARG: (name, default), default `None` spelled as no pair value."""
    original: str = ""
    """The instruction's text, continuations joined."""
    line: int = 0
    """First line (1-based)."""
    end_line: int = 0

    def flag(self, name: str, default: str = "") -> str:
        for key, value in self.flags:
            if key == name:
                return value
        return default

    def has_flag(self, name: str) -> bool:
        return any(key == name for key, _ in self.flags)


@dataclass(frozen=True, slots=True)
class ArgDecl:
    """ArgDecl is one name of an ARG instruction, with its default as written (`None`: no default)."""

    name: str
    default: str | None


@dataclass(slots=True)
class Stage:
    """Stage is a FROM and the instructions up to the next FROM."""

    index: int
    base: str
    """The image (or earlier stage) FROM names, before substitution."""
    name: str = ""
    """The `AS` name, lower case; empty when unnamed."""
    platform: str = ""
    from_instruction: Instruction = field(default_factory=lambda: Instruction("FROM"))
    instructions: list[Instruction] = field(default_factory=list)


@dataclass(slots=True)
class Dockerfile:
    """Dockerfile is a parsed Dockerfile: the ARGs before the first FROM, and the stages."""

    meta_args: list[Instruction]
    stages: list[Stage]
    escape: str = "\\"
    syntax: str = ""
    file: str = "Dockerfile"

    def stage_index(self, name: str) -> int | None:
        """stage_index finds a stage by `AS` name (case-insensitive) or by number."""
        lowered = name.lower()
        for stage in self.stages:
            if stage.name and stage.name == lowered:
                return stage.index
        if name.isdigit() and int(name) < len(self.stages):
            return int(name)
        return None


def parse(text: str, *, file: str = "Dockerfile") -> Dockerfile:
    """parse reads a Dockerfile; raises DockerfileError naming the file and line of the first problem."""
    instructions, escape, syntax = _read_instructions(text, file)
    meta: list[Instruction] = []
    stages: list[Stage] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            stages.append(_stage(ins, len(stages), file))
        elif not stages:
            if ins.keyword != "ARG":
                raise DockerfileError(f"{ins.keyword} before the first FROM: only ARG may come before FROM", file=file, line=ins.line)
            meta.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError("the Dockerfile has no FROM instruction" if instructions else "the Dockerfile has no instructions", file=file)
    names: dict[str, int] = {}
    for stage in stages:
        if stage.name:
            if stage.name in names:
                raise DockerfileError(f"duplicate stage name {stage.name!r}", file=file, line=stage.from_instruction.line)
            names[stage.name] = stage.index
    return Dockerfile(meta, stages, escape, syntax, file)


def parse_line(text: str, *, escape: str = "\\", file: str = "Dockerfile", line: int = 0) -> Instruction:
    """parse_line parses one instruction (an ONBUILD trigger, say) already joined into one line."""
    return _instruction(text, escape, file, line, line)


def arg_decls(ins: Instruction) -> list[ArgDecl]:
    """arg_decls are the names an ARG instruction declares, each with its default as written."""
    out = []
    for word in ins.args:
        name, sep, default = word.partition("=")
        out.append(ArgDecl(name, default if sep else None))
    return out


# --- lines --------------------------------------------------------------------------------------


def _read_instructions(text: str, file: str) -> tuple[list[Instruction], str, str]:
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    escape, syntax = "\\", ""
    directives_done = False
    seen: set[str] = set()
    out: list[Instruction] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if not directives_done:
            match = _DIRECTIVE.match(raw)
            if match is None:
                directives_done = True
            else:
                key, value = match.group(1).lower(), match.group(2)
                if key in ("escape", "syntax", "check"):
                    if key in seen:
                        raise DockerfileError(f"only one {key} parser directive can be used", file=file, line=i)
                    seen.add(key)
                    if key == "escape":
                        if value not in ("\\", "`"):
                            raise DockerfileError(f"invalid escape token {value!r} does not match ` or \\", file=file, line=i)
                        escape = value
                    elif key == "syntax":
                        syntax = value
                    continue
                directives_done = True  # an unknown directive is a comment, and ends the directives
        stripped = raw.lstrip(" \t")
        if stripped.startswith("#") or not stripped.strip():
            continue
        start = i
        line, more = _trim_continuation(stripped, escape)
        while more and i < len(lines):
            nxt = lines[i]
            i += 1
            if nxt.lstrip(" \t").startswith("#") or not nxt.strip():
                continue  # comments and empty lines inside a continuation are skipped
            piece, more = _trim_continuation(nxt, escape)
            line += piece
        if not line.strip():
            continue
        out.append(_instruction(line, escape, file, start, i))
    return out, escape, syntax


def _trim_continuation(line: str, escape: str) -> tuple[str, bool]:
    match = re.search(re.escape(escape) + r"[ \t]*$", line)
    if match is None:
        return line, False
    return line[: match.start()], True


# --- one instruction ----------------------------------------------------------------------------


def _instruction(line: str, escape: str, file: str, start: int, end: int) -> Instruction:
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    word = parts[0]
    keyword = word.upper()
    rest = parts[1] if len(parts) > 1 else ""
    if keyword not in INSTRUCTIONS:
        hint = difflib.get_close_matches(keyword, INSTRUCTIONS, n=1, cutoff=0.75)
        suffix = f" (did you mean {hint[0]}?)" if hint else ""
        raise DockerfileError(f"unknown instruction: {word}{suffix}", file=file, line=start)

    def error(message: str) -> DockerfileError:
        return DockerfileError(message, file=file, line=start)

    rest, raw_flags = _extract_flags(rest)
    flags = _check_flags(keyword, raw_flags, error)
    original = f"{keyword} {line.strip()[len(word):].strip()}".rstrip()
    base = dict(keyword=keyword, flags=flags, original=original, line=start, end_line=end)

    if keyword in ("RUN", "CMD", "ENTRYPOINT", "SHELL"):
        args, is_json = _maybe_json(rest, error)
        if keyword == "SHELL" and not is_json:
            raise error("SHELL requires the arguments to be in JSON form")
        if keyword in ("RUN", "SHELL") and not args:
            raise error(f"{keyword} requires at least one argument")
        return Instruction(args=tuple(args), json=is_json, **base)  # type: ignore[arg-type]
    if keyword in ("COPY", "ADD", "VOLUME"):
        args, is_json = _maybe_json_list(rest, error)
        if keyword == "VOLUME":
            if not args:
                raise error("VOLUME requires at least one argument")
            if any(not a.strip() for a in args):
                raise error("VOLUME specified can not be an empty string")
        elif len(args) < 2:
            raise error(f"{keyword} requires at least two arguments, but got {len(args)}")
        return Instruction(args=tuple(args), json=is_json, **base)  # type: ignore[arg-type]
    if keyword in ("ENV", "LABEL"):
        pairs = _name_values(rest, keyword, escape, error)
        if not pairs:
            raise error(f"{keyword} requires at least one argument")
        return Instruction(pairs=tuple(pairs), **base)  # type: ignore[arg-type]
    if keyword == "ARG":
        words = _words(rest, escape)
        if not words:
            raise error("ARG requires at least one argument")
        for w in words:
            name = w.partition("=")[0]
            if not name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise error(f"ARG names can only contain letters, digits and underscores: {name!r}")
        return Instruction(args=tuple(words), **base)  # type: ignore[arg-type]
    if keyword in ("FROM", "EXPOSE"):
        args = _WHITESPACE.split(rest) if rest else []
        if keyword == "FROM" and not (len(args) == 1 or (len(args) == 3 and args[1].lower() == "as")):
            raise error("FROM requires either one or three arguments")
        if keyword == "EXPOSE" and not args:
            raise error("EXPOSE requires at least one argument")
        return Instruction(args=tuple(args), **base)  # type: ignore[arg-type]
    if keyword in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"):
        if not rest:
            raise error(f"{keyword} requires exactly one argument")
        if keyword in ("USER", "STOPSIGNAL") and len(_WHITESPACE.split(rest)) != 1:
            raise error(f"{keyword} requires exactly one argument")
        return Instruction(args=(rest,), **base)  # type: ignore[arg-type]
    if keyword == "ONBUILD":
        if not rest:
            raise error("ONBUILD requires at least one argument")
        trigger = _WHITESPACE.split(rest, maxsplit=1)[0].upper()
        if trigger == "ONBUILD":
            raise error("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("FROM", "MAINTAINER"):
            raise error(f"{trigger} isn't allowed as an ONBUILD trigger")
        _instruction(rest, escape, file, start, end)  # the trigger must parse now, not in a child build
        return Instruction(args=(rest,), **base)  # type: ignore[arg-type]
    # HEALTHCHECK NONE | HEALTHCHECK [flags] CMD command
    parts = _WHITESPACE.split(rest, maxsplit=1) if rest else []
    kind = parts[0].upper() if parts else ""
    if kind == "NONE":
        if len(parts) > 1 or flags:
            raise error("HEALTHCHECK NONE takes no arguments")
        return Instruction(args=("NONE",), **base)  # type: ignore[arg-type]
    if kind != "CMD" or len(parts) < 2:
        raise error("HEALTHCHECK requires NONE or CMD followed by a command")
    args, is_json = _maybe_json(parts[1], error)
    return Instruction(args=("CMD", *args), json=is_json, **base)  # type: ignore[arg-type]


def _stage(ins: Instruction, index: int, file: str) -> Stage:
    name = ""
    if len(ins.args) == 3:
        name = ins.args[2].lower()
        if not _STAGE_NAME.match(name):
            raise DockerfileError(f"invalid name for build stage: {ins.args[2]!r}, name can't start with a number or contain symbols",
                                  file=file, line=ins.line)
    return Stage(index=index, base=ins.args[0], name=name, platform=ins.flag("platform"), from_instruction=ins)


def _check_flags(keyword: str, raw: list[str], error: _ErrorFactory) -> tuple[tuple[str, str], ...]:
    allowed = _FLAGS.get(keyword, {})
    seen: dict[str, str] = {}
    for word in raw:
        if not word.startswith("--"):
            raise error(f"arg should start with -- : {word}")
        name, sep, value = word[2:].partition("=")
        if name not in allowed:
            raise error(f"unknown flag: --{name}")
        if name in seen:
            raise error(f"duplicate flag specified: --{name}")
        if allowed[name]:
            if sep and value.lower() not in ("true", "false"):
                raise error(f"expecting boolean value for flag --{name}, not: {value}")
            value = value.lower() if sep else "true"
        elif not sep:
            raise error(f"missing a value on flag: --{name}")
        seen[name] = value
    return tuple(seen.items())


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """_extract_flags splits leading `--flag[=value]` words (quotes removed) off the line, as BuildKit's extractBuilderFlags."""
    words: list[str] = []
    word: list[str] = []
    phase = "space"
    quote = ""
    blank_ok = False
    pos, n = -1, len(line)
    while pos < n:
        pos += 1
        ch = line[pos] if pos < n else ""
        if phase == "space":
            if pos == n:
                break
            if ch.isspace():
                continue
            if not line.startswith("--", pos):
                return line[pos:], words
            phase = "word"
        if pos == n:
            text = "".join(word)
            if text != "--" and (blank_ok or text):
                words.append(text)
            break
        if phase == "word":
            if ch.isspace():
                phase = "space"
                text = "".join(word)
                if text == "--":
                    return line[pos:].lstrip(), words
                if blank_ok or text:
                    words.append(text)
                word, blank_ok = [], False
                continue
            if ch in ("'", '"'):
                quote, blank_ok, phase = ch, True, "quote"
                continue
            if ch == "\\":
                if pos + 1 == n:
                    continue
                pos += 1
                ch = line[pos]
            word.append(ch)
            continue
        if ch == quote:
            phase = "word"
            continue
        if ch == "\\":
            if pos + 1 == n:
                phase = "word"
                continue
            pos += 1
            ch = line[pos]
        word.append(ch)
    return "", words


def _maybe_json(rest: str, error: _ErrorFactory) -> tuple[list[str], bool]:
    """_maybe_json is the exec form when `rest` is a JSON array of strings, else the shell form (one string)."""
    if rest.startswith("["):
        try:
            doc = json.loads(rest)
        except ValueError:
            doc = None
        if isinstance(doc, list):
            if not all(isinstance(x, str) for x in doc):
                raise error("when using JSON array syntax, arrays must be comprised of strings only")
            return doc, True
    return ([rest] if rest else []), False


def _maybe_json_list(rest: str, error: _ErrorFactory) -> tuple[list[str], bool]:
    args, is_json = _maybe_json(rest, error)
    if is_json:
        return args, True
    return (_WHITESPACE.split(rest) if rest else []), False


def _words(rest: str, escape: str) -> list[str]:
    """_words splits on unquoted whitespace, keeping quotes and escapes (BuildKit's parseWords)."""
    words: list[str] = []
    word: list[str] = []
    phase = "space"
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while True:
        if phase == "space":
            if pos >= n:
                break
            if rest[pos].isspace():
                pos += 1
                continue
            phase = "word"
        if pos >= n:
            if blank_ok or word:
                words.append("".join(word))
            break
        ch = rest[pos]
        if phase == "word":
            if ch.isspace():
                phase = "space"
                if blank_ok or word:
                    words.append("".join(word))
                word, blank_ok = [], False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote, blank_ok, phase = ch, True, "quote"
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        # in a quote
        if ch == quote:
            phase = "word"
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            word.append(ch)
            pos += 1
            ch = rest[pos]
        word.append(ch)
        pos += 1
    return words


def _name_values(rest: str, keyword: str, escape: str, error: _ErrorFactory) -> list[tuple[str, str]]:
    """_name_values reads `KEY value` (the legacy form) or `KEY=value ...` as BuildKit's parseNameVal."""
    words = _words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            raise error(f"{keyword} must have two arguments")
        return [(parts[0], parts[1])]
    out = []
    for word in words:
        if "=" not in word:
            raise error(f"Syntax error - can't find = in {word!r}. Must be of the form: name=value")
        key, _, value = word.partition("=")
        out.append((key, value))
    return out
