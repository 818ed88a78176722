"""Ingress: HTTP routes from hosts and paths to Services (networking.k8s.io/v1; retired v1beta1 versions).

The retired versions name a backend by `serviceName`/`servicePort` and the default backend
`spec.backend`; v1 says `service: {name, port: {number | name}}` and `spec.defaultBackend`.
Paths without a pathType were ImplementationSpecific in those versions, which v1 requires.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, invalid, not_supported, required
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy

CLASS_ANNOTATION = "kubernetes.io/ingress.class"
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_SUFFIXES = ("/..", "/.")
_WILDCARD_HOST = re.compile(r"^\*\." + validation.DNS1123_SUBDOMAIN_FMT + "$")
_WILDCARD_MESSAGE = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of "
    "lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
    "(e.g. '*.example.com', regex used for validation is '\\*\\." + validation.DNS1123_SUBDOMAIN_FMT + "')"
)

# ----- conversion to and from the retired versions ----------------------------------------


def backend_to_v1(backend: Obj) -> Obj:
    """serviceName/servicePort → service.name/service.port.{number|name}."""
    out = {k: copy.deepcopy(v) for k, v in backend.items() if k not in ("serviceName", "servicePort")}
    name = backend.get("serviceName") or ""
    port = backend.get("servicePort")
    has_number = isinstance(port, int) and not isinstance(port, bool) and port != 0
    if name or has_number or isinstance(port, str):
        service_port: Obj = {}
        if isinstance(port, str) and port:
            service_port["name"] = port
        elif has_number:
            service_port["number"] = port
        out["service"] = {"name": name, "port": service_port}
    return out


def backend_from_v1(backend: Obj) -> Obj:
    out = {k: copy.deepcopy(v) for k, v in backend.items() if k != "service"}
    service = backend.get("service")
    if service is not None:
        out["serviceName"] = service.get("name") or ""
        port = service.get("port") or {}
        out["servicePort"] = port["name"] if port.get("name") else int(port.get("number") or 0)
    return out


def _each_path(spec: Obj) -> list[Obj]:
    paths: list[Obj] = []
    for rule in spec.get("rules") or []:
        paths.extend(p for p in ((rule or {}).get("http") or {}).get("paths") or [] if isinstance(p, dict))
    return paths


def ingress_to_v1(obj: Obj) -> Obj:
    """A retired-version Ingress (defaulted as that version did) in networking.k8s.io/v1 shape."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "networking.k8s.io/v1"
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    if "backend" in spec:
        backend = spec.pop("backend")
        if isinstance(backend, dict):
            spec["defaultBackend"] = backend_to_v1(backend)
    for path in _each_path(spec):
        if path.get("pathType") is None:
            path["pathType"] = "ImplementationSpecific"
        if isinstance(path.get("backend"), dict):
            path["backend"] = backend_to_v1(path["backend"])
    return out


def ingress_from_v1(api_version: str) -> Any:
    def convert(obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = api_version
        spec = out.get("spec")
        if not isinstance(spec, dict):
            return out
        if "defaultBackend" in spec:
            backend = spec.pop("defaultBackend")
            if isinstance(backend, dict):
                spec["backend"] = backend_from_v1(backend)
        for path in _each_path(spec):
            if isinstance(path.get("backend"), dict):
                path["backend"] = backend_from_v1(path["backend"])
        return out

    return convert


EXTENSIONS_V1BETA1 = ServedVersion(
    "extensions",
    "v1beta1",
    "Ingress",
    ingress_to_v1,
    ingress_from_v1("extensions/v1beta1"),
    "extensions/v1beta1 Ingress is deprecated in v1.14+, unavailable in v1.22+; use networking.k8s.io/v1 Ingress",
)
NETWORKING_V1BETA1 = ServedVersion(
    "networking.k8s.io",
    "v1beta1",
    "Ingress",
    ingress_to_v1,
    ingress_from_v1("networking.k8s.io/v1beta1"),
    "networking.k8s.io/v1beta1 Ingress is deprecated in v1.19+, unavailable in v1.22+; use networking.k8s.io/v1 Ingress",
)

# ----- validation ------------------------------------------------------------------------------


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_valid_path_segment_name(name: str) -> list[str]:
    """Names that appear in URL paths may not be `.`/`..` nor contain `/` or `%`."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


def validate_typed_reference(ref: Obj, path: str) -> list[FieldError]:
    """An apiGroup/kind/name reference to another object (a resource backend or class parameters)."""
    errs: list[FieldError] = []
    group = ref.get("apiGroup")
    if group is not None:
        errs.extend(invalid(f"{path}.apiGroup", group, msg) for msg in validation.is_dns1123_subdomain(group))
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            errs.append(required(f"{path}.{key}", f"{key} is required"))
        else:
            errs.extend(invalid(f"{path}.{key}", value, msg) for msg in is_valid_path_segment_name(value))
    return errs


def _validate_backend(backend: Obj, path: str) -> list[FieldError]:
    resource = backend.get("resource")
    service = backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return validate_typed_reference(resource, f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    errs: list[FieldError] = []
    name = service.get("name") or ""
    if not name:
        errs.append(required(f"{path}.service.name"))
    else:
        errs.extend(invalid(f"{path}.service.name", name, msg) for msg in validation.is_dns1035_label(name))
    port = service.get("port") or {}
    port_name = port.get("name") or ""
    number = port.get("number") or 0
    if port_name and number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        port_path = f"{path}.service.port.name"
        errs.extend(invalid(port_path, port_name, msg) for msg in validation.is_valid_port_name(port_name))
    elif number:
        errs.extend(invalid(f"{path}.service.port.number", number, msg) for msg in validation.is_valid_port_num(number))
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _validate_path(item: Obj, path: str) -> list[FieldError]:
    path_type = item.get("pathType")
    if path_type is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    errs: list[FieldError] = []
    value = item.get("path") or ""
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
        if value:
            for seq in _INVALID_SEQUENCES:
                if seq in value:
                    errs.append(invalid(f"{path}.path", value, f"must not contain '{seq}'"))
            for suffix in _INVALID_SUFFIXES:
                if value.endswith(suffix):
                    errs.append(invalid(f"{path}.path", value, f"cannot end with '{suffix}'"))
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", path_type, list(PATH_TYPES)))
    errs.extend(_validate_backend(item.get("backend") or {}, f"{path}.backend"))
    return errs


def _rule_value_errors(rule: Obj, path: str) -> list[FieldError]:
    http = rule.get("http")
    if http is None:
        return []
    errs: list[FieldError] = []
    paths = http.get("paths") or []
    if not paths:
        errs.append(required(f"{path}.http.paths"))
    for j, item in enumerate(paths):
        errs.extend(_validate_path(item or {}, f"{path}.http.paths[{j}]"))
    return errs


def _wildcard_host_errors(host: str) -> list[str]:
    msgs = []
    if len(host) > validation.DNS1123_SUBDOMAIN_MAX:
        msgs.append(f"must be no more than {validation.DNS1123_SUBDOMAIN_MAX} characters")
    if not _WILDCARD_HOST.match(host):
        msgs.append(_WILDCARD_MESSAGE)
    return msgs


def _validate_rules(rules: list[Obj], path: str, *, allow_invalid_wildcard_rules: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        rule = rule or {}
        host = rule.get("host") or ""
        wildcard = False
        if host:
            if _is_ip(host):
                errs.append(invalid(f"{path}[{i}].host", host, "must be a DNS name, not an IP address"))
            if "*" in host:
                errs.extend(invalid(f"{path}[{i}].host", host, msg) for msg in _wildcard_host_errors(host))
                wildcard = True
            else:
                errs.extend(invalid(f"{path}[{i}].host", host, msg) for msg in validation.is_dns1123_subdomain(host))
        if not wildcard or not allow_invalid_wildcard_rules:
            errs.extend(_rule_value_errors(rule, f"{path}[{i}]"))
    return errs


def _validate_tls(tls: list[Obj], path: str, *, allow_invalid_secret_name: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, entry in enumerate(tls):
        entry = entry or {}
        for j, host in enumerate(entry.get("hosts") or []):
            checks = _wildcard_host_errors(host) if "*" in host else validation.is_dns1123_subdomain(host)
            errs.extend(invalid(f"{path}[{i}].hosts[{j}]", host, msg) for msg in checks)
        secret = entry.get("secretName") or ""
        if secret and not allow_invalid_secret_name:
            errs.extend(invalid(f"{path}[{i}].secretName", secret, msg) for msg in validation.is_dns1123_subdomain(secret))
    return errs


def validate_ingress_spec(
    spec: Obj, *, allow_invalid_secret_name: bool = False, allow_invalid_wildcard_rules: bool = False
) -> list[FieldError]:
    errs: list[FieldError] = []
    rules = spec.get("rules")
    backend = spec.get("defaultBackend")
    if not rules and backend is None:
        errs.append(invalid("spec", rules, "either `defaultBackend` or `rules` must be specified"))
    if backend is not None:
        errs.extend(_validate_backend(backend, "spec.defaultBackend"))
    if rules:
        errs.extend(_validate_rules(rules, "spec.rules", allow_invalid_wildcard_rules=allow_invalid_wildcard_rules))
    if spec.get("tls"):
        errs.extend(_validate_tls(spec["tls"], "spec.tls", allow_invalid_secret_name=allow_invalid_secret_name))
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        for msg in validation.is_dns1123_subdomain(class_name):
            errs.append(invalid("spec.ingressClassName", class_name, msg))
    return errs


def _stored_exceptions(old: Obj) -> tuple[bool, bool]:
    """Invalid TLS secret names and wildcard rules already stored stay allowed on update."""
    spec = old.get("spec") or {}
    secrets = [(t or {}).get("secretName") or "" for t in spec.get("tls") or []]
    bad_secret = any(name and validation.is_dns1123_subdomain(name) for name in secrets)
    bad_wildcard = any(
        "*" in ((r or {}).get("host") or "") and _rule_value_errors(r or {}, "") for r in spec.get("rules") or []
    )
    return bool(bad_secret), bool(bad_wildcard)


def _load_balancer_errors(status: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, entry in enumerate(((status.get("loadBalancer") or {}).get("ingress")) or []):
        path = f"status.loadBalancer.ingress[{i}]"
        ip = (entry or {}).get("ip") or ""
        if ip and not _is_ip(ip):
            errs.append(invalid(f"{path}.ip", ip, "must be a valid IP address"))
        hostname = (entry or {}).get("hostname") or ""
        if hostname:
            errs.extend(invalid(f"{path}.hostname", hostname, msg) for msg in validation.is_dns1123_subdomain(hostname))
            if _is_ip(hostname):
                errs.append(invalid(f"{path}.hostname", hostname, "must be a DNS name, not an IP address"))
    return errs


# ----- table cells -----------------------------------------------------------------------------


def hosts_cell(rules: list[Obj]) -> str:
    """Up to three hosts, then `+ N more...`; `*` when no rule names a host."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        host = (rule or {}).get("host") or ""
        if not more and host:
            hosts.append(host)
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def address_cell(status: Obj) -> str:
    seen: list[str] = []
    for entry in ((status.get("loadBalancer") or {}).get("ingress")) or []:
        value = (entry or {}).get("ip") or (entry or {}).get("hostname") or ""
        if value and value not in seen:
            seen.append(value)
    return ",".join(seen)


class IngressStrategy(Strategy):
    """IngressStrategy: checks and columns of networking.k8s.io/v1 Ingress."""

    group = "networking.k8s.io"
    version = "v1"
    kind = "Ingress"
    plural = "ingresses"
    singular = "ingress"
    short_names = ("ing",)
    subresources = ("status",)
    tracks_generation = True
    has_status = True
    served_versions = (EXTENSIONS_V1BETA1, NETWORKING_V1BETA1)
    columns = (
        NAME_COLUMN,
        Column("Class", description="The IngressClass that implements this Ingress."),
        Column("Hosts", description="Host names the rules match requests against."),
        Column("Address", description="Where the load balancer serving this Ingress can be reached."),
        Column("Ports", description="Ports the load balancer listens on (443 when TLS is configured)."),
        AGE_COLUMN,
    )

    def initial_status(self, obj: Obj) -> Obj:
        return {"loadBalancer": {}}

    def validate(self, obj: Obj) -> list[FieldError]:
        errs = super().validate(obj)
        # On create only: the old annotation and the class field may not both choose a class.
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if CLASS_ANNOTATION in annotations and (obj.get("spec") or {}).get("ingressClassName") is not None:
            detail = "can not be set when the class field is also set"
            errs.append(invalid(f"annotations.{CLASS_ANNOTATION}", annotations[CLASS_ANNOTATION], detail))
        return errs

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        return validate_ingress_spec(obj.get("spec") or {})

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = validation.validate_object_meta_update(new.get("metadata") or {}, old.get("metadata") or {})
        errs.extend(
            validation.validate_object_meta(new.get("metadata") or {}, namespaced=self.namespaced, name_rule=self.name_rule)
        )
        bad_secret, bad_wildcard = _stored_exceptions(old)
        errs.extend(
            validate_ingress_spec(
                new.get("spec") or {}, allow_invalid_secret_name=bad_secret, allow_invalid_wildcard_rules=bad_wildcard
            )
        )
        return errs

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        errs = super().validate_status_update(new, old)
        errs.extend(_load_balancer_errors(new.get("status") or {}))
        return errs

    def warnings(self, obj: Obj) -> list[str]:
        if CLASS_ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {}):
            return [f'annotation "{CLASS_ANNOTATION}" is deprecated, please use \'spec.ingressClassName\' instead']
        return []

    def row(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        class_name = spec.get("ingressClassName")
        return [
            obj["metadata"]["name"],
            class_name if class_name is not None else "<none>",
            hosts_cell(spec.get("rules") or []),
            address_cell(obj.get("status") or {}),
            "80, 443" if spec.get("tls") else "80",
            duration.age(obj),
        ]


STRATEGY = IngressStrategy()
