"""The patch engine: JSON patch, merge patch, strategic merge patch and server-side apply, as pure functions."""

from kybernetes.apiserver.patch.apply import apply_patch, fields_of, update_managed_fields
from kybernetes.apiserver.patch.errors import ApplyConflictError, Conflict, PatchError
from kybernetes.apiserver.patch.jsonpatch import apply_json_patch
from kybernetes.apiserver.patch.mergepatch import apply_merge_patch
from kybernetes.apiserver.patch.schema import SchemaNode
from kybernetes.apiserver.patch.strategic import apply_strategic_merge_patch

__all__ = [
    "ApplyConflictError",
    "Conflict",
    "PatchError",
    "SchemaNode",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
    "apply_strategic_merge_patch",
    "fields_of",
    "update_managed_fields",
]
