"""Registry fixture: Debian's docker-registry on 127.0.0.1 (plain, basic auth, token auth) and test images built here."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY_BIN = "/usr/bin/docker-registry"
SKOPEO_BIN = "/usr/bin/skopeo"
BUSYBOX = Path("/bin/busybox")
USER, PASSWORD = "kyb", "s3cret"
APPLETS = ("sh", "ls", "cat", "echo", "true", "sleep", "mount", "id")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- test images -----------------------------------------------------------------------------------

@dataclass
class Entry:
    """Entry is one member of a layer tar built for a test."""

    name: str
    data: bytes = b""
    kind: str = "file"  # file, dir, symlink, hardlink
    target: str = ""
    mode: int = 0o644


def layer_tar(entries: list[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.mtime = 1_700_000_000
            info.mode = e.mode
            if e.kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = e.mode if e.mode != 0o644 else 0o755
                tar.addfile(info)
            elif e.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, e.target
                tar.addfile(info)
            elif e.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, e.target
                tar.addfile(info)
            else:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
    return buf.getvalue()


def compress(tar: bytes, kind: str) -> tuple[bytes, str]:
    if kind == "gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(tar), "application/vnd.oci.image.layer.v1.tar+zstd"
    return tar, "application/vnd.oci.image.layer.v1.tar"


def has_zstandard() -> bool:
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class BuiltImage:
    """BuiltImage is an image written into an OCI layout: its manifest digest, config and layer tars."""

    manifest_digest: str
    manifest: bytes
    config: dict
    diff_ids: list[str]
    architecture: str


class OCILayout:
    """OCILayout writes an OCI image layout directory that skopeo can push from (`oci:DIR:tag`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.index: list[dict] = []

    def blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        (self.root / "blobs" / "sha256" / digest[7:]).write_bytes(data)
        return digest

    def image(self, layers: list[tuple[bytes, str]], *, arch: str = "amd64", cmd: list[str] | None = None,
              env: list[str] | None = None, tag: str | None = None) -> BuiltImage:
        """image stores `layers` (tar, compression) with a config; `tag` names it in index.json."""
        descs, diff_ids = [], []
        for tar, kind in layers:
            blob, media = compress(tar, kind)
            descs.append({"mediaType": media, "digest": self.blob(blob), "size": len(blob)})
            diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        config = {
            "architecture": arch, "os": "linux",
            "config": {"Cmd": cmd or ["/bin/sh"], "Env": env or ["PATH=/bin"], "WorkingDir": "/", "User": "0",
                       "Labels": {"test": "kybernetes"}, "ExposedPorts": {"80/tcp": {}}, "StopSignal": "SIGTERM"},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        config_data = json.dumps(config).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.blob(config_data), "size": len(config_data)},
            "layers": descs,
        }
        data = json.dumps(manifest).encode()
        digest = self.blob(data)
        if tag:
            self._tag({"mediaType": manifest["mediaType"], "digest": digest, "size": len(data)}, tag)
        return BuiltImage(digest, data, config, diff_ids, arch)

    def index_of(self, images: list[BuiltImage], tag: str) -> str:
        """index_of writes an OCI index of `images` (a multi-platform image) tagged `tag`."""
        doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": i.manifest_digest, "size": len(i.manifest),
             "platform": {"os": "linux", "architecture": i.architecture}} for i in images]}
        data = json.dumps(doc).encode()
        digest = self.blob(data)
        self._tag({"mediaType": doc["mediaType"], "digest": digest, "size": len(data)}, tag)
        return digest

    def _tag(self, desc: dict, tag: str) -> None:
        desc = dict(desc, annotations={"org.opencontainers.image.ref.name": tag})
        self.index = [d for d in self.index if d["annotations"]["org.opencontainers.image.ref.name"] != tag] + [desc]
        (self.root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": self.index}))


def base_layer() -> bytes:
    """base_layer is busybox-static with a few applets, /etc files, and directories later layers change."""
    busybox = BUSYBOX.read_bytes()
    entries = [Entry("bin", kind="dir"), Entry("bin/busybox", busybox, mode=0o755)]
    entries += [Entry(f"bin/{a}", kind="symlink", target="busybox") for a in APPLETS]
    entries += [
        Entry("etc", kind="dir"), Entry("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        Entry("etc/hostname", b"base\n"),
        Entry("data", kind="dir", mode=0o750), Entry("data/a", b"a\n"), Entry("data/b", b"b\n"),
        Entry("opaque", kind="dir"), Entry("opaque/old", b"old\n"),
        Entry("tmp", kind="dir", mode=0o1777),
    ]
    return layer_tar(entries)


def top_layer() -> bytes:
    """top_layer adds a file, whites one out, makes a directory opaque and hard-links within itself."""
    return layer_tar([
        Entry("hello.txt", b"hello from layer 2\n"),
        Entry("data/.wh.a"),  # deletes /data/a; /data's mode comes from the base layer
        Entry("data/c", b"c\n"),
        Entry("opaque/.wh..wh..opq"),
        Entry("opaque/new", b"new\n"),
        Entry("etc/.wh.hostname"),
        Entry("etc/hostname", b"top\n"),  # the same layer recreates it: the file wins over its whiteout
        Entry("hello-link", kind="hardlink", target="hello.txt"),
    ])


def zstd_layer() -> bytes:
    return layer_tar([Entry("zstd.txt", b"decompressed with zstd\n")])


# --- registries --------------------------------------------------------------------------------------

@dataclass
class Registry:
    """Registry is one docker-registry process on 127.0.0.1."""

    port: int
    proc: subprocess.Popen[bytes]
    root: Path
    auth: str = "none"  # none, basic, token
    token_server: "TokenServer | None" = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.token_server is not None:
            self.token_server.stop()


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 4))


def start_registry(root: Path, *, auth: str = "none") -> Registry:
    """start_registry runs docker-registry with filesystem storage below `root` and waits until it answers."""
    for attempt in range(3):
        try:
            return _start_registry(root, auth, free_port())
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _start_registry(root: Path, auth: str, port: int) -> Registry:
    # Another process may take the free port before the registry binds it: the caller retries.
    root.mkdir(parents=True, exist_ok=True)
    config: dict = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "kybernetes-test"},
    }
    token_server = None
    if auth == "basic":
        (root / "htpasswd").write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
        config["auth"] = {"htpasswd": {"realm": "kyb-test", "path": str(root / "htpasswd")}}
    elif auth == "token":
        token_server = TokenServer(root)
        config["auth"] = {"token": {"realm": token_server.realm, "service": TokenServer.SERVICE,
                                    "issuer": TokenServer.ISSUER, "rootcertbundle": str(token_server.cert_path)}}
    (root / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    log = open(root / "registry.log", "ab")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", str(root / "config.yml")], stdout=log, stderr=subprocess.STDOUT)
    registry = Registry(port, proc, root, auth, token_server)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if token_server is not None:
                token_server.stop()
            raise RuntimeError(f"docker-registry exited: {(root / 'registry.log').read_text()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return registry
        except urllib.error.HTTPError:
            return registry  # 401: up, and asking for auth
        except OSError:
            time.sleep(0.05)
    registry.stop()
    raise RuntimeError("docker-registry did not start")


class TokenServer:
    """TokenServer issues registry tokens (ES256 JWTs with an x5c header) to anyone, as Docker Hub does for public pulls."""

    ISSUER = "kyb-test-issuer"
    SERVICE = "kyb-test-registry"

    def __init__(self, root: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        import datetime as dt

        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kyb-test-token")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_path = root / "token-cert.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict[str, list[str]]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                server.requests.append(query)
                body = json.dumps({"token": server.token(query.get("scope", [])), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/token"

    def token(self, scopes: list[str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else ("", "", "")
            if kind == "repository":
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.ISSUER, "sub": "", "aud": self.SERVICE, "exp": now + 300, "nbf": now - 60, "iat": now,
                  "jti": os.urandom(8).hex(), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def skopeo(*args: str, workdir: Path) -> None:
    """skopeo runs a skopeo command with a private policy and auth file, so no system setting leaks in."""
    policy = workdir / "policy.json"
    if not policy.exists():
        policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
    env = dict(os.environ, REGISTRY_AUTH_FILE=str(workdir / "auth.json"), HOME=str(workdir))
    result = subprocess.run([SKOPEO_BIN, "--policy", str(policy), *args], capture_output=True, text=True, env=env, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)} failed: {result.stderr.strip()}")


def push(layout: Path, tag: str, registry: Registry, name: str, *, workdir: Path, fmt: str = "", all_platforms: bool = False) -> None:
    args = ["copy", "--quiet", "--dest-tls-verify=false"]
    if fmt:
        args += ["--format", fmt]
    if all_platforms:
        args.append("--all")
    if registry.auth == "basic":
        args += ["--dest-creds", f"{USER}:{PASSWORD}"]
    skopeo(*args, f"oci:{layout}:{tag}", f"docker://{registry.host}/{name}", workdir=workdir)


@dataclass
class Registries:
    """Registries are the running test registries and what was pushed to them."""

    plain: Registry
    basic: Registry
    token: Registry
    work: Path
    layout: Path
    images: dict[str, BuiltImage] = field(default_factory=dict)
    index_digest: str = ""

    def stop(self) -> None:
        for r in (self.plain, self.basic, self.token):
            r.stop()


def start_registries(work: Path) -> Registries:
    """start_registries starts three registries and pushes the test images:

    plain  testimg:1 (OCI, gzip [+ zstd]), testimg:v2s2 (Docker schema 2), multi:1 (OCI index amd64 + arm64),
           library/busybox:1.0 (served as docker.io/library/busybox:1.0 through a mirror)
    basic  private/testimg:1 (htpasswd user kyb / s3cret)
    token  hub/testimg:1 (anonymous bearer tokens)
    """
    layout = work / "layout"
    oci = OCILayout(layout)
    base, top = base_layer(), top_layer()
    layers = [(base, "gzip"), (top, "gzip")]
    if has_zstandard():
        layers.append((zstd_layer(), "zstd"))
    images = {
        "testimg": oci.image(layers, tag="testimg"),
        "v2s2": oci.image([(base, "gzip"), (top, "gzip")], tag="v2s2"),
    }
    arm = oci.image([(base, "gzip"), (layer_tar([Entry("arch", b"arm64\n")]), "gzip")], arch="arm64")
    amd = oci.image([(base, "gzip"), (layer_tar([Entry("arch", b"amd64\n")]), "gzip")], arch="amd64")
    images["multi-arm64"], images["multi-amd64"] = arm, amd
    index_digest = oci.index_of([amd, arm], "multi")
    plain = start_registry(work / "plain")
    basic = start_registry(work / "basic", auth="basic")
    token = start_registry(work / "token", auth="token")
    regs = Registries(plain, basic, token, work, layout, images, index_digest)
    try:
        push(layout, "testimg", plain, "testimg:1", workdir=work)
        push(layout, "v2s2", plain, "testimg:v2s2", workdir=work, fmt="v2s2")
        push(layout, "multi", plain, "multi:1", workdir=work, all_platforms=True)
        push(layout, "v2s2", plain, "library/busybox:1.0", workdir=work)
        push(layout, "testimg", basic, "private/testimg:1", workdir=work)
        push(layout, "testimg", token, "hub/testimg:1", workdir=work)
    except BaseException:
        regs.stop()
        raise
    return regs

