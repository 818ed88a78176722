"""images: the node's image commands, as crictl gives them to k3s users (`kyb images`, `kyb pull`, `kyb image …`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from kybernetes.images.errors import ImageError


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """register adds `images`, `pull` and `image {ls,pull,import,export,rm,prune,inspect,df}` to kyb's parser."""
    _list_parser(subparsers.add_parser("images", help="list the images on this node"))
    _pull_parser(subparsers.add_parser("pull", help="pull an image from a registry"))
    image = subparsers.add_parser("image", help="manage the images on this node")
    sub = image.add_subparsers(dest="image_command", metavar="COMMAND")
    image.set_defaults(run=lambda args: image.print_help())
    _list_parser(sub.add_parser("ls", help="list images"))
    _pull_parser(sub.add_parser("pull", help="pull an image from a registry"))
    p = sub.add_parser("import", help="import a `docker save` tarball or an OCI archive")
    _data_dir(p)
    p.add_argument("file", type=Path, help="archive to import (plain or gzip-compressed tar)")
    p.add_argument("--name", default="", help="name for images the archive leaves unnamed (or names only by tag)")
    p.add_argument("--no-unpack", action="store_true", help="store the layers without unpacking them now")
    p.set_defaults(run=_command(_import))
    p = sub.add_parser("export", help="export an image as a `docker save` tarball or an OCI archive")
    _data_dir(p)
    p.add_argument("ref", help="image reference or id")
    p.add_argument("file", type=Path, help="archive to write")
    p.add_argument("--format", choices=("docker", "oci"), default="docker", help="archive format (default %(default)s)")
    p.set_defaults(run=_command(_export))
    p = sub.add_parser("rm", help="remove images (a reference; by id, every reference)")
    _data_dir(p)
    p.add_argument("refs", nargs="+", metavar="REF", help="image reference or id")
    p.add_argument("-f", "--force", action="store_true", help="untag even if a container uses the image (its content stays)")
    p.set_defaults(run=_command(_rm))
    p = sub.add_parser("prune", help="remove every image no container uses, and unreferenced layers")
    _data_dir(p)
    p.set_defaults(run=_command(_prune))
    p = sub.add_parser("inspect", help="show an image's record and config as JSON")
    _data_dir(p)
    p.add_argument("ref", help="image reference or id")
    p.set_defaults(run=_command(_inspect))
    p = sub.add_parser("df", help="show disk use per image")
    _data_dir(p)
    p.set_defaults(run=_command(_df))


def _data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None, help="node data directory (default: as `kyb server`)")


def _list_parser(p: argparse.ArgumentParser) -> None:
    _data_dir(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print image ids only")
    p.add_argument("--digests", action="store_true", help="show repo digests")
    p.set_defaults(run=_command(_list))


def _pull_parser(p: argparse.ArgumentParser) -> None:
    _data_dir(p)
    p.add_argument("ref", help="image reference: busybox, docker.io/library/busybox:1.36, 127.0.0.1:5000/app@sha256:…")
    p.add_argument("--creds", default="", help="USER:PASSWORD for the image's registry")
    p.add_argument("--platform", default="", help="os/arch[/variant] to pick from a manifest list (default: this node's)")
    p.add_argument("--no-unpack", action="store_true", help="store the layers without unpacking them now")
    p.set_defaults(run=_command(_pull))


def _command(fn: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], None]:
    """_command turns our errors into the CLI's one-line failure."""

    def run(args: argparse.Namespace) -> None:
        from kybernetes.cli.main import CLIError

        try:
            fn(args)
        except ImageError as exc:
            raise CLIError(str(exc)) from None
        except ValueError as exc:
            raise CLIError(str(exc)) from None

    return run


def _data_dir_of(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    from kybernetes.daemons.control import default_data_dir

    return default_data_dir()


def _store(args: argparse.Namespace) -> Any:
    from kybernetes.images.store import ImageStore

    return ImageStore.for_data_dir(_data_dir_of(args))


def human_size(n: float) -> str:
    """human_size prints bytes as crictl does: decimal units, three significant digits."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.3g}{unit}"
        n /= 1000
    return f"{n}B"


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def _list(args: argparse.Namespace) -> None:
    from kybernetes.images.reference import familiar_name, parse

    images = sorted(_store(args).images(), key=lambda i: (i.references or ("~",))[0])
    if args.quiet:
        for image_id in dict.fromkeys(image.id for image in images):
            print(image_id)
        return
    rows = [["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "SIZE"] if args.digests else ["REPOSITORY", "TAG", "IMAGE ID", "SIZE"]]
    for image in images:
        for r in image.references or ("",):
            repo, tag = "<none>", "<none>"
            if r:
                ref = parse(r)
                repo, tag = familiar_name(ref.name), ref.tag or "<none>"
            row = [repo, tag, image.short_id, human_size(image.size)]
            if args.digests:
                row.insert(2, image.manifest_digest[:19])
            rows.append(row)
    _table(rows)


def _pull(args: argparse.Namespace) -> None:
    from kybernetes.images import oci
    from kybernetes.images.pull import Puller
    from kybernetes.images.registry import Credentials, RegistryConfig

    data_dir = _data_dir_of(args)
    credentials = None
    if args.creds:
        user, sep, password = args.creds.partition(":")
        if not sep:
            raise ValueError("--creds: expected USER:PASSWORD")
        credentials = Credentials(user, password)
    platform = oci.Platform.parse(args.platform) if args.platform else None
    store = _store(args)
    config = RegistryConfig.for_data_dir(data_dir)

    async def pull() -> Any:
        async with Puller(store, config, platform=platform) as puller:
            with _progress(args.ref) as progress:
                return await puller.pull(args.ref, credentials=credentials, progress=progress, unpack=not args.no_unpack)

    result = asyncio.run(pull())
    rate = result.downloaded / result.duration / 1e6 if result.duration > 0 else 0.0
    fetched = f"{human_size(result.downloaded)} fetched in {result.duration:.1f}s, {rate:.0f} MB/s" if result.downloaded else "up to date"
    print(f"Pulled {result.reference} ({result.image.short_id}, {human_size(result.size)}; {fetched})")


@contextmanager
def _progress(ref: str) -> Iterator[Callable[[int, int], None]]:
    """_progress yields a progress callback: a rich bar on a terminal, a redrawn line without rich, nothing otherwise."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    try:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
    except ImportError:
        last = [0.0]

        def line(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.1 or done >= total:
                last[0] = now
                print(f"\r{ref}: {human_size(done)} / {human_size(total)}", end="", file=sys.stderr, flush=True)

        try:
            yield line
        finally:
            print(file=sys.stderr)
        return
    from rich.console import Console

    # On stderr, so that stdout stays the one result line scripts read.
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=Console(stderr=True)) as bar:
        task = bar.add_task(ref, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _import(args: argparse.Namespace) -> None:
    from kybernetes.images.archive import import_archive

    for image in import_archive(_store(args), args.file, name=args.name, unpack=not args.no_unpack):
        for r in image.references or ():
            print(f"Loaded image: {r}")
        if not image.references:
            print(f"Loaded image ID: {image.id}")


def _export(args: argparse.Namespace) -> None:
    from kybernetes.images.archive import export_archive

    export_archive(_store(args), [args.ref], args.file, format=args.format)
    print(f"Exported {args.ref} to {args.file} ({args.format} format)")


def _rm(args: argparse.Namespace) -> None:
    store = _store(args)
    for ref in args.refs:
        image = store.remove(ref, force=args.force)
        print(f"Deleted: {ref} ({image.short_id})")


def _prune(args: argparse.Namespace) -> None:
    result = _store(args).prune()
    for image in result.images:
        print(f"Deleted: {', '.join(image.references) or image.id}")
    print(f"Total reclaimed space: {human_size(result.reclaimed)}")


def _inspect(args: argparse.Namespace) -> None:
    store = _store(args)
    image = store.get(args.ref)
    doc = {
        "id": image.id, "references": list(image.references), "repoDigests": list(image.repo_digests),
        "manifestDigest": image.manifest_digest, "size": image.size, "unpacked": store.is_unpacked(image),
        "layers": [{"digest": layer.digest, "diffID": layer.diff_id, "size": layer.size, "mediaType": layer.media_type} for layer in image.layers],
        "config": image.config,
    }
    print(json.dumps(doc, indent=2))


def _df(args: argparse.Namespace) -> None:
    from kybernetes.images.reference import parse

    usage = _store(args).disk_usage()
    rows = [["IMAGE ID", "REPOSITORY:TAG", "SIZE", "UNPACKED", "UNIQUE"]]
    for u in sorted(usage.images, key=lambda u: -u.unique):
        name = ", ".join(parse(r).familiar() for r in u.image.references) or "<none>"
        rows.append([u.image.short_id, name, human_size(u.blobs), human_size(u.unpacked), human_size(u.unique)])
    _table(rows)
    print(f"Total: {human_size(usage.total)} ({human_size(usage.blobs)} blobs, {human_size(usage.snapshots)} unpacked)")
