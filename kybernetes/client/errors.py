"""Client errors: what a request to the API server can fail with, one class per HTTP status.

    ClientError                       anything the client raises on purpose
    ├── ConfigError                   an unusable kubeconfig
    ├── TransportError                the request never got an HTTP answer (connect, TLS, reset)
    ├── DecodeError                   a 2xx answer that is not the JSON we asked for
    └── APIStatusError                the server answered non-2xx (or a watch ERROR event); .status, .code
        ├── BadRequestError           400
        ├── UnauthorizedError         401
        ├── ForbiddenError            403
        ├── NotFoundError             404
        ├── MethodNotAllowedError     405
        ├── ConflictError             409 Conflict (stale resourceVersion, failed precondition)
        ├── AlreadyExistsError        409 AlreadyExists
        ├── GoneError                 410 Expired/Gone (resourceVersion too old: re-list)
        ├── UnsupportedMediaTypeError 415
        ├── InvalidError              422 (field errors in .status["details"]["causes"])
        ├── TooManyRequestsError      429
        └── ServerError               5xx
            ├── InternalError         500
            └── ServiceUnavailableError 503

`ConflictError` and `AlreadyExistsError` share the code 409 but not a branch: a retry after a
conflict re-reads and writes again, a create that already exists must not.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_MESSAGE = 300
"""Characters of a server message or payload kept in an exception's text."""


def truncate(text: str, limit: int = MAX_MESSAGE) -> str:
    """Return `text` cut to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more)"


class ClientError(Exception):
    """ClientError is the root of every error the client raises on purpose."""


class ConfigError(ClientError):
    """ConfigError: the kubeconfig is missing, malformed or names something that does not exist."""


class TransportError(ClientError):
    """TransportError: no HTTP answer arrived (refused, TLS failure, reset, timeout)."""


class DecodeError(ClientError):
    """DecodeError: a successful answer that is not the JSON document expected."""


class APIStatusError(ClientError):
    """APIStatusError: the server answered with a metav1.Status failure."""

    code: int = 0

    def __init__(self, status: dict[str, Any], *, code: int | None = None) -> None:
        self.status = status
        if code is not None:
            self.code = code
        elif isinstance(status.get("code"), int):
            self.code = status["code"]
        message = status.get("message") or status.get("reason") or "unknown error"
        super().__init__(f"{self.code} {status.get('reason', '')}: {truncate(str(message))}".replace("  ", " "))

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))

    @property
    def message(self) -> str:
        return str(self.status.get("message", ""))

    @property
    def details(self) -> dict[str, Any]:
        details = self.status.get("details")
        return details if isinstance(details, dict) else {}


class BadRequestError(APIStatusError):
    code = 400


class UnauthorizedError(APIStatusError):
    code = 401


class ForbiddenError(APIStatusError):
    code = 403


class NotFoundError(APIStatusError):
    code = 404


class MethodNotAllowedError(APIStatusError):
    code = 405


class ConflictError(APIStatusError):
    code = 409


class AlreadyExistsError(APIStatusError):
    code = 409


class GoneError(APIStatusError):
    code = 410


class UnsupportedMediaTypeError(APIStatusError):
    code = 415


class InvalidError(APIStatusError):
    code = 422


class TooManyRequestsError(APIStatusError):
    code = 429


class ServerError(APIStatusError):
    code = 500


class InternalError(ServerError):
    code = 500


class ServiceUnavailableError(ServerError):
    code = 503


_BY_CODE: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    410: GoneError,
    415: UnsupportedMediaTypeError,
    422: InvalidError,
    429: TooManyRequestsError,
    500: InternalError,
    503: ServiceUnavailableError,
}


def from_status(code: int, status: dict[str, Any]) -> APIStatusError:
    """Return the exception for an HTTP `code` and its decoded Status body (or a stand-in)."""
    if code == 409 and status.get("reason") == "AlreadyExists":
        return AlreadyExistsError(status, code=code)
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = ServerError if code >= 500 else APIStatusError
    return cls(status, code=code)


def status_from_body(code: int, body: bytes) -> dict[str, Any]:
    """Decode a failure body into a Status dict; a non-Status body becomes the message."""
    try:
        decoded = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        return decoded
    text = body.decode("utf-8", "replace").strip()
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": truncate(text) or f"HTTP {code}", "reason": "", "code": code}
