"""main: parse `kyb <command> [flags]` and run the command; errors are one line and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any, Coroutine

from kybernetes import __version__


class CLIError(Exception):
    """CLIError is a user-facing failure: printed as one line, exit status 1."""


def _server_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from kybernetes.daemons.control import ServerSettings, default_data_dir

    d = ServerSettings()
    p = sub.add_parser("server", help="run the control plane (API server, store, controllers)")
    p.add_argument("--data-dir", type=Path, default=None, help=f"data directory (default {default_data_dir()})")
    p.add_argument("--bind-address", default=d.bind_address, help="address to listen on (default %(default)s)")
    p.add_argument("--https-listen-port", type=int, default=d.https_listen_port, help="HTTPS port (default %(default)s)")
    p.add_argument("--write-kubeconfig", type=Path, default=None, help="where to write the admin kubeconfig (default <data-dir>/admin.kubeconfig)")
    p.add_argument("--datastore-endpoint", default="", help="datastore: empty for SQLite in the data dir, sqlite:///path, memory://")
    p.add_argument("--service-cidr", default=d.service_cidr, help="Service ClusterIP range (default %(default)s)")
    p.add_argument("--cluster-cidr", default=d.cluster_cidr, help="pod IP range (default %(default)s)")
    p.add_argument("--service-node-port-range", default=d.service_node_port_range, help="NodePort range (default %(default)s)")
    p.add_argument("--disable-agent", action="store_true", help="run the control plane only, without the node agent")
    p.add_argument("--agent-runtime", choices=("auto", "runc", "simulated", "none"), default=d.agent_runtime,
                   help="the server's own node agent: runc, simulated (no root, runs nothing) or none; "
                        "default auto: runc as root, otherwise none")
    p.add_argument("--node-name", default="", help="the server's node name (default: the host name)")
    p.add_argument("--node-ip", action="append", default=[], help="the server node's address; repeatable")
    p.add_argument("--kubelet-port", type=int, default=d.kubelet_port, help="the node agent's HTTPS port (default %(default)s)")
    p.add_argument("--pod-egress", choices=("cluster", "all"), default=d.pod_egress,
                   help="cluster: pods reach only cluster and Service addresses; all: pods also reach other networks "
                        "(masqueraded); default %(default)s")
    p.add_argument("--disable-default-registry-endpoint", action="store_true",
                   help="pull registries that have mirrors in registries.yaml through the mirrors only")
    p.add_argument("--disable", action="append", default=[], help="a component not to start (garbagecollector, namespace, nodelifecycle, scheduler); repeatable")
    p.add_argument("--tls-san", action="append", default=[], help="extra host name or IP for the serving certificate; repeatable")
    p.add_argument("--watch-cache-size", type=int, default=d.watch_cache_size, help="events kept for watches from an older resourceVersion (default %(default)s)")
    # Tuning knob kept out of --help: how far a watch may lag before it is cut off.
    p.add_argument("--watch-queue-size", type=int, default=d.watch_queue_size, help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    p.set_defaults(run=_run_server)


def _agent_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from kybernetes.daemons.control import default_data_dir

    p = sub.add_parser("agent", help="run a node agent that joins a cluster",
                       description="Join a cluster with --server and --token (or --token-file), as k3s' agent does, "
                                   "or run with an existing --kubeconfig.")
    p.add_argument("--server", default=None, help="the server to join, https://HOST:PORT (env KYB_URL)")
    p.add_argument("--token", default=None, help="the join token from the server's <data-dir>/server/token (env KYB_TOKEN)")
    p.add_argument("--token-file", type=Path, default=None, help="a file holding the join token (env KYB_TOKEN_FILE)")
    p.add_argument("--kubeconfig", type=Path, default=None, help="instead of joining: a kubeconfig of the cluster")
    p.add_argument("--data-dir", type=Path, default=None, help=f"data directory (default {default_data_dir()})")
    p.add_argument("--node-name", default=None, help="this node's name (default: the host name)")
    p.add_argument("--node-ip", action="append", default=[], help="this node's address; repeatable")
    p.add_argument("--node-label", action="append", default=[], help="a label key=value; repeatable")
    p.add_argument("--node-taint", action="append", default=[], help="a taint key=value:Effect; repeatable")
    p.add_argument("--runtime", choices=("runc", "simulated"), default="runc", help="container runtime (default %(default)s)")
    p.add_argument("--simulated-nodes", type=int, default=0, help="run N simulated nodes (like kwok) instead of this node")
    p.add_argument("--simulated-prefix", default="sim-node", help="name prefix of simulated nodes (default %(default)s)")
    p.add_argument("--pod-cidr", default=None,
                   help="this node's pod range, with --kubeconfig (default 10.42.0.0/24); the server assigns it when joining")
    p.add_argument("--cluster-cidr", default=None, help="the cluster's pod range (default: the server's; 10.42.0.0/16 with --kubeconfig)")
    p.add_argument("--service-cidr", default=None, help="the cluster's Service range (default: the server's; 10.43.0.0/16 with --kubeconfig)")
    p.add_argument("--kubelet-port", type=int, default=10250, help="this agent's HTTPS port (default %(default)s)")
    p.add_argument("--pod-egress", choices=("cluster", "all"), default="cluster",
                   help="cluster: pods reach only cluster and Service addresses; all: also other networks (default %(default)s)")
    p.add_argument("--disable-default-registry-endpoint", action="store_true",
                   help="pull registries that have mirrors in registries.yaml through the mirrors only")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(run=_run_agent)


def _join_token(args: argparse.Namespace) -> str:
    """--token or --token-file, else $KYB_TOKEN or $KYB_TOKEN_FILE (flags win over the environment)."""
    import os

    if args.token and args.token_file:
        raise CLIError("--token and --token-file: give one of them")
    text, source = args.token, "--token"
    path = args.token_file
    if not text and path is None:
        text, source = os.environ.get("KYB_TOKEN", ""), "KYB_TOKEN"
        if not text and os.environ.get("KYB_TOKEN_FILE"):
            path = Path(os.environ["KYB_TOKEN_FILE"])
    if path is not None:
        source = f"--token-file {path}"
        try:
            text = path.read_text()
        except OSError as exc:
            raise CLIError(f"--token-file: cannot read {path}: {exc.strerror or exc}") from None
    text = (text or "").strip()
    if not text:
        raise CLIError("--server needs a join token: --token, --token-file, KYB_TOKEN or KYB_TOKEN_FILE")
    if any(c.isspace() for c in text):
        raise CLIError(f"{source}: a token is one word")
    return text


def _check_cidrs(args: argparse.Namespace) -> None:
    import ipaddress

    for flag in ("pod_cidr", "cluster_cidr", "service_cidr"):
        value = getattr(args, flag)
        if value is None:
            continue
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise CLIError(f"--{flag.replace('_', '-')}: invalid CIDR {value!r}") from None


def _cluster_dns(service_cidr: str) -> tuple[str, ...]:
    """The cluster DNS address of a Service range: its tenth address, as the server has it."""
    import ipaddress

    return (str(ipaddress.ip_network(service_cidr, strict=False).network_address + 10),)


def _run_agent(args: argparse.Namespace) -> None:
    import os
    from dataclasses import replace

    from kybernetes.client.config import load_kubeconfig
    from kybernetes.daemons.control import default_data_dir
    from kybernetes.daemons.node import NodeSettings, default_node_name, parse_taint, run_node

    labels = {}
    for item in args.node_label:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--node-label: expected key=value, got {item!r}")
        labels[key] = value
    try:
        taints = tuple(parse_taint(t) for t in args.node_taint)
    except ValueError as exc:
        raise CLIError(f"--node-taint: {exc}") from None
    if args.simulated_nodes < 0:
        raise CLIError("--simulated-nodes: must not be negative")
    if not 0 < args.kubelet_port < 65536:
        raise CLIError(f"--kubelet-port: {args.kubelet_port} is not a port number")
    _check_cidrs(args)
    # Flags win over the environment: KYB_URL does not count when --kubeconfig is given.
    server = args.server or ("" if args.kubeconfig else os.environ.get("KYB_URL", ""))
    if server and args.kubeconfig:
        raise CLIError("--server and --kubeconfig: give one of them")
    if not server and not args.kubeconfig:
        raise CLIError("give --server URL with --token (or --token-file) to join a cluster, or --kubeconfig")
    if server and args.pod_cidr:
        raise CLIError("--pod-cidr: the server assigns this node's pod range when joining with --server")
    if args.kubeconfig and not args.kubeconfig.exists():
        raise CLIError(f"--kubeconfig: {args.kubeconfig} does not exist")
    service_cidr = args.service_cidr or "10.43.0.0/16"
    settings = NodeSettings(
        data_dir=args.data_dir or default_data_dir(),
        node_name=(args.node_name or default_node_name()).lower(),
        runtime="simulated" if args.simulated_nodes else args.runtime,
        simulated_nodes=args.simulated_nodes,
        simulated_prefix=args.simulated_prefix,
        node_ips=tuple(args.node_ip),
        labels=labels,
        taints=taints,
        pod_cidr=args.pod_cidr or "10.42.0.0/24",
        cluster_cidr=args.cluster_cidr or "10.42.0.0/16",
        service_cidr=service_cidr,
        cluster_dns=_cluster_dns(service_cidr),
        kubelet_port=args.kubelet_port,
        pod_egress=args.pod_egress,
        disable_default_registry_endpoint=args.disable_default_registry_endpoint,
    )
    join_request = None
    if server:
        from kybernetes.agent.node import node_ips
        from kybernetes.apiserver.join import JoinToken
        from kybernetes.daemons.join import JoinError, JoinRequest, normalize_server_url

        try:
            url = normalize_server_url(server)
        except JoinError as exc:
            raise CLIError(str(exc)) from None
        join_request = JoinRequest(server_url=url, token=JoinToken.parse(_join_token(args)),
                                   node_name=settings.node_name, node_ips=settings.node_ips or node_ips(),
                                   data_dir=settings.data_dir)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.WARNING)

    async def main() -> None:
        import signal

        node = settings
        if join_request is None:
            config = load_kubeconfig(args.kubeconfig)
        else:
            from kybernetes.daemons.join import join

            joined = await join(join_request)
            # The server's ranges, unless the flags say otherwise.
            service = args.service_cidr or joined.service_cidr
            node = replace(settings, pod_cidr=joined.pod_cidr, cluster_cidr=args.cluster_cidr or joined.cluster_cidr,
                           service_cidr=service, tls=joined.tls,
                           cluster_dns=_cluster_dns(service) if args.service_cidr or not joined.cluster_dns
                           else joined.cluster_dns)
            config = load_kubeconfig(joined.tls.kubeconfig)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_node(node, config=config, stop=stop)

    from kybernetes.daemons.join import JoinError

    try:
        _run(main())
    except JoinError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot start the agent: {exc.strerror or exc}") from None


def _validate_server_args(args: argparse.Namespace) -> None:
    import ipaddress

    for flag in ("service_cidr", "cluster_cidr"):
        value = getattr(args, flag)
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise CLIError(f"--{flag.replace('_', '-')}: invalid CIDR {value!r}") from None
    low, sep, high = args.service_node_port_range.partition("-")
    if not sep or not low.isdigit() or not high.isdigit() or not 0 < int(low) <= int(high) <= 65535:
        raise CLIError(f"--service-node-port-range: expected LOW-HIGH, got {args.service_node_port_range!r}")
    if args.watch_cache_size < 1:
        raise CLIError(f"--watch-cache-size: must be at least 1, got {args.watch_cache_size}")
    if not 0 < args.kubelet_port < 65536:
        raise CLIError(f"--kubelet-port: {args.kubelet_port} is not a port number")
    if not 0 < args.https_listen_port < 65536:
        raise CLIError(f"--https-listen-port: {args.https_listen_port} is not a port number")


def _run_server(args: argparse.Namespace) -> None:
    from kybernetes.daemons.control import ServerSettings, default_data_dir, run_server

    _validate_server_args(args)
    settings = ServerSettings(
        data_dir=args.data_dir or default_data_dir(),
        bind_address=args.bind_address,
        https_listen_port=args.https_listen_port,
        write_kubeconfig=args.write_kubeconfig,
        datastore_endpoint=args.datastore_endpoint,
        service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr,
        service_node_port_range=args.service_node_port_range,
        disable_agent=args.disable_agent,
        agent_runtime=args.agent_runtime,
        node_name=args.node_name.lower(),
        node_ips=tuple(args.node_ip),
        kubelet_port=args.kubelet_port,
        pod_egress=args.pod_egress,
        disable_default_registry_endpoint=args.disable_default_registry_endpoint,
        disable=tuple(args.disable),
        tls_san=tuple(args.tls_san),
        watch_cache_size=args.watch_cache_size,
        watch_queue_size=args.watch_queue_size,
    )
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Keep aiohttp's own access/debug noise out unless asked.
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    from kybernetes.daemons.control import resolve_agent_runtime

    if resolve_agent_runtime(settings.agent_runtime) == "none" and not settings.disable_agent:
        logging.getLogger("kybernetes").info(
            "running the control plane only (the runc node agent needs root and runc); "
            "--agent-runtime simulated adds a node that runs nothing"
        )
    try:
        _run(run_server(settings))
    except OSError as exc:
        raise CLIError(f"cannot start the server: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _run(coro: "Coroutine[Any, Any, None]") -> None:
    """Run on uvloop when it is installed: the event loop is most of a request's overhead."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coro)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kyb", description="Kybernetes: Kubernetes in Python.")
    parser.add_argument("--version", action="version", version=f"kyb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _server_parser(sub)
    _agent_parser(sub)
    # Node commands import their modules lazily: `kyb server` start-up should not pay for them.
    from kybernetes.cli import build, containers, images

    images.register(sub)
    build.register(sub)
    containers.register(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        sys.exit(2)
    try:
        args.run(args)
    except CLIError as exc:
        print(f"kyb: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
