"""SelfSubjectAccessReview: "may I do this?" (`kubectl auth can-i`), answered and never stored."""

from __future__ import annotations

from typing import Any, ClassVar

from kybernetes.api.errors import FieldError, required
from kybernetes.registry.base import Obj, Strategy


class SelfSubjectAccessReviewStrategy(Strategy):
    group: ClassVar[str] = "authorization.k8s.io"
    version: ClassVar[str] = "v1"
    kind: ClassVar[str] = "SelfSubjectAccessReview"
    plural: ClassVar[str] = "selfsubjectaccessreviews"
    singular: ClassVar[str] = "selfsubjectaccessreview"
    namespaced: ClassVar[bool] = False
    verbs: ClassVar[tuple[str, ...]] = ("create",)
    ephemeral: ClassVar[bool] = True

    def validate(self, obj: Obj) -> list[FieldError]:
        spec = obj.get("spec") or {}
        if not spec.get("resourceAttributes") and not spec.get("nonResourceAttributes"):
            return [required("spec.resourceAttributes", "exactly one of nonResourceAttributes or resourceAttributes must be specified")]
        return []

    def evaluate(self, obj: Obj, *, user: str, groups: tuple[str, ...], allowed: bool) -> Obj:
        """The review with its status filled in; the authorizer's decision comes from the server."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "apiVersion": self.api_version,
            "metadata": {"creationTimestamp": None},
            "spec": obj.get("spec") or {},
            "status": {"allowed": allowed},
        }
        if allowed:
            out["status"]["reason"] = "every authenticated user is allowed until RBAC is enabled"
        return out


STRATEGY = SelfSubjectAccessReviewStrategy()
