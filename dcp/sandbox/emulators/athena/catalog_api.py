"""Athena's catalog API over the Glue Data Catalog, seen through Lake Formation as the caller.

Athena has one built-in catalog, ``AwsDataCatalog`` (type ``GLUE``), which is the account's
Glue Data Catalog. ``ListDatabases``/``GetDatabase``/``ListTableMetadata``/``GetTableMetadata``
read Glue with the caller's identity, so Lake Formation decides what they show: a database
appears when some grant makes it describable, a table when some column is readable, and only
the readable columns are listed (as Glue's GetTable does under column-level grants). A table
the caller may not see answers ``MetadataException`` as Athena does. Pages hold at most 50
(``MaxDatabasesCount``/``MaxTableMetadataCount`` in Athena's service model).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from dcp.sandbox.emulators.glue.models import glue_backend
from dcp.sandbox.emulators.lakeformation.models import LfState, read_state
from dcp.sandbox.lf_eval import Requester, can_describe_database, readable_columns
from dcp.sandbox.registry import AwsError, Call, emulates

CATALOG = "AwsDataCatalog"
MAX_PAGE = 50


def _check_catalog(name: str | None) -> None:
    if (name or CATALOG).lower() != CATALOG.lower():
        raise AwsError("MetadataException", f"Catalog {name} not found.")


def _requester(call: Call, lf: LfState) -> Requester:
    principal = call.principal
    return lf.requester(arn=principal.arn, kind=principal.kind, role_arn=principal.role_arn, account=principal.account)


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    token = str(params.get("NextToken") or "0")
    start = int(token) if token.isdigit() else 0
    size = min(int(params.get("MaxResults") or MAX_PAGE), MAX_PAGE)
    return items[start : start + size], (str(start + size) if start + size < len(items) else None)


def _with_token(out: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        out["NextToken"] = token
    return out


def _visible_databases(call: Call) -> list[Any]:
    lf = read_state(call.account_id, call.region)
    requester = _requester(call, lf)
    databases = list(glue_backend(call.account_id, call.region).databases.values())
    return [db for db in databases if can_describe_database(requester, lf.grants, lf.tags, db.name)]


def _database_json(db: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": db.name}
    if db.input.get("Description"):
        out["Description"] = db.input["Description"]
    parameters = dict(db.input.get("Parameters") or {})
    if db.input.get("LocationUri"):
        parameters.setdefault("location", db.input["LocationUri"])
    if parameters:
        out["Parameters"] = parameters
    return out


def _database(call: Call, name: str) -> Any:
    for db in _visible_databases(call):
        if db.name == name.lower() or db.name == name:
            return db
    raise AwsError("MetadataException", f"Database {name} not found.")


def _table_json(call: Call, lf: LfState, table: Any) -> dict[str, Any] | None:
    """Athena's TableMetadata for a Glue table, with only the columns the caller may read; None: none."""
    current = table.as_dict()
    storage = current.get("StorageDescriptor") or {}
    columns = list(storage.get("Columns") or [])
    partition_keys = list(current.get("PartitionKeys") or [])
    names = [c["Name"] for c in columns + partition_keys]
    access = readable_columns(_requester(call, lf), lf.grants, lf.tags, table.database_name, table.name, names)
    if not access.any:
        return None
    allowed = set(access.allowed)

    def shape(column: dict[str, Any]) -> dict[str, Any]:
        out = {"Name": column["Name"], "Type": column.get("Type") or "string"}
        if column.get("Comment"):
            out["Comment"] = column["Comment"]
        return out

    parameters = dict(current.get("Parameters") or {})
    if storage.get("Location"):
        parameters.setdefault("location", storage["Location"])
    if storage.get("InputFormat"):
        parameters.setdefault("inputformat", storage["InputFormat"])
    if storage.get("OutputFormat"):
        parameters.setdefault("outputformat", storage["OutputFormat"])
    serde = (storage.get("SerdeInfo") or {}).get("SerializationLibrary")
    if serde:
        parameters.setdefault("serde.serialization.lib", serde)
    out: dict[str, Any] = {
        "Name": table.name,
        "CreateTime": table.created_time,
        "TableType": current.get("TableType") or "EXTERNAL_TABLE",
        "Columns": [shape(c) for c in columns if c["Name"] in allowed],
        "PartitionKeys": [shape(c) for c in partition_keys if c["Name"] in allowed],
        "Parameters": parameters,
    }
    if current.get("LastAccessTime"):
        out["LastAccessTime"] = current["LastAccessTime"]
    return out


@emulates("athena", "ListDataCatalogs")
def list_data_catalogs(call: Call) -> dict[str, Any]:
    return {"DataCatalogsSummary": [{"CatalogName": CATALOG, "Type": "GLUE", "Status": "CREATE_COMPLETE"}]}


@emulates("athena", "GetDataCatalog")
def get_data_catalog(call: Call) -> dict[str, Any]:
    _check_catalog(call.params["Name"])
    return {
        "DataCatalog": {
            "Name": CATALOG,
            "Description": "AWS Glue Data Catalog",
            "Type": "GLUE",
            "Parameters": {"catalog-id": call.account_id},
            "Status": "CREATE_COMPLETE",
        }
    }


@emulates("athena", "ListDatabases")
def list_databases(call: Call) -> dict[str, Any]:
    _check_catalog(call.params["CatalogName"])
    databases = sorted(_visible_databases(call), key=lambda db: db.name)
    page, token = _page([_database_json(db) for db in databases], call.params)
    return _with_token({"DatabaseList": page}, token)


@emulates("athena", "GetDatabase")
def get_database(call: Call) -> dict[str, Any]:
    _check_catalog(call.params["CatalogName"])
    return {"Database": _database_json(_database(call, call.params["DatabaseName"]))}


@emulates("athena", "ListTableMetadata")
def list_table_metadata(call: Call) -> dict[str, Any]:
    _check_catalog(call.params["CatalogName"])
    db = _database(call, call.params["DatabaseName"])
    lf = read_state(call.account_id, call.region)
    expression = call.params.get("Expression")
    tables = []
    for name in sorted(db.tables):
        # Athena's Expression is a regular-expression-like pattern; `*` and `?` are what clients send.
        if expression and not fnmatch.fnmatchcase(name, expression.replace(".*", "*")):
            continue
        shaped = _table_json(call, lf, db.tables[name])
        if shaped is not None:
            tables.append(shaped)
    page, token = _page(tables, call.params)
    return _with_token({"TableMetadataList": page}, token)


@emulates("athena", "GetTableMetadata")
def get_table_metadata(call: Call) -> dict[str, Any]:
    _check_catalog(call.params["CatalogName"])
    db = _database(call, call.params["DatabaseName"])
    name = call.params["TableName"]
    table = db.tables.get(name) or db.tables.get(name.lower())
    if table is None:
        raise AwsError("MetadataException", f"Table {name} not found.")
    shaped = _table_json(call, read_state(call.account_id, call.region), table)
    if shaped is None:
        raise AwsError("MetadataException", f"Insufficient Lake Formation permission(s) on {name}")
    return {"TableMetadata": shaped}
