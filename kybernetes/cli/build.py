"""build: `kyb build`, a Dockerfile built straight into this node's image store, with Docker's step output."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """register adds `kyb build` to kyb's parser."""
    p = subparsers.add_parser("build", help="build an image from a Dockerfile into this node's image store")
    p.add_argument("context", type=Path, metavar="CONTEXT", help="build context directory")
    p.add_argument("-t", "--tag", action="append", default=[], metavar="NAME[:TAG]", help="name the image; repeatable")
    p.add_argument("-f", "--file", type=Path, default=None, metavar="DOCKERFILE", help="the Dockerfile (default CONTEXT/Dockerfile)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY[=VALUE]",
                   help="set a build argument (KEY alone takes it from the environment); repeatable")
    p.add_argument("--target", default="", metavar="STAGE", help="build this stage, not the last one")
    p.add_argument("--no-cache", action="store_true", help="execute every step instead of reusing cached ones")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id (and a failed RUN's output)")
    p.add_argument("--data-dir", type=Path, default=None, help="node data directory (default: as `kyb server`)")
    p.set_defaults(run=_run)


def build_args(values: list[str], environ: dict[str, str]) -> dict[str, str]:
    """build_args reads `--build-arg` values; `KEY` alone takes the environment's value and is skipped when unset, as Docker."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise ValueError(f"--build-arg: invalid argument {item!r}")
        if sep:
            out[key] = value
        elif key in environ:
            out[key] = environ[key]
    return out


class _Printer:
    """_Printer writes build events as Docker's classic builder does; RUN output goes through as it comes."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.streamed = False

    def __call__(self, event: Any) -> None:
        from kybernetes.build.builder import Notice, StepCached, StepOutput, StepStarted

        if isinstance(event, Notice):
            if event.kind == "warning" or not self.quiet:
                print(f"[{'Warning' if event.kind == 'warning' else 'Pull'}] {event.message}", file=sys.stderr, flush=True)
            return
        if self.quiet:
            return
        out = sys.stdout
        if isinstance(event, StepStarted):
            print(f"Step {event.index}/{event.total} : {event.text}", file=out, flush=True)
        elif isinstance(event, StepCached):
            print(" ---> Using cache", file=out, flush=True)
        elif isinstance(event, StepOutput):
            self.streamed = True
            out.buffer.write(event.data)
            out.flush()


def _run(args: argparse.Namespace) -> None:
    from kybernetes.build.builder import Builder, BuildOptions, BuildSettings
    from kybernetes.build.errors import BuildError, RunError
    from kybernetes.cli.main import CLIError
    from kybernetes.images.errors import ImageError
    from kybernetes.images.store import ImageStore

    if args.data_dir is not None:
        data_dir = Path(args.data_dir)
    else:
        from kybernetes.daemons.control import default_data_dir

        data_dir = default_data_dir()
    printer = _Printer(quiet=args.quiet)
    try:
        options = BuildOptions(context=args.context, dockerfile=args.file, tags=tuple(args.tag),
                               build_args=build_args(args.build_arg, dict(os.environ)), target=args.target,
                               no_cache=args.no_cache)
        store = ImageStore.for_data_dir(data_dir)
        result = asyncio.run(_cancellable(Builder(store, BuildSettings(data_dir=data_dir)).build(options, progress=printer)))
    except RunError as exc:
        if exc.output and not printer.streamed:
            sys.stdout.buffer.write(exc.output if exc.output.endswith(b"\n") else exc.output + b"\n")
            sys.stdout.flush()
        raise CLIError(_one_line(str(exc))) from None
    except (BuildError, ImageError, ValueError) as exc:
        raise CLIError(_one_line(str(exc))) from None
    except asyncio.CancelledError:
        raise CLIError("build terminated; nothing was tagged") from None
    if args.quiet:
        print(result.image.id)
        return
    from kybernetes.images.reference import parse

    print(f"Successfully built {result.image.short_id}")
    for tag in args.tag:
        print(f"Successfully tagged {parse(tag).familiar()}")


async def _cancellable(coro: Coroutine[Any, Any, T]) -> T:
    """_cancellable runs `coro`, cancelled on SIGTERM as on Ctrl-C: its mounts and containers are cleaned up either way."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await coro
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _one_line(text: str) -> str:
    """_one_line keeps an error to the one line the CLI prints, whatever a tool's message held."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
