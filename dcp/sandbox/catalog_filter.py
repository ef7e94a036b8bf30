"""The Glue Data Catalog as Lake Formation shows it to a principal (Glue's read operations).

Once Lake Formation manages the catalog (no grants to IAM_ALLOWED_PRINCIPALS), Glue's answers
are filtered by the caller's Lake Formation permissions, whatever its IAM policy allows
("Metadata access control" and "Lake Formation permissions reference" in the Lake Formation
developer guide, https://docs.aws.amazon.com/lake-formation/latest/dg/access-control-overview.html):

* GetDatabases lists a database when the caller holds some permission on it or on a table in it
  (a DATABASE grant, a named table grant, or an LF-tag policy whose expression matches); GetTables
  and SearchTables list a table when the caller holds some permission on it or on a column of it.
* GetDatabase/GetTable (and a table's versions and partitions) of a resource without any
  permission answer `AccessDeniedException` (HTTP 400) "Insufficient Lake Formation permission(s)
  on <name>", as AWS does.
* Column-level permissions (TableWithColumns, or LF-tags on columns) hide the other columns: a
  table's StorageDescriptor.Columns and PartitionKeys list only the columns the caller holds a
  permission on ("Data filtering and cell-level security", column-level security).
* Data lake administrators and the account root see everything; a table's creator holds every
  permission on it ("Implicit Lake Formation permissions"): the principal that called CreateTable,
  or the role of the crawler that made it (its `UPDATED_BY_CRAWLER` parameter).

What the sandbox does not model: a GetTable of a table that does not exist answers
EntityNotFoundException even without permissions (AWS answers AccessDeniedException), and tables
made by Athena CTAS have no recorded creator (the creator needs a grant to see them in Glue).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from dcp.sandbox.emulators.lakeformation.models import LfState, read_state
from dcp.sandbox.lf_eval import Requester, can_describe_database, readable_columns
from dcp.sandbox.registry import AccountRegionStore, AwsError, Call, after

#: Glue's read operations whose answers Lake Formation filters.
DATABASE_OPERATIONS = frozenset({"GetDatabases", "GetDatabase"})
TABLE_LIST_OPERATIONS = frozenset({"GetTables", "SearchTables"})
TABLE_OPERATIONS = frozenset(
    {"GetTable", "GetTableVersions", "GetTableVersion", "GetPartitions", "GetPartition", "BatchGetPartition"}
)
OPERATIONS = DATABASE_OPERATIONS | TABLE_LIST_OPERATIONS | TABLE_OPERATIONS

#: (database, table) -> the ARN (the role's, for an assumed role) that created it through CreateTable.
creators: AccountRegionStore[dict[tuple[str, str], str]] = AccountRegionStore(lambda account, region: {})


@after("glue", "CreateTable")
def record_creator(call: Call, status: int) -> None:
    if status >= 300:
        return
    name = str((call.params.get("TableInput") or {}).get("Name") or "").lower()
    principal = call.principal
    creators[(call.account_id, call.region)][(str(call.params["DatabaseName"]).lower(), name)] = (
        principal.role_arn or principal.arn
    )


def applies(call: Call) -> bool:
    """Whether the answer to `call` is one Lake Formation filters (root's never is)."""
    return call.service == "glue" and call.operation in OPERATIONS and not call.principal.is_root


def denied(name: str) -> AwsError:
    return AwsError("AccessDeniedException", f"Insufficient Lake Formation permission(s) on {name}", 400)


class CatalogView:
    """What one caller may see of one account's catalog."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.lf: LfState = read_state(call.account_id, call.region)
        p = call.principal
        self.requester: Requester = self.lf.requester(arn=p.arn, kind=p.kind, role_arn=p.role_arn, account=p.account)

    def _creator(self, database: str, table: Mapping[str, Any]) -> str | None:
        name = str(table.get("Name") or "").lower()
        recorded = creators[(self.call.account_id, self.call.region)].get((database.lower(), name))
        if recorded:
            return recorded
        crawler = (table.get("Parameters") or {}).get("UPDATED_BY_CRAWLER")
        if not crawler:
            return None
        from dcp.sandbox.emulators.glue.models import glue_backend
        from dcp.sandbox.gates import role_arn_of

        found = glue_backend(self.call.account_id, self.call.region).crawlers.get(crawler)
        return role_arn_of(self.call.account_id, str(found.role)) if found is not None and found.role else None

    def columns(self, database: str, table: Mapping[str, Any]) -> list[str] | None:
        """The names of the table's columns the caller may see; None: the table is hidden."""
        storage = table.get("StorageDescriptor") or {}
        names = [str(c["Name"]) for c in list(storage.get("Columns") or []) + list(table.get("PartitionKeys") or [])]
        if self.requester.unrestricted or self._creator(database, table) in self.requester.identifiers:
            return names
        access = readable_columns(
            self.requester, self.lf.grants, self.lf.tags, database, str(table["Name"]), names, any_permission=True
        )
        return list(access.allowed) if access.any else None

    def table(self, database: str, table: Mapping[str, Any]) -> dict[str, Any] | None:
        """The table as the caller sees it (only its visible columns), or None."""
        visible = self.columns(database, table)
        if visible is None:
            return None
        return _only_columns(table, set(visible))

    def database_visible(self, name: str) -> bool:
        if can_describe_database(self.requester, self.lf.grants, self.lf.tags, name):
            return True
        from dcp.sandbox.emulators.glue.models import glue_backend

        db = glue_backend(self.call.account_id, self.call.region).databases.get(name)
        tables = list(db.tables.values()) if db is not None else []
        return any(self.columns(name, t.as_dict()) is not None for t in tables)


def _only_columns(table: Mapping[str, Any], visible: set[str]) -> dict[str, Any]:
    out = dict(table)
    if isinstance(out.get("StorageDescriptor"), Mapping):
        storage = dict(out["StorageDescriptor"])
        storage["Columns"] = [c for c in storage.get("Columns") or [] if c.get("Name") in visible]
        out["StorageDescriptor"] = storage
    if "PartitionKeys" in out:
        out["PartitionKeys"] = [c for c in out["PartitionKeys"] or [] if c.get("Name") in visible]
    return out


def _tables(view: CatalogView, tables: Iterable[Mapping[str, Any]], database: str | None) -> list[dict[str, Any]]:
    out = []
    for t in tables:
        shown = view.table(str(t.get("DatabaseName") or database or ""), t)
        if shown is not None:
            out.append(shown)
    return out


def filter_output(call: Call, output: dict[str, Any]) -> dict[str, Any]:
    """`output` (Glue's answer to `call`) as Lake Formation lets the caller see it; raises
    AccessDeniedException for a database or table it holds no permission on."""
    view = CatalogView(call)
    if view.requester.unrestricted:
        return output
    op, p = call.operation, call.params
    out = dict(output)
    if op == "GetDatabases":
        out["DatabaseList"] = [d for d in output.get("DatabaseList") or [] if view.database_visible(str(d["Name"]))]
    elif op == "GetDatabase":
        if not view.database_visible(str(output["Database"]["Name"])):
            raise denied(str(p.get("Name")))
    elif op in TABLE_LIST_OPERATIONS:
        out["TableList"] = _tables(view, output.get("TableList") or [], p.get("DatabaseName"))
    else:
        database, name = str(p["DatabaseName"]), str(p.get("TableName") or p.get("Name") or "")
        if op == "GetTable":
            shown = view.table(database, output["Table"])
            if shown is None:
                raise denied(name)
            out["Table"] = shown
            return out
        from dcp.sandbox.emulators.glue.models import glue_backend

        databases = glue_backend(call.account_id, call.region).databases
        db = databases.get(database) or databases.get(database.lower())
        current = (db.tables.get(name) or db.tables.get(name.lower())) if db is not None else None
        visible = view.columns(database, current.as_dict()) if current is not None else None
        if visible is None:
            raise denied(name)
        _hide_columns(out, set(visible))
    return out


def _hide_columns(out: dict[str, Any], visible: set[str]) -> None:
    """Versions and partitions of a visible table: only the visible columns."""
    for key in ("TableVersions", "Partitions"):
        if key in out:
            out[key] = [_hide_in(item, visible) for item in out[key] or []]
    for key in ("TableVersion", "Partition"):
        if key in out:
            out[key] = _hide_in(out[key], visible)


def _hide_in(item: Mapping[str, Any], visible: set[str]) -> dict[str, Any]:
    out = _only_columns(item, visible)
    if isinstance(out.get("Table"), Mapping):
        out["Table"] = _only_columns(out["Table"], visible)
    return out


def filter_moto_body(call: Call, status: int, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    """moto's JSON answer to a Glue read, filtered: (status, body). A refusal becomes Glue's error
    shape (`__type` and `message`, HTTP 400)."""
    if status != 200:
        return status, body
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return status, body
    try:
        filtered = filter_output(call, data)
    except AwsError as exc:
        return int(exc.status or 400), json.dumps({"__type": exc.code, "message": exc.message}).encode()
    return status, json.dumps(filtered, default=str).encode()
