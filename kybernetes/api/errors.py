"""API errors: field errors for validation and the Status-shaped errors the server answers with.

    APIError                      an error that is answered as a metav1.Status
    ├── BadRequest                400 BadRequest
    ├── Unauthorized              401 Unauthorized
    ├── Forbidden                 403 Forbidden
    ├── NotFound                  404 NotFound
    ├── MethodNotAllowed          405 MethodNotAllowed
    ├── NotAcceptable             406 NotAcceptable
    ├── AlreadyExists             409 AlreadyExists
    ├── Conflict                  409 Conflict
    ├── Gone                      410 Expired
    ├── RequestEntityTooLarge     413 RequestEntityTooLarge
    ├── UnsupportedMediaType      415 UnsupportedMediaType
    ├── Invalid                   422 Invalid (carries FieldErrors as causes)
    ├── TooManyRequests           429 TooManyRequests
    ├── InternalError             500 InternalError
    └── ServiceUnavailable        503 ServiceUnavailable

Messages follow upstream's wording because kubectl prints them verbatim.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ErrorType(enum.Enum):
    """The kinds of field error upstream reports, with their cause reason and message prefix."""

    REQUIRED = ("FieldValueRequired", "Required value")
    INVALID = ("FieldValueInvalid", "Invalid value")
    NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
    DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
    FORBIDDEN = ("FieldValueForbidden", "Forbidden")
    TOO_LONG = ("FieldValueTooLong", "Too long")
    TOO_MANY = ("FieldValueTooMany", "Too many")
    TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")
    NOT_FOUND = ("FieldValueNotFound", "Not found")
    INTERNAL = ("InternalError", "Internal error")

    @property
    def reason(self) -> str:
        return self.value[0]

    @property
    def prefix(self) -> str:
        return self.value[1]


def _render_value(value: Any) -> str:
    """Render a bad value the way Go's %#v-ish formatting in field.Error does for common types."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    # Go's %#v for string slices (clusterIPs, podCIDRs, …); other shapes fall back to JSON.
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(_render_value(v) for v in value) + "}"
    # Maps stay JSON: a dict may be a Go map or a struct, and only the caller's type would tell.
    import orjson

    return orjson.dumps(value).decode()


_NO_VALUE = object()


@dataclass(slots=True)
class FieldError:
    """FieldError is one validation failure at a field path such as `spec.containers[0].image`."""

    type: ErrorType
    field: str
    detail: str = ""
    value: Any = _NO_VALUE
    supported: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """The text after the field path, as upstream's field.Error.ErrorBody()."""
        prefix = self.type.prefix
        if self.type is ErrorType.NOT_SUPPORTED:
            body = f"{prefix}: {_render_value(self.value)}"
            if self.supported:
                body += ": supported values: " + ", ".join(f'"{s}"' for s in self.supported)
            return body
        if self.type in (ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG, ErrorType.INTERNAL) or self.value is _NO_VALUE:
            body = prefix
        else:
            body = f"{prefix}: {_render_value(self.value)}"
        if self.detail:
            body += f": {self.detail}"
        return body

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


# Constructors named as upstream's field package so validation code reads the same.
def required(path: str, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, path, detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, path, detail, value)


def not_supported(path: str, value: Any, supported: list[str] | tuple[str, ...]) -> FieldError:
    return FieldError(ErrorType.NOT_SUPPORTED, path, "", value, tuple(supported))


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, path, "", value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, path, detail)


def too_long(path: str, value: Any, max_length: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, path, f"may not be more than {max_length} bytes", value)


def type_invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(ErrorType.TYPE_INVALID, path, detail, value)


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(ErrorType.NOT_FOUND, path, "", value)


@dataclass
class APIError(Exception):
    """APIError is any failure answered to the client as a metav1.Status with `code`."""

    message: str
    code: int = 500
    reason: str = "InternalError"
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, resource: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if resource:
        details["kind"] = resource
    details.update(extra)
    return details


def bad_request(message: str) -> APIError:
    return APIError(message, 400, "BadRequest")


def unauthorized(message: str = "Unauthorized") -> APIError:
    return APIError(message, 401, "Unauthorized")


def forbidden_error(message: str, *, name: str = "", group: str = "", resource: str = "") -> APIError:
    return APIError(message, 403, "Forbidden", _details(name, group, resource) or None)


def not_found_error(resource: str, name: str, group: str = "") -> APIError:
    return APIError(
        f'{_qualified(resource, group)} "{name}" not found', 404, "NotFound", _details(name, group, resource)
    )


def path_not_found() -> APIError:
    return APIError("the server could not find the requested resource", 404, "NotFound", {})


def method_not_allowed(method: str = "") -> APIError:
    return APIError(
        "the server does not allow this method on the requested resource", 405, "MethodNotAllowed", {}
    )


def already_exists(resource: str, name: str, group: str = "") -> APIError:
    return APIError(
        f'{_qualified(resource, group)} "{name}" already exists', 409, "AlreadyExists", _details(name, group, resource)
    )


def conflict(resource: str, name: str, detail: str, group: str = "") -> APIError:
    return APIError(
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {detail}',
        409,
        "Conflict",
        _details(name, group, resource),
    )


STALE_OBJECT = "the object has been modified; please apply your changes to the latest version and try again"


def gone(message: str) -> APIError:
    return APIError(message, 410, "Expired")


def too_large(message: str = "Request entity too large: limit is 3145728") -> APIError:
    return APIError(message, 413, "RequestEntityTooLarge")


def unsupported_media_type(content_type: str, accepted: list[str]) -> APIError:
    return APIError(
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
        415,
        "UnsupportedMediaType",
    )


def not_acceptable(accepted: list[str]) -> APIError:
    return APIError(
        f"only the following media types are accepted: {', '.join(accepted)}", 406, "NotAcceptable"
    )


def invalid_error(kind: str, name: str, errors: list[FieldError], group: str = "") -> APIError:
    """Build upstream's 422: `Kind "name" is invalid: [a: x, b: y]` with one cause per field error."""
    if len(errors) == 1:
        summary = str(errors[0])
    else:
        summary = "[" + ", ".join(str(e) for e in errors) + "]"
    qualified_kind = f"{kind}.{group}" if group else kind
    causes = [{"reason": e.type.reason, "message": e.message, "field": e.field} for e in errors]
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = causes
    return APIError(f'{qualified_kind} "{name}" is invalid: {summary}', 422, "Invalid", details)


def internal_error(message: str) -> APIError:
    return APIError(f"Internal error occurred: {message}", 500, "InternalError", {"causes": [{"message": message}]})


def service_unavailable(message: str) -> APIError:
    return APIError(message, 503, "ServiceUnavailable")


def too_many_requests(message: str) -> APIError:
    return APIError(message, 429, "TooManyRequests")
