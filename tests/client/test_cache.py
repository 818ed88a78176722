"""Tests for Store and its indexers."""

from kybernetes.client.cache import (
    NAMESPACE_INDEX,
    OWNER_UID_INDEX,
    STANDARD_INDEXERS,
    UID_INDEX,
    Store,
    meta_namespace_key,
    split_key,
)


def obj(name: str, namespace: str | None = "n", owners: tuple[str, ...] = (), uid: str | None = None) -> dict:
    meta: dict = {"name": name, "uid": uid or f"uid-{name}",
                  "ownerReferences": [{"uid": o, "kind": "X", "name": o, "apiVersion": "v1"} for o in owners]}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta}


def test_keys_are_namespace_slash_name_or_name() -> None:
    assert meta_namespace_key(obj("a")) == "n/a"
    assert meta_namespace_key(obj("node1", None)) == "node1"
    assert split_key("n/a") == ("n", "a") and split_key("node1") == (None, "node1")


def test_indexes_follow_updates_and_deletes() -> None:
    store = Store(indexers=STANDARD_INDEXERS)
    store.upsert(obj("a", owners=("o1",)))
    store.upsert(obj("b", owners=("o1", "o2")))
    store.upsert(obj("c", "other"))
    assert [o["metadata"]["name"] for o in store.by_index(OWNER_UID_INDEX, "o1")] == ["a", "b"]
    assert [o["metadata"]["name"] for o in store.by_index(NAMESPACE_INDEX, "other")] == ["c"]
    store.upsert(obj("a", owners=("o2",)))
    assert [o["metadata"]["name"] for o in store.by_index(OWNER_UID_INDEX, "o1")] == ["b"]
    store.delete("n/b")
    assert store.by_index(OWNER_UID_INDEX, "o1") == []
    assert [o["metadata"]["name"] for o in store.by_index(OWNER_UID_INDEX, "o2")] == ["a"]
    assert store.by_index(UID_INDEX, "uid-c")[0]["metadata"]["name"] == "c"


def test_replace_rebuilds_and_late_indexers_cover_existing_objects() -> None:
    store = Store()
    store.replace([obj("a"), obj("b", "m")], "7")
    assert store.resource_version == "7" and len(store) == 2
    store.add_indexers({NAMESPACE_INDEX: STANDARD_INDEXERS[NAMESPACE_INDEX]})
    assert [o["metadata"]["name"] for o in store.by_index(NAMESPACE_INDEX, "m")] == ["b"]
    store.replace([obj("c")], "9")
    assert store.by_index(NAMESPACE_INDEX, "m") == [] and store.keys() == ["n/c"]
