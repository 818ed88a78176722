"""open_backend picks the backend from the endpoint URL and rejects what it cannot serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from kybernetes.store import MemoryBackend, SQLiteBackend, open_backend


def test_default_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    backend = open_backend("", data_dir=tmp_path)
    assert isinstance(backend, SQLiteBackend)
    assert backend.path == tmp_path / "db" / "state.db"


def test_sqlite_url_with_absolute_path(tmp_path: Path) -> None:
    backend = open_backend(f"sqlite://{tmp_path}/my%20db/state.db", data_dir=Path("/unused"))
    assert isinstance(backend, SQLiteBackend)
    assert backend.path == tmp_path / "my db" / "state.db"


def test_sqlite_url_without_absolute_path_is_rejected() -> None:
    with pytest.raises(ValueError, match="absolute path"):
        open_backend("sqlite://state.db", data_dir=Path("/tmp"))


def test_memory() -> None:
    assert isinstance(open_backend("memory://", data_dir=Path("/tmp")), MemoryBackend)


@pytest.mark.parametrize("endpoint", ["etcd://10.0.0.1:2379", "http://127.0.0.1:2379", "https://etcd:2379"])
def test_etcd_is_not_supported_yet(endpoint: str) -> None:
    with pytest.raises(ValueError, match="etcd datastore is not supported yet"):
        open_backend(endpoint, data_dir=Path("/tmp"))


@pytest.mark.parametrize("endpoint", ["mysql://root@localhost/kine", "/var/lib/state.db"])
def test_unknown_scheme_names_the_supported_ones(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"sqlite://.*memory://"):
        open_backend(endpoint, data_dir=Path("/tmp"))
