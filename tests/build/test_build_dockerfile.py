"""The Dockerfile parser: instructions, continuations, directives, exec and shell forms, flags, and errors with line numbers."""

from __future__ import annotations

import pytest

from kybernetes.build.dockerfile import Instruction, arg_decls, parse
from kybernetes.build.errors import DockerfileError


def only(text: str) -> Instruction:
    df = parse("FROM scratch\n" + text)
    assert len(df.stages[0].instructions) == 1
    return df.stages[0].instructions[0]


@pytest.mark.parametrize(("text", "keyword", "args", "json"), [
    ("RUN echo hi", "RUN", ("echo hi",), False),
    ('RUN ["echo", "hi"]', "RUN", ("echo", "hi"), True),
    ('RUN [ "echo" , "a b" ]', "RUN", ("echo", "a b"), True),
    ("RUN [echo hi]", "RUN", ("[echo hi]",), False),
    ("run   echo   spaced", "RUN", ("echo   spaced",), False),
    ('CMD ["/bin/sh"]', "CMD", ("/bin/sh",), True),
    ("CMD []", "CMD", (), True),
    ("ENTRYPOINT exec top -b", "ENTRYPOINT", ("exec top -b",), False),
    ('SHELL ["/bin/ash", "-eo", "pipefail", "-c"]', "SHELL", ("/bin/ash", "-eo", "pipefail", "-c"), True),
    ("COPY a b /dest/", "COPY", ("a", "b", "/dest/"), False),
    ('COPY ["a b", "/dest dir/"]', "COPY", ("a b", "/dest dir/"), True),
    ("ADD archive.tar.gz /opt", "ADD", ("archive.tar.gz", "/opt"), False),
    ("WORKDIR /my app", "WORKDIR", ("/my app",), False),
    ("USER nobody:nogroup", "USER", ("nobody:nogroup",), False),
    ("EXPOSE 80 443/udp", "EXPOSE", ("80", "443/udp"), False),
    ("VOLUME /data /logs", "VOLUME", ("/data", "/logs"), False),
    ('VOLUME ["/data"]', "VOLUME", ("/data",), True),
    ("STOPSIGNAL SIGQUIT", "STOPSIGNAL", ("SIGQUIT",), False),
    ("MAINTAINER Jane Doe <jane@example.com>", "MAINTAINER", ("Jane Doe <jane@example.com>",), False),
    ("ARG A B=2 C=\"x y\"", "ARG", ("A", "B=2", 'C="x y"'), False),
    ("ONBUILD RUN echo child", "ONBUILD", ("RUN echo child",), False),
    ("HEALTHCHECK NONE", "HEALTHCHECK", ("NONE",), False),
    ('HEALTHCHECK --interval=5s CMD ["wget", "-q", "localhost"]', "HEALTHCHECK", ("CMD", "wget", "-q", "localhost"), True),
    ("HEALTHCHECK CMD wget -q localhost || exit 1", "HEALTHCHECK", ("CMD", "wget -q localhost || exit 1"), False),
], ids=lambda v: v if isinstance(v, str) else None)
def test_instructions_split_as_buildkit_does(text: str, keyword: str, args: tuple[str, ...], json: bool) -> None:
    ins = only(text)
    assert (ins.keyword, ins.args, ins.json) == (keyword, args, json)


@pytest.mark.parametrize(("text", "pairs"), [
    ("ENV A=1", (("A", "1"),)),
    ('ENV A=1 B="two words" C=x\\ y', (("A", "1"), ("B", '"two words"'), ("C", "x\\ y"))),
    ("ENV LEGACY value with spaces", (("LEGACY", "value with spaces"),)),
    ("ENV EMPTY=", (("EMPTY", ""),)),
    ('LABEL "com.example.vendor"="ACME Inc" version=1.0', (('"com.example.vendor"', '"ACME Inc"'), ("version", "1.0"))),
    ("LABEL multi.label1=value1 multi.label2=value2", (("multi.label1", "value1"), ("multi.label2", "value2"))),
], ids=["one", "quoted-and-escaped", "legacy-form", "empty-value", "quoted-keys", "several"])
def test_env_and_label_keep_quotes_for_substitution_time(text: str, pairs: tuple[tuple[str, str], ...]) -> None:
    assert only(text).pairs == pairs


@pytest.mark.parametrize(("text", "flags", "args"), [
    ("COPY --from=build /out /app", (("from", "build"),), ("/out", "/app")),
    ("COPY --chown=1000:1000 --chmod=755 a /b", (("chown", "1000:1000"), ("chmod", "755")), ("a", "/b")),
    ('COPY --chown="app user" a /b', (("chown", "app user"),), ("a", "/b")),
    ("COPY --link a /b", (("link", "true"),), ("a", "/b")),
    ("RUN --network=none echo hi", (("network", "none"),), ("echo hi",)),
    ("RUN -- --not-a-flag", (), ("--not-a-flag",)),
], ids=["from", "chown-chmod", "quoted-value", "boolean", "run-network", "double-dash"])
def test_builder_flags_come_first_and_lose_their_quotes(text: str, flags: tuple[tuple[str, str], ...], args: tuple[str, ...]) -> None:
    ins = only(text)
    assert (ins.flags, ins.args) == (flags, args)


def test_continuations_join_lines_as_written_and_skip_comments_and_blank_lines() -> None:
    df = parse(
        "FROM scratch\n"
        "RUN echo a \\\n"
        "    # a comment inside\n"
        "\n"
        "    b \\\n"
        "  c\n"
        "COPY x y\n"
    )
    run, copy = df.stages[0].instructions
    assert run.args == ("echo a     b   c",)
    assert (run.line, run.end_line) == (2, 6)
    assert copy.line == 7


def test_directives_set_the_escape_token_only_at_the_top() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\nRUN dir c:\\ `\n  /b\n")
    assert (df.escape, df.syntax) == ("`", "docker/dockerfile:1")
    assert df.stages[0].instructions[0].args == ("dir c:\\   /b",)
    late = parse("FROM scratch\n# escape=`\nRUN a `\n")
    assert late.escape == "\\"
    assert late.stages[0].instructions[0].args == ("a `",)


def test_a_comment_ends_the_directives() -> None:
    df = parse("# hello\n# escape=`\nFROM scratch\n")
    assert df.escape == "\\"


def test_stages_meta_args_and_names() -> None:
    df = parse("ARG BASE=scratch\nARG V\nFROM ${BASE} AS Build\nRUN a\nFROM build\nCOPY --from=0 / /\n")
    assert [i.args for i in df.meta_args] == [("BASE=scratch",), ("V",)]
    assert [(s.index, s.name, s.base) for s in df.stages] == [(0, "build", "${BASE}"), (1, "", "build")]
    assert df.stage_index("BUILD") == 0 and df.stage_index("1") == 1 and df.stage_index("nope") is None
    assert [(d.name, d.default) for d in arg_decls(df.meta_args[0])] == [("BASE", "scratch")]
    assert arg_decls(df.meta_args[1])[0].default is None


@pytest.mark.parametrize(("text", "line", "message"), [
    ("FROM scratch\nRUN true\n\n# c\nFOOBAR baz\n", 5, "unknown instruction: FOOBAR"),
    ("FROM scratch\nfoobar baz\n", 2, "unknown instruction: foobar"),
    ("FROM scratch\nRUNN true\n", 2, "unknown instruction: RUNN (did you mean RUN?)"),
    ("RUN true\nFROM scratch\n", 1, "RUN before the first FROM: only ARG may come before FROM"),
    ("FROM a b\n", 1, "FROM requires either one or three arguments"),
    ("FROM a AS 1st\n", 1, "invalid name for build stage: '1st', name can't start with a number or contain symbols"),
    ("FROM a AS x\nFROM b AS x\n", 2, "duplicate stage name 'x'"),
    ("FROM scratch\nCOPY onlyone\n", 2, "COPY requires at least two arguments, but got 1"),
    ("FROM scratch\nENV\n", 2, "ENV requires at least one argument"),
    ("FROM scratch\nENV A=1 B\n", 2, "Syntax error - can't find = in 'B'. Must be of the form: name=value"),
    ("FROM scratch\nENV ALONE\n", 2, "ENV must have two arguments"),
    ("FROM scratch\nSHELL /bin/sh -c\n", 2, "SHELL requires the arguments to be in JSON form"),
    ('FROM scratch\nCMD ["a", 1]\n', 2, "when using JSON array syntax, arrays must be comprised of strings only"),
    ("FROM scratch\nCOPY --frm=a b c\n", 2, "unknown flag: --frm"),
    ("FROM scratch\nCOPY --from a b\n", 2, "missing a value on flag: --from"),
    ("FROM scratch\nCOPY --from=a --from=b c d\n", 2, "duplicate flag specified: --from"),
    ("FROM scratch\nRUN --chown=1 true\n", 2, "unknown flag: --chown"),
    ("FROM scratch\nUSER a b\n", 2, "USER requires exactly one argument"),
    ("FROM scratch\nWORKDIR\n", 2, "WORKDIR requires exactly one argument"),
    ("FROM scratch\nONBUILD ONBUILD RUN x\n", 2, "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("FROM scratch\nONBUILD FROM x\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
    ("FROM scratch\nONBUILD BOGUS x\n", 2, "unknown instruction: BOGUS"),
    ("FROM scratch\nARG 9lives\n", 2, "ARG names can only contain letters, digits and underscores: '9lives'"),
    ("FROM scratch\nHEALTHCHECK --interval=1s\n", 2, "HEALTHCHECK requires NONE or CMD followed by a command"),
    ("# escape=x\nFROM scratch\n", 1, "invalid escape token 'x' does not match ` or \\"),
    ("", 0, "the Dockerfile has no instructions"),
    ("# only a comment\nARG A\n", 0, "the Dockerfile has no FROM instruction"),
], ids=lambda v: v if isinstance(v, str) and "\n" not in v and v else None)
def test_errors_name_the_file_and_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        parse(text, file="Dockerfile.dev")
    assert (info.value.line, info.value.message) == (line, message)
    assert str(info.value) == (f"Dockerfile.dev:{line}: {message}" if line else f"Dockerfile.dev: {message}")


def test_continued_instruction_errors_report_their_first_line() -> None:
    with pytest.raises(DockerfileError, match=r"^Dockerfile:3: unknown instruction: NOPE$"):
        parse("FROM scratch\nRUN true\nNOPE a \\\n b \\\n c\n")


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted() -> None:
    df = parse("\ufeffFROM scratch\r\nRUN a \\\r\n b\r\n")
    assert df.stages[0].instructions[0].args == ("a  b",)


def test_the_original_text_is_kept_for_step_output() -> None:
    ins = only("copy   --from=x  a b")
    assert ins.original == "COPY --from=x  a b"
