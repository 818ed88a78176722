"""Variable substitution and quote removal in Dockerfile words, as BuildKit's shell lexer does them."""

from __future__ import annotations

import pytest

from kybernetes.build.shell import SubstitutionError, process_word

ENV = {"NAME": "world", "EMPTY": "", "PATH": "/usr/bin:/bin", "FILE": "archive.tar.gz", "SPACED": "a  b"}


@pytest.mark.parametrize(("word", "expected"), [
    ("plain", "plain"),
    ("$NAME", "world"),
    ("${NAME}", "world"),
    ("hello-$NAME-!", "hello-world-!"),
    ("${NAME}s", "worlds"),
    ("$NAMEs", ""),
    ("$UNSET", ""),
    ("${UNSET}x", "x"),
    ("$", "$"),
    ("a$", "a$"),
    ("$/x", "$/x"),
    ("${UNSET:-fallback}", "fallback"),
    ("${EMPTY:-fallback}", "fallback"),
    ("${NAME:-fallback}", "world"),
    ("${UNSET-fallback}", "fallback"),
    ("${EMPTY-fallback}", ""),
    ("${NAME:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${UNSET:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET:-$NAME}", "world"),
    ("${UNSET:-${ALSO:-deep}}", "deep"),
    ("${FILE%.gz}", "archive.tar"),
    ("${FILE%%.*}", "archive"),
    ("${FILE#*.}", "tar.gz"),
    ("${FILE##*.}", "gz"),
    ("${SPACED}", "a  b"),
    ("'$NAME'", "$NAME"),
    ('"$NAME"', "world"),
    ('"${NAME} and \\"quotes\\""', 'world and "quotes"'),
    ('"a\\b"', "a\\b"),
    ('"\\$NAME"', "$NAME"),
    ("\\$NAME", "$NAME"),
    ("a\\ b", "a b"),
    ("x\\", "x"),
    ('"it\'s"', "it's"),
    ("'a \"b\" c'", 'a "b" c'),
    ('mixed"$NAME"\'$NAME\'', "mixedworld$NAME"),
    ("$PATH:/opt/bin", "/usr/bin:/bin:/opt/bin"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_words_substitute_as_docker_does(word: str, expected: str) -> None:
    assert process_word(word, ENV) == expected


def test_the_backtick_escape_token() -> None:
    assert process_word("a` b", ENV, escape="`") == "a b"
    assert process_word("c:\\dir", ENV, escape="`") == "c:\\dir"
    assert process_word('"`$NAME"', ENV, escape="`") == "$NAME"


@pytest.mark.parametrize(("word", "message"), [
    ("'open", "unexpected end of statement while looking for matching single-quote"),
    ('"open', "unexpected end of statement while looking for matching double-quote"),
    ("${NAME", "syntax error: missing '}'"),
    ("${}", "syntax error: bad substitution"),
    ("${:-x}", "syntax error: bad substitution"),
    ("${UNSET:?must be set}", "UNSET: must be set"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("${NAME:=x}", "unsupported modifier (=) in substitution"),
], ids=lambda v: v)
def test_malformed_words_are_errors(word: str, message: str) -> None:
    with pytest.raises(SubstitutionError) as info:
        process_word(word, ENV)
    assert str(info.value) == message
