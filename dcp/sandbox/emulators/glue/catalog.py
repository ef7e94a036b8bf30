"""Glue Data Catalog reads moto serves incompletely: GetTables paging and SearchTables.

GetTables honours MaxResults/NextToken (moto returns every table at once) and ``Expression``
(a regular expression on table names, as the Glue API reference describes it). SearchTables
matches ``SearchText`` against table names, descriptions and column names, applies
``Filters`` (``EQUALS``/``CONTAINS`` on DatabaseName, Name and parameters) and pages the
same way.
"""

from __future__ import annotations

import re
from typing import Any

from dcp.sandbox.emulators.glue.models import glue_backend
from dcp.sandbox.registry import AwsError, Call, emulates

MAX_PAGE = 100


def _page(call: Call, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    token = str(call.params.get("NextToken") or "0")
    start = int(token) if token.isdigit() else 0
    size = max(1, min(int(call.params.get("MaxResults") or MAX_PAGE), 1000))
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _database(call: Call, name: str) -> Any:
    database = glue_backend(call.account_id, call.region).databases.get(name)
    if database is None:
        raise AwsError("EntityNotFoundException", f"Database {name} not found.")
    return database


def _name_pattern(expression: str) -> re.Pattern[str]:
    """Glue's Expression is a regular expression; a bare `*` (as in `card*`) is taken as clients mean it."""
    if "*" in expression and ".*" not in expression:
        expression = expression.replace("*", ".*")
    try:
        return re.compile(expression)
    except re.error as exc:
        raise AwsError("InvalidInputException", f"Expression is not a valid regular expression: {exc}") from None


@emulates("glue", "GetTables")
def get_tables(call: Call) -> dict[str, Any]:
    database = _database(call, call.params["DatabaseName"])
    expression = call.params.get("Expression")
    pattern = _name_pattern(expression) if expression else None
    tables = [
        database.tables[name].as_dict()
        for name in sorted(database.tables)
        if pattern is None or pattern.fullmatch(name)
    ]
    return _page(call, "TableList", tables)


def _text_of(table: dict[str, Any]) -> str:
    columns = (table.get("StorageDescriptor") or {}).get("Columns") or []
    parts = [table.get("Name", ""), table.get("Description", "")] + [c.get("Name", "") for c in columns]
    return " ".join(str(p) for p in parts).lower()


def _filter_holds(table: dict[str, Any], condition: dict[str, Any]) -> bool:
    key, value = condition.get("Key", ""), str(condition.get("Value", ""))
    if key in ("DatabaseName", "Name", "Description", "Owner"):
        actual = str(table.get(key) or "")
    else:
        actual = str((table.get("Parameters") or {}).get(key) or "")
    comparator = condition.get("Comparator", "EQUALS")
    if comparator == "EQUALS":
        return actual == value
    if comparator == "CONTAINS":
        return value in actual
    raise AwsError(
        "InvalidInputException", f"the sandbox's SearchTables supports EQUALS and CONTAINS, not {comparator}"
    )


@emulates("glue", "SearchTables")
def search_tables(call: Call) -> dict[str, Any]:
    backend = glue_backend(call.account_id, call.region)
    text = str(call.params.get("SearchText") or "").lower()
    conditions = call.params.get("Filters") or []
    found = []
    for db_name in sorted(backend.databases):
        database = backend.databases[db_name]
        for name in sorted(database.tables):
            table = database.tables[name].as_dict()
            if text and text not in _text_of(table):
                continue
            if all(_filter_holds(table, c) for c in conditions):
                found.append(table)
    sort = call.params.get("SortCriteria") or []
    for criterion in reversed(sort):
        field = str(criterion.get("FieldName") or "Name")

        def by_field(table: dict[str, Any], field: str = field) -> str:
            return str(table.get(field) or "")

        found.sort(key=by_field, reverse=criterion.get("Sort") == "DESC")
    return _page(call, "TableList", found)
