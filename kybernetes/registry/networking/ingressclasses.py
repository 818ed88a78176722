"""IngressClass: names the controller that implements a class of Ingresses (networking.k8s.io/v1; retired v1beta1)."""

from __future__ import annotations

import copy
import re
from typing import Any

from kybernetes.api import duration, validation
from kybernetes.api.errors import FieldError, forbidden, invalid, not_supported, required, too_long
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, ServedVersion, Strategy
from kybernetes.registry.networking.ingresses import validate_typed_reference

MAX_CONTROLLER_LENGTH = 250
SCOPES = ("Cluster", "Namespace")
_HTTP_PATH = re.compile(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"


def _relabel(obj: Obj, api_version: str) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = api_version
    return out


NETWORKING_V1BETA1 = ServedVersion(
    "networking.k8s.io",
    "v1beta1",
    "IngressClass",
    lambda obj: _relabel(obj, "networking.k8s.io/v1"),
    lambda obj: _relabel(obj, "networking.k8s.io/v1beta1"),
    "networking.k8s.io/v1beta1 IngressClass is deprecated in v1.19+, unavailable in v1.22+; "
    "use networking.k8s.io/v1 IngressClass",
)


def validate_domain_prefixed_path(value: str, path: str) -> list[FieldError]:
    """IsDomainPrefixedPath: `example.com/some/path`."""
    if not value:
        return [required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, msg) for msg in validation.is_dns1123_subdomain(host)]
    if not _HTTP_PATH.match(rest):
        errs.append(invalid(path, rest, f"Invalid path (regex used for validation is '{_HTTP_PATH_FMT}')"))
    return errs


def _validate_parameters(params: Obj, path: str) -> list[FieldError]:
    errs = validate_typed_reference(params, path)
    scope = params.get("scope")
    if scope is None:
        errs.append(required(f"{path}.scope"))
        return errs
    if scope not in SCOPES:
        errs.append(not_supported(f"{path}.scope", scope, list(SCOPES)))
        return errs
    namespace = params.get("namespace")
    if scope == "Namespace":
        if namespace is None:
            errs.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            errs.extend(invalid(f"{path}.namespace", namespace, msg) for msg in validation.is_dns1123_label(namespace))
    elif namespace is not None:
        errs.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


def parameters_cell(params: Obj | None) -> str:
    """`Kind[.apiGroup]/name` of the parameters object, or `<none>`."""
    if params is None:
        return "<none>"
    text = params.get("kind") or ""
    if params.get("apiGroup") is not None:
        text += "." + params["apiGroup"]
    return f"{text}/{params.get('name') or ''}"


class IngressClassStrategy(Strategy):
    """IngressClassStrategy: the controller name is required, well formed and fixed once set."""

    group = "networking.k8s.io"
    version = "v1"
    kind = "IngressClass"
    plural = "ingressclasses"
    singular = "ingressclass"
    namespaced = False
    tracks_generation = True
    served_versions = (NETWORKING_V1BETA1,)
    columns = (
        NAME_COLUMN,
        Column("Controller", description="The controller that implements Ingresses of this class."),
        Column("Parameters", description="Object holding extra settings for the controller."),
        AGE_COLUMN,
    )

    def default(self, obj: Obj) -> None:
        params = (obj.get("spec") or {}).get("parameters")
        if isinstance(params, dict) and params.get("scope") is None:
            params["scope"] = "Cluster"

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        controller = spec.get("controller") or ""
        errs: list[FieldError] = []
        if len(controller) > MAX_CONTROLLER_LENGTH:
            errs.append(too_long("spec.controller", controller, MAX_CONTROLLER_LENGTH))
        errs.extend(validate_domain_prefixed_path(controller, "spec.controller"))
        if spec.get("parameters") is not None:
            errs.extend(_validate_parameters(spec["parameters"], "spec.parameters"))
        return errs

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        controller = (new.get("spec") or {}).get("controller") or ""
        return validation.validate_immutable(controller, (old.get("spec") or {}).get("controller") or "", "spec.controller")

    def row(self, obj: Obj) -> list[Any]:
        spec = obj.get("spec") or {}
        controller = spec.get("controller") or ""
        return [obj["metadata"]["name"], controller, parameters_cell(spec.get("parameters")), duration.age(obj)]


STRATEGY = IngressClassStrategy()
