"""ServiceAccounts: nothing to default, a DNS-subdomain name, and a SECRETS count in the Table row."""

from __future__ import annotations

from typing import Any

from kybernetes.api import duration, validation
from kybernetes.registry.base import AGE_COLUMN, NAME_COLUMN, Column, Obj, Strategy


class ServiceAccountStrategy(Strategy):
    """ServiceAccountStrategy is the per-kind behaviour of core/v1 ServiceAccounts."""

    kind = "ServiceAccount"
    plural = "serviceaccounts"
    singular = "serviceaccount"
    namespaced = True
    short_names = ("sa",)
    subresources = ("token",)
    allow_create_on_update = True
    return_deleted_object = True
    name_rule = staticmethod(validation.is_dns1123_subdomain)
    columns = (
        NAME_COLUMN,
        Column("Secrets", "string", "", "Number of secrets listed for the account (long-lived tokens, pull secrets)."),
        AGE_COLUMN,
    )

    def row(self, obj: Obj) -> list[Any]:
        secrets = obj.get("secrets")
        return [(obj.get("metadata") or {}).get("name", ""), len(secrets) if isinstance(secrets, list) else 0, duration.age(obj)]


STRATEGY = ServiceAccountStrategy()
