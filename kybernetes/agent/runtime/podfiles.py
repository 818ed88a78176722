"""podfiles: the files every container of a pod shares: /etc/hosts, /etc/hostname and /etc/resolv.conf.

The contents follow kubelet (`pkg/kubelet/kubelet_pods.go`, `pkg/kubelet/network/dns`).
"""

from __future__ import annotations

from pathlib import Path

from kybernetes.agent.runtime.types import DNSConfig, PodSandboxConfig

HOST_RESOLV_CONF = Path("/etc/resolv.conf")


def hosts_file(config: PodSandboxConfig, ip: str) -> str:
    """hosts_file is the pod's /etc/hosts: localhost entries, the pod's own names, then host aliases."""
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    hostname = config.effective_hostname
    if ip:
        if config.subdomain:
            fqdn = f"{hostname}.{config.subdomain}.{config.namespace}.svc.{config.cluster_domain}"
            lines.append(f"{ip}\t{fqdn}\t{hostname}")
        else:
            lines.append(f"{ip}\t{hostname}")
    if config.host_aliases:
        lines.append("")
        lines.append("# Entries added by HostAliases.")
        for alias in config.host_aliases:
            lines.append(f"{alias.ip}\t" + "\t".join(alias.hostnames))
    return "\n".join(lines) + "\n"


def resolv_conf(dns: DNSConfig, *, host: Path = HOST_RESOLV_CONF) -> str:
    """resolv_conf renders the pod's DNS settings; with none given, the node's own file is used."""
    if not (dns.servers or dns.searches or dns.options):
        try:
            return host.read_text()
        except OSError:
            return ""
    lines: list[str] = []
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    lines.extend(f"nameserver {s}" for s in dns.servers)
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + "\n"


def write_pod_files(directory: Path, config: PodSandboxConfig, ip: str) -> None:
    """write_pod_files writes hosts, hostname and resolv.conf into the sandbox directory."""
    (directory / "hosts").write_text(hosts_file(config, ip))
    (directory / "hostname").write_text(config.effective_hostname + "\n")
    (directory / "resolv.conf").write_text(resolv_conf(config.dns))
