"""Lake Formation permission evaluation: which columns of a table a principal may SELECT.

Pure: it works on plain records (grants as Lake Formation's `Resource` dicts, LF-tags per
database, table and column) that the sandbox reads out of moto's lakeformation backend.

The rules are the Lake Formation developer guide's:

* LF-tag expressions (LF-TBAC): the conditions on different keys are ANDed, the values of one
  key are ORed. A `TABLE` policy grant gives its permissions on every table, and on every
  column, whose *effective* tags match; a `DATABASE` policy grant gives database permissions
  (DESCRIBE, CREATE_TABLE...) only, never data.
* Inheritance: a column's tag for a key is its own assignment, else the table's, else the
  database's; a table's is its own, else the database's.
* Named-resource grants: `Table` (all columns; `TableWildcard` for every table of the
  database), `TableWithColumns` (`ColumnNames`, or `ColumnWildcard` minus
  `ExcludedColumnNames`). `ALL` includes `SELECT`.
* Data lake administrators and non-assumed principals (the account's root/admin in the
  sandbox) read everything. A grant to `IAM_ALLOWED_PRINCIPALS` opens a resource to everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EVERYONE = "IAM_ALLOWED_PRINCIPALS"
DATA_PERMISSIONS = frozenset({"SELECT", "ALL"})

TagValues = Mapping[str, frozenset[str]]


def _tag_map(tags: Iterable[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """[{TagKey, TagValues}] -> {key: values}."""
    return {str(t["TagKey"]): frozenset(str(v) for v in t.get("TagValues", ())) for t in tags}


@dataclass(frozen=True)
class LfTags:
    """LF-tag assignments: per database, per (database, table), per (database, table, column)."""

    databases: Mapping[str, TagValues] = field(default_factory=dict)
    tables: Mapping[tuple[str, str], TagValues] = field(default_factory=dict)
    columns: Mapping[tuple[str, str, str], TagValues] = field(default_factory=dict)

    @classmethod
    def from_assignments(
        cls,
        databases: Mapping[str, Iterable[Mapping[str, Any]]],
        tables: Mapping[tuple[str, str], Iterable[Mapping[str, Any]]],
        columns: Mapping[tuple[str, str, str], Iterable[Mapping[str, Any]]],
    ) -> LfTags:
        """Build from Lake Formation's `[{TagKey, TagValues}]` lists."""
        return cls(
            {k: _tag_map(v) for k, v in databases.items()},
            {k: _tag_map(v) for k, v in tables.items()},
            {k: _tag_map(v) for k, v in columns.items()},
        )

    def table_tags(self, database: str, table: str) -> dict[str, frozenset[str]]:
        """A table's effective tags: its own assignment per key, else the database's."""
        return {**self.databases.get(database, {}), **self.tables.get((database, table), {})}

    def column_tags(self, database: str, table: str, column: str) -> dict[str, frozenset[str]]:
        """A column's effective tags: its own per key, else the table's, else the database's."""
        return {**self.table_tags(database, table), **self.columns.get((database, table, column), {})}


@dataclass(frozen=True)
class LfTagExpression:
    """`[{TagKey, TagValues}]`: keys ANDed, values of one key ORed."""

    conditions: Mapping[str, frozenset[str]]

    @classmethod
    def from_json(cls, expression: Iterable[Mapping[str, Any]]) -> LfTagExpression:
        return cls(_tag_map(expression))

    def matches(self, tags: Mapping[str, frozenset[str]]) -> bool:
        return bool(self.conditions) and all(
            bool(tags.get(key, frozenset()) & values) for key, values in self.conditions.items()
        )


@dataclass(frozen=True)
class Grant:
    """One GrantPermissions entry: principal identifier, LF `Resource` dict, permissions."""

    principal: str
    resource: Mapping[str, Any]
    permissions: frozenset[str]

    @classmethod
    def from_json(cls, principal: Mapping[str, Any], resource: Mapping[str, Any], permissions: Iterable[str]) -> Grant:
        return cls(str(principal.get("DataLakePrincipalIdentifier", "")), resource, frozenset(permissions))

    @property
    def gives_data(self) -> bool:
        return bool(self.permissions & DATA_PERMISSIONS)


@dataclass(frozen=True)
class Requester:
    """Who asks: the ARNs Lake Formation matches grants against, and whether it is all-powerful."""

    identifiers: frozenset[str]
    unrestricted: bool = False

    @classmethod
    def of(
        cls,
        *,
        arn: str,
        kind: str,
        role_arn: str | None = None,
        account: str = "",
        admins: Iterable[str] = (),
    ) -> Requester:
        """`kind` is root | user | assumed-role; an assumed role matches grants to its role ARN."""
        ids = {arn}
        if role_arn:
            ids.add(role_arn)
        if account:
            ids.add(account)
        admin_ids = set(admins)
        return cls(frozenset(ids), unrestricted=kind == "root" or bool(ids & admin_ids))


@dataclass(frozen=True)
class ColumnAccess:
    """The outcome for one table: the readable columns in table order, and the others."""

    database: str
    table: str
    allowed: tuple[str, ...]
    denied: tuple[str, ...]

    @property
    def any(self) -> bool:
        return bool(self.allowed)


def _applies_to(grant: Grant, requester: Requester) -> bool:
    return grant.principal == EVERYONE or grant.principal in requester.identifiers


def _named_table_columns(resource: Mapping[str, Any], database: str, table: str, columns: Sequence[str]) -> set[str]:
    """Columns of database.table that a named-resource (non-tag) grant covers."""
    if "Table" in resource:
        t = resource["Table"]
        if t.get("DatabaseName") != database:
            return set()
        if "TableWildcard" in t or t.get("Name") == table:
            return set(columns)
        return set()
    if "TableWithColumns" in resource:
        t = resource["TableWithColumns"]
        if t.get("DatabaseName") != database or t.get("Name") not in (table, "*", None):
            return set()
        if "ColumnWildcard" in t:
            excluded = set((t.get("ColumnWildcard") or {}).get("ExcludedColumnNames", ()))
            return {c for c in columns if c not in excluded}
        return {c for c in columns if c in set(t.get("ColumnNames", ()))}
    return set()


def readable_columns(
    requester: Requester,
    grants: Iterable[Grant],
    tags: LfTags,
    database: str,
    table: str,
    columns: Sequence[str],
    *,
    any_permission: bool = False,
) -> ColumnAccess:
    """Which of `columns` (the table's columns, in order) `requester` may SELECT; with
    `any_permission`, on which it holds any table permission (DESCRIBE, ALTER... included): the
    columns Lake Formation lets the Data Catalog show it."""
    if requester.unrestricted:
        return ColumnAccess(database, table, tuple(columns), ())
    allowed: set[str] = set()
    for grant in grants:
        if not (grant.gives_data or (any_permission and grant.permissions)) or not _applies_to(grant, requester):
            continue
        policy = grant.resource.get("LFTagPolicy")
        if policy is not None:
            if policy.get("ResourceType", "TABLE") != "TABLE":
                continue
            expression = LfTagExpression.from_json(policy.get("Expression", ()))
            allowed.update(c for c in columns if expression.matches(tags.column_tags(database, table, c)))
        else:
            allowed |= _named_table_columns(grant.resource, database, table, columns)
    return ColumnAccess(
        database,
        table,
        tuple(c for c in columns if c in allowed),
        tuple(c for c in columns if c not in allowed),
    )


def can_describe_database(requester: Requester, grants: Iterable[Grant], tags: LfTags, database: str) -> bool:
    """Whether any grant (database, table or tag policy) makes `database` visible."""
    if requester.unrestricted:
        return True
    for grant in grants:
        if not _applies_to(grant, requester):
            continue
        r = grant.resource
        if "Database" in r and r["Database"].get("Name") == database:
            return True
        for key in ("Table", "TableWithColumns"):
            if key in r and r[key].get("DatabaseName") == database:
                return True
        policy = r.get("LFTagPolicy")
        if policy is not None:
            expression = LfTagExpression.from_json(policy.get("Expression", ()))
            if expression.matches(tags.databases.get(database, {})):
                return True
    return False


def has_permission(
    requester: Requester,
    grants: Iterable[Grant],
    tags: LfTags,
    permission: str,
    database: str,
    table: str | None = None,
) -> bool:
    """Whether `requester` holds `permission` (CREATE_TABLE on a database, DROP/ALTER on a table).

    Granted on the named database (or table, `TableWildcard` included), with ALL, or by an
    LF-tag policy of the matching resource type whose expression matches the resource's tags."""
    if requester.unrestricted:
        return True
    for grant in grants:
        if not _applies_to(grant, requester) or not grant.permissions & {permission, "ALL"}:
            continue
        r = grant.resource
        policy = r.get("LFTagPolicy")
        if policy is not None:
            kind = policy.get("ResourceType", "TABLE")
            expression = LfTagExpression.from_json(policy.get("Expression", ()))
            if table is None and kind == "DATABASE" and expression.matches(tags.databases.get(database, {})):
                return True
            if table is not None and kind == "TABLE" and expression.matches(tags.table_tags(database, table)):
                return True
        elif table is None and r.get("Database", {}).get("Name") == database:
            return True
        elif table is not None and "Table" in r:
            t = r["Table"]
            if t.get("DatabaseName") == database and ("TableWildcard" in t or t.get("Name") == table):
                return True
    return False
