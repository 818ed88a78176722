"""Pulls from real local registries (plain, basic auth, token auth, mirrors, manifest lists) and from a lying one."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import subprocess
from pathlib import Path
from typing import AsyncIterator, Callable

import pytest
from aiohttp import web

from kybernetes.images import oci
from kybernetes.images.errors import (
    CorruptLayerError,
    DigestMismatchError,
    NotFoundError,
    PlatformNotFoundError,
    PullError,
    RegistryUnavailableError,
    StorageError,
    UnauthorizedError,
)
from kybernetes.images.pull import Puller
from kybernetes.images.registry import Credentials, RegistryConfig, credentials_from_dockerconfigjson, parse_challenge
from kybernetes.images.store import ImageStore
from tests.images.conftest import needs_root
from tests.images.registry_fixture import PASSWORD, USER, Entry, Registries, free_port, has_zstandard, layer_tar

pytestmark = needs_root()


async def pull(store: ImageStore, ref: str, config: RegistryConfig | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    async with Puller(store, config, platform=kwargs.pop("platform", oci.Platform("linux", "amd64"))) as puller:  # type: ignore[arg-type]
        return await puller.pull(ref, **kwargs)  # type: ignore[arg-type]


def assert_nothing_stored(store: ImageStore) -> None:
    assert store.images() == []
    assert list((store.root / "blobs" / "sha256").iterdir()) == []
    assert list((store.root / "tmp").iterdir()) == []
    assert [p for p in (store.root / "snapshots").iterdir()] == []


async def test_an_oci_image_with_gzip_and_zstd_layers_is_pulled_and_unpacked(store: ImageStore, registries: Registries) -> None:
    seen: list[tuple[int, int]] = []
    result = await pull(store, f"{registries.plain.host}/testimg:1", progress=lambda d, t: seen.append((d, t)))
    image = result.image
    assert result.reference == f"{registries.plain.host}/testimg:1"
    assert image.references == (result.reference,)
    assert image.manifest_digest == registries.images["testimg"].manifest_digest
    assert len(image.layers) == (3 if has_zstandard() else 2)
    assert result.size == image.size and result.downloaded > 1_000_000 and result.duration > 0
    assert seen[-1] == (image.size, image.size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    lowers = store.lowerdirs(image)
    assert store.is_unpacked(image)
    if has_zstandard():
        assert (lowers[0] / "zstd.txt").read_text() == "decompressed with zstd\n"
    again = await pull(store, f"{registries.plain.host}/testimg:1")
    assert again.image.id == image.id and again.downloaded < 1000  # only the manifest


async def test_a_docker_schema_2_image_is_pulled(store: ImageStore, registries: Registries) -> None:
    result = await pull(store, f"{registries.plain.host}/testimg:v2s2")
    assert result.image.manifest_media_type == oci.DOCKER_MANIFEST
    assert all(layer.media_type == oci.DOCKER_LAYER_GZIP for layer in result.image.layers)
    assert (store.lowerdirs(result.image)[0] / "hello.txt").exists()


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
async def test_a_manifest_list_gives_the_nodes_platform(store: ImageStore, registries: Registries, arch: str) -> None:
    result = await pull(store, f"{registries.plain.host}/multi:1", platform=oci.Platform("linux", arch))
    assert result.image.manifest_digest == registries.images[f"multi-{arch}"].manifest_digest
    assert (store.lowerdirs(result.image)[0] / "arch").read_text() == f"{arch}\n"
    assert result.image.config["architecture"] == arch


async def test_a_manifest_list_without_the_platform_says_what_it_offers(store: ImageStore, registries: Registries) -> None:
    with pytest.raises(PlatformNotFoundError, match=r"no image for linux/s390x \(offered: linux/amd64, linux/arm64\)"):
        await pull(store, f"{registries.plain.host}/multi:1", platform=oci.Platform("linux", "s390x"))
    assert_nothing_stored(store)


async def test_a_pull_by_digest_pins_the_index_and_is_found_by_it(store: ImageStore, registries: Registries) -> None:
    ref = f"{registries.plain.host}/multi@{registries.index_digest}"
    result = await pull(store, ref)
    assert result.image.references == (ref,)
    assert store.get(ref).id == result.image.id


async def test_docker_io_names_are_served_by_a_mirror(store: ImageStore, registries: Registries) -> None:
    config = RegistryConfig.from_dict({"mirrors": {"docker.io": {"endpoint": [f"http://{registries.plain.host}"]}}})
    result = await pull(store, "busybox:1.0", config)
    assert result.reference == "docker.io/library/busybox:1.0"
    assert store.get("busybox:1.0").id == result.image.id


async def test_a_mirror_rewrite_maps_repository_paths(store: ImageStore, registries: Registries) -> None:
    config = RegistryConfig.from_dict({"mirrors": {"registry.example": {
        "endpoint": [f"http://{registries.plain.host}"], "rewrite": {"^team/(.*)$": "$1"}}}})
    result = await pull(store, "registry.example/team/testimg:v2s2", config)
    assert result.reference == "registry.example/team/testimg:v2s2"


async def test_basic_auth_without_credentials_is_refused_with_the_reason(store: ImageStore, registries: Registries) -> None:
    with pytest.raises(UnauthorizedError, match="requires authentication") as info:
        await pull(store, f"{registries.basic.host}/private/testimg:1")
    assert info.value.status == 401 and info.value.reference == f"{registries.basic.host}/private/testimg:1"
    with pytest.raises(UnauthorizedError, match="UNAUTHORIZED"):
        await pull(store, f"{registries.basic.host}/private/testimg:1", credentials=Credentials(USER, "wrong"))
    assert_nothing_stored(store)


@pytest.mark.parametrize("source", ["registries.yaml", "credentials", "dockerconfigjson"])
async def test_basic_auth_with_credentials_pulls(store: ImageStore, registries: Registries, source: str) -> None:
    host = registries.basic.host
    config, kwargs = None, {}
    if source == "registries.yaml":
        config = RegistryConfig.from_dict({"configs": {host: {"auth": {"username": USER, "password": PASSWORD}}}})
    elif source == "credentials":
        kwargs = {"credentials": Credentials(USER, PASSWORD)}
    else:
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        kwargs = {"dockerconfigjson": {"auths": {f"http://{host}": {"auth": auth}}}}
    result = await pull(store, f"{host}/private/testimg:1", config, **kwargs)
    assert result.image.manifest_digest == registries.images["testimg"].manifest_digest


async def test_the_anonymous_bearer_token_flow_pulls(store: ImageStore, registries: Registries) -> None:
    assert registries.token.token_server is not None
    before = len(registries.token.token_server.requests)
    result = await pull(store, f"{registries.token.host}/hub/testimg:1")
    assert result.image.manifest_digest == registries.images["testimg"].manifest_digest
    asked = registries.token.token_server.requests[before:]
    assert len(asked) == 1  # one token for the whole pull
    assert asked[0]["scope"] == ["repository:hub/testimg:pull"] and asked[0]["service"] == ["kyb-test-registry"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [("testimg:nope", "manifest unknown (MANIFEST_UNKNOWN)"), ("nothere:1", "manifest unknown (MANIFEST_UNKNOWN)")],
    ids=["unknown-tag", "unknown-repository"],
)
async def test_a_missing_image_carries_the_registrys_reason(store: ImageStore, registries: Registries, name: str, reason: str) -> None:
    with pytest.raises(NotFoundError) as info:
        await pull(store, f"{registries.plain.host}/{name}")
    assert reason in str(info.value) and str(info.value).startswith(f"{registries.plain.host}/{name}")
    assert info.value.status == 404 and info.value.code in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN")


async def test_a_registry_that_is_not_there_is_unavailable(store: ImageStore) -> None:
    with pytest.raises(RegistryUnavailableError, match="connect: connection refused"):
        await pull(store, f"127.0.0.1:{free_port()}/x:1")


# --- a registry that lies ------------------------------------------------------------------------------

class FakeRegistry:
    """FakeRegistry serves one image whose blobs a test may tamper with, and counts requests."""

    def __init__(self, *, tamper_blob: bool = False, wrong_diff_id: bool = False) -> None:
        self.layer = gzip.compress(layer_tar([Entry("f", b"content\n")]), mtime=0)
        diff_id = "sha256:" + hashlib.sha256(gzip.decompress(self.layer)).hexdigest()
        if wrong_diff_id:
            diff_id = "sha256:" + "1" * 64
        self.config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
            "config": {"mediaType": oci.OCI_CONFIG, "digest": oci.sha256_digest(self.config), "size": len(self.config)},
            "layers": [{"mediaType": oci.OCI_LAYER_GZIP, "digest": oci.sha256_digest(self.layer), "size": len(self.layer)}],
        }).encode()
        self.tamper_blob = tamper_blob
        self.blob_gets = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2/", self.ping)
        app.router.add_get("/v2/fake/manifests/{ref}", self.manifest_handler)
        app.router.add_get("/v2/fake/blobs/{digest}", self.blob_handler)
        return app

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def manifest_handler(self, request: web.Request) -> web.Response:
        return web.Response(body=self.manifest, content_type=oci.OCI_MANIFEST)

    async def blob_handler(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        if digest == oci.sha256_digest(self.config):
            return web.Response(body=self.config)
        self.blob_gets += 1
        await asyncio.sleep(0.05)  # long enough for concurrent pulls to overlap
        body = self.layer
        if self.tamper_blob:
            body = body[:-1] + bytes([body[-1] ^ 0xFF])
        return web.Response(body=body)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[FakeRegistry], "asyncio.Future[str]"]]:
    runners: list[web.AppRunner] = []

    async def start(fake: FakeRegistry) -> str:
        runner = web.AppRunner(fake.app())
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"127.0.0.1:{port}"

    yield start  # type: ignore[misc]
    for runner in runners:
        await runner.cleanup()


async def test_a_blob_whose_digest_does_not_match_is_rejected_and_nothing_is_stored(store: ImageStore, serve) -> None:  # type: ignore[no-untyped-def]
    host = await serve(FakeRegistry(tamper_blob=True))
    with pytest.raises(PullError, match="content hashes to") as info:
        await pull(store, f"{host}/fake:1")
    assert isinstance(info.value.__cause__, DigestMismatchError)
    assert_nothing_stored(store)


async def test_a_layer_that_does_not_match_its_diff_id_is_rejected_and_nothing_is_stored(store: ImageStore, serve) -> None:  # type: ignore[no-untyped-def]
    host = await serve(FakeRegistry(wrong_diff_id=True))
    with pytest.raises(PullError) as info:
        await pull(store, f"{host}/fake:1")
    assert isinstance(info.value.__cause__, CorruptLayerError)
    assert_nothing_stored(store)


async def test_concurrent_pulls_of_one_image_download_it_once(store: ImageStore, serve) -> None:  # type: ignore[no-untyped-def]
    fake = FakeRegistry()
    host = await serve(fake)
    progress: list[list[int]] = [[] for _ in range(5)]
    async with Puller(store) as puller:
        results = await asyncio.gather(*(
            puller.pull(f"{host}/fake:1", progress=lambda d, t, i=i: progress[i].append(d)) for i in range(5)))
    assert fake.blob_gets == 1
    assert all(r is results[0] for r in results)
    assert all(p and p[-1] == results[0].size for p in progress)


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


async def test_a_full_disk_fails_the_pull_and_removes_partial_files(small_disk: Path, registries: Registries) -> None:
    store = ImageStore(small_disk / "images")
    with pytest.raises(PullError, match="No space left on device") as info:
        await pull(store, f"{registries.plain.host}/testimg:1")
    assert isinstance(info.value.__cause__, StorageError)
    assert_nothing_stored(store)


# --- configuration ---------------------------------------------------------------------------------------

def test_registries_yaml_in_k3s_format_orders_mirrors_before_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text(
        "mirrors:\n"
        "  docker.io:\n"
        "    endpoint: ['http://127.0.0.1:5000', 'https://mirror.example:8443/v2']\n"
        "configs:\n"
        "  'mirror.example:8443':\n"
        "    auth: {username: u, password: p}\n"
        "    tls: {insecure_skip_verify: true}\n"
        "  'registry.example':\n"
        "    tls: {insecure_skip_verify: true}\n"
    )
    config = RegistryConfig.load(path)
    assert [e.url for e in config.endpoints("docker.io")] == [
        "http://127.0.0.1:5000/v2", "https://mirror.example:8443/v2", "https://registry-1.docker.io/v2"]
    mirror = config.endpoints("docker.io")[1]
    assert mirror.config.credentials == Credentials("u", "p") and mirror.config.insecure_skip_verify
    # Loopback registries are plain HTTP; insecure ones fall back to it.
    assert [e.url for e in config.endpoints("localhost:5000")] == ["http://localhost:5000/v2"]
    assert [e.url for e in config.endpoints("registry.example")] == ["https://registry.example/v2", "http://registry.example/v2"]
    assert RegistryConfig.load(tmp_path / "missing.yaml") == RegistryConfig()


def test_without_the_default_endpoint_mirrored_registries_are_reached_through_mirrors_only() -> None:
    from dataclasses import replace

    config = replace(RegistryConfig.from_dict({"mirrors": {"*": {"endpoint": ["http://127.0.0.1:1"]}}}),
                     disable_default_endpoint=True)
    assert [e.url for e in config.endpoints("docker.io")] == ["http://127.0.0.1:1/v2"]
    assert [e.url for e in config.endpoints("quay.io")] == ["http://127.0.0.1:1/v2"]
    # A registry on this machine stays reachable itself.
    assert [e.url for e in config.endpoints("127.0.0.1:5000")][-1] == "http://127.0.0.1:5000/v2"
    # Without a mirror there is nothing to fall back from: the registry itself is used.
    assert [e.url for e in replace(RegistryConfig(), disable_default_endpoint=True).endpoints("quay.io")] == [
        "https://quay.io/v2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("mirrors: [1]", "must be a mapping"), ("mirrors: {docker.io: {endpoint: 'x'}}", "must be a list"),
     ("mirrors: {docker.io: {endpoint: ['ftp://x']}}", "not an http"), ("configs: {r: {auth: {auth: '!!'}}}", "not base64"),
     ("mirrors: {a: [", "not YAML")],
    ids=["mirrors-list", "endpoint-string", "endpoint-scheme", "bad-auth", "not-yaml"],
)
def test_a_bad_registries_yaml_says_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    from kybernetes.images.errors import ConfigError

    path = tmp_path / "registries.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        RegistryConfig.load(path)


def test_dockerconfigjson_entries_match_docker_hub_aliases_and_hosts() -> None:
    doc = {"auths": {"https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
                     "127.0.0.1:5000": {"username": "u", "password": "p"}}}
    assert credentials_from_dockerconfigjson(doc, "docker.io") == Credentials("hub", "pw")
    assert credentials_from_dockerconfigjson(json.dumps(doc), "127.0.0.1:5000") == Credentials("u", "p")
    assert credentials_from_dockerconfigjson(doc, "quay.io") is None


def test_bearer_challenges_parse() -> None:
    assert parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"') == (
        "bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/busybox:pull"})
    assert parse_challenge('Basic realm="kyb"') == ("basic", {"realm": "kyb"})
