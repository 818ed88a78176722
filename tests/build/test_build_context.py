""".dockerignore patterns (Docker's patternmatcher cases), context walking, wildcards and paths that stay inside a root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kybernetes.build.context import BuildContext, PatternMatcher, digest_entries, read_ignore_file, resolve_in_root
from kybernetes.build.errors import ContextError

# From moby/patternmatcher's TestMatches.
MATCHES = [
    ("**", "file", True), ("**", "dir/file", True), ("**/", "file", True), ("**/**", "dir/file", True),
    ("dir/**", "dir/file", True), ("dir/**", "dir/dir2/file", True), ("**/dir", "dir", True), ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True), ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**file", "file", True), ("**file", "dir/file", True), ("**/file", "dir/file", True), ("**file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True), ("**/file*txt", "dir/dir/file.txt", True), ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False), ("**/*.txt", "file.txt", True), ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True), ("a**/*.txt", "a/dir/file.txt", True), ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False), ("a/*.txt", "a/file.txt", True), ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False), ("a[b-d]e", "ace", True), ("a[b-d]e", "aae", False), ("a[^b-d]e", "aze", True),
    (".*", ".foo", True), (".*", "foo", False), ("abc.def", "abcdef", False), ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False), ("abc?def", "abcZdef", True), ("abc?def", "abcdef", False), ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True), ("**/foo/bar", "dir/foo/bar", True), ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False), ("abc/**", "abc/def", True), ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True), ("**/.foo", "bar.foo", False), ("a(b)c/def", "a(b)c/def", True), ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("dir", "dir/sub/file", True), ("/abs", "abs/file", True), ("./rel/../x", "x", True),
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), MATCHES, ids=[f"{p}|{f}" for p, f, _ in MATCHES])
def test_patterns_match_a_path_or_its_parents(pattern: str, path: str, excluded: bool) -> None:
    assert PatternMatcher.from_lines(read_ignore_file(pattern)).excluded(path) is excluded


@pytest.mark.parametrize(("patterns", "path", "excluded"), [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md"], "CHANGES.md", True),
    (["!README.md", "*.md"], "README.md", True),
    (["docs", "!docs/keep.txt"], "docs/keep.txt", False),
    (["docs", "!docs/keep.txt"], "docs/drop.txt", True),
], ids=["reinclude-dir", "exclude-again", "reinclude-wildcard", "last-wins", "others-excluded", "order-matters",
        "reinclude-in-excluded-dir", "rest-of-dir"])
def test_the_last_matching_pattern_decides(patterns: list[str], path: str, excluded: bool) -> None:
    assert PatternMatcher.from_lines(patterns).excluded(path) is excluded


def test_the_ignore_file_skips_comments_and_blanks_and_cleans_patterns() -> None:
    text = "\ufeff# comment\n\n  node_modules  \n!  keep.txt\n/abs/path\n./x/../y/\n #not-a-comment\n"
    assert read_ignore_file(text) == ["node_modules", "!keep.txt", "abs/path", "y", "#not-a-comment"]


def test_a_lone_exclamation_mark_is_an_error() -> None:
    with pytest.raises(ContextError, match="illegal exclusion pattern"):
        PatternMatcher.from_lines(["!"])


def make_tree(root: Path, files: dict[str, str]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data)


def test_walking_skips_ignored_files_but_keeps_reincluded_ones(tmp_path: Path) -> None:
    make_tree(tmp_path, {"app/main.py": "", "app/cache/x.pyc": "", "docs/keep.txt": "", "docs/drop.txt": "", "top.md": ""})
    (tmp_path / ".dockerignore").write_text("**/*.pyc\ndocs\n!docs/keep.txt\n*.md\n")
    ctx = BuildContext.load(tmp_path)
    walked = [e.rel for e in ctx.walk("")]
    assert walked == ["", ".dockerignore", "app", "app/cache", "app/main.py", "docs", "docs/keep.txt"]


def test_the_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a": "", "b": ""})
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "Dockerfile.dockerignore").write_text("b\n")
    ctx = BuildContext.load(tmp_path, tmp_path / "Dockerfile")
    assert (ctx.excluded("a"), ctx.excluded("b")) == (False, True)


def test_globs_stay_within_one_path_element_and_skip_ignored_files(tmp_path: Path) -> None:
    make_tree(tmp_path, {"src/a.go": "", "src/b.go": "", "src/sub/c.go": "", "src/skip.go": "", "x.go": ""})
    ctx = BuildContext(tmp_path, PatternMatcher.from_lines(["src/skip.go"]))
    assert ctx.glob("src/*.go") == ["src/a.go", "src/b.go"]
    assert ctx.glob("/src/?.go") == ["src/a.go", "src/b.go"]
    assert ctx.glob("*/sub/*") == ["src/sub/c.go"]
    assert ctx.glob("nothing*") == []


def test_symlinks_resolve_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("/etc", tmp_path / "abs")
    os.symlink("../../etc", tmp_path / "etc" / "up")
    os.symlink("loop", tmp_path / "loop")
    assert resolve_in_root(tmp_path, "abs/passwd") == "etc/passwd"
    assert resolve_in_root(tmp_path, "etc/up/passwd") == "etc/passwd"
    assert resolve_in_root(tmp_path, "../../../etc") == "etc"
    assert resolve_in_root(tmp_path, "abs", follow_last=False) == "abs"
    assert resolve_in_root(tmp_path, "missing/dir/../x") == "missing/x"
    with pytest.raises(ContextError, match="too many levels"):
        resolve_in_root(tmp_path, "loop/x")


def test_the_content_digest_changes_with_content_mode_and_name_only(tmp_path: Path) -> None:
    make_tree(tmp_path, {"d/a": "one", "d/b": "two"})
    ctx = BuildContext(tmp_path)

    def digest() -> str:
        return digest_entries([(f"d/{e.rel}", e) for e in ctx.walk("d")])

    first = digest()
    os.utime(tmp_path / "d" / "a", (1, 1))
    assert digest() == first  # times are not content
    (tmp_path / "d" / "a").write_text("ONE")
    changed = digest()
    assert changed != first
    os.chmod(tmp_path / "d" / "a", 0o600)
    assert digest() != changed
    (tmp_path / "d" / "a").rename(tmp_path / "d" / "c")
    assert digest() not in (first, changed)
