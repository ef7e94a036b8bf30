"""Lake Formation reads moto lacks or serves partly: LF-tag searches, effective permissions, ListPermissions.

* ``SearchTablesByLFTags`` / ``SearchDatabasesByLFTags``: the tables (databases) whose
  effective LF-tags match the expression (keys ANDed, values of one key ORed); a table also
  matches when one of its columns does. Tags are inherited database -> table -> column.
* ``GetEffectivePermissionsForPath``: the permissions on the Glue tables whose location lies
  under an S3 path, and on registered locations covering it.
* ``ListPermissions``: every filter of the API (Principal, ResourceType including
  LF_TAG_POLICY and LF_TAG, Resource of any kind) and MaxResults/NextToken paging. moto
  answers 500 to the filters it lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dcp.sandbox.emulators.glue.models import glue_backend
from dcp.sandbox.emulators.lakeformation.models import lf_backend, read_state
from dcp.sandbox.lf_eval import LfTagExpression
from dcp.sandbox.registry import AwsError, Call, emulates

MAX_PAGE = 1000


def _page(call: Call, key: str, items: list[Any], default: int = 100) -> dict[str, Any]:
    token = str(call.params.get("NextToken") or "0")
    start = int(token) if token.isdigit() else 0
    size = max(1, min(int(call.params.get("MaxResults") or default), MAX_PAGE))
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _pairs(catalog: str, tags: Mapping[str, frozenset[str]]) -> list[dict[str, Any]]:
    return [{"CatalogId": catalog, "TagKey": k, "TagValues": sorted(v)} for k, v in sorted(tags.items())]


def _expression(call: Call) -> LfTagExpression:
    expression = LfTagExpression.from_json(call.params["Expression"])
    if not expression.conditions:
        raise AwsError("InvalidInputException", "Expression must name at least one LF-tag")
    return expression


@emulates("lakeformation", "SearchTablesByLFTags")
def search_tables_by_lf_tags(call: Call) -> dict[str, Any]:
    catalog = call.params.get("CatalogId") or call.account_id
    expression = _expression(call)
    tags = read_state(call.account_id, call.region).tags
    found = []
    glue = glue_backend(call.account_id, call.region)
    for db_name in sorted(glue.databases):
        for name in sorted(glue.databases[db_name].tables):
            table = glue.databases[db_name].tables[name].as_dict()
            columns = [c["Name"] for c in (table.get("StorageDescriptor") or {}).get("Columns") or []]
            columns += [c["Name"] for c in table.get("PartitionKeys") or []]
            column_tags = {c: tags.column_tags(db_name, name, c) for c in columns}
            table_tags = tags.table_tags(db_name, name)
            if not (expression.matches(table_tags) or any(expression.matches(t) for t in column_tags.values())):
                continue
            found.append(
                {
                    "Table": {"CatalogId": catalog, "DatabaseName": db_name, "Name": name},
                    "LFTagOnDatabase": _pairs(catalog, tags.databases.get(db_name, {})),
                    "LFTagsOnTable": _pairs(catalog, table_tags),
                    "LFTagsOnColumns": [{"Name": c, "LFTags": _pairs(catalog, t)} for c, t in column_tags.items()],
                }
            )
    return _page(call, "TableList", found)


@emulates("lakeformation", "SearchDatabasesByLFTags")
def search_databases_by_lf_tags(call: Call) -> dict[str, Any]:
    catalog = call.params.get("CatalogId") or call.account_id
    expression = _expression(call)
    tags = read_state(call.account_id, call.region).tags
    found = [
        {"Database": {"CatalogId": catalog, "Name": name}, "LFTags": _pairs(catalog, tags.databases.get(name, {}))}
        for name in sorted(glue_backend(call.account_id, call.region).databases)
        if expression.matches(tags.databases.get(name, {}))
    ]
    return _page(call, "DatabaseList", found)


def _entries(call: Call) -> list[dict[str, Any]]:
    catalog = call.params.get("CatalogId") or call.account_id
    grants = lf_backend(call.account_id, call.region).grants.get(catalog)
    return [
        {
            "Principal": dict(p.principal),
            "Resource": dict(p.resource),
            "Permissions": list(p.permissions),
            "PermissionsWithGrantOption": list(p.permissions_with_grant_options or []),
        }
        for p in (list(grants.permissions) if grants is not None else [])
    ]


def _location(path: str) -> str:
    return path.replace("arn:aws:s3:::", "s3://").rstrip("/") + "/"


@emulates("lakeformation", "GetEffectivePermissionsForPath")
def get_effective_permissions_for_path(call: Call) -> dict[str, Any]:
    path = _location(call.params["ResourceArn"])
    glue = glue_backend(call.account_id, call.region)
    tables: set[tuple[str, str]] = set()
    for db_name, database in glue.databases.items():
        for name, table in database.tables.items():
            location = (table.as_dict().get("StorageDescriptor") or {}).get("Location") or ""
            if location and _location(location).startswith(path):
                tables.add((db_name, name))
    out = []
    for entry in _entries(call):
        resource = entry["Resource"]
        named = resource.get("Table") or resource.get("TableWithColumns") or {}
        if (
            named
            and (
                (named.get("DatabaseName"), named.get("Name")) in tables
                or ("TableWildcard" in named and any(db == named.get("DatabaseName") for db, _ in tables))
            )
        ) or ("DataLocation" in resource and path.startswith(_location(resource["DataLocation"]["ResourceArn"]))):
            out.append(entry)
    return _page(call, "Permissions", out)


_TYPE_KEYS = {
    "CATALOG": ("Catalog",),
    "DATABASE": ("Database",),
    "TABLE": ("Table", "TableWithColumns"),
    "DATA_LOCATION": ("DataLocation",),
    "LF_TAG": ("LFTag",),
    "LF_TAG_POLICY": ("LFTagPolicy",),
    "LF_TAG_POLICY_DATABASE": ("LFTagPolicy",),
    "LF_TAG_POLICY_TABLE": ("LFTagPolicy",),
    "LF_NAMED_TAG_EXPRESSION": ("LFTagExpression",),
}


def _resource_matches(entry: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether an entry's resource is the one asked for (catalog ids and absent members are ignored)."""
    for kind, spec in wanted.items():
        if kind not in entry:
            if kind == "Table" and "TableWithColumns" in entry:
                have = entry["TableWithColumns"]
            else:
                return False
        else:
            have = entry[kind]
        if not isinstance(spec, Mapping):
            continue
        for member, value in spec.items():
            if member == "CatalogId" or value in (None, {}):
                continue
            if have.get(member) != value:
                return False
    return True


@emulates("lakeformation", "ListPermissions")
def list_permissions(call: Call) -> dict[str, Any]:
    params = call.params
    principal = params.get("Principal")
    resource = params.get("Resource")
    if principal is not None and resource is None:
        raise AwsError("InvalidInputException", "Resource is mandatory if Principal is set in the input.")
    resource_type = params.get("ResourceType")
    entries = _entries(call)
    if principal is not None:
        wanted = principal.get("DataLakePrincipalIdentifier")
        entries = [e for e in entries if e["Principal"].get("DataLakePrincipalIdentifier") == wanted]
    if resource_type is not None:
        keys = _TYPE_KEYS.get(resource_type)
        if keys is None:
            raise AwsError("InvalidInputException", f"ResourceType {resource_type} is not valid")
        if resource_type == "LF_TAG_POLICY_DATABASE":
            entries = [e for e in entries if (e["Resource"].get("LFTagPolicy") or {}).get("ResourceType") == "DATABASE"]
        elif resource_type == "LF_TAG_POLICY_TABLE":
            entries = [e for e in entries if (e["Resource"].get("LFTagPolicy") or {}).get("ResourceType") == "TABLE"]
        entries = [e for e in entries if any(k in e["Resource"] for k in keys)]
    if resource is not None:
        entries = [e for e in entries if _resource_matches(e["Resource"], resource)]
    return _page(call, "PrincipalResourcePermissions", entries)
