"""Chooses a datastore backend from a ``--datastore-endpoint`` style URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kybernetes.store.backend import Backend
from kybernetes.store.memory import MemoryBackend
from kybernetes.store.sqlite import SQLiteBackend


def _default(endpoint: str, data_dir: Path) -> Backend:
    return SQLiteBackend(data_dir / "db" / "state.db")


def _sqlite(endpoint: str, data_dir: Path) -> Backend:
    path = unquote(urlsplit(endpoint).path)
    if not path or not path.startswith("/"):
        raise ValueError(f"sqlite endpoint needs an absolute path (sqlite:///abs/state.db): {endpoint}")
    return SQLiteBackend(Path(path))


def _memory(endpoint: str, data_dir: Path) -> Backend:
    return MemoryBackend()


def _etcd(endpoint: str, data_dir: Path) -> Backend:
    raise ValueError(f"etcd datastore is not supported yet: {endpoint}")


_DRIVERS: dict[str, Callable[[str, Path], Backend]] = {
    "": _default,
    "sqlite": _sqlite,
    "memory": _memory,
    "etcd": _etcd,
    "http": _etcd,
    "https": _etcd,
}


def open_backend(endpoint: str, *, data_dir: Path) -> Backend:
    """Return an unstarted backend for endpoint; "" means SQLite under data_dir."""
    scheme = urlsplit(endpoint).scheme.lower() if endpoint else ""
    driver = _DRIVERS.get(scheme)
    # A bare path has no scheme; silently treating it as "the default" would ignore it.
    if driver is None or (endpoint and not scheme):
        supported = ", ".join(f"{name}://" for name in _DRIVERS if name)
        raise ValueError(
            f"unsupported datastore endpoint {endpoint!r}; supported: "
            f"{supported} or empty for SQLite in the data directory"
        )
    return driver(endpoint, data_dir)
