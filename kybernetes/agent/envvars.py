"""envvars: a container's environment from its spec: values, downward-API refs, ConfigMap and Secret keys.

Values are resolved but not `$(VAR)`-expanded: the runtime expands them in order, as upstream's
makeEnvironmentVariables does. Failures carry the message upstream puts in the container's
CreateContainerConfigError waiting state. Service-link variables are not produced yet.
"""

from __future__ import annotations

import base64
import math
from decimal import Decimal
from typing import Any, Mapping, Protocol

from kybernetes.api import quantity

Obj = dict[str, Any]


class EnvError(Exception):
    """EnvError: the environment cannot be built; the text is the user-facing reason."""


class ConfigSource(Protocol):
    """ConfigSource reads the ConfigMaps and Secrets a pod refers to; None when there is no such object."""

    async def configmap(self, namespace: str, name: str) -> Obj | None: ...

    async def secret(self, namespace: str, name: str) -> Obj | None: ...


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _subscript(path: str, prefix: str) -> str | None:
    """`metadata.labels['app']` → `app` for prefix `metadata.labels`."""
    if not path.startswith(prefix + "[") or not path.endswith("]"):
        return None
    inner = path[len(prefix) + 1:-1]
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return inner[1:-1]
    return None


def field_ref_value(pod: Obj, path: str, *, pod_ips: tuple[str, ...], host_ips: tuple[str, ...]) -> str:
    """The value of a downward-API field path (upstream's podFieldSelectorRuntimeValue)."""
    meta, spec = _d(pod.get("metadata")), _d(pod.get("spec"))
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": host_ips[0] if host_ips else "",
        "status.hostIPs": ",".join(host_ips),
        "status.podIP": pod_ips[0] if pod_ips else "",
        "status.podIPs": ",".join(pod_ips),
    }
    if path in simple:
        return str(simple[path])
    for prefix, bag in (("metadata.labels", meta.get("labels")), ("metadata.annotations", meta.get("annotations"))):
        key = _subscript(path, prefix)
        if key is not None:
            return str(_d(bag).get(key, ""))
    raise EnvError(f"unsupported fieldPath: {path}")


def _find_container(pod: Obj, name: str) -> Obj | None:
    spec = _d(pod.get("spec"))
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict) and container.get("name") == name:
                return container
    return None


def resource_field_value(pod: Obj, container: Obj, ref: Obj, allocatable: Mapping[str, str]) -> str:
    """The value of a resourceFieldRef; unset limits are the node's allocatable, as upstream."""
    target = container
    if ref.get("containerName"):
        found = _find_container(pod, str(ref["containerName"]))
        if found is None:
            raise EnvError(f"container {ref['containerName']} not found")
        target = found
    resource = str(ref.get("resource", ""))
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-"):
        raise EnvError(f"unsupported container resource: {resource}")
    values = _d(_d(target.get("resources")).get(kind))
    raw = values.get(name)
    if raw is None and kind == "limits":
        raw = allocatable.get(name)
    amount = quantity.parse_quantity(raw) if raw is not None else Decimal(0)
    divisor = quantity.parse_quantity(ref.get("divisor") or "1")
    if divisor <= 0:
        raise EnvError(f"invalid divisor for {resource}")
    if name == "cpu":
        # Upstream divides milli-values and rounds up: 250m with divisor 1 is 1.
        milli = math.ceil(amount * 1000)
        divisor_milli = math.ceil(divisor * 1000)
        return str(math.ceil(Decimal(milli) / Decimal(divisor_milli)))
    return str(math.ceil(math.ceil(amount) / math.ceil(divisor)))


def _decode(secret: Obj, key: str) -> str | None:
    data = _d(secret.get("data"))
    if key in data:
        return base64.b64decode(str(data[key])).decode("utf-8", "replace")
    string_data = _d(secret.get("stringData"))
    if key in string_data:
        return str(string_data[key])
    return None


async def container_env(pod: Obj, container: Obj, *, source: ConfigSource, pod_ips: tuple[str, ...],
                        host_ips: tuple[str, ...], allocatable: Mapping[str, str]) -> list[tuple[str, str]]:
    """The container's environment in order: envFrom first, then env (later names win at expansion)."""
    namespace = str(_d(pod.get("metadata")).get("namespace") or "default")
    out: list[tuple[str, str]] = []
    for env_from in container.get("envFrom") or []:
        env_from = _d(env_from)
        prefix = str(env_from.get("prefix") or "")
        if "configMapRef" in env_from:
            ref = _d(env_from["configMapRef"])
            obj = await source.configmap(namespace, str(ref.get("name", "")))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'configmap "{ref.get("name", "")}" not found')
            for key, value in sorted(_d(obj.get("data")).items()):
                if key and "=" not in key:
                    out.append((prefix + key, str(value)))
        elif "secretRef" in env_from:
            ref = _d(env_from["secretRef"])
            obj = await source.secret(namespace, str(ref.get("name", "")))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'secret "{ref.get("name", "")}" not found')
            for key in sorted(_d(obj.get("data"))):
                if key and "=" not in key:
                    out.append((prefix + key, _decode(obj, key) or ""))
    for env in container.get("env") or []:
        env = _d(env)
        name = str(env.get("name", ""))
        value_from = _d(env.get("valueFrom"))
        if not value_from:
            out.append((name, str(env.get("value", ""))))
            continue
        if "fieldRef" in value_from:
            path = str(_d(value_from["fieldRef"]).get("fieldPath", ""))
            out.append((name, field_ref_value(pod, path, pod_ips=pod_ips, host_ips=host_ips)))
        elif "resourceFieldRef" in value_from:
            out.append((name, resource_field_value(pod, container, _d(value_from["resourceFieldRef"]), allocatable)))
        elif "configMapKeyRef" in value_from:
            ref = _d(value_from["configMapKeyRef"])
            obj = await source.configmap(namespace, str(ref.get("name", "")))
            key = str(ref.get("key", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'configmap "{ref.get("name", "")}" not found')
            data = {**_d(obj.get("binaryData")), **_d(obj.get("data"))}
            if key not in data:
                if ref.get("optional"):
                    continue
                raise EnvError(f"couldn't find key {key} in ConfigMap {namespace}/{ref.get('name', '')}")
            out.append((name, str(data[key])))
        elif "secretKeyRef" in value_from:
            ref = _d(value_from["secretKeyRef"])
            obj = await source.secret(namespace, str(ref.get("name", "")))
            key = str(ref.get("key", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f'secret "{ref.get("name", "")}" not found')
            value = _decode(obj, key)
            if value is None:
                if ref.get("optional"):
                    continue
                raise EnvError(f"couldn't find key {key} in Secret {namespace}/{ref.get('name', '')}")
            out.append((name, value))
        else:
            out.append((name, ""))
    return out
