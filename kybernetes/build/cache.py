"""Layer cache: what each build step produced, keyed by everything that step's result depends on.

A key is the sha256 of the parent state (its layers' diff_ids and its config), the instruction with
its arguments after substitution, and the step's other inputs: the content digest of what a COPY or
ADD takes, the environment a RUN sees (build args included). An entry records the step's layer (if
any), the image config after it, and its history entry, whose timestamp is kept so an unchanged
rebuild gives the very same image id. Entries live as small JSON files below
`<data-dir>/agent/build-cache/`; one whose layer blob the store no longer has is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kybernetes.images.store import Layer

VERSION = 1
"""Bumped when keys or entries change meaning, so old entries are never misread."""


def key_of(parts: dict[str, Any]) -> str:
    """key_of hashes a step's inputs, canonically (sorted keys)."""
    data = orjson.dumps({"v": VERSION, **parts}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """Entry is one step's result: its layer (None for a metadata step), the image document after it, its history."""

    layer: Layer | None
    doc: dict[str, Any]
    """The image config document after the step, without history and rootfs."""
    history: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        layer = None
        if self.layer is not None:
            layer = {"digest": self.layer.digest, "size": self.layer.size, "mediaType": self.layer.media_type,
                     "diffID": self.layer.diff_id}
        return {"layer": layer, "doc": self.doc, "history": self.history}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        raw = data.get("layer")
        layer = Layer(raw["digest"], int(raw["size"]), raw["mediaType"], raw["diffID"]) if raw else None
        return cls(layer, dict(data["doc"]), dict(data["history"]))


class LayerCache:
    """LayerCache reads and writes entries below `root`; writes are atomic, so readers never see half an entry."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def get(self, key: str) -> Entry | None:
        try:
            data = orjson.loads((self.root / f"{key}.json").read_bytes())
            return Entry.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, entry: Entry) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(entry.to_json()))
            os.rename(name, self.root / f"{key}.json")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise
