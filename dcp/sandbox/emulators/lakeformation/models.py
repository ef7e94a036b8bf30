"""Lake Formation state as the evaluator needs it, read from moto's lakeformation backend.

moto stores grants (including `LFTagPolicy` and `TableWithColumns` resources) and LF-tag
assignments, but replaces a resource's whole tag list on AddLFTagsToResource; Lake Formation
adds or overwrites per key. `add_lf_tags` does the latter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.lf_eval import Grant, LfTags, Requester


def lf_backend(account_id: str, region: str) -> Any:
    lakeformation_backends = moto_compat.backends("lakeformation")
    return lakeformation_backends[account_id][region]


@dataclass(frozen=True)
class LfState:
    """Admins, grants and tag assignments of one catalog at one moment."""

    admins: frozenset[str]
    grants: tuple[Grant, ...]
    tags: LfTags

    def requester(self, *, arn: str, kind: str, role_arn: str | None, account: str) -> Requester:
        return Requester.of(arn=arn, kind=kind, role_arn=role_arn, account=account, admins=self.admins)


def read_state(account_id: str, region: str) -> LfState:
    lf = lf_backend(account_id, region)
    settings = lf.get_data_lake_settings(account_id) or {}
    admins = frozenset(str(a.get("DataLakePrincipalIdentifier", "")) for a in settings.get("DataLakeAdmins", []) or [])
    catalog = lf.grants.get(account_id)
    grants = tuple(
        Grant.from_json(p.principal, p.resource, p.permissions)
        for p in (list(catalog.permissions) if catalog is not None else [])
    )
    tags = LfTags.from_assignments(
        databases={db: t for (cat, db), t in list(lf.lf_database_tags.items()) if cat == account_id},
        tables={(db, tb): t for (cat, db, tb), t in list(lf.lf_table_tags.items()) if cat == account_id},
        columns={(key[1], key[2], key[3]): t for key, t in list(lf.lf_columns_tags.items()) if key[0] == account_id},
    )
    return LfState(admins, grants, tags)


class LfTagError(Exception):
    """An LF-tag key or value that is not defined."""


def _merge(
    existing: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]], catalog: str
) -> list[dict[str, Any]]:
    by_key = {str(t["TagKey"]): dict(t) for t in existing}
    for t in new:
        by_key[str(t["TagKey"])] = {
            "CatalogId": catalog,
            "TagKey": t["TagKey"],
            "TagValues": list(t["TagValues"]),
        }
    return list(by_key.values())


def add_lf_tags(
    account_id: str, region: str, catalog: str, resource: Mapping[str, Any], tags: list[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Assign `tags` to `resource`, per key; the failures in AddLFTagsToResource's shape."""
    lf = lf_backend(account_id, region)
    defined = lf.list_lf_tags(catalog)
    failures = []
    for t in tags:
        allowed = defined.get(t["TagKey"])
        if allowed is None or any(v not in allowed for v in t.get("TagValues", [])):
            failures.append(
                {
                    "LFTag": {
                        "CatalogId": catalog,
                        "TagKey": t["TagKey"],
                        "TagValues": list(t.get("TagValues", [])),
                    },
                    "Error": {
                        "ErrorCode": "EntityNotFoundException",
                        "ErrorMessage": "Tag or tag value does not exist.",
                    },
                }
            )
    if failures:
        return failures
    if "Database" in resource:
        key = (resource["Database"].get("CatalogId", catalog), resource["Database"]["Name"])
        lf.lf_database_tags[key] = _merge(lf.lf_database_tags.get(key, []), tags, catalog)
    if "Table" in resource:
        t = resource["Table"]
        key3 = (t.get("CatalogId", catalog), t["DatabaseName"], t["Name"])
        lf.lf_table_tags[key3] = _merge(lf.lf_table_tags.get(key3, []), tags, catalog)
    if "TableWithColumns" in resource:
        t = resource["TableWithColumns"]
        for column in t.get("ColumnNames", []):
            key4 = (t.get("CatalogId", catalog), t["DatabaseName"], t["Name"], column)
            lf.lf_columns_tags[key4] = _merge(lf.lf_columns_tags.get(key4, []), tags, catalog)
    return []


def _tag_list(tags: Mapping[str, frozenset[str]], catalog: str) -> list[dict[str, Any]]:
    return [{"CatalogId": catalog, "TagKey": k, "TagValues": sorted(v)} for k, v in tags.items()]


def _table_columns(account_id: str, region: str, database: str, table: str) -> list[str]:
    glue_backends = moto_compat.backends("glue")
    db = glue_backends[account_id][region].databases.get(database)
    t = db.tables.get(table) if db is not None else None
    if t is None:
        return []
    version = t.get_version(str(t._current_version))
    cols = (version.get("StorageDescriptor") or {}).get("Columns", []) + (version.get("PartitionKeys") or [])
    return [str(c["Name"]) for c in cols]


def resource_lf_tags(
    account_id: str, region: str, catalog: str, resource: Mapping[str, Any], assigned_only: bool
) -> dict[str, Any]:
    """GetResourceLFTags: the database's tags, the table's and each column's (inherited unless
    `assigned_only`), as Lake Formation reports them."""
    tags = read_state(account_id, region).tags
    out: dict[str, Any] = {}
    if "Database" in resource:
        db = resource["Database"]["Name"]
        out["LFTagOnDatabase"] = _tag_list(tags.databases.get(db, {}), catalog)
    for key in ("Table", "TableWithColumns"):
        if key not in resource:
            continue
        t = resource[key]
        db, name = t["DatabaseName"], t["Name"]
        out["LFTagOnDatabase"] = _tag_list(tags.databases.get(db, {}), catalog)
        columns = list(t.get("ColumnNames") or []) or _table_columns(account_id, region, db, name)
        if key == "Table":
            table_tags = tags.tables.get((db, name), {}) if assigned_only else tags.table_tags(db, name)
            out["LFTagsOnTable"] = _tag_list(table_tags, catalog)
        out["LFTagsOnColumns"] = [
            {
                "Name": c,
                "LFTags": _tag_list(
                    tags.columns.get((db, name, c), {}) if assigned_only else tags.column_tags(db, name, c),
                    catalog,
                ),
            }
            for c in columns
        ]
    return out
