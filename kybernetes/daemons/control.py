"""The control plane assembly: store, watch cache, API server and controllers, started in order.

All defaults live in `ServerSettings`; each component logs one line when it is up, and /readyz
turns OK once the store is open and the bootstrap objects exist.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from kybernetes.apiserver import pki
from kybernetes.apiserver.allocators import ServiceAllocations
from kybernetes.apiserver.app import APIServer, ServerState, VersionInfo
from kybernetes.apiserver.auth import Authenticator, User, load_token_file
from kybernetes.apiserver.generic import GenericRegistry, RequestInfo
from kybernetes.apiserver.join import JoinService, JoinToken, PodCIDRAllocator, ca_hash, first_pod_cidr
from kybernetes.registry.base import Obj
from kybernetes.registry.catalog import build_catalog
from kybernetes.store.cache import WatchCache
from kybernetes.store.drivers import open_backend

log = logging.getLogger("kybernetes")


def default_data_dir() -> Path:
    """k3s' convention: /var/lib/… for root, a per-user directory otherwise."""
    if os.geteuid() == 0:
        return Path("/var/lib/kybernetes")
    return Path(os.path.expanduser("~/.local/share/kybernetes"))


@dataclass
class ServerSettings:
    """Settings of `kyb server`; every flag maps to one attribute."""

    data_dir: Path = field(default_factory=default_data_dir)
    """Where the datastore, certificates and tokens live."""
    bind_address: str = "127.0.0.1"
    """Address the API server listens on."""
    https_listen_port: int = 6443
    """HTTPS port of the API server."""
    write_kubeconfig: Path | None = None
    """Where to write the admin kubeconfig; default <data-dir>/admin.kubeconfig."""
    datastore_endpoint: str = ""
    """Empty for SQLite in the data dir, or sqlite:///path, memory://."""
    service_cidr: str = "10.43.0.0/16"
    """Range Service ClusterIPs come from."""
    cluster_cidr: str = "10.42.0.0/16"
    """Range pod IPs come from (used by the node agent in a later issue)."""
    service_node_port_range: str = "30000-32767"
    """Range NodePorts come from."""
    disable_agent: bool = False
    """Run the control plane only."""
    agent_runtime: str = "auto"
    """The node agent inside the server: `runc`, `simulated` (no root, runs nothing), `none`, or `auto`:
    runc when running as root with runc installed, otherwise the control plane only."""
    node_name: str = ""
    """The server's own node; empty means the host name."""
    node_ips: tuple[str, ...] = ()
    """The node's InternalIP addresses; empty means the machine's first non-loopback IPv4."""
    kubelet_port: int = 10250
    """The node agent's HTTPS port (logs, exec, attach, port-forward)."""
    disable_default_registry_endpoint: bool = False
    """The node pulls mirrored registries only through their mirrors (registries.yaml)."""
    pod_egress: str = "cluster"
    """`cluster`: pods reach only the cluster and Service ranges; `all`: default route with masquerading."""
    disable: tuple[str, ...] = ()
    """Components not to start: garbagecollector, namespace, scheduler."""
    tls_san: tuple[str, ...] = ()
    """Extra names or IPs for the serving certificate."""
    watch_cache_size: int = 100_000
    """Events kept in memory for watches that start at an older resourceVersion."""
    watch_queue_size: int = 10_000
    """Events a watch may fall behind by before it is dropped (a client that stops reading)."""

    @property
    def kubeconfig_path(self) -> Path:
        return self.write_kubeconfig or self.data_dir / "admin.kubeconfig"

    @property
    def server_dir(self) -> Path:
        return self.data_dir / "server"


BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _ssl_context(files: pki.TLSFiles) -> ssl.SSLContext:
    # Client certificates are optional: bearer tokens authenticate too, and /version is public.
    return pki.server_ssl_context(files.serving_cert, files.serving_key, files.ca_cert, client_certs=ssl.CERT_OPTIONAL)


def _ensure_token(path: Path, ca_pem: bytes) -> tuple[JoinToken, bool]:
    """The join token agents present, kept in the data dir: (token, whether it was made just now).

    New tokens have k3s' secure format `K10<sha256 of the CA PEM>::server:<secret>`. A token file
    from before that format (`K10<hex>`) is kept as it is: agents that hold it keep joining. A
    secure token whose hash names another CA (the CA was remade) gets the current hash, same secret.
    """
    if path.exists():
        token = JoinToken.parse(path.read_text())
        if not token.secure or token.ca_hash == ca_hash(ca_pem):
            return token, False
        log.warning("join token: the CA changed; %s now names the current CA (same secret)", path)
        token = JoinToken(secret=token.secret, ca_hash=ca_hash(ca_pem), username=token.username)
    else:
        token = JoinToken.generate(ca_pem)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, token.text() + "\n")
    return token, True


def _write_private(path: Path, text: str) -> None:
    """Write a secret file readable by its owner only, replacing it atomically."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _join_service(settings: ServerSettings, files: pki.TLSFiles, token: JoinToken,
                  registry: GenericRegistry) -> JoinService:
    """Joining nodes get credentials and a pod range; the server's own node keeps the first range."""
    nodes_resource = registry.catalog.lookup("", "v1", "nodes")
    assert nodes_resource is not None

    def nodes() -> list[Obj]:
        _, kvs = registry.cache.list(nodes_resource.storage_prefix)
        return [registry.cached_object(kv) for kv in kvs]

    reserved: dict[str, str] = {}
    if not settings.disable_agent and resolve_agent_runtime(settings.agent_runtime) != "none":
        from kybernetes.daemons.node import default_node_name

        reserved[settings.node_name or default_node_name()] = first_pod_cidr(settings.cluster_cidr)
    allocator = PodCIDRAllocator(cluster_cidr=settings.cluster_cidr, nodes=nodes, reserved=reserved)
    return JoinService(tls=files, token=token, allocator=allocator, cluster_cidr=settings.cluster_cidr,
                       service_cidr=settings.service_cidr)


def advertise_address(bind_address: str) -> str | None:
    """The address other hosts reach this server at: the bind address, else the host name's first non-loopback IPv4."""
    import socket

    candidates = [bind_address] if bind_address not in ("0.0.0.0", "::") else []
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    for ip in candidates:
        try:
            if not ipaddress.ip_address(ip).is_loopback:
                return ip
        except ValueError:
            continue
    return None


async def _bootstrap(registry: GenericRegistry, settings: ServerSettings) -> None:
    """Objects every cluster has: the system namespaces, their default ServiceAccounts, the kubernetes Service."""
    catalog = registry.catalog
    info = RequestInfo(user="system:apiserver", user_agent="kyb-server", field_manager="kube-apiserver")
    ns_resource = catalog.lookup("", "v1", "namespaces")
    sa_resource = catalog.lookup("", "v1", "serviceaccounts")
    svc_resource = catalog.lookup("", "v1", "services")
    ep_resource = catalog.lookup("", "v1", "endpoints")
    assert ns_resource and sa_resource and svc_resource and ep_resource
    for name in BOOTSTRAP_NAMESPACES:
        if registry.cache.get(ns_resource.key(None, name)) is None:
            await registry.create(ns_resource, None, {"metadata": {"name": name}}, info)
        if registry.cache.get(sa_resource.key(name, "default")) is None:
            await registry.create(sa_resource, name, {"metadata": {"name": "default"}}, info)
    network = ipaddress.ip_network(settings.service_cidr, strict=False)
    api_ip = str(network.network_address + 1)
    if registry.cache.get(svc_resource.key("default", "kubernetes")) is None:
        await registry.create(
            svc_resource,
            "default",
            {
                "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
                "spec": {
                    "clusterIP": api_ip,
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": settings.https_listen_port}],
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                },
            },
            info,
        )
    endpoint_ip = advertise_address(settings.bind_address)
    # Endpoints may not point at loopback (upstream forbids it), so a loopback-only server has none.
    if endpoint_ip and registry.cache.get(ep_resource.key("default", "kubernetes")) is None:
        await registry.create(
            ep_resource,
            "default",
            {
                "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": [
                    {
                        "addresses": [{"ip": endpoint_ip}],
                        "ports": [{"name": "https", "port": settings.https_listen_port, "protocol": "TCP"}],
                    }
                ],
            },
            info,
        )


async def run_server(settings: ServerSettings, *, stop: asyncio.Event | None = None) -> None:
    """Run the control plane until `stop` is set or SIGTERM/SIGINT arrives."""
    started = time.monotonic()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)
    sans = settings.tls_san
    if settings.bind_address in ("0.0.0.0", "::"):
        # Listening everywhere: agents on other machines join by one of this host's addresses (k3s adds them too).
        from kybernetes.agent.node import node_ips

        sans = tuple(dict.fromkeys((*sans, *settings.node_ips, *node_ips())))
    files = pki.ensure_tls(settings.server_dir / "tls", bind_address=settings.bind_address, extra_sans=sans)
    token, new_token = _ensure_token(settings.server_dir / "token", files.ca_cert.read_bytes())
    host = settings.bind_address if settings.bind_address not in ("0.0.0.0", "::") else "127.0.0.1"
    url = f"https://{host}:{settings.https_listen_port}"
    pki.write_kubeconfig(settings.kubeconfig_path, pki.kubeconfig(url, files))

    backend = open_backend(settings.datastore_endpoint, data_dir=settings.data_dir)
    await backend.start()
    cache = WatchCache(backend, history=settings.watch_cache_size, watcher_queue=settings.watch_queue_size)
    await cache.start()
    log.info("store: started (%s, revision %d)", settings.datastore_endpoint or "sqlite", cache.revision)

    catalog = build_catalog()
    hooks = ServiceAllocations(service_cidr=settings.service_cidr, node_port_range=settings.service_node_port_range)
    svc_resource = catalog.lookup("", "v1", "services")
    registry = GenericRegistry(catalog=catalog, backend=backend, cache=cache, hooks=hooks)
    if svc_resource is not None:
        _, kvs = cache.list(svc_resource.storage_prefix)
        hooks.restore(registry.cached_object(kv) for kv in kvs)

    authenticator = Authenticator(load_token_file(settings.server_dir / "tokens.json"))
    authenticator.add_token(token.text(), User("system:kyb-agent", ("system:nodes",)))
    state = ServerState()
    api = APIServer(
        catalog=catalog,
        registry=registry,
        authenticator=authenticator,
        version=VersionInfo(),
        server_address=f"{host}:{settings.https_listen_port}",
        state=state,
        join=_join_service(settings, files, token, registry),
        kubelet_client_tls=files,
    )
    runner = web.AppRunner(api.application(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.bind_address, settings.https_listen_port, ssl_context=_ssl_context(files), reuse_address=True)
    await site.start()
    log.info("apiserver: listening on %s", url)
    try:
        await _bootstrap(registry, settings)
        state.checks["store"] = True
        log.info("ready in %.0f ms", (time.monotonic() - started) * 1000)
        log.info("to use kubectl: export KUBECONFIG=%s; kubectl get namespaces", settings.kubeconfig_path)
        if new_token:
            # The path, never the token itself: logs are no place for secrets.
            join_host = host if settings.bind_address not in ("0.0.0.0", "::") else advertise_address(settings.bind_address) or host
            log.info("to add a node: kyb agent --server https://%s:%d --token-file %s",
                     join_host, settings.https_listen_port, settings.server_dir / "token")
        async with asyncio.TaskGroup() as tg:
            controllers = _start_controllers(tg, settings) + _start_scheduler(tg, settings)
            agent_stop = asyncio.Event()
            if not settings.disable_agent and resolve_agent_runtime(settings.agent_runtime) != "none":
                node_tls = _ensure_node_credentials(settings, files, url)
                controllers.append(tg.create_task(_quiet_cancel(_run_agent(settings, node_tls, agent_stop))))
            await stop.wait()
            agent_stop.set()
            for task in controllers:
                task.cancel()
    finally:
        log.info("shutting down")
        await runner.cleanup()
        await cache.close()
        await backend.close()


def _start_scheduler(tg: asyncio.TaskGroup, settings: ServerSettings) -> list[asyncio.Task[None]]:
    """The scheduler reaches the API server over HTTPS with the admin kubeconfig, like the controllers."""
    if "scheduler" in settings.disable:
        return []
    from kybernetes import scheduler
    from kybernetes.client.config import load_kubeconfig

    return [tg.create_task(_quiet_cancel(scheduler.run(load_kubeconfig(settings.kubeconfig_path))))]


def _start_controllers(tg: asyncio.TaskGroup, settings: ServerSettings) -> list[asyncio.Task[None]]:
    """Controllers talk to the API server over HTTPS with the admin kubeconfig, like a separate process."""
    wanted = {"garbagecollector", "namespace", "nodelifecycle"} - set(settings.disable)
    if not wanted:
        return []
    try:
        from kybernetes.client.config import load_kubeconfig
        from kybernetes.controllers import manager
    except ImportError as exc:  # pragma: no cover - the controllers package ships with the server
        log.warning("controllers unavailable: %s", exc)
        return []
    config = load_kubeconfig(settings.kubeconfig_path)
    return [tg.create_task(_quiet_cancel(manager.run(config, enabled=wanted)))]


def resolve_agent_runtime(requested: str) -> str:
    """`auto` means what k3s does (the server is also a node) where that can work: as root with runc."""
    if requested != "auto":
        return requested
    import shutil

    return "runc" if os.geteuid() == 0 and shutil.which("runc") else "none"


def _ensure_node_credentials(settings: ServerSettings, files: pki.TLSFiles, url: str) -> pki.NodeTLSFiles:
    """The server's own node gets the same credentials a joining agent gets: `system:node:<name>`."""
    from kybernetes.agent.node import node_ips
    from kybernetes.daemons.node import default_node_name

    node_tls = pki.NodeTLSFiles.for_data_dir(settings.data_dir)
    name = settings.node_name or default_node_name()
    issued_for = node_tls.directory / "node-name"
    current = node_tls.usable(files.ca_cert.read_bytes()) and issued_for.exists() and issued_for.read_text() == name
    if not current or _kubeconfig_server(node_tls.kubeconfig) != url:
        credentials = pki.issue_node_credentials(files, name, ips=settings.node_ips or node_ips())
        node_tls.write(credentials, url)
        issued_for.write_text(name)
    return node_tls


def _kubeconfig_server(path: Path) -> str:
    try:
        import yaml

        return str(yaml.safe_load(path.read_text())["clusters"][0]["cluster"]["server"])
    except (OSError, KeyError, IndexError, TypeError, ValueError):
        return ""


async def _run_agent(settings: ServerSettings, node_tls: pki.NodeTLSFiles, stop: asyncio.Event) -> None:
    """The server's own node, as k3s runs one: an agent that talks to this API server over HTTPS."""
    from kybernetes.client.config import load_kubeconfig
    from kybernetes.daemons.node import NodeSettings, run_node

    network = ipaddress.ip_network(settings.service_cidr, strict=False)
    pod_cidr = first_pod_cidr(settings.cluster_cidr)
    node = NodeSettings(
        data_dir=settings.data_dir,
        runtime=resolve_agent_runtime(settings.agent_runtime),  # type: ignore[arg-type]
        role="control-plane",
        pod_cidr=pod_cidr,
        cluster_cidr=settings.cluster_cidr,
        service_cidr=settings.service_cidr,
        cluster_dns=(str(network.network_address + 10),),
        pod_egress=settings.pod_egress,  # type: ignore[arg-type]
        disable_default_registry_endpoint=settings.disable_default_registry_endpoint,
        kubelet_port=settings.kubelet_port,
        node_ips=settings.node_ips,
        tls=node_tls,
        **({"node_name": settings.node_name} if settings.node_name else {}),
    )
    await run_node(node, config=load_kubeconfig(node_tls.kubeconfig), stop=stop)


async def _quiet_cancel(coro: "asyncio.Future[None] | object") -> None:
    try:
        await coro  # type: ignore[misc]
    except asyncio.CancelledError:
        pass
