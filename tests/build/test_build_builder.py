"""Real builds as root: runc RUN steps without network, COPY/ADD rules, multi-stage images that run, the layer cache."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from kybernetes.build.builder import Builder, BuildSettings, Notice, StepCached
from kybernetes.build.copier import lookup_user
from kybernetes.build.errors import BaseImageError, RunError, SourceNotFoundError, StepError
from kybernetes.build.runner import Process, Result, RunnerSettings, overlay, run
from kybernetes.images import layers as layerfs
from kybernetes.images import oci
from kybernetes.images.archive import export_archive
from kybernetes.images.errors import PullError
from kybernetes.images.store import Image, ImageStore
from tests.build.conftest import Recorder, build, needs_root

pytestmark = needs_root()

BUSYBOX_BASE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
"""


def read(store: ImageStore, image: Image, path: str) -> bytes:
    """read returns a file of the image, looking through its snapshots top-most first."""
    for lower in store.lowerdirs(image):
        candidate = lower / path.lstrip("/")
        if os.path.lexists(candidate):
            return candidate.read_bytes()
    raise FileNotFoundError(path)


def layer_names(store: ImageStore, image: Image, index: int) -> list[str]:
    with layerfs.open_uncompressed(store.blob_path(image.layers[index].digest)) as stream:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            return [m.name for m in tar]


async def run_image(store: ImageStore, image: Image, tmp_path: Path, args: list[str] | None = None) -> Result:
    """run_image runs the image with runc over the store's lowerdirs, as a container would start."""
    cfg = store.image_config(image)
    argv = args or [*(cfg.get("Entrypoint") or []), *(cfg.get("Cmd") or [])]
    lowers = await asyncio.to_thread(store.lowerdirs, image)
    async with overlay(tmp_path / "run", lowers) as ov:
        user = lookup_user(ov.merged, cfg.get("User") or "")
        process = Process(argv, list(cfg.get("Env") or []), cfg.get("WorkingDir") or "/", user)
        return await run(ov, process, settings=RunnerSettings(state_dir=tmp_path / "runc-run"), output=lambda data: None)


def assert_clean(data_dir: Path, tmp_path: Path) -> None:
    """Nothing of a build stays behind: no mount, no scratch directory, no runc container."""
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(data_dir) not in mounts and str(tmp_path) not in mounts
    scratch = data_dir / "agent" / "build"
    assert not scratch.exists() or list(scratch.iterdir()) == []
    state = tmp_path / "runc"
    assert not state.exists() or list(state.iterdir()) == []


async def test_a_scratch_image_gets_files_from_exec_and_shell_form_runs_and_every_config_field(
        builder: Builder, store: ImageStore, context: Path, data_dir: Path, tmp_path: Path) -> None:
    dockerfile = BUSYBOX_BASE + """\
RUN ["/bin/busybox", "mkdir", "-p", "/etc", "/home/app"]
RUN echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \\
 && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd \\
 && echo 'app:x:1000:' > /etc/group
ENV GREETING="hello world" TARGET=/srv
WORKDIR $TARGET/www
RUN echo "$GREETING from $(pwd) as $(id -u)" > index.html
USER app
WORKDIR /home/app/data
ENTRYPOINT ["/bin/httpd", "-f"]
CMD ["-p", "8080"]
LABEL org.example.title="busybox web" version=1
EXPOSE 8080 53/udp
STOPSIGNAL SIGQUIT
VOLUME /data
"""
    result = await build(builder, context, dockerfile)
    image = result.image
    assert image.references == ("docker.io/library/app:1",)
    assert read(store, image, "/srv/www/index.html") == b"hello world from /srv/www as 0\n"
    assert read(store, image, "/etc/group") == b"app:x:1000:\n"
    assert os.readlink(next(p / "bin/sh" for p in store.lowerdirs(image) if os.path.lexists(p / "bin/sh"))) == "/bin/busybox"
    cfg = store.image_config(image)
    assert cfg == {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello world", "TARGET=/srv"],
        "WorkingDir": "/home/app/data", "User": "app", "Entrypoint": ["/bin/httpd", "-f"], "Cmd": ["-p", "8080"],
        "Labels": {"org.example.title": "busybox web", "version": "1"},
        "ExposedPorts": {"8080/tcp": {}, "53/udp": {}}, "StopSignal": "SIGQUIT", "Volumes": {"/data": {}},
    }
    # A WORKDIR the USER will work in is theirs.
    st = next(os.stat(p / "home/app/data") for p in store.lowerdirs(image) if (p / "home/app/data").exists())
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    history = image.config["history"]
    assert [h["created_by"] for h in history][:3] == [
        "COPY busybox /bin/busybox", "RUN /bin/busybox --install -s /bin", "RUN /bin/busybox mkdir -p /etc /home/app"]
    assert [h.get("empty_layer", False) for h in history].count(False) == len(image.layers)
    assert image.config["created"] == history[-1]["created"]
    # Mount points runc needed on a scratch root (/proc, /dev, /sys, /etc/hosts) are not in the layers.
    assert layer_names(store, image, 0) == ["bin", "bin/busybox"]
    assert all(not n.startswith(("proc", "dev", "sys")) for i in range(len(image.layers)) for n in layer_names(store, image, i))
    assert "etc/hosts" not in layer_names(store, image, 3)
    assert_clean(data_dir, tmp_path)


async def test_a_multi_stage_build_copies_from_a_stage_and_its_image_runs(
        builder: Builder, store: ImageStore, context: Path, data_dir: Path, tmp_path: Path) -> None:
    dockerfile = BUSYBOX_BASE.replace("FROM scratch", "FROM scratch AS build") + """\
RUN mkdir -p /out/bin && echo "built in stage one" > /out/message && cp /bin/busybox /out/bin/
FROM scratch AS unused
RUN ["/never/runs"]
FROM scratch
COPY --from=build /out/ /
COPY --from=0 /bin/sh /bin/
ENTRYPOINT ["/bin/busybox"]
CMD ["cat", "/message"]
"""
    result = await build(builder, context, dockerfile)
    assert {s.stage for s in result.steps} == {0, 2}  # the unused stage is not built
    image = result.image
    assert len(image.layers) == 2
    assert sorted(layer_names(store, image, 0)) == ["bin", "bin/busybox", "message"]
    ran = await run_image(store, image, tmp_path)
    assert (ran.exit_code, ran.output) == (0, b"built in stage one\n")
    # A symlink source is followed: /bin/sh is a copy of busybox, not a link.
    assert layer_names(store, image, 1) == ["bin", "bin/sh"]
    assert read(store, image, "/bin/sh") == (context / "busybox").read_bytes()
    ran = await run_image(store, image, tmp_path, ["/bin/sh", "-c", "echo linked"])
    assert ran.output == b"linked\n"
    with pytest.raises(SourceNotFoundError) as info:
        await build(builder, context, "FROM scratch AS build\nCOPY busybox /\nFROM scratch\nCOPY --from=build /nope /\n")
    assert str(info.value) == "Dockerfile:4: '/nope': not found in --from=build"
    assert_clean(data_dir, tmp_path)


async def test_an_unchanged_rebuild_hits_the_cache_for_every_step_and_gives_the_same_image(
        builder: Builder, store: ImageStore, context: Path) -> None:
    dockerfile = BUSYBOX_BASE.replace("FROM scratch", "FROM scratch AS build") + """\
ARG FLAVOUR=plain
RUN echo "$FLAVOUR" > /flavour
FROM scratch
COPY --from=build /bin/busybox /flavour /
ENV A=1
WORKDIR /app
CMD ["/busybox", "cat", "/flavour"]
"""
    first = await build(builder, context, dockerfile)
    assert all(not s.cached for s in first.steps if s.keyword != "FROM")
    recorder = Recorder()
    started = time.monotonic()
    second = await build(builder, context, dockerfile, recorder=recorder)
    elapsed = time.monotonic() - started
    print(f"unchanged rebuild: {elapsed * 1000:.0f} ms (first build {first.seconds * 1000:.0f} ms)")
    assert second.cache_misses == []
    assert sum(isinstance(e, StepCached) for e in recorder.events) == len(second.steps) - 2
    assert second.image.id == first.image.id
    # A changed build arg misses from the RUN that sees it on; the steps before it still hit.
    third = await build(builder, context, dockerfile, build_args={"FLAVOUR": "spicy"})
    assert [s.text for s in third.cache_misses] == [
        "RUN echo \"$FLAVOUR\" > /flavour", "COPY --from=build /bin/busybox /flavour /", "ENV A=1", "WORKDIR /app",
        'CMD ["/busybox", "cat", "/flavour"]']
    assert read(store, third.image, "/flavour") == b"spicy\n"
    # A changed context file misses from its COPY on.
    (context / "busybox").write_bytes((context / "busybox").read_bytes() + b"\0")
    fourth = await build(builder, context, dockerfile)
    assert fourth.cache_misses[0].text == "COPY busybox /bin/busybox"
    # --no-cache executes every step again.
    fifth = await build(builder, context, dockerfile, no_cache=True)
    assert all(not s.cached for s in fifth.steps if s.keyword != "FROM")


async def test_a_failing_run_names_its_line_keeps_its_output_and_moves_no_tag(
        builder: Builder, store: ImageStore, context: Path, data_dir: Path, tmp_path: Path) -> None:
    good = await build(builder, context, BUSYBOX_BASE + "RUN echo ok\n")
    recorder = Recorder()
    with pytest.raises(RunError) as info:
        await build(builder, context, BUSYBOX_BASE + "ENV X=1\nRUN echo before-the-failure \\\n && echo on-stderr >&2 \\\n && exit 3\n",
                    recorder=recorder)
    err = info.value
    assert (err.line, err.exit_code) == (5, 3)
    assert str(err).startswith("Dockerfile:5: RUN echo before-the-failure")
    assert str(err).endswith(": exit code 3")
    assert b"before-the-failure\n" in err.output and b"on-stderr\n" in err.output
    assert "before-the-failure" in recorder.output
    assert store.get("app:1").id == good.image.id
    assert_clean(data_dir, tmp_path)


async def test_a_command_that_does_not_exist_fails_the_run(builder: Builder, context: Path) -> None:
    with pytest.raises(RunError) as info:
        await build(builder, context, "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/no/such/binary\"]\n")
    assert info.value.line == 3 and info.value.exit_code != 0
    assert b"no such file or directory" in info.value.output.lower()


async def test_run_has_loopback_only_and_cannot_reach_the_host(builder: Builder, store: ImageStore, context: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        result = await build(builder, context, BUSYBOX_BASE + f"""\
RUN ip -o link > /links; ip -o -4 addr > /addrs
RUN nc -w 2 127.0.0.1 {port} </dev/null; echo "exit=$?" > /nc
""")
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
    links = read(store, result.image, "/links").decode().splitlines()
    assert len(links) == 1 and ": lo:" in links[0] and "UP" in links[0]
    assert read(store, result.image, "/addrs").decode().split()[3] == "127.0.0.1/8"
    assert read(store, result.image, "/nc") != b"exit=0\n"


async def test_dockerignore_keeps_files_out_of_copies(builder: Builder, store: ImageStore, context: Path) -> None:
    (context / "app").mkdir()
    (context / "app" / "main.sh").write_text("echo main\n")
    (context / "app" / "secret.key").write_text("secret\n")
    (context / "notes.md").write_text("notes\n")
    (context / ".dockerignore").write_text("**/*.key\n*.md\n!keep.md\n")
    (context / "keep.md").write_text("kept\n")
    image = (await build(builder, context, "FROM scratch\nCOPY . /ctx/\n")).image
    names = sorted(n for n in layer_names(store, image, 0))
    assert names == ["ctx", "ctx/.dockerignore", "ctx/Dockerfile", "ctx/app", "ctx/app/main.sh", "ctx/busybox", "ctx/keep.md"]
    with pytest.raises(SourceNotFoundError) as info:
        await build(builder, context, "FROM scratch\n\nCOPY app/secret.key /\n")
    assert str(info.value) == "Dockerfile:3: 'app/secret.key': not found in the build context (or excluded by .dockerignore)"
    with pytest.raises(SourceNotFoundError, match=r"^Dockerfile:2: '\*.key': no files"):
        await build(builder, context, "FROM scratch\nCOPY *.key /\n")


async def test_copy_follows_docker_rules_for_directories_wildcards_owners_and_modes(
        builder: Builder, store: ImageStore, context: Path) -> None:
    (context / "conf").mkdir()
    (context / "conf" / "a.conf").write_text("a\n")
    (context / "conf" / "sub").mkdir()
    (context / "conf" / "sub" / "b.conf").write_text("b\n")
    (context / "one.txt").write_text("1\n")
    (context / "two.txt").write_text("2\n")
    (context / "passwd").write_text("root:x:0:0::/root:/bin/sh\nweb:x:33:44::/www:/bin/sh\n")
    (context / "group").write_text("root:x:0:\nwebgrp:x:44:\nother:x:55:\n")
    image = (await build(builder, context, """\
FROM scratch
COPY passwd group /etc/
COPY conf /etc/app
COPY one.txt /renamed.txt
COPY *.txt /texts/
COPY --chown=web:other --chmod=640 one.txt /owned/
COPY --chown=web conf/a.conf /owned/by-uid
WORKDIR /work
COPY one.txt .
COPY one.txt relative/dir/
""")).image
    assert read(store, image, "/etc/app/a.conf") == b"a\n"
    assert read(store, image, "/etc/app/sub/b.conf") == b"b\n"
    assert read(store, image, "/renamed.txt") == b"1\n"
    assert read(store, image, "/texts/two.txt") == b"2\n"
    assert read(store, image, "/work/one.txt") == b"1\n"
    assert read(store, image, "/work/relative/dir/one.txt") == b"1\n"
    lowers = store.lowerdirs(image)

    def stat_of(path: str) -> os.stat_result:
        return next(os.lstat(p / path) for p in lowers if os.path.lexists(p / path))

    owned = stat_of("owned/one.txt")
    assert (owned.st_uid, owned.st_gid, owned.st_mode & 0o7777) == (33, 55, 0o640)
    assert (stat_of("owned").st_uid, stat_of("owned").st_gid) == (33, 55)
    by_uid = stat_of("owned/by-uid")
    assert (by_uid.st_uid, by_uid.st_gid) == (33, 33)  # a user alone: the gid is the uid, as Docker
    assert (stat_of("etc/app/a.conf").st_uid, stat_of("etc/app").st_mode & 0o777) == (0, 0o755)
    with pytest.raises(StepError, match=r"^Dockerfile:2: COPY: when using COPY with more than one source file"):
        await build(builder, context, "FROM scratch\nCOPY one.txt two.txt /notadir\n")
    with pytest.raises(StepError, match=r"^Dockerfile:3: COPY: unable to convert uid/gid chown string"):
        await build(builder, context, "FROM scratch\nCOPY passwd /etc/passwd\nCOPY --chown=nobody one.txt /\n")


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o755, 7, 8
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("pkg/link")
        link.type, link.linkname = tarfile.SYMTYPE, "bin/tool"
        tar.addfile(link)
    return buf.getvalue()


async def test_add_unpacks_local_archives_and_refuses_urls(builder: Builder, store: ImageStore, context: Path) -> None:
    (context / "pkg.tar.gz").write_bytes(_tar_gz({"pkg/bin/tool": b"#!/bin/sh\necho tool\n", "../../escape": b"x"}))
    with pytest.raises(StepError, match="leaves the destination"):
        await build(builder, context, "FROM scratch\nADD pkg.tar.gz /opt/\n")
    (context / "pkg.tar.gz").write_bytes(_tar_gz({"pkg/bin/tool": b"#!/bin/sh\necho tool\n"}))
    (context / "plain.gz").write_bytes(gzip.compress(b"not a tar"))
    image = (await build(builder, context, "FROM scratch\nADD pkg.tar.gz /opt\nADD plain.gz /data/\nCOPY pkg.tar.gz /copied/\n")).image
    assert read(store, image, "/opt/pkg/bin/tool") == b"#!/bin/sh\necho tool\n"
    tool = next(os.stat(p / "opt/pkg/bin/tool") for p in store.lowerdirs(image) if (p / "opt/pkg/bin/tool").exists())
    assert (tool.st_uid, tool.st_gid, tool.st_mode & 0o777) == (7, 8, 0o755)
    assert read(store, image, "/data/plain.gz") == (context / "plain.gz").read_bytes()
    assert read(store, image, "/copied/pkg.tar.gz") == (context / "pkg.tar.gz").read_bytes()  # COPY never unpacks
    with pytest.raises(StepError, match=r"^Dockerfile:2: ADD: sources from URLs or git are not supported"):
        await build(builder, context, "FROM scratch\nADD https://example.com/x.tar.gz /\n")


async def test_args_scope_build_args_and_env_as_docker(builder: Builder, store: ImageStore, context: Path) -> None:
    recorder = Recorder()
    result = await build(builder, context, """\
ARG BASE=scratch
ARG LABEL_VALUE=global
FROM $BASE
ARG LABEL_VALUE
ARG SECRET
ARG SHADOWED=from-arg
ENV SHADOWED=from-env
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo "$SECRET $SHADOWED $TARGETARCH" > /seen
LABEL value=$LABEL_VALUE secret=${SECRET:+set} arch=$TARGETARCH
""", build_args={"SECRET": "s3", "UNUSED": "x"}, recorder=recorder)
    image = result.image
    assert read(store, image, "/seen") == b"s3 from-env \n"  # TARGETARCH was not declared in the stage
    assert store.image_config(image)["Labels"] == {"value": "global", "secret": "set", "arch": ""}
    assert not any("SECRET" in e for e in store.image_config(image)["Env"])  # build args are not stored
    assert any(h["created_by"].startswith("RUN |3 LABEL_VALUE=global SECRET=s3 SHADOWED=from-env /bin/sh -c")
               for h in image.config["history"])
    warnings = [e.message for e in recorder.events if isinstance(e, Notice) and e.kind == "warning"]
    assert warnings == ["one or more build args were not consumed: UNUSED"]


async def test_target_builds_only_the_stages_it_needs(builder: Builder, store: ImageStore, context: Path) -> None:
    dockerfile = "FROM scratch AS base\nCOPY busybox /bb\nFROM base AS test\nRUN [\"/no/such\"]\nFROM base AS final\nLABEL stage=final\n"
    result = await build(builder, context, dockerfile, target="base", tags=("app:base",))
    assert [s.keyword for s in result.steps] == ["FROM", "COPY"]
    final = await build(builder, context, dockerfile)
    assert {s.stage for s in final.steps} == {0, 2}
    assert final.image.layers == result.image.layers
    with pytest.raises(Exception, match="target stage 'nope' could not be found"):
        await build(builder, context, dockerfile, target="nope")


async def test_onbuild_triggers_run_in_the_child_build(builder: Builder, store: ImageStore, context: Path, tmp_path: Path) -> None:
    await build(builder, context, BUSYBOX_BASE + "ONBUILD RUN echo triggered > /triggered\n", tags=("parent:1",))
    child_ctx = tmp_path / "child"
    child_ctx.mkdir()
    result = await build(builder, child_ctx, "FROM parent:1\nRUN cat /triggered\n", tags=("child:1",))
    assert read(store, result.image, "/triggered") == b"triggered\n"
    assert "OnBuild" not in store.image_config(result.image)


async def test_a_base_image_neither_local_nor_pullable_fails_at_its_line(store: ImageStore, data_dir: Path,
                                                                         context: Path, tmp_path: Path) -> None:
    asked: list[str] = []

    async def refuse(reference: str) -> Image:
        asked.append(reference)
        raise PullError("registry says no", reference=reference)

    builder = Builder(store, BuildSettings(data_dir=data_dir, runner=RunnerSettings(state_dir=tmp_path / "runc")), pull=refuse)
    with pytest.raises(BaseImageError) as info:
        await build(builder, context, "# base\nFROM nosuchimage:1\nRUN true\n")
    assert asked == ["nosuchimage:1"]
    assert str(info.value) == "Dockerfile:2: nosuchimage:1: not in the image store, and pulling it failed: registry says no"


async def test_from_pulls_an_image_that_is_not_local_from_a_loopback_registry(
        builder: Builder, store: ImageStore, context: Path, tmp_path: Path) -> None:
    from tests.images.registry_fixture import OCILayout, base_layer, push, start_registry

    layout = OCILayout(tmp_path / "layout")
    layout.image([(base_layer(), "gzip")], tag="base", cmd=["/bin/sh"])
    registry = start_registry(tmp_path / "registry")
    try:
        push(layout.root, "base", registry, "base:1", workdir=tmp_path, fmt="v2s2")  # Docker media types
        recorder = Recorder()
        result = await build(builder, context, f"FROM {registry.host}/base:1\nRUN echo on-a-pulled-base > /on\n",
                             recorder=recorder)
    finally:
        registry.stop()
    assert [e.message for e in recorder.events if isinstance(e, Notice)] == [f"pulling {registry.host}/base:1"]
    assert result.steps[0].cached is False
    image = result.image
    assert read(store, image, "/on") == b"on-a-pulled-base\n"
    assert {layer.media_type for layer in image.layers} == {oci.OCI_LAYER_GZIP}
    assert store.image_config(image)["Labels"] == {"test": "kybernetes"}


async def test_skopeo_accepts_the_exported_image(builder: Builder, store: ImageStore, context: Path, tmp_path: Path) -> None:
    image = (await build(builder, context, BUSYBOX_BASE + "LABEL a=b\nCMD [\"sh\"]\n")).image
    archive = tmp_path / "app.tar"
    export_archive(store, ["app:1"], archive, format="oci")
    policy = tmp_path / "policy.json"
    policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')

    def skopeo(*args: str) -> dict:
        out = subprocess.run(["skopeo", "--policy", str(policy), "inspect", *args, f"oci-archive:{archive}:1"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    info = skopeo()
    assert info["Labels"] == {"a": "b"} and info["Layers"] == [layer.digest for layer in image.layers]
    config = skopeo("--config")
    assert config["rootfs"]["diff_ids"] == list(image.diff_ids)
    assert [h.get("created_by") for h in config["history"]][-1] == 'CMD ["sh"]'


async def test_a_run_as_an_unknown_user_fails_before_starting(builder: Builder, context: Path) -> None:
    with pytest.raises(StepError, match=r"^Dockerfile:5: RUN: unable to find user ghost"):
        await build(builder, context, BUSYBOX_BASE + "USER ghost\nRUN true\n")


async def test_unsupported_run_flags_are_errors(builder: Builder, context: Path) -> None:
    with pytest.raises(StepError, match=r"^Dockerfile:2: RUN: --network=host: builds have no network"):
        await build(builder, context, "FROM scratch\nRUN --network=host true\n")


async def test_deletions_become_whiteouts_and_a_run_that_changes_nothing_adds_no_layer(
        builder: Builder, store: ImageStore, context: Path, tmp_path: Path) -> None:
    (context / "hosts").write_text("127.0.0.1 localhost\n")
    result = await build(builder, context, BUSYBOX_BASE + """\
COPY hosts /etc/hosts
RUN mkdir -p /data/keep /opaque && touch /data/a /data/b /opaque/old
RUN true
RUN cat /etc/hosts > /dev/null && rm /data/a && rm -rf /opaque && mkdir /opaque && touch /opaque/new
CMD ["sh", "-c", "ls /data /opaque"]
""")
    image = result.image
    assert len(image.layers) == 5
    assert [h.get("empty_layer", False) for h in image.config["history"]] == [False, False, False, False, True, False, True]
    assert sorted(layer_names(store, image, 3)) == ["data", "data/a", "data/b", "data/keep", "opaque", "opaque/old"]
    top = layer_names(store, image, 4)
    assert "data/.wh.a" in top and "opaque/.wh..wh..opq" in top and "opaque/new" in top
    assert not any(n.startswith("etc") for n in top)  # /etc/hosts was only a mount point over the image's own
    ran = await run_image(store, image, tmp_path)
    assert ran.output.split() == [b"/data:", b"b", b"keep", b"/opaque:", b"new"]


async def test_a_cancelled_build_leaves_no_container_mount_or_scratch(
        builder: Builder, context: Path, data_dir: Path, tmp_path: Path) -> None:
    recorder = Recorder()
    task = asyncio.create_task(build(builder, context, BUSYBOX_BASE + "RUN echo started; sleep 60\n", recorder=recorder))
    for _ in range(100):
        if "started" in recorder.output:
            break
        await asyncio.sleep(0.05)
    assert "started" in recorder.output
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 10
    assert_clean(data_dir, tmp_path)
    assert "sleep 60" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


async def test_copying_from_a_stage_without_layers_makes_the_destination(
        builder: Builder, store: ImageStore, context: Path) -> None:
    result = await build(builder, context, "FROM scratch AS empty\nLABEL a=b\nFROM scratch\nCOPY --from=empty / /x/\n")
    assert layer_names(store, result.image, 0) == ["x"]
