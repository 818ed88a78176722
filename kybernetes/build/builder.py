"""Builder: a Dockerfile and its context built into the node's image store, step by step, through the layer cache.

Stages are built in order, only those the target needs (its FROM and COPY --from chain), as
BuildKit does. Each instruction is one step: its inputs (parent state, substituted arguments,
copied content, RUN environment) make a cache key; a hit reuses the step's recorded result, a
miss executes it (RUN and COPY/ADD/WORKDIR on an overlay mount, metadata instructions on the
config alone) and records it. Only when every step has succeeded is the image committed and
tagged: a failed build leaves every tag where it was.

ARG scoping is Docker's: ARGs before the first FROM serve FROM lines, and a stage sees a global
one only when it declares it again (`ARG NAME`); ENV wins over an ARG of the same name; build args
reach RUN steps as environment variables without being stored in the image.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import posixpath
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, ContextManager, Literal, Mapping, Protocol

import orjson

from kybernetes.build import metadata
from kybernetes.build.cache import Entry, LayerCache, key_of
from kybernetes.build.context import BuildContext, digest_entries, has_wildcards
from kybernetes.build.copier import Source, Writer, lookup_user, parse_chmod, parse_chown
from kybernetes.build.dockerfile import Dockerfile, Instruction, Stage, arg_decls, parse, parse_line
from kybernetes.build.errors import (
    BaseImageError,
    BuildError,
    ContextError,
    LocatedError,
    RunError,
    SourceNotFoundError,
    StepError,
)
from kybernetes.build.runner import DEFAULT_PATH, Overlay, Process, RunnerSettings, overlay, run, upper_is_empty
from kybernetes.build.shell import process_word
from kybernetes.images import oci
from kybernetes.images.errors import ImageError
from kybernetes.images.reference import parse as parse_reference
from kybernetes.images.store import Image, ImageStore, Layer, chain_ids

HISTORY_COMMENT = "kybernetes.build.v0"
NOTICE_PULL = "pull"
_LAYER_TYPES = {oci.DOCKER_LAYER_GZIP: oci.OCI_LAYER_GZIP, oci.DOCKER_LAYER: oci.OCI_LAYER}
_KEPT_KEYS = ("architecture", "os", "os.version", "os.features", "variant", "author", "config")


# --- options, events, results -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """BuildOptions are what `kyb build` is asked to build."""

    context: Path
    """The build context directory."""
    dockerfile: Path | None = None
    """The Dockerfile; `<context>/Dockerfile` when None."""
    tags: tuple[str, ...] = ()
    """References to tag the image with (`app:1`); none leaves it untagged."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    """The stage to build (by name); the last stage when empty."""
    no_cache: bool = False
    """Execute every step; results are still recorded for the next build."""


@dataclass(frozen=True, slots=True)
class BuildSettings:
    """BuildSettings are the node's: where its data lives and how RUN steps are run."""

    data_dir: Path
    """The node's data directory; the layer cache is `<data_dir>/agent/build-cache`."""
    runner: RunnerSettings = field(default_factory=RunnerSettings)

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "agent" / "build-cache"

    @property
    def scratch_dir(self) -> Path:
        """Mount points and upper directories of running steps."""
        return self.data_dir / "agent" / "build"


@dataclass(frozen=True, slots=True)
class StepStarted:
    """StepStarted: step `index` of `total` begins; `text` is the instruction as written."""

    index: int
    total: int
    text: str


@dataclass(frozen=True, slots=True)
class StepCached:
    """StepCached: the step's result came from the layer cache."""

    index: int


@dataclass(frozen=True, slots=True)
class StepOutput:
    """StepOutput: bytes a RUN printed (stdout and stderr together)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Notice:
    """Notice: something worth telling (a pull, build args nobody declared)."""

    kind: Literal["pull", "warning"]
    message: str


Event = StepStarted | StepCached | StepOutput | Notice


class Progress(Protocol):
    """Progress is told every build event as it happens."""

    def __call__(self, event: Event) -> None: ...


class Pull(Protocol):
    """Pull fetches an image that is not in the store and returns it stored."""

    def __call__(self, reference: str) -> Awaitable[Image]: ...


@dataclass(frozen=True, slots=True)
class StepReport:
    """StepReport says how one step went."""

    index: int
    stage: int
    line: int
    keyword: str
    text: str
    cached: bool
    """The result came from the cache (FROM: the base image was already local)."""
    seconds: float


@dataclass(frozen=True, slots=True)
class BuildResult:
    """BuildResult is the committed image and a report per step."""

    image: Image
    steps: list[StepReport]
    seconds: float

    @property
    def cache_misses(self) -> list[StepReport]:
        return [s for s in self.steps if not s.cached]


# --- image state --------------------------------------------------------------------------------


@dataclass(slots=True)
class ImageState:
    """ImageState is an image being built: its layers, its config document and its history so far."""

    layers: list[Layer]
    doc: dict[str, Any]
    """The image config document without rootfs, history and created."""
    history: list[dict[str, Any]]

    @property
    def config(self) -> dict[str, Any]:
        return self.doc.setdefault("config", {})

    def state_id(self) -> str:
        """state_id names what a next step can depend on: the layers and the config, not the history."""
        return key_of({"diff_ids": [layer.diff_id for layer in self.layers], "doc": self.doc})

    def clone(self) -> ImageState:
        return ImageState(list(self.layers), copy.deepcopy(self.doc), copy.deepcopy(self.history))

    def apply(self, entry: Entry) -> None:
        if entry.layer is not None:
            self.layers.append(entry.layer)
        self.doc = copy.deepcopy(entry.doc)
        self.history.append(dict(entry.history))

    def image_doc(self) -> dict[str, Any]:
        doc = copy.deepcopy(self.doc)
        created = next((h["created"] for h in reversed(self.history) if h.get("created")), None)
        if created:
            doc["created"] = created
        doc["history"] = copy.deepcopy(self.history)
        return doc


def scratch_state() -> ImageState:
    """scratch_state is FROM scratch: no layers, and BuildKit's defaults of PATH and WorkingDir `/`."""
    platform = oci.host_platform()
    doc: dict[str, Any] = {"architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        doc["variant"] = platform.variant
    doc["config"] = {"Env": [f"PATH={DEFAULT_PATH}"], "WorkingDir": "/"}
    return ImageState([], doc, [])


def image_state(image: Image) -> ImageState:
    """image_state starts from a stored image; Docker layer media types become their OCI twins (same bytes)."""
    doc = {k: copy.deepcopy(image.config[k]) for k in _KEPT_KEYS if k in image.config}
    doc.setdefault("config", {})
    layers = [Layer(lay.digest, lay.size, _LAYER_TYPES.get(lay.media_type, lay.media_type), lay.diff_id) for lay in image.layers]
    return ImageState(layers, doc, copy.deepcopy(list(image.config.get("history") or [])))


# --- builder ------------------------------------------------------------------------------------


class Builder:
    """Builder builds images into `store`; one Builder may run several builds, each independent."""

    def __init__(self, store: ImageStore, settings: BuildSettings, *, pull: Pull | None = None) -> None:
        self.store = store
        self.settings = settings
        self.cache = LayerCache(settings.cache_dir)
        self._pull = pull

    async def build(self, options: BuildOptions, *, progress: Progress | None = None) -> BuildResult:
        """build builds and tags the image; raises a BuildError (a StepError naming the line) on failure."""
        started = time.monotonic()
        for tag in options.tags:
            try:
                parse_reference(tag)
            except ImageError as exc:
                raise BuildError(f"invalid tag {tag!r}: {exc}") from None
        dockerfile_path = Path(options.dockerfile) if options.dockerfile else Path(options.context) / "Dockerfile"
        try:
            text = await asyncio.to_thread(dockerfile_path.read_text, errors="replace")
        except OSError as exc:
            raise ContextError(f"reading the Dockerfile {dockerfile_path}: {exc.strerror or exc}") from None
        df = parse(text, file=dockerfile_path.name)
        context = await asyncio.to_thread(BuildContext.load, Path(options.context), dockerfile_path)
        build = _Build(self, df, context, options, progress or (lambda event: None))
        # Blobs written by this build are untagged until the end: keep garbage collection off them.
        async with _in_thread(self.store.ingesting()):
            state = await build.run()
            image = await asyncio.to_thread(self.store.commit_image, config=state.image_doc(), layers=state.layers,
                                            references=list(options.tags))
            # Unpacked now, as a pull does: a pod starts on the image without waiting for it.
            await asyncio.to_thread(self.store.unpack, image)
        return BuildResult(image, build.reports, time.monotonic() - started)

    async def pull(self, reference: str) -> Image:
        if self._pull is not None:
            return await self._pull(reference)
        from kybernetes.images.pull import Puller
        from kybernetes.images.registry import RegistryConfig

        async with Puller(self.store, RegistryConfig.for_data_dir(self.settings.data_dir)) as puller:
            return (await puller.pull(reference)).image


@dataclass(slots=True)
class _StageRun:
    """_StageRun is a stage being built: its state, the ARGs in scope, whether it set CMD."""

    stage: Stage
    state: ImageState
    args: dict[str, str | None] = field(default_factory=dict)
    cmd_set: bool = False


@dataclass(slots=True)
class _Plan:
    """_Plan is a step ready to look up or execute: its cache key inputs, history text and how to execute it."""

    key: dict[str, Any]
    created_by: str
    doc: dict[str, Any] | None = None
    """The resulting document of a metadata step."""
    execute: Callable[[], Awaitable[tuple[Layer | None, dict[str, Any]]]] | None = None


class _Build:
    """_Build is one build's state: the parsed Dockerfile, scopes, built stages and step reports."""

    def __init__(self, builder: Builder, df: Dockerfile, context: BuildContext, options: BuildOptions, progress: Progress) -> None:
        self.builder = builder
        self.store = builder.store
        self.df = df
        self.context = context
        self.options = options
        self.progress = progress
        self.build_args = dict(options.build_args)
        self.consumed: set[str] = set()
        self.meta: dict[str, str | None] = _platform_args()
        self.built: dict[int, ImageState] = {}
        self.reports: list[StepReport] = []
        self.index = 0
        self.total = 0

    async def run(self) -> ImageState:
        for ins in self.df.meta_args:
            env = {k: v for k, v in self.meta.items() if v is not None}
            for decl in arg_decls(ins):
                default = self._word(decl.default, env, ins) if decl.default is not None else None
                self.meta[decl.name] = self._arg_value(decl.name, default, ins)
        target = len(self.df.stages) - 1
        if self.options.target:
            found = self.df.stage_index(self.options.target)
            if found is None or not self.df.stages[found].name:
                raise BuildError(f"target stage {self.options.target!r} could not be found")
            target = found
        needed = self._needed(target)
        self.total = sum(1 + len(self.df.stages[i].instructions) for i in needed)
        for i in needed:
            await self._stage(i)
        unused = sorted(set(self.build_args) - self.consumed - _PREDEFINED_ARGS)
        if unused:
            self.progress(Notice("warning", f"one or more build args were not consumed: {', '.join(unused)}"))
        return self.built[target]

    # --- stages ---

    def _needed(self, target: int) -> list[int]:
        """_needed is the target and the stages it depends on through FROM and COPY --from, in order."""
        env = {**{k: v for k, v in self.meta.items() if v is not None}, **self.build_args}
        deps: dict[int, set[int]] = {}
        for stage in self.df.stages:
            refs = [stage.base] + [ins.flag("from") for ins in stage.instructions if ins.keyword == "COPY" and ins.has_flag("from")]
            found = set()
            for ref in refs:
                with contextlib.suppress(BuildError):
                    idx = self.df.stage_index(process_word(ref, env, escape=self.df.escape))
                    if idx is not None and idx < stage.index:
                        found.add(idx)
            deps[stage.index] = found
        needed = set()
        todo = [target]
        while todo:
            i = todo.pop()
            if i not in needed:
                needed.add(i)
                todo.extend(deps[i])
        return sorted(needed)

    async def _stage(self, index: int) -> ImageState:
        if index in self.built:
            return self.built[index]
        stage = self.df.stages[index]
        ins = stage.from_instruction
        self._begin(ins)
        started = time.monotonic()
        env = {k: v for k, v in self.meta.items() if v is not None}
        base = self._word(stage.base, env, ins)
        if stage.platform:
            platform = self._word(stage.platform, env, ins)
            host = oci.host_platform()
            if platform not in (f"{host.os}/{host.architecture}", f"{host.os}/{host.architecture}/{host.variant}"):
                raise StepError(f"FROM --platform={platform}: only this node's platform ({host.os}/{host.architecture}) can be built",
                                file=self.df.file, line=ins.line)
        local = True
        from_stage = self.df.stage_index(base) if not base.isdigit() else None
        if base.lower() == "scratch":
            state = scratch_state()
        elif from_stage is not None and from_stage < index:
            state = (await self._stage(from_stage)).clone()
        else:
            image, local = await self._image(base, ins)
            state = image_state(image)
        self.reports.append(StepReport(self.index, index, ins.line, "FROM", ins.original, local, time.monotonic() - started))
        run_ = _StageRun(stage, state)
        triggers = list(state.config.pop("OnBuild", None) or [])
        self.total += len(triggers)
        for trigger in triggers:
            await self._step(run_, parse_line(trigger, escape=self.df.escape, file=self.df.file, line=ins.line))
        for step in stage.instructions:
            await self._step(run_, step)
        self.built[index] = run_.state
        return run_.state

    async def _image(self, ref: str, ins: Instruction) -> tuple[Image, bool]:
        """_image finds `ref` in the store, or pulls it; the flag says whether it was local."""
        try:
            image = await asyncio.to_thread(self.store.find, ref)
        except ImageError as exc:
            raise BaseImageError(str(exc), file=self.df.file, line=ins.line) from exc
        if image is not None:
            return image, True
        self.progress(Notice("pull", f"pulling {ref}"))
        try:
            return await self.builder.pull(ref), False
        except ImageError as exc:
            raise BaseImageError(f"{ref}: not in the image store, and pulling it failed: {exc}",
                                 file=self.df.file, line=ins.line) from exc

    # --- steps ---

    def _begin(self, ins: Instruction) -> None:
        self.index += 1
        self.progress(StepStarted(self.index, max(self.total, self.index), ins.original))

    async def _step(self, st: _StageRun, ins: Instruction) -> None:
        self._begin(ins)
        started = time.monotonic()
        try:
            plan = await self._plan(st, ins)
            key = key_of({"parent": st.state.state_id(), **plan.key})
            entry = None if self.options.no_cache else await asyncio.to_thread(self._cached, key)
            cached = entry is not None
            if entry is None:
                if plan.execute is not None:
                    layer, doc = await plan.execute()
                else:
                    layer, doc = None, plan.doc if plan.doc is not None else st.state.doc
                history: dict[str, Any] = {"created": _now(), "created_by": plan.created_by, "comment": HISTORY_COMMENT}
                if layer is None:
                    history["empty_layer"] = True
                entry = Entry(layer, copy.deepcopy(doc), history)
                await asyncio.to_thread(self.builder.cache.put, key, entry)
            else:
                self.progress(StepCached(self.index))
        except LocatedError as exc:
            if not exc.line:
                exc.file, exc.line = self.df.file, ins.line
            raise
        except (BuildError, ImageError) as exc:
            raise StepError(f"{ins.keyword}: {exc}", file=self.df.file, line=ins.line) from exc
        st.state.apply(entry)
        self.reports.append(StepReport(self.index, st.stage.index, ins.line, ins.keyword, ins.original, cached,
                                       time.monotonic() - started))

    async def _plan(self, st: _StageRun, ins: Instruction) -> _Plan:
        kw = ins.keyword
        if kw == "RUN":
            return self._plan_run(st, ins)
        if kw in ("COPY", "ADD"):
            return await self._plan_copy(st, ins)
        if kw == "WORKDIR":
            return self._plan_workdir(st, ins)
        env = self._env(st)
        word = lambda text: self._word(text, env, ins)  # noqa: E731
        doc = copy.deepcopy(st.state.doc)
        cfg = doc.setdefault("config", {})
        if kw == "ENV":
            pairs = [(word(k), word(v)) for k, v in ins.pairs]
            for k, v in pairs:
                cfg["Env"] = metadata.set_env(cfg.get("Env") or [], k, v)
            return _Plan({"op": kw, "pairs": pairs}, "ENV " + " ".join(f"{k}={v}" for k, v in pairs), doc)
        if kw == "LABEL":
            pairs = [(word(k), word(v)) for k, v in ins.pairs]
            labels = dict(cfg.get("Labels") or {})
            for k, v in pairs:
                if not k:
                    raise metadata.InstructionError("LABEL names can not be blank")
                labels[k] = v
            cfg["Labels"] = labels
            return _Plan({"op": kw, "pairs": pairs}, "LABEL " + " ".join(f"{k}={v}" for k, v in pairs), doc)
        if kw == "ARG":
            # The step records the declaration; a build arg's value changes the key of the steps that use it.
            declared = []
            for decl in arg_decls(ins):
                default = self._word(decl.default, env, ins) if decl.default is not None else None
                st.args[decl.name] = self._arg_value(decl.name, default, ins)
                declared.append((decl.name, default))
            text = " ".join(name if value is None else f"{name}={value}" for name, value in declared)
            return _Plan({"op": kw, "args": declared}, f"ARG {text}", doc)
        if kw == "EXPOSE":
            ports = metadata.exposed_ports([word(p) for p in ins.args])
            exposed = dict(cfg.get("ExposedPorts") or {})
            exposed.update({p: {} for p in ports})
            cfg["ExposedPorts"] = exposed
            return _Plan({"op": kw, "ports": ports}, "EXPOSE " + " ".join(ports), doc)
        if kw == "USER":
            cfg["User"] = word(ins.args[0])
            return _Plan({"op": kw, "user": cfg["User"]}, f"USER {cfg['User']}", doc)
        if kw == "VOLUME":
            volumes = [word(v) for v in ins.args]
            if any(not v for v in volumes):
                raise metadata.InstructionError("VOLUME specified can not be an empty string")
            cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{v: {} for v in volumes}}
            return _Plan({"op": kw, "volumes": volumes}, f"VOLUME {orjson.dumps(volumes).decode()}", doc)
        if kw == "STOPSIGNAL":
            cfg["StopSignal"] = metadata.check_signal(word(ins.args[0]))
            return _Plan({"op": kw, "signal": cfg["StopSignal"]}, f"STOPSIGNAL {cfg['StopSignal']}", doc)
        if kw in ("CMD", "ENTRYPOINT"):
            argv = metadata.command(list(ins.args), json_form=ins.json, config=cfg)
            text = f"{kw} {orjson.dumps(argv).decode()}"
            if kw == "CMD":
                cfg["Cmd"] = argv
                st.cmd_set = True
                return _Plan({"op": kw, "argv": argv}, text, doc)
            cfg["Entrypoint"] = argv
            if not st.cmd_set:
                # An inherited CMD made sense with the old ENTRYPOINT only (Docker's rule).
                cfg.pop("Cmd", None)
            return _Plan({"op": kw, "argv": argv, "cmd_set": st.cmd_set}, text, doc)
        if kw == "SHELL":
            cfg["Shell"] = list(ins.args)
            return _Plan({"op": kw, "shell": cfg["Shell"]}, f"SHELL {orjson.dumps(cfg['Shell']).decode()}", doc)
        if kw == "HEALTHCHECK":
            check = metadata.healthcheck(list(ins.args), json_form=ins.json, flags=dict(ins.flags))
            cfg["Healthcheck"] = check
            return _Plan({"op": kw, "check": check}, f"HEALTHCHECK {orjson.dumps(check).decode()}", doc)
        if kw == "MAINTAINER":
            doc["author"] = ins.args[0]
            return _Plan({"op": kw, "author": ins.args[0]}, f"MAINTAINER {ins.args[0]}", doc)
        if kw == "ONBUILD":
            cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), ins.args[0]]
            return _Plan({"op": kw, "trigger": ins.args[0]}, f"ONBUILD {ins.args[0]}", doc)
        raise StepError(f"{kw} is not allowed here", file=self.df.file, line=ins.line)

    def _plan_run(self, st: _StageRun, ins: Instruction) -> _Plan:
        network = ins.flag("network", "default")
        if network not in ("default", "none"):
            raise metadata.InstructionError(f"--network={network}: builds have no network; only none (the default) is allowed")
        if ins.has_flag("mount"):
            raise metadata.InstructionError("--mount is not supported")
        if ins.flag("security", "sandbox") != "sandbox":
            raise metadata.InstructionError("--security=insecure is not supported")
        cfg = st.state.config
        argv = metadata.command(list(ins.args), json_form=ins.json, config=cfg)
        env = list(cfg.get("Env") or [])
        names = set(metadata.env_map(env))
        if "PATH" not in names:
            env.insert(0, f"PATH={DEFAULT_PATH}")
        build_args = [(k, v) for k, v in st.args.items() if v is not None]
        env += [f"{k}={v}" for k, v in build_args if k not in names]
        shown = metadata.env_map(list(cfg.get("Env") or []))
        # Docker's history notation: `|<n> K=V …` before the command, an ENV value winning over its ARG.
        prefix = f"|{len(build_args)} " + " ".join(f"{k}={shown.get(k, v)}" for k, v in build_args) + " " if build_args else ""
        created_by = f"RUN {prefix}{' '.join(argv)}"
        cwd = cfg.get("WorkingDir") or "/"

        async def execute() -> tuple[Layer | None, dict[str, Any]]:
            async with overlay(self.builder.settings.scratch_dir, await self._lowerdirs(st.state)) as ov:
                user = await asyncio.to_thread(lookup_user, ov.merged, cfg.get("User") or "")
                process = Process(argv, env, cwd, user)
                result = await run(ov, process, settings=self.builder.settings.runner,
                                   output=lambda data: self.progress(StepOutput(data)))
                if result.exit_code != 0:
                    raise RunError(f"RUN {_shorten(' '.join(ins.args))}: exit code {result.exit_code}", file=self.df.file,
                                   line=ins.line, exit_code=result.exit_code, output=result.output)
                return await self._layer(ov), st.state.doc

        return _Plan({"op": "RUN", "argv": argv, "env": env, "user": cfg.get("User") or "", "cwd": cwd}, created_by,
                     execute=execute)

    def _plan_workdir(self, st: _StageRun, ins: Instruction) -> _Plan:
        doc = copy.deepcopy(st.state.doc)
        cfg = doc.setdefault("config", {})
        path = self._word(ins.args[0], self._env(st), ins)
        path = posixpath.normpath(posixpath.join(cfg.get("WorkingDir") or "/", path))
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        cfg["WorkingDir"] = path
        user = cfg.get("User") or ""

        async def execute() -> tuple[Layer | None, dict[str, Any]]:
            if path == "/":
                return None, doc
            async with overlay(self.builder.settings.scratch_dir, await self._lowerdirs(st.state)) as ov:
                def mkdir() -> None:
                    owner = lookup_user(ov.merged, user)
                    Writer(ov.merged).mkdir_all(path, (owner.uid, owner.gid))

                await asyncio.to_thread(mkdir)
                ov.unmount()
                return await self._layer(ov), doc

        return _Plan({"op": "WORKDIR", "path": path, "user": user}, f"WORKDIR {path}", execute=execute)

    async def _plan_copy(self, st: _StageRun, ins: Instruction) -> _Plan:
        kw = ins.keyword
        env = self._env(st)
        word = lambda text: self._word(text, env, ins)  # noqa: E731
        args = [word(a) for a in ins.args]
        srcs, dest = args[:-1], args[-1]
        from_ref = word(ins.flag("from")) if ins.has_flag("from") else ""
        chown = word(ins.flag("chown")) if ins.has_flag("chown") else ""
        chmod = parse_chmod(word(ins.flag("chmod"))) if ins.has_flag("chmod") else None
        if kw == "ADD":
            if ins.has_flag("checksum") or ins.has_flag("keep-git-dir") or any(_is_remote(s) for s in srcs):
                raise metadata.InstructionError("sources from URLs or git are not supported: builds have no network")
        workdir = st.state.config.get("WorkingDir") or "/"
        dest_is_dir = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.") or dest.endswith("/..")
        dest_abs = posixpath.normpath(posixpath.join(workdir, dest))
        _check_many(kw, len(srcs), dest_is_dir)
        key: dict[str, Any] = {"op": kw, "srcs": srcs, "dest": dest_abs, "dir": dest_is_dir, "chown": chown,
                               "chmod": chmod, "link": ins.flag("link")}
        source_state: ImageState | None = None
        sources: list[Source] = []
        if from_ref:
            idx = self.df.stage_index(from_ref)
            if idx is not None:
                if idx >= st.stage.index:
                    raise metadata.InstructionError(f"--from={from_ref}: refers to this stage or a later one")
                source_state = await self._stage(idx)
            else:
                image, _ = await self._image(from_ref, ins)
                source_state = image_state(image)
            # A stage's or image's content is fixed by its layers: no need to read the files for the key.
            key["from"] = source_state.state_id()
        else:
            sources = await asyncio.to_thread(_resolve_sources, self.context, srcs, keep_owner=False,
                                              where="the build context")
            _check_many(kw, len(sources), dest_is_dir)
            key["content"] = await asyncio.to_thread(_content_digest, sources)
        created_by = " ".join([kw, *(f"--{k}={v}" for k, v in ins.flags), *srcs, dest])

        async def execute() -> tuple[Layer | None, dict[str, Any]]:
            async with contextlib.AsyncExitStack() as stack:
                scratch = self.builder.settings.scratch_dir
                ov = await stack.enter_async_context(overlay(scratch, await self._lowerdirs(st.state)))
                resolved = sources
                if source_state is not None:
                    src_ov = await stack.enter_async_context(
                        overlay(scratch, await self._lowerdirs(source_state), writable=False))
                    resolved = await asyncio.to_thread(_resolve_sources, BuildContext(src_ov.merged), srcs, keep_owner=True,
                                                       where=f"--from={from_ref}")
                    _check_many(kw, len(resolved), dest_is_dir)

                def copy_all() -> None:
                    owner = parse_chown(ov.merged, chown) if chown else None
                    writer = Writer(ov.merged, owner=owner, chmod=chmod)
                    for source in resolved:
                        writer.copy_source(source, dest_abs, dest_is_dir=dest_is_dir or len(resolved) > 1,
                                           extract=kw == "ADD")
                    writer.finish()

                await asyncio.to_thread(copy_all)
                ov.unmount()
                return await self._layer(ov), st.state.doc

        return _Plan(key, created_by, execute=execute)

    # --- helpers ---

    def _cached(self, key: str) -> Entry | None:
        entry = self.builder.cache.get(key)
        if entry is not None and entry.layer is not None and not self.store.has_blob(entry.layer.digest):
            return None  # the layer was garbage-collected since
        return entry

    async def _lowerdirs(self, state: ImageState) -> list[Path]:
        if not state.layers:
            return []
        diff_ids = [layer.diff_id for layer in state.layers]
        # An Image record is all `lowerdirs` needs: the layers and their chain ids, no manifest.
        image = Image(id="", manifest_digest="", manifest_media_type="", config_digest="", config={},
                      layers=tuple(state.layers), chain_ids=chain_ids(diff_ids), size=0)
        return await asyncio.to_thread(self.store.lowerdirs, image)

    async def _layer(self, ov: Overlay) -> Layer | None:
        """_layer turns the step's upper directory into a layer; a step that changed nothing adds none."""
        ov.unmount()
        if upper_is_empty(ov):
            return None
        return await asyncio.to_thread(self.store.add_layer_from_dir, ov.upper)

    def _env(self, st: _StageRun) -> dict[str, str]:
        """_env is what `$VAR` sees in a stage: ARGs in scope, overridden by ENV."""
        env = {k: v for k, v in st.args.items() if v is not None}
        env.update(metadata.env_map(st.state.config.get("Env") or []))
        return env

    def _word(self, text: str, env: Mapping[str, str], ins: Instruction) -> str:
        try:
            return process_word(text, env, escape=self.df.escape)
        except BuildError as exc:
            raise StepError(f"{ins.keyword}: {exc}", file=self.df.file, line=ins.line) from None

    def _arg_value(self, name: str, default: str | None, ins: Instruction) -> str | None:
        """_arg_value is an ARG's value: the build arg, else its (substituted) default, else the global ARG's."""
        if name in self.build_args:
            self.consumed.add(name)
            return self.build_args[name]
        if default is not None:
            return default
        return self.meta.get(name)


_PREDEFINED_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
    "ALL_PROXY", "all_proxy",
})


def _platform_args() -> dict[str, str | None]:
    """_platform_args are BuildKit's automatic global ARGs: this node's platform is both build and target."""
    p = oci.host_platform()
    platform = f"{p.os}/{p.architecture}" + (f"/{p.variant}" if p.variant else "")
    out: dict[str, str | None] = {}
    for prefix in ("BUILD", "TARGET"):
        out.update({f"{prefix}PLATFORM": platform, f"{prefix}OS": p.os, f"{prefix}ARCH": p.architecture,
                    f"{prefix}VARIANT": p.variant or ""})
    return out


def _resolve_sources(tree: BuildContext, srcs: list[str], *, keep_owner: bool, where: str) -> list[Source]:
    """_resolve_sources expands wildcards and checks every source exists and is not ignored."""
    ignored = " (or excluded by .dockerignore)" if tree.matcher.patterns else ""
    out: list[Source] = []
    for src in srcs:
        if has_wildcards(src):
            matches = tree.glob(src)
            if not matches:
                raise SourceNotFoundError(f"{src!r}: no files in {where} match{ignored}")
            out.extend(Source(tree, tree.resolve(m), posixpath.basename(m), keep_owner) for m in matches)
            continue
        cleaned = posixpath.normpath("/" + src).lstrip("/")
        rel = tree.resolve(cleaned)
        if tree.excluded(cleaned) or tree.excluded(rel) or not (tree.root / rel).exists() and not (tree.root / rel).is_symlink():
            raise SourceNotFoundError(f"{src!r}: not found in {where}{ignored}")
        out.append(Source(tree, rel, posixpath.basename(cleaned), keep_owner))
    return out


def _check_many(keyword: str, count: int, dest_is_dir: bool) -> None:
    if count > 1 and not dest_is_dir:
        raise metadata.InstructionError(
            f"when using {keyword} with more than one source file, the destination must be a directory and end with a /")


@contextlib.asynccontextmanager
async def _in_thread(cm: ContextManager[Any]) -> AsyncIterator[None]:
    """_in_thread holds a blocking context manager (a flock) entered and left off the event loop."""
    await asyncio.to_thread(cm.__enter__)
    try:
        yield
    finally:
        await asyncio.to_thread(cm.__exit__, None, None, None)


def _content_digest(sources: list[Source]) -> str:
    entries = []
    for i, source in enumerate(sources):
        for entry in source.tree.walk(source.rel):
            entries.append((f"{i}:{source.name}/{entry.rel}", entry))
    return digest_entries(entries)


def _is_remote(src: str) -> bool:
    return "://" in src or src.startswith("git@")


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
