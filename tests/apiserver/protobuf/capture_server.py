"""Capture server: records the request bodies real kubectl binaries send for the imperative generators.

Regenerate the fixtures (needs the kubectl.1.31/1.32/1.33 binaries of the Google Cloud SDK; loopback only):

    cd /work/main && PYTHONPATH=. .venv/bin/python tests/apiserver/protobuf/capture_server.py

For every command in ``COMMANDS`` and every kubectl version it writes
``fixtures/<name>.<version>.bin`` (protobuf body) or ``fixtures/<name>.<version>.json`` (JSON body)
and ``fixtures/commands.json`` (name → argv and the content type each version used).
kubectl 1.31 sends JSON for every generator; 1.32+ send protobuf for most of them, so the tests
compare the decoded protobuf body with the 1.31 JSON body of the same command.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.{version}"
VERSIONS = ("1.31", "1.32", "1.33")
PROTOBUF = "application/vnd.kubernetes.protobuf"

# Discovery: group version → [(resource, singular, namespaced, kind, verbs, shortNames)].
_RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
RESOURCES: dict[str, list[tuple[str, str, bool, str, list[str], list[str]]]] = {
    "v1": [
        ("namespaces", "namespace", False, "Namespace", _RW, ["ns"]),
        ("configmaps", "configmap", True, "ConfigMap", _RW, ["cm"]),
        ("secrets", "secret", True, "Secret", _RW, []),
        ("services", "service", True, "Service", _RW, ["svc"]),
        ("serviceaccounts", "serviceaccount", True, "ServiceAccount", _RW, ["sa"]),
        ("serviceaccounts/token", "", True, "TokenRequest", ["create"], []),
        ("resourcequotas", "resourcequota", True, "ResourceQuota", _RW, ["quota"]),
        ("pods", "pod", True, "Pod", _RW, ["po"]),
    ],
    "apps/v1": [
        ("deployments", "deployment", True, "Deployment", _RW, ["deploy"]),
        ("deployments/scale", "", True, "Scale", ["get", "patch", "update"], []),
    ],
    "batch/v1": [
        ("jobs", "job", True, "Job", _RW, []),
        ("cronjobs", "cronjob", True, "CronJob", _RW, ["cj"]),
    ],
    "networking.k8s.io/v1": [("ingresses", "ingress", True, "Ingress", _RW, ["ing"])],
    # kubectl 1.33 autoscale tries autoscaling/v2 first and falls back to v1.
    "autoscaling/v2": [
        ("horizontalpodautoscalers", "horizontalpodautoscaler", True, "HorizontalPodAutoscaler", _RW, ["hpa"]),
    ],
    "autoscaling/v1": [
        ("horizontalpodautoscalers", "horizontalpodautoscaler", True, "HorizontalPodAutoscaler", _RW, ["hpa"]),
    ],
    "policy/v1": [("poddisruptionbudgets", "poddisruptionbudget", True, "PodDisruptionBudget", _RW, ["pdb"])],
    "scheduling.k8s.io/v1": [("priorityclasses", "priorityclass", False, "PriorityClass", _RW, ["pc"])],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "role", True, "Role", _RW, []),
        ("rolebindings", "rolebinding", True, "RoleBinding", _RW, []),
        ("clusterroles", "clusterrole", False, "ClusterRole", _RW, []),
        ("clusterrolebindings", "clusterrolebinding", False, "ClusterRoleBinding", _RW, []),
    ],
    "authorization.k8s.io/v1": [
        ("selfsubjectaccessreviews", "selfsubjectaccessreview", False, "SelfSubjectAccessReview", ["create"], []),
        ("selfsubjectrulesreviews", "selfsubjectrulesreview", False, "SelfSubjectRulesReview", ["create"], []),
    ],
    "authentication.k8s.io/v1": [
        ("selfsubjectreviews", "selfsubjectreview", False, "SelfSubjectReview", ["create"], []),
    ],
}

# Objects some commands read before they write (autoscale, create job --from).
CANNED: dict[str, dict] = {
    "/apis/apps/v1/namespaces/default/deployments/d2": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d2", "namespace": "default", "uid": "5d7d0b1e-0000-4000-8000-000000000001",
                     "resourceVersion": "10", "generation": 1, "labels": {"app": "d2"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d2"}},
                 "template": {"metadata": {"labels": {"app": "d2"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}},
    },
    "/apis/batch/v1/namespaces/default/cronjobs/cj1": {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "cj1", "namespace": "default", "uid": "5d7d0b1e-0000-4000-8000-000000000002",
                     "resourceVersion": "11"},
        "spec": {"schedule": "*/1 * * * *", "concurrencyPolicy": "Allow", "suspend": False,
                 "jobTemplate": {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
                                 "spec": {"backoffLimit": 2, "template": {"spec": {
                                     "restartPolicy": "OnFailure",
                                     "containers": [{"name": "cj1", "image": "busybox", "command": ["date"],
                                                     "resources": {"limits": {"cpu": "100m"}}}]}}}}},
    },
}

# name → kubectl arguments; {tmp} is a scratch directory holding the TLS pair and a binary file.
COMMANDS: dict[str, list[str]] = {
    "create-namespace": ["create", "namespace", "ns1"],
    "create-configmap": ["create", "configmap", "cm1", "--from-literal=a=1", "--from-literal=b=2"],
    "create-configmap-binary": ["create", "configmap", "cm2", "--from-file=bin={tmp}/blob.bin",
                                "--from-literal=empty="],
    "create-secret-generic": ["create", "secret", "generic", "s1", "--from-literal=password=x",
                              "--from-literal=empty="],
    "create-secret-tls": ["create", "secret", "tls", "tls1", "--cert={tmp}/tls.crt", "--key={tmp}/tls.key"],
    "create-secret-docker-registry": ["create", "secret", "docker-registry", "reg1",
                                      "--docker-server=registry.example.com", "--docker-username=u",
                                      "--docker-password=p", "--docker-email=u@example.com"],
    "create-deployment": ["create", "deployment", "d2", "--image=nginx", "--replicas=3", "--port=8080"],
    "create-deployment-zero": ["create", "deployment", "d0", "--image=nginx", "--replicas=0"],
    "create-deployment-multi": ["create", "deployment", "d4", "--image=nginx", "--image=redis:7"],
    "create-deployment-command": ["create", "deployment", "d3", "--image=busybox", "--", "sleep", "3600"],
    "create-service-clusterip": ["create", "service", "clusterip", "svc-c", "--tcp=80:8080", "--tcp=443"],
    "create-service-headless": ["create", "service", "clusterip", "svc-h", "--clusterip=None"],
    "create-service-nodeport": ["create", "service", "nodeport", "svc1", "--tcp=80:8080", "--node-port=30080"],
    "create-service-loadbalancer": ["create", "service", "loadbalancer", "svc-lb", "--tcp=443:8443"],
    "create-service-externalname": ["create", "service", "externalname", "svc-x", "--external-name=example.com"],
    "create-job": ["create", "job", "j1", "--image=busybox", "--", "echo", "hi"],
    "create-job-from-cronjob": ["create", "job", "j2", "--from=cronjob/cj1"],
    "create-cronjob": ["create", "cronjob", "cj1", "--image=busybox", "--schedule=*/1 * * * *",
                       "--restart=OnFailure", "--", "date"],
    "create-ingress": ["create", "ingress", "ing2", "--class=nginx", "--rule=foo.com/*=svc1:80,tls=mysecret"],
    "create-ingress-multi": ["create", "ingress", "ing3", "--default-backend=svc2:http",
                             "--rule=bar.com/path=svc3:8080", "--rule=/exact=svc4:web", "--annotation=a=b"],
    "create-serviceaccount": ["create", "serviceaccount", "sa1"],
    "create-quota": ["create", "quota", "q1", "--hard=pods=2,cpu=1,memory=1Gi", "--scopes=BestEffort"],
    "create-priorityclass": ["create", "priorityclass", "pc1", "--value=1000", "--description=high priority",
                             "--preemption-policy=Never"],
    "create-priorityclass-zero": ["create", "priorityclass", "pc0", "--value=0", "--global-default"],
    "create-pdb": ["create", "poddisruptionbudget", "pdb1", "--selector=app=x", "--min-available=1"],
    "create-pdb-percent": ["create", "pdb", "pdb2", "--selector=app=y", "--max-unavailable=50%"],
    "create-role": ["create", "role", "r1", "--verb=get,list", "--resource=pods,deployments.apps",
                    "--resource-name=x"],
    "create-rolebinding": ["create", "rolebinding", "rb1", "--role=r1", "--user=alice",
                           "--serviceaccount=default:sa1"],
    "create-clusterrole": ["create", "clusterrole", "cr1", "--verb=get", "--non-resource-url=/healthz"],
    "create-clusterrolebinding": ["create", "clusterrolebinding", "crb1", "--clusterrole=cr1", "--group=devs"],
    "create-token": ["create", "token", "sa1", "--duration=1h", "--audience=api",
                     "--bound-object-kind=Pod", "--bound-object-name=p1",
                     "--bound-object-uid=5d7d0b1e-0000-4000-8000-000000000003"],
    "autoscale": ["autoscale", "deployment", "d2", "--min=2", "--max=3", "--cpu-percent=50"],
    "auth-can-i": ["auth", "can-i", "list", "pods"],
    "auth-can-i-subresource": ["auth", "can-i", "get", "pods", "--subresource=log", "-n", "kube-system"],
    "auth-can-i-nonresource": ["auth", "can-i", "get", "/healthz"],
    "auth-whoami": ["auth", "whoami"],
}


@dataclass
class Capture:
    """Capture is one recorded write request."""

    method: str
    path: str
    content_type: str
    body: bytes


@dataclass
class Recorder:
    """Recorder collects the write requests of the current kubectl run."""

    captures: list[Capture] = field(default_factory=list)


def _object_name(body: bytes, content_type: str) -> str:
    """Return metadata.name from a JSON body or a protobuf envelope (raw field 1 → metadata field 1)."""
    if not content_type.startswith(PROTOBUF):
        return (json.loads(body or b"{}").get("metadata") or {}).get("name", "")

    # A tiny independent wire walk, so the capture server does not depend on the decoder it tests.
    def fields(buf: bytes) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        i = 0
        while i < len(buf):
            key, i = _varint(buf, i)
            if key & 7 == 0:
                _, i = _varint(buf, i)
            elif key & 7 == 2:
                n, i = _varint(buf, i)
                out.setdefault(key >> 3, buf[i:i + n])
                i += n
            else:
                break
        return out

    raw = fields(body[4:]).get(2, b"")
    return fields(fields(raw).get(1, b"")).get(1, b"").decode()


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def _group_version(path: str) -> tuple[str, list[str]]:
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        return "v1", parts[2:]
    return f"{parts[1]}/{parts[2]}", parts[3:]


def _reply_for(path: str, name: str) -> dict:
    """Build the minimal object kubectl needs to print its success line."""
    gv, rest = _group_version(path)
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource = "/".join(x for i, x in enumerate(rest) if i != 1)
    kinds = {r[0]: r[3] for r in RESOURCES.get(gv, [])}
    kind = kinds.get(resource, "Unknown")
    if resource == "serviceaccounts/token":
        return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"name": rest[1]},
                "spec": {"audiences": ["api"]}, "status": {"token": "tok", "expirationTimestamp": "2030-01-01T00:00:00Z"}}
    obj: dict = {"apiVersion": gv, "kind": kind, "metadata": {"name": name}}
    if kind == "SelfSubjectAccessReview":
        obj["status"] = {"allowed": True}
    elif kind == "SelfSubjectReview":
        obj["status"] = {"userInfo": {"username": "admin", "groups": ["system:masters"]}}
    return obj


def build_app(recorder: Recorder) -> web.Application:
    """Build the fake API server: legacy discovery, canned GETs, and recording POST handler."""

    async def handle(request: web.Request) -> web.Response:
        path = request.path
        if request.method == "GET":
            if path == "/version":
                return web.json_response({"major": "1", "minor": "32", "gitVersion": "v1.32.0",
                                          "gitCommit": "0" * 40, "gitTreeState": "clean",
                                          "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4",
                                          "compiler": "gc", "platform": "linux/amd64"})
            if path == "/api":
                return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}]})
            if path == "/apis":
                versions: dict[str, list[dict]] = {}
                for gv in RESOURCES:
                    if gv != "v1":
                        g, v = gv.split("/")
                        versions.setdefault(g, []).append({"groupVersion": gv, "version": v})
                groups = [{"name": g, "versions": vs, "preferredVersion": vs[0]} for g, vs in versions.items()]
                return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            gv = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
            if gv in RESOURCES:
                resources = []
                for name, singular, namespaced, kind, verbs, short in RESOURCES[gv]:
                    entry = {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind,
                             "verbs": verbs}
                    if short:
                        entry["shortNames"] = short
                    if name == "serviceaccounts/token":
                        entry.update(group="authentication.k8s.io", version="v1")
                    if name == "deployments/scale":
                        entry.update(group="autoscaling", version="v1")
                    resources.append(entry)
                return web.json_response({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                                          "resources": resources})
            if path in CANNED:
                return web.json_response(CANNED[path])
            return web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": "the server could not find the requested resource",
                                      "reason": "NotFound", "code": 404}, status=404)
        body = await request.read()
        content_type = request.headers.get("Content-Type", "")
        recorder.captures.append(Capture(request.method, path, content_type, body))
        return web.json_response(_reply_for(path, _object_name(body, content_type)), status=201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


class ServerThread:
    """ServerThread runs the capture server on 127.0.0.1 with a random port in a background thread."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner: web.AppRunner | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        self._runner = web.AppRunner(build_app(self.recorder), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def _write_inputs(tmp: Path) -> None:
    """Write the TLS pair (fixed, kept beside the fixtures so reruns are stable) and a binary file."""
    crt, key = FIXTURES / "tls.crt", FIXTURES / "tls.key"
    if not crt.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "3650", "-subj", "/CN=example.com", "-keyout", str(key),
                        "-out", str(crt)], check=True, capture_output=True)
    (tmp / "tls.crt").write_bytes(crt.read_bytes())
    (tmp / "tls.key").write_bytes(key.read_bytes())
    (tmp / "blob.bin").write_bytes(bytes([0, 1, 2, 0xFF, 0xFE, 0x80]) + b"binary")


def run_kubectl(version: str, port: int, tmp: Path, args: list[str]) -> subprocess.CompletedProcess:
    """Run one kubectl version against the capture server with a fresh discovery cache."""
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: local\n  cluster:\n    server: http://127.0.0.1:{port}\n"
        "contexts:\n- name: local\n  context: {cluster: local, user: admin, namespace: default}\n"
        "current-context: local\nusers:\n- name: admin\n  user: {token: t}\n")
    cache = tempfile.mkdtemp(dir=tmp)
    argv = [KUBECTL.format(version=version), f"--kubeconfig={kubeconfig}", f"--cache-dir={cache}",
            *(a.format(tmp=tmp) for a in args)]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "KUBECTL_COMMAND_HEADERS": "true"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def main() -> int:
    """Capture every command with every version and rewrite the fixture directory."""
    FIXTURES.mkdir(exist_ok=True)
    recorder = Recorder()
    manifest: dict[str, dict] = {}
    failures = 0
    with tempfile.TemporaryDirectory() as tmpdir, ServerThread(recorder) as server:
        tmp = Path(tmpdir)
        _write_inputs(tmp)
        for name, args in COMMANDS.items():
            manifest[name] = {"argv": ["kubectl", *args], "content_types": {}}
            for version in VERSIONS:
                recorder.captures.clear()
                proc = run_kubectl(version, server.port, tmp, args)
                posts = [c for c in recorder.captures if c.method == "POST"]
                if proc.returncode != 0 or len(posts) != 1:
                    failures += 1
                    print(f"FAIL {name} {version}: rc={proc.returncode} posts={len(posts)} {proc.stderr.strip()}",
                          file=sys.stderr)
                    continue
                post = posts[0]
                ext = "bin" if post.content_type.startswith(PROTOBUF) else "json"
                for old in FIXTURES.glob(f"{name}.{version}.*"):
                    old.unlink()
                (FIXTURES / f"{name}.{version}.{ext}").write_bytes(post.body)
                manifest[name]["content_types"][version] = post.content_type
                manifest[name]["path"] = post.path
                print(f"ok   {name} {version}: {post.path} {post.content_type} {len(post.body)}B")
    (FIXTURES / "commands.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
