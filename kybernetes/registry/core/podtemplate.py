"""Pod specs as every kind that embeds one sees them: defaults, validation and the CONTAINERS/IMAGES cells.

Pods, ReplicationControllers and the apps/batch workloads share these rules, as upstream's
`SetDefaults_PodSpec` and `ValidatePodSpec`/`ValidatePodTemplateSpec` are shared. Only what
upstream applies to every PodSpec lives here; Pod-only rules (requests copied from limits,
service links, admission defaults, update rules) live in `pods.py`.

Quantities are decoded here too: an unparsable quantity makes `default_*` raise `QuantityError`,
which `decoding(kind)` turns into upstream's 400 "cannot be handled as a <Kind>" answer.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator

from kybernetes.api import labels as labelsel
from kybernetes.api import quantity, validation
from kybernetes.api.errors import (
    FieldError,
    bad_request,
    duplicate,
    forbidden,
    invalid,
    not_found,
    not_supported,
    required,
)

Obj = dict[str, Any]

DEFAULT_TERMINATION_GRACE_PERIOD = 30
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_FILE_MODE = 0o644  # 420, as secret/configMap/downwardAPI/projected volumes default
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
MAX_INT32 = 2**31 - 1

# Every volume source key, in the order upstream checks them (it decides which one is "extra").
VOLUME_SOURCES: tuple[str, ...] = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
    "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
    "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk",
    "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
)
# Upstream names a few paths differently from the JSON keys in its errors; kept for fidelity.
_SOURCE_ERROR_NAME = {"downwardAPI": "downwarAPI", "cephfs": "cephFS"}

PROTOCOLS = ("SCTP", "TCP", "UDP")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket")


# ----- small helpers ------------------------------------------------------------------------


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@contextmanager
def decoding(kind: str, version: str = "v1") -> Iterator[None]:
    """Turn a decode failure inside defaulting into upstream's 400 for the whole object."""
    try:
        yield
    except quantity.QuantityError as err:
        raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {err}') from err


# ----- defaults ------------------------------------------------------------------------------

_DOMAIN = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)


def image_tag(image: str) -> str:
    """The tag kubelet would pull: `latest` when neither tag nor digest is given, "" for a bad reference."""
    match = _REFERENCE.match(image)
    if not match or len(match.group("name")) > 255:
        return ""
    tag = match.group("tag") or ""
    if not tag and not match.group("digest"):
        tag = "latest"
    return tag


def default_resource_list(resources: Any) -> None:
    """SetDefaults_ResourceList: every quantity rounded up to milli-units and written canonically."""
    if not isinstance(resources, dict):
        return
    for name, value in list(resources.items()):
        resources[name] = quantity.canonical_resource_quantity(value)


def _default_http_get(action: Any) -> None:
    if isinstance(action, dict):
        if not action.get("path"):
            action["path"] = "/"
        if not action.get("scheme"):
            action["scheme"] = "HTTP"


def _default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not probe.get(key):
            probe[key] = value
    _default_http_get(probe.get("httpGet"))


def _default_field_ref(ref: Any) -> None:
    if isinstance(ref, dict) and not ref.get("apiVersion"):
        ref["apiVersion"] = "v1"


def _default_resource_field_ref(ref: Any) -> None:
    # Divisor is a non-pointer Quantity upstream, so it is always written, as "0" when unset.
    if isinstance(ref, dict):
        ref["divisor"] = quantity.canonical_quantity(ref["divisor"]) if ref.get("divisor") is not None else "0"


def default_container(container: Obj) -> None:
    """SetDefaults_Container plus the defaults of everything a container holds."""
    if not container.get("imagePullPolicy"):
        tag = image_tag(_s(container.get("image")))
        container["imagePullPolicy"] = "Always" if tag == "latest" else "IfNotPresent"
    if not container.get("terminationMessagePath"):
        container["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
    if not container.get("terminationMessagePolicy"):
        container["terminationMessagePolicy"] = "File"
    for port in _l(container.get("ports")):
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
    # Resources is a struct, not a pointer, upstream: it is always written, as {} when empty.
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    default_resource_list(resources.get("limits"))
    default_resource_list(resources.get("requests"))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(key))
    lifecycle = _d(container.get("lifecycle"))
    for key in ("postStart", "preStop"):
        _default_http_get(_d(lifecycle.get(key)).get("httpGet"))
    for env in _l(container.get("env")):
        value_from = _d(_d(env).get("valueFrom"))
        _default_field_ref(value_from.get("fieldRef"))
        _default_resource_field_ref(value_from.get("resourceFieldRef"))


def _default_downward_items(items: Any) -> None:
    for item in _l(items):
        _default_field_ref(_d(item).get("fieldRef"))
        _default_resource_field_ref(_d(item).get("resourceFieldRef"))


def _default_mode(source: Any) -> None:
    if isinstance(source, dict) and source.get("defaultMode") is None:
        source["defaultMode"] = DEFAULT_FILE_MODE


def default_claim_spec(spec: Any) -> None:
    """SetDefaults_PersistentVolumeClaimSpec: Filesystem volume mode and canonical quantities."""
    if not isinstance(spec, dict):
        return
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    # resources is a struct upstream, so it is always written, as {} when empty.
    if not isinstance(spec.get("resources"), dict):
        spec["resources"] = {}
    resources = spec["resources"]
    default_resource_list(resources.get("requests"))
    default_resource_list(resources.get("limits"))


def default_volume(volume: Obj) -> None:
    """SetDefaults_Volume and the per-source defaults (modes, hostPath type, token lifetime, …)."""
    if not any(volume.get(key) is not None for key in VOLUME_SOURCES):
        volume["emptyDir"] = {}
    empty_dir = volume.get("emptyDir")
    if isinstance(empty_dir, dict) and empty_dir.get("sizeLimit") is not None:
        empty_dir["sizeLimit"] = quantity.canonical_quantity(empty_dir["sizeLimit"])
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""
    for key in ("secret", "configMap"):
        _default_mode(volume.get(key))
    downward = volume.get("downwardAPI")
    _default_mode(downward)
    _default_downward_items(_d(downward).get("items"))
    projected = volume.get("projected")
    _default_mode(projected)
    for source in _l(_d(projected).get("sources")):
        token = _d(source).get("serviceAccountToken")
        if isinstance(token, dict) and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600
        _default_downward_items(_d(_d(source).get("downwardAPI")).get("items"))
    iscsi = volume.get("iscsi")
    if isinstance(iscsi, dict) and not iscsi.get("iscsiInterface"):
        iscsi["iscsiInterface"] = "default"
    rbd = volume.get("rbd")
    if isinstance(rbd, dict):
        for key, value in (("pool", "rbd"), ("user", "admin"), ("keyring", "/etc/ceph/keyring")):
            if not rbd.get(key):
                rbd[key] = value
    azure = volume.get("azureDisk")
    if isinstance(azure, dict):
        for key, value in (("cachingMode", "ReadWrite"), ("kind", "Shared"), ("fsType", "ext4"), ("readOnly", False)):
            if azure.get(key) is None:
                azure[key] = value
    scale_io = volume.get("scaleIO")
    if isinstance(scale_io, dict):
        for key, value in (("storageMode", "ThinProvisioned"), ("fsType", "xfs")):
            if not scale_io.get(key):
                scale_io[key] = value
    ephemeral = _d(volume.get("ephemeral"))
    default_claim_spec(_d(ephemeral.get("volumeClaimTemplate")).get("spec"))


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and the defaults of its containers and volumes (every PodSpec, not only Pods)."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER
    # v1 keeps the deprecated serviceAccount in step with serviceAccountName (conversion does this).
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _l(spec.get(key)):
            if isinstance(container, dict):
                default_container(container)
    for volume in _l(spec.get("volumes")):
        if isinstance(volume, dict):
            default_volume(volume)
    default_resource_list(spec.get("overhead"))


def default_pod_template(template: Obj) -> None:
    """Defaults of a PodTemplateSpec: its spec, and the `creationTimestamp: null` upstream always writes."""
    metadata = template.get("metadata")
    if not isinstance(metadata, dict):
        metadata = template["metadata"] = {}
    metadata.setdefault("creationTimestamp", None)
    spec = template.get("spec")
    if not isinstance(spec, dict):
        spec = template["spec"] = {}
    default_pod_spec(spec)


# ----- wide cells ----------------------------------------------------------------------------


def pod_containers_images(template: Any) -> tuple[str, str]:
    """The CONTAINERS and IMAGES cells of a workload row: names and images joined by commas."""
    containers = [c for c in _l(_d(_d(template).get("spec")).get("containers")) if isinstance(c, dict)]
    return ",".join(_s(c.get("name")) for c in containers), ",".join(_s(c.get("image")) for c in containers)


# ----- validation: names, paths, resources ---------------------------------------------------


def _name_errors(path: str, value: str, rule: Any) -> list[FieldError]:
    return [invalid(path, value, msg) for msg in rule(value)]


def _mask_trailing_dash(name: str) -> str:
    """Prefix names (generateName, envFrom) may end in '-'; upstream checks them as if it were a letter."""
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def _local_descending_path(target: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if target.startswith("/"):
        errs.append(invalid(path, target, "must be a relative path"))
    errs.extend(_no_backsteps(target, path))
    return errs


def _no_backsteps(target: str, path: str) -> list[FieldError]:
    if ".." in target.replace("\\", "/").split("/"):
        return [invalid(path, target, "must not contain '..'")]
    return []


def _local_non_reserved_path(target: str, path: str) -> list[FieldError]:
    errs = _local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


_STANDARD_RESOURCES = {
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "resourcequotas", "services",
    "replicationcontrollers", "secrets", "persistentvolumeclaims", "storage", "requests.storage",
    "services.nodeports", "services.loadbalancers",
}
_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_INTEGER_RESOURCES = {
    "pods", "resourcequotas", "services", "replicationcontrollers", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
}


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    if _is_native(name) or name.startswith("requests."):
        return False
    return not validation.is_qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _container_resource_name(name: str, path: str) -> list[FieldError]:
    errs = [invalid(path, name, msg) for msg in validation.is_qualified_name(name)]
    if not errs and "/" not in name and name not in _STANDARD_RESOURCES and not _is_hugepages(name):
        errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
    if "/" not in name:
        if name not in _CONTAINER_RESOURCES and not _is_hugepages(name):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and not _is_extended(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _parsed(value: Any, path: str, errs: list[FieldError]) -> quantity.Quantity | None:
    """A quantity, or None with an error recorded (defaulting normally rejects these first)."""
    try:
        return quantity.parse(value)
    except quantity.QuantityError as err:
        errs.append(invalid(path, value, str(err)))
        return None


def validate_resource_quantity(name: str, value: Any, path: str) -> list[FieldError]:
    """ValidateResourceQuantityValue: not negative, and whole for integer resources."""
    errs: list[FieldError] = []
    q = _parsed(value, path, errs)
    if q is None:
        return errs
    if q.value < 0:
        errs.append(invalid(path, str(q), "must be greater than or equal to 0"))
    if (name in _INTEGER_RESOURCES or _is_extended(name)) and quantity.milli_value(value) % 1000 != 0:
        errs.append(invalid(path, str(q), "must be an integer"))
    return errs


def validate_resource_requirements(resources: Any, path: str, claim_names: set[str] | None = None) -> list[FieldError]:
    """Container resources: names, quantities, requests ≤ limits (equal for resources that cannot overcommit)."""
    errs: list[FieldError] = []
    resources = _d(resources)
    limits, requests = _d(resources.get("limits")), _d(resources.get("requests"))
    lim_path, req_path = f"{path}.limits", f"{path}.requests"
    lim_compute = req_compute = lim_huge = req_huge = False
    for name, value in limits.items():
        key_path = f"{lim_path}[{name}]"
        errs.extend(_container_resource_name(name, key_path))
        errs.extend(validate_resource_quantity(name, value, key_path))
        lim_huge = lim_huge or _is_hugepages(name)
        lim_compute = lim_compute or name in ("cpu", "memory")
    for name, value in requests.items():
        key_path = f"{req_path}[{name}]"
        errs.extend(_container_resource_name(name, key_path))
        errs.extend(validate_resource_quantity(name, value, key_path))
        if name in limits:
            try:
                request_q, limit_q = quantity.parse(value), quantity.parse(limits[name])
            except quantity.QuantityError:
                continue
            if request_q.value != limit_q.value and not _overcommit_allowed(name):
                errs.append(invalid(req_path, str(request_q), f"must be equal to {name} limit of {limit_q}"))
            elif request_q.value > limit_q.value:
                errs.append(invalid(req_path, str(request_q), f"must be less than or equal to {name} limit of {limit_q}"))
        elif not _overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
        req_huge = req_huge or _is_hugepages(name)
        req_compute = req_compute or name in ("cpu", "memory")
    if not lim_compute and not req_compute and (lim_huge or req_huge):
        errs.append(forbidden(path, "HugePages require cpu or memory"))
    seen: set[str] = set()
    for i, claim in enumerate(_l(resources.get("claims"))):
        name = _s(_d(claim).get("name"))
        if not name:
            errs.append(required(f"{path}.claims[{i}]"))
            continue
        if name in seen:
            errs.append(duplicate(f"{path}.claims[{i}]", name))
        seen.add(name)
        if claim_names is not None and name not in claim_names:
            err = not_found(f"{path}.claims[{i}]", name)
            err.detail = "must be one of the names in pod.spec.resourceClaims" + (
                ": " + ", ".join(sorted(claim_names)) if claim_names else " which is empty"
            )
            errs.append(err)
    return errs


# ----- validation: volumes -------------------------------------------------------------------


def _validate_key_to_path(item: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not item.get("key"):
        errs.append(required(f"{path}.key"))
    if not item.get("path"):
        errs.append(required(f"{path}.path"))
    errs.extend(_local_non_reserved_path(_s(item.get("path")), f"{path}.path"))
    errs.extend(_file_mode(item.get("mode"), f"{path}.mode"))
    return errs


def _file_mode(mode: Any, path: str) -> list[FieldError]:
    if isinstance(mode, int) and not 0 <= mode <= 0o777:
        return [invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive")]
    return []


_VOLUME_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid")
_ENV_FIELD_PATHS = (
    "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
)
_DOWNWARD_LABELS = {
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
    "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName", "status.phase",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs", "spec.host",
}
_RESOURCE_FIELD_PATHS = (
    "limits.cpu", "limits.ephemeral-storage", "limits.memory",
    "requests.cpu", "requests.ephemeral-storage", "requests.memory",
)
_SUBSCRIPT = re.compile(r"^(.*)\['(.*)'\]$")


def _validate_field_selector(ref: Obj, expressions: tuple[str, ...], path: str) -> list[FieldError]:
    """ObjectFieldSelector: a v1 field the downward API can expose, or a label/annotation subscript."""
    api_version, field_path = _s(ref.get("apiVersion")), _s(ref.get("fieldPath"))
    if not api_version:
        return [required(f"{path}.apiVersion")]
    if not field_path:
        return [required(f"{path}.fieldPath")]
    subscript = _SUBSCRIPT.match(field_path)
    if api_version != "v1":
        problem = f"unsupported pod version: {api_version}"
    elif subscript and subscript.group(1) not in ("metadata.annotations", "metadata.labels"):
        problem = f"field label does not support subscript: {field_path}"
    elif not subscript and field_path not in _DOWNWARD_LABELS:
        problem = f"field label not supported: {field_path}"
    else:
        problem = ""
    if problem:
        return [invalid(f"{path}.fieldPath", field_path, f"error converting fieldPath: {problem}")]
    if subscript:
        key = subscript.group(2)
        if subscript.group(1) == "metadata.annotations":
            key = key.lower()
        return [invalid(path, key, msg) for msg in validation.is_qualified_name(key)]
    internal = "spec.nodeName" if field_path == "spec.host" else field_path
    if internal not in expressions:
        return [not_supported(f"{path}.fieldPath", internal, sorted(expressions))]
    return []


_DIVISORS = {
    "cpu": ({"1m", "1"}, "only divisor's values 1m and 1 are supported with the cpu resource"),
    "memory": (
        {"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"},
        "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource",
    ),
    "ephemeral-storage": (
        {"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"},
        "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource",
    ),
}


def _validate_resource_field_ref(ref: Obj, path: str, *, volume: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    resource = _s(ref.get("resource"))
    if volume and not ref.get("containerName"):
        errs.append(required(f"{path}.containerName"))
    elif not resource:
        errs.append(required(f"{path}.resource"))
    elif resource not in _RESOURCE_FIELD_PATHS and not resource.startswith(("requests.hugepages-", "limits.hugepages-")):
        errs.append(not_supported(f"{path}.resource", resource, list(_RESOURCE_FIELD_PATHS)))
    divisor = ref.get("divisor")
    if divisor is not None:
        q = _parsed(divisor, f"{path}.divisor", errs)
        if q is not None and q.value != 0:
            kind = resource.split(".", 1)[-1]
            allowed, message = _DIVISORS.get(kind, (None, ""))
            if allowed is not None and str(q) not in allowed:
                errs.append(invalid(f"{path}.divisor", resource, message))
    return errs


def _validate_downward_file(item: Obj, path: str) -> list[FieldError]:
    # Upstream reports these at the volume's path, not the item's: kept for fidelity.
    errs: list[FieldError] = []
    item_path = _s(item.get("path"))
    if not item_path:
        errs.append(required(f"{path}.path"))
    errs.extend(_local_non_reserved_path(item_path, f"{path}.path"))
    if isinstance(item.get("fieldRef"), dict):
        errs.extend(_validate_field_selector(item["fieldRef"], _VOLUME_FIELD_PATHS, f"{path}.fieldRef"))
        if item.get("resourceFieldRef") is not None:
            errs.append(invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
    elif isinstance(item.get("resourceFieldRef"), dict):
        errs.extend(_validate_resource_field_ref(item["resourceFieldRef"], f"{path}.resourceFieldRef", volume=True))
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    errs.extend(_file_mode(item.get("mode"), f"{path}.mode"))
    return errs


def _validate_projected(source: Obj, path: str) -> list[FieldError]:
    errs = _file_mode(source.get("defaultMode"), f"{path}.defaultMode")
    seen: set[str] = set()

    def claim(item_path: str, owner: Any) -> None:
        if item_path:
            if item_path in seen:
                errs.append(invalid(path, owner, "conflicting duplicate paths"))
            seen.add(item_path)

    for i, src in enumerate(_l(source.get("sources"))):
        src = _d(src)
        src_path = f"{path}.sources[{i}]"
        count = 0
        for key in ("secret", "configMap"):
            if isinstance(src.get(key), dict):
                count += 1
                body = src[key]
                if not body.get("name"):
                    errs.append(required(f"{src_path}.{key}.name"))
                for j, item in enumerate(_l(body.get("items"))):
                    errs.extend(_validate_key_to_path(_d(item), f"{src_path}.{key}.items[{j}]"))
                    claim(_s(_d(item).get("path")), _s(body.get("name")))
        if isinstance(src.get("downwardAPI"), dict):
            count += 1
            for item in _l(src["downwardAPI"].get("items")):
                errs.extend(_validate_downward_file(_d(item), f"{src_path}.downwardAPI"))
                claim(_s(_d(item).get("path")), _s(_d(item).get("path")))
        if isinstance(src.get("serviceAccountToken"), dict):
            count += 1
            token = src["serviceAccountToken"]
            seconds = _int(token.get("expirationSeconds"))
            token_path = f"{src_path}.serviceAccountToken.expirationSeconds"
            if seconds < 600:
                errs.append(invalid(token_path, seconds, "may not specify a duration less than 10 minutes"))
            if seconds > 1 << 32:
                errs.append(invalid(token_path, seconds, "may not specify a duration larger than 2^32 seconds"))
            if not token.get("path"):
                errs.append(required(f"{path}.path"))
            else:
                errs.extend(_local_non_reserved_path(_s(token["path"]), f"{path}.path"))
        if isinstance(src.get("clusterTrustBundle"), dict):
            count += 1
        if count > 1:
            errs.append(forbidden(src_path, "may not specify more than 1 volume type per source"))
    return errs


def _validate_source(key: str, source: Obj, path: str) -> list[FieldError]:
    """The checks of one volume source upstream validates in depth; others are only counted."""
    errs: list[FieldError] = []
    if key == "emptyDir":
        limit = source.get("sizeLimit")
        if limit is not None:
            q = _parsed(limit, f"{path}.sizeLimit", errs)
            if q is not None and q.value < 0:
                errs.append(forbidden(f"{path}.sizeLimit", "SizeLimit field must be a valid resource quantity"))
    elif key == "hostPath":
        target = _s(source.get("path"))
        if not target:
            return [required(f"{path}.path")]
        errs.extend(_no_backsteps(target, f"{path}.path"))
        host_type = source.get("type")
        if host_type is not None and host_type not in HOST_PATH_TYPES:
            errs.append(not_supported(f"{path}.type", host_type, HOST_PATH_TYPES))
    elif key == "gitRepo":
        if not source.get("repository"):
            errs.append(required(f"{path}.repository"))
        errs.extend(_local_descending_path(_s(source.get("directory")), f"{path}.directory"))
    elif key in ("secret", "configMap"):
        name_key = "secretName" if key == "secret" else "name"
        if not source.get(name_key):
            errs.append(required(f"{path}.{name_key}"))
        errs.extend(_file_mode(source.get("defaultMode"), f"{path}.defaultMode"))
        for i, item in enumerate(_l(source.get("items"))):
            errs.extend(_validate_key_to_path(_d(item), f"{path}.items[{i}]"))
    elif key == "nfs":
        if not source.get("server"):
            errs.append(required(f"{path}.server"))
        target = _s(source.get("path"))
        if not target:
            errs.append(required(f"{path}.path"))
        if not target.startswith("/"):
            errs.append(invalid(f"{path}.path", target, "must be an absolute path"))
    elif key == "persistentVolumeClaim":
        if not source.get("claimName"):
            errs.append(required(f"{path}.claimName"))
    elif key == "downwardAPI":
        errs.extend(_file_mode(source.get("defaultMode"), f"{path}.defaultMode"))
        for item in _l(source.get("items")):
            errs.extend(_validate_downward_file(_d(item), path))
    elif key == "projected":
        errs.extend(_validate_projected(source, path))
    elif key == "glusterfs":
        if not source.get("endpoints"):
            errs.append(required(f"{path}.endpoints"))
        if not source.get("path"):
            errs.append(required(f"{path}.path"))
    elif key in ("rbd", "cephfs"):
        if not source.get("monitors"):
            errs.append(required(f"{path}.monitors"))
        if key == "rbd" and not source.get("image"):
            errs.append(required(f"{path}.image"))
    elif key == "flexVolume":
        if not source.get("driver"):
            errs.append(required(f"{path}.driver"))
    elif key == "azureFile":
        if not source.get("secretName"):
            errs.append(required(f"{path}.secretName"))
        if not source.get("shareName"):
            errs.append(required(f"{path}.shareName"))
    elif key == "csi":
        driver = _s(source.get("driver"))
        if not driver:
            errs.append(required(f"{path}.driver"))
        ref = source.get("nodePublishSecretRef")
        if isinstance(ref, dict) and not ref.get("name"):
            errs.append(required(f"{path}.nodePublishSecretRef.name"))
    elif key == "ephemeral":
        template = source.get("volumeClaimTemplate")
        if not isinstance(template, dict):
            errs.append(required(f"{path}.volumeClaimTemplate"))
        else:
            from kybernetes.registry.core.persistentvolumeclaims import validate_claim_spec

            errs.extend(validate_claim_spec(_d(template.get("spec")), f"{path}.volumeClaimTemplate.spec"))
    return errs


def validate_volumes(volumes: Any, path: str) -> tuple[dict[str, Obj], list[FieldError]]:
    """Volumes: names unique DNS labels, exactly one valid source each; returns the usable ones by name."""
    errs: list[FieldError] = []
    usable: dict[str, Obj] = {}
    for i, volume in enumerate(_l(volumes)):
        volume = _d(volume)
        idx = f"{path}[{i}]"
        name = _s(volume.get("name"))
        found: list[FieldError] = []
        count = 0
        for key in VOLUME_SOURCES:
            source = volume.get(key)
            if source is None:
                continue
            if count:
                found.append(forbidden(f"{idx}.{_SOURCE_ERROR_NAME.get(key, key)}", "may not specify more than 1 volume type"))
                continue
            count += 1
            found.extend(_validate_source(key, _d(source), f"{idx}.{key}"))
        if not count:
            found.append(required(idx, "must specify a volume type"))
        if not name:
            found.append(required(f"{idx}.name"))
        else:
            found.extend(_name_errors(f"{idx}.name", name, validation.is_dns1123_label))
        if name in usable:
            found.append(duplicate(f"{idx}.name", name))
        if found:
            errs.extend(found)
        else:
            usable[name] = volume
    return usable, errs


# ----- validation: containers ----------------------------------------------------------------


def _validate_ports(ports: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(_l(ports)):
        port = _d(port)
        idx = f"{path}[{i}]"
        name = _s(port.get("name"))
        if name:
            msgs = validation.is_valid_port_name(name)
            if msgs:
                errs.extend(invalid(f"{idx}.name", name, msg) for msg in msgs)
            elif name in names:
                errs.append(duplicate(f"{idx}.name", name))
            else:
                names.add(name)
        container_port = port.get("containerPort") or 0
        if container_port == 0:
            errs.append(required(f"{idx}.containerPort"))
        else:
            errs.extend(invalid(f"{idx}.containerPort", container_port, m) for m in validation.is_valid_port_num(container_port))
        host_port = port.get("hostPort") or 0
        if host_port:
            errs.extend(invalid(f"{idx}.hostPort", host_port, m) for m in validation.is_valid_port_num(host_port))
        protocol = _s(port.get("protocol"))
        if not protocol:
            errs.append(required(f"{idx}.protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(not_supported(f"{idx}.protocol", protocol, PROTOCOLS))
    return errs


def _validate_key_selector(ref: Obj, path: str) -> list[FieldError]:
    errs = _name_errors(f"{path}.name", _s(ref.get("name")), validation.is_dns1123_subdomain)
    key = _s(ref.get("key"))
    if not key:
        errs.append(required(f"{path}.key"))
    else:
        errs.extend(_name_errors(f"{path}.key", key, validation.is_config_map_key))
    return errs


def _validate_env(env: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, var in enumerate(_l(env)):
        var = _d(var)
        idx = f"{path}[{i}]"
        name = _s(var.get("name"))
        if not name:
            errs.append(required(f"{idx}.name"))
        else:
            errs.extend(_name_errors(f"{idx}.name", name, validation.is_env_var_name))
        value_from = var.get("valueFrom")
        if not isinstance(value_from, dict):
            continue
        vf_path = f"{idx}.valueFrom"
        sources = 0
        if isinstance(value_from.get("fieldRef"), dict):
            sources += 1
            errs.extend(_validate_field_selector(value_from["fieldRef"], _ENV_FIELD_PATHS, f"{vf_path}.fieldRef"))
        if isinstance(value_from.get("resourceFieldRef"), dict):
            sources += 1
            errs.extend(_validate_resource_field_ref(value_from["resourceFieldRef"], f"{vf_path}.resourceFieldRef", volume=False))
        for key in ("configMapKeyRef", "secretKeyRef"):
            if isinstance(value_from.get(key), dict):
                sources += 1
                errs.extend(_validate_key_selector(value_from[key], f"{vf_path}.{key}"))
        if sources == 0:
            errs.append(invalid(vf_path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
        elif var.get("value"):
            errs.append(invalid(vf_path, "", "may not be specified when `value` is not empty"))
        elif sources > 1:
            errs.append(invalid(vf_path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_env_from(env_from: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, source in enumerate(_l(env_from)):
        source = _d(source)
        idx = f"{path}[{i}]"
        prefix = _s(source.get("prefix"))
        if prefix:
            errs.extend(_name_errors(f"{idx}.prefix", prefix, validation.is_env_var_name))
        count = 0
        for key in ("configMapRef", "secretRef"):
            ref = source.get(key)
            if isinstance(ref, dict):
                count += 1
                name = _s(ref.get("name"))
                if not name:
                    errs.append(required(f"{idx}.{key}.name"))
                else:
                    errs.extend(
                        invalid(f"{idx}.{key}.name", name, m)
                        for m in validation.is_dns1123_subdomain(_mask_trailing_dash(name))
                    )
        if count == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_mounts(container: Obj, volumes: dict[str, Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    devices = {_s(_d(d).get("name")): _s(_d(d).get("devicePath")) for d in _l(container.get("volumeDevices"))}
    seen: set[str] = set()
    privileged = _d(container.get("securityContext")).get("privileged") is True
    for i, mount in enumerate(_l(container.get("volumeMounts"))):
        mount = _d(mount)
        idx = f"{path}[{i}]"
        name, mount_path = _s(mount.get("name")), _s(mount.get("mountPath"))
        if not name:
            errs.append(required(f"{idx}.name"))
        if name not in volumes:
            errs.append(not_found(f"{idx}.name", name))
        if not mount_path:
            errs.append(required(f"{idx}.mountPath"))
        if mount_path in seen:
            errs.append(invalid(f"{idx}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
        if name in devices:
            errs.append(invalid(f"{idx}.name", name, "must not already exist in volumeDevices"))
        if mount_path in devices.values():
            errs.append(invalid(f"{idx}.mountPath", mount_path, "must not already exist as a path in volumeDevices"))
        sub_path, sub_expr = _s(mount.get("subPath")), _s(mount.get("subPathExpr"))
        if name in volumes and volumes[name].get("image") is not None:
            if sub_path:
                errs.append(invalid(f"{idx}.subPath", sub_path, "not allowed in image volume sources"))
            if sub_expr:
                errs.append(invalid(f"{idx}.subPathExpr", sub_expr, "not allowed in image volume sources"))
        # Upstream reports the sub-path checks at the list's path, without the index.
        if sub_path:
            errs.extend(_local_descending_path(sub_path, f"{path}.subPath"))
        if sub_expr:
            if sub_path:
                errs.append(invalid(f"{idx}.subPathExpr", sub_expr, "subPathExpr and subPath are mutually exclusive"))
            errs.extend(_local_descending_path(sub_expr, f"{path}.subPathExpr"))
        propagation = mount.get("mountPropagation")
        if propagation is not None:
            if propagation not in ("Bidirectional", "HostToContainer", "None"):
                errs.append(not_supported(f"{path}.mountPropagation", propagation, ["Bidirectional", "HostToContainer", "None"]))
            if propagation == "Bidirectional" and not privileged:
                errs.append(forbidden(f"{path}.mountPropagation", "Bidirectional mount propagation is available only to privileged containers"))
        recursive = mount.get("recursiveReadOnly")
        if recursive is not None and recursive != "Disabled":
            rro_path = f"{path}.recursiveReadOnly"
            if recursive in ("Enabled", "IfPossible"):
                if not mount.get("readOnly"):
                    errs.append(forbidden(rro_path, "may only be specified when readOnly is true"))
                if propagation not in (None, "None"):
                    errs.append(forbidden(rro_path, "may only be specified when mountPropagation is None or not specified"))
            else:
                errs.append(not_supported(rro_path, recursive, ["Disabled", "Enabled", "IfPossible"]))
    return errs


def _validate_devices(container: Obj, volumes: dict[str, Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    mounts = {_s(_d(m).get("name")): _s(_d(m).get("mountPath")) for m in _l(container.get("volumeMounts"))}
    names: set[str] = set()
    paths: set[str] = set()
    for i, device in enumerate(_l(container.get("volumeDevices"))):
        device = _d(device)
        idx = f"{path}[{i}]"
        name, device_path = _s(device.get("name")), _s(device.get("devicePath"))
        matched = name in volumes
        is_claim = matched and (volumes[name].get("persistentVolumeClaim") is not None or volumes[name].get("ephemeral") is not None)
        if not name:
            errs.append(required(f"{idx}.name"))
        if name in names:
            errs.append(invalid(f"{idx}.name", name, "must be unique"))
        if matched and not is_claim:
            errs.append(invalid(f"{idx}.name", name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
        if not matched:
            errs.append(not_found(f"{idx}.name", name))
        if not device_path:
            errs.append(required(f"{idx}.devicePath"))
        if device_path in paths:
            errs.append(invalid(f"{idx}.devicePath", device_path, "must be unique"))
        if device_path and _no_backsteps(device_path, idx):
            errs.append(invalid(f"{idx}.devicePath", device_path, "can not contain backsteps ('..')"))
        else:
            paths.add(device_path)
        if name in mounts:
            errs.append(invalid(f"{idx}.name", name, "must not already exist in volumeMounts"))
        if device_path in mounts.values():
            errs.append(invalid(f"{idx}.devicePath", device_path, "must not already exist as a path in volumeMounts"))
        if name:
            names.add(name)
    return errs


def _id_errors(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, int) and not 0 <= value <= MAX_INT32:
        return [invalid(path, value, f"must be between 0 and {MAX_INT32}, inclusive")]
    return []


def _validate_seccomp(profile: Any, path: str) -> list[FieldError]:
    if not isinstance(profile, dict):
        return []
    kind = _s(profile.get("type"))
    if kind == "Localhost":
        if not profile.get("localhostProfile"):
            return [required(f"{path}.localhostProfile", "must be set when seccomp type is Localhost")]
        return _local_descending_path(_s(profile["localhostProfile"]), f"{path}.localhostProfile")
    if kind in ("RuntimeDefault", "Unconfined"):
        if profile.get("localhostProfile") is not None:
            return [invalid(f"{path}.localhostProfile", profile["localhostProfile"], "can only be set when seccomp type is Localhost")]
        return []
    if not kind:
        return [required(f"{path}.type")]
    return [not_supported(f"{path}.type", kind, ["Localhost", "RuntimeDefault", "Unconfined"])]


def _validate_security_context(context: Any, path: str) -> list[FieldError]:
    if not isinstance(context, dict):
        return []
    errs = _id_errors(context.get("runAsUser"), f"{path}.runAsUser")
    errs.extend(_id_errors(context.get("runAsGroup"), f"{path}.runAsGroup"))
    proc_mount = context.get("procMount")
    if proc_mount is not None and proc_mount not in ("Default", "Unmasked"):
        errs.append(not_supported(f"{path}.procMount", proc_mount, ["Default", "Unmasked"]))
    errs.extend(_validate_seccomp(context.get("seccompProfile"), f"{path}.seccompProfile"))
    if context.get("allowPrivilegeEscalation") is False:
        if context.get("privileged") is True:
            errs.append(invalid(path, context, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
        if "CAP_SYS_ADMIN" in _l(_d(context.get("capabilities")).get("add")):
            errs.append(invalid(path, context, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
    return errs


def _validate_handler(handler: Obj, grace: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for key in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        action = handler.get(key)
        if action is None:
            continue
        if count:
            errs.append(forbidden(f"{path}.{key}", "may not specify more than 1 handler type"))
            continue
        count += 1
        action = _d(action)
        action_path = f"{path}.{key}"
        if key == "exec":
            if not action.get("command"):
                errs.append(required(f"{action_path}.command"))
        elif key == "httpGet":
            if not action.get("path"):
                errs.append(required(f"{action_path}.path"))
            errs.extend(validate_port_num_or_name(action.get("port"), f"{action_path}.port"))
            scheme = _s(action.get("scheme"))
            if scheme not in ("HTTP", "HTTPS"):
                errs.append(not_supported(f"{action_path}.scheme", scheme, ["HTTP", "HTTPS"]))
        elif key == "tcpSocket":
            errs.extend(validate_port_num_or_name(action.get("port"), f"{action_path}.port"))
        elif key == "grpc":
            errs.extend(validate_port_num_or_name(_int(action.get("port")), f"{action_path}.port"))
        elif key == "sleep":
            seconds = _int(action.get("seconds"))
            if isinstance(grace, int) and (seconds <= 0 or seconds > grace):
                errs.append(invalid(
                    action_path, seconds,
                    f"must be greater than 0 and less than terminationGracePeriodSeconds ({grace}). "
                    "Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.",
                ))
    if count == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def validate_port_num_or_name(port: Any, path: str) -> list[FieldError]:
    """An IntOrString port: a number 1–65535 or an IANA service name."""
    if isinstance(port, str):
        return [invalid(path, port, m) for m in validation.is_valid_port_name(port)]
    value = port if isinstance(port, int) and not isinstance(port, bool) else 0
    return [invalid(path, value, m) for m in validation.is_valid_port_num(value)]


def _validate_probe(probe: Any, grace: Any, path: str, kind: str) -> list[FieldError]:
    if not isinstance(probe, dict):
        return []
    errs = _validate_handler(probe, grace, path)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs.extend(validation.validate_nonnegative(_int(probe.get(key)), f"{path}.{key}"))
    probe_grace = probe.get("terminationGracePeriodSeconds")
    if isinstance(probe_grace, int) and probe_grace <= 0:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", probe_grace, "must be greater than 0"))
    if kind in ("livenessProbe", "startupProbe") and _int(probe.get("successThreshold")) != 1:
        errs.append(invalid(f"{path}.successThreshold", _int(probe.get("successThreshold")), "must be 1"))
    if kind == "readinessProbe" and probe_grace is not None:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", probe_grace, "must not be set for readinessProbes"))
    return errs


def _validate_lifecycle_and_probes(container: Obj, grace: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for key in ("postStart", "preStop"):
            if isinstance(lifecycle.get(key), dict):
                errs.extend(_validate_handler(lifecycle[key], grace, f"{path}.lifecycle.{key}"))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        errs.extend(_validate_probe(container.get(key), grace, f"{path}.{key}", key))
    return errs


def _validate_resize_policy(policies: Any, path: str, restart_policy: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, policy in enumerate(_l(policies)):
        policy = _d(policy)
        name, restart = _s(policy.get("resourceName")), _s(policy.get("restartPolicy"))
        if name in seen:
            errs.append(duplicate(f"{path}[{i}]", name))
        seen.add(name)
        if not name:
            errs.append(required(path))
        elif name not in ("cpu", "memory"):
            errs.append(not_supported(path, name, ["cpu", "memory"]))
        if not restart:
            errs.append(required(path))
        elif restart not in ("NotRequired", "RestartContainer"):
            errs.append(not_supported(path, restart, ["NotRequired", "RestartContainer"]))
        if restart_policy == "Never" and restart != "NotRequired":
            errs.append(invalid(path, restart, "must be 'NotRequired' when `restartPolicy` is 'Never'"))
    return errs


def _validate_container_common(container: Obj, volumes: dict[str, Obj], claims: set[str], path: str, restart_policy: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = _s(container.get("name"))
    if not name:
        errs.append(required(f"{path}.name"))
    else:
        errs.extend(_name_errors(f"{path}.name", name, validation.is_dns1123_label))
    if not container.get("image"):
        errs.append(required(f"{path}.image"))
    policy = _s(container.get("terminationMessagePolicy"))
    if not policy:
        errs.append(required(f"{path}.terminationMessagePolicy"))
    elif policy not in ("File", "FallbackToLogsOnError"):
        errs.append(not_supported(f"{path}.terminationMessagePolicy", policy, ["File", "FallbackToLogsOnError"]))
    errs.extend(_validate_ports(container.get("ports"), f"{path}.ports"))
    errs.extend(_validate_env(container.get("env"), f"{path}.env"))
    errs.extend(_validate_env_from(container.get("envFrom"), f"{path}.envFrom"))
    errs.extend(_validate_mounts(container, volumes, f"{path}.volumeMounts"))
    errs.extend(_validate_devices(container, volumes, f"{path}.volumeDevices"))
    pull = _s(container.get("imagePullPolicy"))
    if not pull:
        errs.append(required(f"{path}.imagePullPolicy"))
    elif pull not in PULL_POLICIES:
        errs.append(not_supported(f"{path}.imagePullPolicy", pull, PULL_POLICIES))
    errs.extend(validate_resource_requirements(container.get("resources"), f"{path}.resources", claims))
    errs.extend(_validate_resize_policy(container.get("resizePolicy"), f"{path}.resizePolicy", restart_policy))
    errs.extend(_validate_security_context(container.get("securityContext"), f"{path}.securityContext"))
    return errs


def _host_port_conflicts(containers: list[Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for ci, container in enumerate(containers):
        for pi, port in enumerate(_l(container.get("ports"))):
            port = _d(port)
            host_port = port.get("hostPort") or 0
            if not host_port:
                continue
            key = f"{_s(port.get('protocol'))}/{_s(port.get('hostIP'))}/{host_port}"
            if key in seen:
                errs.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errs


def _containers(spec: Obj, key: str) -> list[Obj]:
    return [_d(c) for c in _l(spec.get(key))]


def _validate_containers(spec: Obj, volumes: dict[str, Obj], claims: set[str], path: str) -> list[FieldError]:
    containers = _containers(spec, "containers")
    if not containers:
        return [required(path)]
    errs: list[FieldError] = []
    grace = spec.get("terminationGracePeriodSeconds")
    restart_policy = _s(spec.get("restartPolicy"))
    names: set[str] = set()
    for i, container in enumerate(containers):
        idx = f"{path}[{i}]"
        errs.extend(_validate_container_common(container, volumes, claims, idx, restart_policy))
        name = _s(container.get("name"))
        if name in names:
            errs.append(duplicate(f"{idx}.name", name))
        names.add(name)
        errs.extend(_validate_lifecycle_and_probes(container, grace, idx))
        if container.get("restartPolicy") is not None:
            errs.append(forbidden(f"{idx}.restartPolicy", "may not be set for non-init containers"))
    errs.extend(_host_port_conflicts(containers, path))
    return errs


def _validate_init_containers(spec: Obj, volumes: dict[str, Obj], claims: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    grace = spec.get("terminationGracePeriodSeconds")
    restart_policy = _s(spec.get("restartPolicy"))
    names = {_s(c.get("name")) for c in _containers(spec, "containers")}
    for i, container in enumerate(_containers(spec, "initContainers")):
        idx = f"{path}[{i}]"
        errs.extend(_validate_container_common(container, volumes, claims, idx, restart_policy))
        own_policy = container.get("restartPolicy")
        if own_policy is not None and own_policy != "Always":
            errs.append(not_supported(f"{idx}.restartPolicy", own_policy, ["Always"]))
        name = _s(container.get("name"))
        if name in names:
            errs.append(duplicate(f"{idx}.name", name))
        elif name:
            names.add(name)
        errs.extend(_host_port_conflicts([container], path))
        if own_policy == "Always":
            errs.extend(_validate_lifecycle_and_probes(container, grace, idx))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(key) is not None:
                    errs.append(forbidden(f"{idx}.{key}", "may not be set for init containers without restartPolicy=Always"))
        if container.get("resizePolicy"):
            errs.append(invalid(f"{idx}.resizePolicy", container["resizePolicy"], "must not be set for init containers"))
    return errs


# In the order of the Container struct, which is the order upstream reports them.
_EPHEMERAL_FORBIDDEN = ("ports", "resources", "resizePolicy", "restartPolicy", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle")


def _validate_ephemeral_containers(spec: Obj, volumes: dict[str, Obj], claims: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    ephemeral = _containers(spec, "ephemeralContainers")
    if not ephemeral:
        return errs
    others = {_s(c.get("name")) for key in ("containers", "initContainers") for c in _containers(spec, key)}
    names = set(others)
    restart_policy = _s(spec.get("restartPolicy"))
    for i, container in enumerate(ephemeral):
        idx = f"{path}[{i}]"
        errs.extend(_validate_container_common(container, volumes, claims, idx, restart_policy))
        errs.extend(validate_image_whitespace(container, idx))
        name = _s(container.get("name"))
        if name in names:
            errs.append(duplicate(f"{idx}.name", name))
        else:
            names.add(name)
        target = _s(container.get("targetContainerName"))
        if target and target not in others:
            errs.append(not_found(f"{idx}.targetContainerName", target))
        for key in _EPHEMERAL_FORBIDDEN:
            value = container.get(key)
            # Resources is always defaulted to {}, which upstream counts as unset.
            if value not in (None, {}, []):
                errs.append(forbidden(f"{idx}.{key}", "cannot be set for an Ephemeral Container"))
        for j, mount in enumerate(_l(container.get("volumeMounts"))):
            for key in ("subPath", "subPathExpr"):
                if _d(mount).get(key):
                    errs.append(forbidden(f"{idx}.volumeMounts[{j}].{key}", "cannot be set for an Ephemeral Container"))
    return errs


def validate_image_whitespace(container: Obj, path: str) -> list[FieldError]:
    """Pods (not templates) reject images with leading or trailing whitespace."""
    image = _s(container.get("image"))
    if image != image.strip():
        return [invalid(f"{path}.image", image, "must not have leading or trailing whitespace")]
    return []


# ----- validation: scheduling and the rest of the spec ---------------------------------------


def validate_tolerations(tolerations: Any, path: str) -> list[FieldError]:
    """ValidateTolerations: key, operator/value pairing, effect, tolerationSeconds only with NoExecute."""
    errs: list[FieldError] = []
    for i, toleration in enumerate(_l(tolerations)):
        toleration = _d(toleration)
        idx = f"{path}[{i}]"
        key, operator, value = _s(toleration.get("key")), _s(toleration.get("operator")), _s(toleration.get("value"))
        effect = _s(toleration.get("effect"))
        if key:
            errs.extend(_name_errors(f"{idx}.key", key, validation.is_qualified_name))
        if not key and operator != "Exists":
            errs.append(invalid(f"{idx}.operator", operator, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(invalid(f"{idx}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if operator in ("Equal", ""):
            msgs = validation.is_valid_label_value(value)
            if msgs:
                errs.append(invalid(f"{idx}.operator", value, ";".join(msgs)))
        elif operator == "Exists":
            if value:
                errs.append(invalid(f"{idx}.operator", value, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(f"{idx}.operator", operator, ["Equal", "Exists"]))
        if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(not_supported(f"{idx}.effect", effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
    return errs


def _validate_node_selector_requirement(req: Obj, path: str, *, check_values: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    operator, values = _s(req.get("operator")), _l(req.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errs.append(forbidden(f"{path}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(required(f"{path}.values", "must be specified single value when `operator` is 'Lt' or 'Gt'"))
    else:
        errs.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
    errs.extend(_name_errors(f"{path}.key", _s(req.get("key")), validation.is_qualified_name))
    if check_values:
        for j, value in enumerate(values):
            errs.extend(_name_errors(f"{path}.values[{j}]", _s(value), validation.is_valid_label_value))
    return errs


def _validate_node_selector_term(term: Obj, path: str, *, check_values: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for j, req in enumerate(_l(term.get("matchExpressions"))):
        errs.extend(_validate_node_selector_requirement(_d(req), f"{path}.matchExpressions[{j}]", check_values=check_values))
    for j, req in enumerate(_l(term.get("matchFields"))):
        req, req_path = _d(req), f"{path}.matchFields[{j}]"
        operator, values = _s(req.get("operator")), _l(req.get("values"))
        if operator in ("In", "NotIn"):
            if len(values) != 1:
                errs.append(required(f"{req_path}.values", "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
        else:
            errs.append(invalid(f"{req_path}.operator", operator, "not a valid selector operator"))
        if req.get("key") != "metadata.name":
            errs.append(invalid(f"{req_path}.key", _s(req.get("key")), "not a valid field selector key"))
        else:
            for k, value in enumerate(values):
                errs.extend(_name_errors(f"{req_path}.values[{k}]", _s(value), validation.is_dns1123_subdomain))
    return errs


def validate_node_selector(selector: Obj, path: str) -> list[FieldError]:
    """A required NodeSelector: at least one term, each with valid requirements."""
    terms = _l(selector.get("nodeSelectorTerms"))
    if not terms:
        return [required(f"{path}.nodeSelectorTerms", "must have at least one node selector term")]
    errs: list[FieldError] = []
    for i, term in enumerate(terms):
        errs.extend(_validate_node_selector_term(_d(term), f"{path}.nodeSelectorTerms[{i}]", check_values=True))
    return errs


def _validate_pod_affinity_term(term: Obj, path: str) -> list[FieldError]:
    errs = validation.validate_label_selector(term.get("labelSelector"), f"{path}.labelSelector")
    errs.extend(validation.validate_label_selector(term.get("namespaceSelector"), f"{path}.namespaceSelector"))
    for name in _l(term.get("namespaces")):
        errs.extend(_name_errors(f"{path}.namespace", _s(name), validation.is_dns1123_label))
    topology_key = _s(term.get("topologyKey"))
    if not topology_key:
        errs.append(required(f"{path}.topologyKey", "can not be empty"))
    errs.extend(_name_errors(f"{path}.topologyKey", topology_key, validation.is_qualified_name))
    return errs


def _validate_affinity(affinity: Any, path: str) -> list[FieldError]:
    if not isinstance(affinity, dict):
        return []
    errs: list[FieldError] = []
    node = affinity.get("nodeAffinity")
    if isinstance(node, dict):
        node_path = f"{path}.nodeAffinity"
        hard = node.get("requiredDuringSchedulingIgnoredDuringExecution")
        if isinstance(hard, dict):
            errs.extend(validate_node_selector(hard, f"{node_path}.requiredDuringSchedulingIgnoredDuringExecution"))
        for i, term in enumerate(_l(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            term, term_path = _d(term), f"{node_path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            weight = _int(term.get("weight"))
            if not 1 <= weight <= 100:
                errs.append(invalid(f"{term_path}.weight", weight, "must be in the range 1-100"))
            errs.extend(_validate_node_selector_term(_d(term.get("preference")), f"{term_path}.preference", check_values=False))
    for key in ("podAffinity", "podAntiAffinity"):
        pod = affinity.get(key)
        if not isinstance(pod, dict):
            continue
        pod_path = f"{path}.{key}"
        for i, term in enumerate(_l(pod.get("requiredDuringSchedulingIgnoredDuringExecution"))):
            errs.extend(_validate_pod_affinity_term(_d(term), f"{pod_path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"))
        for i, term in enumerate(_l(pod.get("preferredDuringSchedulingIgnoredDuringExecution"))):
            term, term_path = _d(term), f"{pod_path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            weight = _int(term.get("weight"))
            if not 1 <= weight <= 100:
                errs.append(invalid(f"{term_path}.weight", weight, "must be in the range 1-100"))
            errs.extend(_validate_pod_affinity_term(_d(term.get("podAffinityTerm")), f"{term_path}.podAffinityTerm"))
    return errs


def _validate_pod_security_context(context: Any, spec: Obj, path: str) -> list[FieldError]:
    if not isinstance(context, dict):
        return []
    errs = _id_errors(context.get("fsGroup"), f"{path}.fsGroup")
    errs.extend(_id_errors(context.get("runAsUser"), f"{path}.runAsUser"))
    errs.extend(_id_errors(context.get("runAsGroup"), f"{path}.runAsGroup"))
    for i, gid in enumerate(_l(context.get("supplementalGroups"))):
        errs.extend(_id_errors(gid, f"{path}.supplementalGroups[{i}]"))
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID") is True:
        errs.append(invalid(f"{path}.shareProcessNamespace", True, "ShareProcessNamespace and HostPID cannot both be enabled"))
    change_policy = context.get("fsGroupChangePolicy")
    if change_policy is not None and change_policy not in ("OnRootMismatch", "Always"):
        errs.append(not_supported(f"{path}.fsGroupChangePolicy", change_policy, ["Always", "OnRootMismatch"]))
    errs.extend(_validate_seccomp(context.get("seccompProfile"), f"{path}.seccompProfile"))
    return errs


def _validate_dns_config(config: Any, policy: str, path: str) -> list[FieldError]:
    if policy == "None":
        if not isinstance(config, dict):
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not _l(config.get("nameservers")):
            return [required(f"{path}.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    if not isinstance(config, dict):
        return []
    errs: list[FieldError] = []
    servers = _l(config.get("nameservers"))
    if len(servers) > 3:
        errs.append(invalid(f"{path}.nameservers", servers, "must not have more than 3 nameservers"))
    for i, server in enumerate(servers):
        errs.extend(_name_errors(f"{path}.nameservers[{i}]", _s(server), validation.is_valid_ip))
    searches = [_s(s) for s in _l(config.get("searches"))]
    if len(searches) > 32:
        errs.append(invalid(f"{path}.searches", searches, "must not have more than 32 search paths"))
    if len(" ".join(searches)) > 2048:
        errs.append(invalid(f"{path}.searches", searches, "must not have more than 2048 characters (including spaces) in the search list"))
    for i, search in enumerate(searches):
        search = search.removesuffix(".")
        errs.extend(_name_errors(f"{path}.searches[{i}]", search, validation.is_dns1123_subdomain))
    for i, option in enumerate(_l(config.get("options"))):
        if not _d(option).get("name"):
            errs.append(required(f"{path}.options[{i}]", "must not be empty"))
    return errs


def _validate_topology_spread(constraints: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    items = [_d(c) for c in _l(constraints)]
    for i, constraint in enumerate(items):
        idx = f"{path}[{i}]"
        skew = _int(constraint.get("maxSkew"))
        if skew <= 0:
            errs.append(invalid(f"{idx}.maxSkew", skew, "must be greater than zero"))
        key = _s(constraint.get("topologyKey"))
        if not key:
            errs.append(required(f"{idx}.topologyKey", "can not be empty"))
        action = _s(constraint.get("whenUnsatisfiable"))
        if action not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(not_supported(f"{idx}.whenUnsatisfiable", action, ["DoNotSchedule", "ScheduleAnyway"]))
        for other in items[i + 1:]:
            if _s(other.get("topologyKey")) == key and _s(other.get("whenUnsatisfiable")) == action:
                errs.append(duplicate(f"{idx}.{{topologyKey, whenUnsatisfiable}}", f"{{{key}, {action}}}"))
                break
        min_domains = constraint.get("minDomains")
        if min_domains is not None:
            if _int(min_domains) <= 0:
                errs.append(invalid(f"{idx}.minDomains", min_domains, "must be greater than zero"))
            if action != "DoNotSchedule":
                errs.append(invalid(f"{idx}.minDomains", min_domains, f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"))
        for key in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            policy = constraint.get(key)
            if policy is not None and policy not in ("Honor", "Ignore"):
                errs.append(not_supported(f"{idx}.{key}", policy, ["Honor", "Ignore"]))
        errs.extend(validation.validate_label_selector(constraint.get("labelSelector"), f"{idx}.labelSelector"))
    return errs


def _validate_host_network(spec: Obj, path: str) -> list[FieldError]:
    """With hostNetwork, a container's hostPort must equal its containerPort (0 allowed in templates)."""
    if spec.get("hostNetwork") is not True:
        return []
    errs: list[FieldError] = []
    for i, container in enumerate(_containers(spec, "containers")):
        for j, port in enumerate(_l(container.get("ports"))):
            port = _d(port)
            host_port, container_port = port.get("hostPort") or 0, port.get("containerPort") or 0
            if host_port != 0 and host_port != container_port:
                errs.append(invalid(f"{path}.containers[{i}].ports[{j}].hostPort", host_port, "must match `containerPort` when `hostNetwork` is true"))
    return errs


def validate_pod_spec(spec: Obj, path: str) -> list[FieldError]:
    """ValidatePodSpec: every error of a PodSpec, in upstream's order, with upstream's paths."""
    spec = _d(spec)
    errs: list[FieldError] = []
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(f"{path}.terminationGracePeriodSeconds"))
    volumes, volume_errs = validate_volumes(spec.get("volumes"), f"{path}.volumes")
    errs.extend(volume_errs)
    claims: set[str] = set()
    for i, claim in enumerate(_l(spec.get("resourceClaims"))):
        name = _s(_d(claim).get("name"))
        if not name:
            errs.append(required(f"{path}.resourceClaims[{i}].name"))
        elif name in claims:
            errs.append(duplicate(f"{path}.resourceClaims[{i}].name", name))
        else:
            errs.extend(_name_errors(f"{path}.resourceClaims[{i}].name", name, validation.is_dns1123_label))
            claims.add(name)
    errs.extend(_validate_containers(spec, volumes, claims, f"{path}.containers"))
    errs.extend(_validate_init_containers(spec, volumes, claims, f"{path}.initContainers"))
    errs.extend(_validate_ephemeral_containers(spec, volumes, claims, f"{path}.ephemeralContainers"))
    errs.extend(_validate_host_network(spec, path))
    restart_policy = _s(spec.get("restartPolicy"))
    if not restart_policy:
        errs.append(required(f"{path}.restartPolicy"))
    elif restart_policy not in RESTART_POLICIES:
        errs.append(not_supported(f"{path}.restartPolicy", restart_policy, RESTART_POLICIES))
    dns_policy = _s(spec.get("dnsPolicy"))
    if not dns_policy:
        errs.append(required(f"{path}.dnsPolicy"))
    elif dns_policy not in DNS_POLICIES:
        errs.append(not_supported(f"{path}.dnsPolicy", dns_policy, DNS_POLICIES))
    errs.extend(validation.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector"))
    errs.extend(_validate_pod_security_context(spec.get("securityContext"), spec, f"{path}.securityContext"))
    for i, secret in enumerate(_l(spec.get("imagePullSecrets"))):
        if not isinstance(secret, dict) or set(secret) - {"name"}:
            errs.append(invalid(f"{path}.imagePullSecrets[{i}]", secret, "only name may be set"))
    errs.extend(_validate_affinity(spec.get("affinity"), f"{path}.affinity"))
    errs.extend(_validate_dns_config(spec.get("dnsConfig"), dns_policy, f"{path}.dnsConfig"))
    for i, gate in enumerate(_l(spec.get("readinessGates"))):
        errs.extend(_name_errors(f"{path}.readinessGates[{i}].conditionType", _s(_d(gate).get("conditionType")), validation.is_qualified_name))
    seen_gates: set[str] = set()
    for i, gate in enumerate(_l(spec.get("schedulingGates"))):
        name = _s(_d(gate).get("name"))
        errs.extend(_name_errors(f"{path}.schedulingGates[{i}]", name, validation.is_qualified_name))
        if name in seen_gates:
            errs.append(duplicate(f"{path}.schedulingGates[{i}]", name))
        seen_gates.add(name)
    errs.extend(_validate_topology_spread(spec.get("topologySpreadConstraints"), f"{path}.topologySpreadConstraints"))
    for key in ("serviceAccountName", "nodeName"):
        if spec.get(key):
            errs.extend(_name_errors(f"{path}.{key}", _s(spec[key]), validation.is_dns1123_subdomain))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not (isinstance(deadline, int) and 1 <= deadline <= MAX_INT32):
        errs.append(invalid(f"{path}.activeDeadlineSeconds", deadline, f"must be between 1 and {MAX_INT32}, inclusive"))
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs.extend(_name_errors(f"{path}.{key}", _s(spec[key]), validation.is_dns1123_label))
    errs.extend(validate_tolerations(spec.get("tolerations"), f"{path}.tolerations"))
    for i, alias in enumerate(_l(spec.get("hostAliases"))):
        alias = _d(alias)
        errs.extend(_name_errors(f"{path}.hostAliases[{i}].ip", _s(alias.get("ip")), validation.is_valid_ip))
        for j, hostname in enumerate(_l(alias.get("hostnames"))):
            errs.extend(_name_errors(f"{path}.hostAliases[{i}].hostnames[{j}]", _s(hostname), validation.is_dns1123_subdomain))
    if spec.get("priorityClassName"):
        errs.extend(_name_errors(f"{path}.priorityClassName", _s(spec["priorityClassName"]), validation.is_dns1123_subdomain))
    if spec.get("runtimeClassName") is not None:
        errs.extend(_name_errors(f"{path}.runtimeClassName", _s(spec["runtimeClassName"]), validation.is_dns1123_subdomain))
    preemption = spec.get("preemptionPolicy")
    if preemption is not None:
        if not preemption:
            errs.append(required(f"{path}.preemptionPolicy"))
        elif preemption not in ("PreemptLowerPriority", "Never"):
            errs.append(not_supported(f"{path}.preemptionPolicy", preemption, ["PreemptLowerPriority", "Never"]))
    if isinstance(spec.get("overhead"), dict):
        errs.extend(validate_resource_requirements({"limits": spec["overhead"]}, f"{path}.overhead"))
    os_spec = spec.get("os")
    if isinstance(os_spec, dict):
        os_name = _s(os_spec.get("name"))
        if not os_name:
            errs.append(required(f"{path}.os.name"))
        elif os_name not in ("linux", "windows"):
            errs.append(not_supported(f"{path}.os.name", os_name, ["linux", "windows"]))
    return errs


def _selector_matches(selector: Obj, pod_labels: dict[str, str]) -> bool | None:
    """Whether labels satisfy a selector; None when the selector is empty or cannot be read."""
    if set(selector) <= {"matchLabels", "matchExpressions"} and all(
        isinstance(selector.get(k), (dict, list, type(None))) for k in selector
    ):
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            return None
        try:
            return labelsel.selector_from_label_selector(selector).matches(pod_labels)
        except ValueError:
            return None
    if not selector:
        return None
    return all(pod_labels.get(k) == v for k, v in selector.items())


def validate_pod_template(template: Any, path: str, *, selector: dict[str, Any] | None) -> list[FieldError]:
    """ValidatePodTemplateSpec plus the selector check: a LabelSelector or a plain map must match the labels."""
    if not isinstance(template, dict):
        return [required(path)]
    errs: list[FieldError] = []
    metadata = _d(template.get("metadata"))
    pod_labels = _d(metadata.get("labels"))
    if isinstance(selector, dict) and _selector_matches(selector, pod_labels) is False:
        errs.append(invalid(f"{path}.metadata.labels", pod_labels, "`selector` does not match template `labels`"))
    # Upstream reports template labels and annotations without the `metadata` segment.
    errs.extend(validation.validate_labels(metadata.get("labels"), f"{path}.labels"))
    errs.extend(validation.validate_annotations(metadata.get("annotations"), f"{path}.annotations"))
    spec = _d(template.get("spec"))
    errs.extend(validate_pod_spec(spec, f"{path}.spec"))
    if _l(spec.get("ephemeralContainers")):
        errs.append(forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return errs


__all__ = [
    "decoding",
    "default_claim_spec",
    "default_container",
    "default_pod_spec",
    "default_pod_template",
    "default_resource_list",
    "default_volume",
    "image_tag",
    "pod_containers_images",
    "validate_image_whitespace",
    "validate_node_selector",
    "validate_pod_spec",
    "validate_pod_template",
    "validate_port_num_or_name",
    "validate_resource_quantity",
    "validate_resource_requirements",
    "validate_tolerations",
    "validate_volumes",
]
