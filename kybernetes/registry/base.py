"""Strategy: what one resource kind adds to the generic store (defaults, validation, columns, fields).

Objects are plain JSON dicts (`Obj`) here: the API server stores and patches JSON, so the
per-kind logic works on the same shape the wire carries (see docs/adr/0002-objects-as-json.md).
Each kind module subclasses `Strategy` and overrides only the hooks that differ, as upstream's
`pkg/registry/<group>/<kind>/strategy.go` files do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from kybernetes.api.jsoncopy import clone
from kybernetes.api import validation
from kybernetes.api.errors import FieldError

Obj = dict[str, Any]

STANDARD_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class Column:
    """Column is one Table column definition (metav1.TableColumnDefinition)."""

    name: str
    type: str = "string"  # string | integer | number | boolean | date
    format: str = ""  # "name" for the NAME column, "date" for times
    description: str = ""
    priority: int = 0  # 1 = shown only with -o wide

    def to_json(self) -> Obj:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME_COLUMN = Column("Name", "string", "name", "Name must be unique within a namespace.")
AGE_COLUMN = Column("Age", "string", "", "Time since the object was created.")


@dataclass(frozen=True, slots=True)
class ServedVersion:
    """ServedVersion is an extra group/version under which a kind is served, converted to and from storage.

    `to_storage` turns an object written in this version into the storage version (it must set
    `apiVersion` to the storage group/version); `from_storage` does the reverse. Retired versions
    from the first edition of *Kubernetes in Action* (apps/v1beta2, extensions/v1beta1, …) are
    served this way: stored once, converted on the way in and out.
    """

    group: str
    version: str
    kind: str
    to_storage: Callable[[Obj], Obj]
    from_storage: Callable[[Obj], Obj]
    warning: str = ""  # sent as a `Warning: 299` header, as upstream does for deprecated versions

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


class Strategy:
    """Strategy holds the per-kind behaviour; the generic store calls the hooks in a fixed order.

    Create:  default → prepare_for_create → validate          (then allocation, then storage)
    Update:  default → prepare_for_update → validate_update
    Status:  prepare_for_status_update → validate_status_update
    Reads:   columns/row for Tables, selectable_fields for field selectors.
    """

    # Identity (class attributes; one subclass per kind).
    group: ClassVar[str] = ""
    version: ClassVar[str] = "v1"  # the storage version
    kind: ClassVar[str] = ""
    plural: ClassVar[str] = ""
    singular: ClassVar[str] = ""
    namespaced: ClassVar[bool] = True
    short_names: ClassVar[tuple[str, ...]] = ()
    categories: ClassVar[tuple[str, ...]] = ()
    # Subresources served besides the main resource, e.g. ("status", "scale").
    subresources: ClassVar[tuple[str, ...]] = ()
    verbs: ClassVar[tuple[str, ...]] = STANDARD_VERBS
    # True when a change of `spec` bumps metadata.generation (workloads, services, …).
    tracks_generation: ClassVar[bool] = False
    # True when status is reset on create and kept on update of the main resource.
    has_status: ClassVar[bool] = False
    # PUT of a missing object creates it (upstream: Endpoints, Events, Leases, …).
    allow_create_on_update: ClassVar[bool] = False
    # DELETE answers with the deleted object instead of a Success Status (pods, namespaces, …).
    return_deleted_object: ClassVar[bool] = False
    # Reviews (SelfSubjectAccessReview, …): a POST is answered by `evaluate` and nothing is stored.
    ephemeral: ClassVar[bool] = False
    # Extra versions served besides the storage version (retired API versions).
    served_versions: ClassVar[tuple[ServedVersion, ...]] = ()
    # Name rule for metadata.name: returns upstream's messages for a bad name.
    name_rule: ClassVar[Callable[[str], list[str]]] = staticmethod(validation.is_dns1123_subdomain)
    # Table columns; NAME first and AGE last unless upstream orders them otherwise.
    columns: ClassVar[tuple[Column, ...]] = (NAME_COLUMN, AGE_COLUMN)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    # ----- writes -------------------------------------------------------------------------

    def default(self, obj: Obj) -> None:
        """Fill upstream's defaults in place (SetDefaults_*), on create and on every update."""

    def prepare_for_create(self, obj: Obj) -> None:
        """Clear what a client may not set on create; by default status is reset."""
        if self.has_status:
            obj["status"] = self.initial_status(obj)

    def initial_status(self, obj: Obj) -> Obj:
        """The status a new object starts with (upstream: the zero value)."""
        return {}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Keep what a main-resource update may not change; by default status is kept."""
        if self.has_status:
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)

    def validate(self, obj: Obj) -> list[FieldError]:
        """Every error of a new object: metadata by the generic rules, then the kind's own fields."""
        errors = validation.validate_object_meta(
            obj.get("metadata") or {}, namespaced=self.namespaced, name_rule=self.name_rule
        )
        errors.extend(self.validate_fields(obj))
        return errors

    def validate_fields(self, obj: Obj) -> list[FieldError]:
        """The kind's own field checks (spec, data, …), shared by create and update."""
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """Every error of an update: the create checks plus immutability rules."""
        errors = validation.validate_object_meta_update(new.get("metadata") or {}, old.get("metadata") or {})
        errors.extend(self.validate(new))
        errors.extend(self.validate_fields_update(new, old))
        return errors

    def validate_fields_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """Immutable fields and transitions that only an update can break."""
        return []

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """A write to /status changes only status: everything else is taken from the old object."""
        status = new.get("status")
        kept = clone(old)
        new.clear()
        new.update(kept)
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = status

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        """Checks on a status write (e.g. conditions well formed)."""
        return validation.validate_object_meta_update(new.get("metadata") or {}, old.get("metadata") or {})

    def warnings(self, obj: Obj) -> list[str]:
        """Warnings returned with a successful write (`Warning: 299` headers)."""
        return []

    # ----- reads --------------------------------------------------------------------------

    def row(self, obj: Obj) -> list[Any]:
        """One Table row: a cell per column in `columns` (the generic layer renders NAME and AGE helpers)."""
        from kybernetes.api.duration import age

        return [obj["metadata"]["name"], age(obj)]

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """Fields a field selector may use besides metadata.name and metadata.namespace."""
        return {}

    # ----- scale subresource (kinds with "scale" in subresources) --------------------------

    def scale_selector(self, obj: Obj) -> str:
        """The label selector string reported in Scale.status.selector."""
        from kybernetes.api.labels import selector_to_string

        return selector_to_string((obj.get("spec") or {}).get("selector"))

    def status_replicas(self, obj: Obj) -> int:
        return int((obj.get("status") or {}).get("replicas") or 0)
