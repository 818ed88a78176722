"""Patch errors, each carrying the HTTP status and metav1.Status text kube-apiserver answers with.

    PatchError                  any patch that cannot be decoded or applied
    └── ApplyConflictError      409: server-side apply touches fields another manager owns
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Text upstream puts in every 422 produced by NewGenericServerResponse.
REJECTED_MESSAGE = "the server rejected our request due to an error in our request"

_REASONS = {
    400: "BadRequest",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    422: "Invalid",
    500: "",  # a non-Status Go error becomes StatusReasonUnknown, which is the empty string
}


@dataclass(eq=False)
class PatchError(Exception):
    """PatchError is a patch failure; ``str()`` is the message upstream sends on the wire.

    Upstream status per failure (``k8s.io/apiserver/pkg/endpoints/handlers/patch.go``):

    * malformed JSON patch document, malformed SMP directive → 400 ``BadRequest`` with the library text;
    * JSON patch that does not apply (missing path, failed ``test``) and SMP lists of lists → 422
      ``Invalid`` built by ``NewGenericServerResponse``, which *drops* the library text: the body says
      only ``the server rejected our request due to an error in our request`` with ``details: {}``
      (kubectl prints ``The request is invalid: the server rejected our request …``); the library
      text is kept in :attr:`detail` for logs;
    * plain Go errors from the SMP engine (missing merge key, mixed list element types) → 500 with an
      empty reason (kubectl prints ``Error from server: <text>``);
    * more than 10000 JSON patch operations → 413 ``RequestEntityTooLarge``.
    """

    message: str
    code: int = 422
    reason: str | None = None
    """metav1.Status reason; derived from ``code`` when not given ("" means StatusReasonUnknown)."""
    detail: str = ""
    """The underlying library's text (evanphx/json-patch, strategicpatch), for logs; may equal ``message``."""
    details: dict[str, Any] | None = None
    """metav1.StatusDetails to send, or None to omit the key (upstream BadRequest and 500 carry none)."""

    def __post_init__(self) -> None:
        if self.reason is None:
            self.reason = _REASONS.get(self.code, "")
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        """The metav1.Status body upstream answers with for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def bad_request(message: str) -> PatchError:
    """A 400 whose message is the library text, as errors.NewBadRequest sends it."""
    return PatchError(message, code=400, detail=message)


def rejected(detail: str) -> PatchError:
    """A 422 as NewGenericServerResponse builds it: generic message, empty details, text only in ``detail``."""
    return PatchError(REJECTED_MESSAGE, code=422, detail=detail, details={})


def internal(message: str) -> PatchError:
    """A 500 for a plain Go error that upstream returns unwrapped."""
    return PatchError(message, code=500, detail=message)


@dataclass(frozen=True)
class Conflict:
    """Conflict is one field owned by another manager whose value an apply would change."""

    manager: str
    field_path: str
    """Upstream path syntax: ``.spec.replicas``, ``.spec.containers[name="nginx"].image``, ``.metadata.finalizers[="a"]``."""
    operation: str = "Update"
    api_version: str = ""
    """Empty for Apply managers: upstream identifies appliers without their apiVersion and prints none."""
    subresource: str = ""

    @property
    def manager_text(self) -> str:
        """The manager as upstream's printManager shows it: ``"kubectl" with subresource "status" using apps/v1``."""
        text = _go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {_go_quote(self.subresource)}"
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    @property
    def message(self) -> str:
        """The StatusCause message: ``conflict with "mgr" using apps/v1``."""
        return f"conflict with {self.manager_text}"

    def cause(self) -> dict[str, str]:
        """The metav1.StatusCause upstream lists for this conflict."""
        return {"reason": "FieldManagerConflict", "message": self.message, "field": self.field_path}


@dataclass(eq=False)
class ApplyConflictError(PatchError):
    """ApplyConflictError is a 409 for server-side apply conflicts; ``conflicts`` lists each field."""

    conflicts: list[Conflict] = field(default_factory=list)

    @classmethod
    def from_conflicts(cls, conflicts: list[Conflict]) -> ApplyConflictError:
        message = conflict_message(conflicts)
        return cls(
            message,
            code=409,
            reason="Conflict",
            detail=message,
            details={"causes": [c.cause() for c in conflicts]},
            conflicts=list(conflicts),
        )


def conflict_message(conflicts: list[Conflict]) -> str:
    """Upstream's text: one conflict inline, several grouped by manager (managers sorted)."""
    if len(conflicts) == 1:
        only = conflicts[0]
        return f"Apply failed with 1 conflict: {only.message}: {only.field_path}"
    groups: dict[tuple[str, str, str, str], list[Conflict]] = {}
    for c in conflicts:
        groups.setdefault((c.manager, c.operation, c.api_version, c.subresource), []).append(c)
    lines: list[str] = []
    for key in sorted(groups):
        members = groups[key]
        lines.append(f"conflicts with {members[0].manager_text}:")
        lines.extend(f"- {c.field_path}" for c in members)
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def _go_quote(text: str) -> str:
    """Go's %q for the printable strings manager names are."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
