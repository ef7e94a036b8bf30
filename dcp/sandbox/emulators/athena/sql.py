"""Athena's SQL read by SQLGlot: one parse per query feeds the Lake Formation checks and DuckDB.

Pure (no I/O). A query is parsed as Trino (DML) or Hive (DDL, as Athena's DDL is Hive's),
classified into the statement kinds the sandbox runs, and queries are qualified against a
schema holding only the columns the caller may read: a hidden column is then as unknown as
a missing one, through aliases, CTEs, subqueries, `USING` and `*` alike, because SQLGlot
resolves every reference to its source. The DuckDB SQL is generated from that same tree,
with Trino's semantics patched where DuckDB's differ (integer division, `format`,
`date_add` on dates, `"$path"`). Anything that is not a catalog table, `UNNEST` or
`VALUES` in a FROM clause is refused, so no SQL names a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.schema import MappingSchema

CATALOG = "awsdatacatalog"
PATH_COLUMN = "$path"
_DDL_START = re.compile(r"^\s*(CREATE\s+EXTERNAL|DROP|ALTER|MSCK|DESCRIBE|DESC\b)", re.IGNORECASE)
_INTEGERS = {exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT}
# Functions DuckDB has and Athena has not: each reads files, settings or the environment.
_FORBIDDEN_FUNCTIONS = re.compile(
    r"^(read_\w+|glob|sniff_csv|parquet_\w+|iceberg_\w+|delta_scan|query|query_table|duckdb_\w+|pragma_\w+|"
    r"current_setting|getenv|which_secret|load_\w+|install_\w+|sqlite_\w+|postgres_\w+|mysql_\w+|httpfs\w*)$",
    re.IGNORECASE,
)


class SqlError(Exception):
    """The query fails with this Athena StateChangeReason (error category 2: user error)."""

    def __init__(self, message: str, error_type: int = 1006) -> None:
        super().__init__(message)
        self.error_type = error_type


class TooManyStatements(SqlError):
    """More than one statement: StartQueryExecution itself refuses (InvalidRequestException)."""


@dataclass(frozen=True)
class TableName:
    database: str
    table: str


@dataclass
class Statement:
    """One classified statement.

    kind: select | ctas | unload | create_external | drop_table | describe | show_tables |
    show_databases | show_columns | show_create_table | msck | execute.
    """

    kind: str
    sql: str
    tree: exp.Expr | None = None  # the query (select, ctas, unload) or the DDL node
    table: TableName | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    pattern: str | None = None  # SHOW ... LIKE
    database: str | None = None  # SHOW TABLES IN db
    name: str | None = None  # EXECUTE name
    using: list[exp.Expr] = field(default_factory=list)  # EXECUTE ... USING

    @property
    def statement_type(self) -> str:
        """Athena's StatementType."""
        if self.kind in ("select", "execute"):
            return "DML"
        if self.kind in ("ctas", "unload", "create_external", "drop_table", "msck"):
            return "DDL"
        return "UTILITY"


def _strip(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


def _table_name(node: exp.Table, default_db: str) -> TableName:
    return TableName((node.db or default_db).lower(), node.name.lower())


def _literal_value(node: exp.Expr | None) -> Any:
    if node is None:
        return None
    if isinstance(node, exp.Literal):
        return node.this
    if isinstance(node, exp.Array):
        return [_literal_value(e) for e in node.expressions]
    if isinstance(node, exp.Boolean):
        return node.this
    return node.name or node.sql()


def _with_properties(props: exp.Properties | None) -> dict[str, Any]:
    """`WITH (format = 'PARQUET', external_location = '...')` as {name: value}, names lower-cased."""
    out: dict[str, Any] = {}
    for prop in props.expressions if props else []:
        if isinstance(prop, exp.FileFormatProperty):
            out["format"] = str(_literal_value(prop.this)).upper()
        elif isinstance(prop, exp.PartitionedByProperty):
            out["partitioned_by"] = _literal_value(prop.this)
        elif isinstance(prop, exp.LocationProperty):
            out["location"] = _literal_value(prop.this)
        elif isinstance(prop, exp.ExternalProperty):
            out["external"] = True
        elif isinstance(prop, exp.RowFormatDelimitedProperty):
            fields = prop.args.get("fields")
            out["delimiter"] = _literal_value(fields) if fields is not None else ","
        elif isinstance(prop, exp.Property):
            out[str(_literal_value(prop.this)).lower()] = _literal_value(prop.args.get("value"))
    return out


def _matching_paren(tokens: Sequence[Any], start: int) -> int:
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i].token_type == sqlglot.TokenType.L_PAREN:
            depth += 1
        elif tokens[i].token_type == sqlglot.TokenType.R_PAREN:
            depth -= 1
            if depth == 0:
                return i
    raise SqlError("SYNTAX_ERROR: line 1:1: mismatched parentheses")


def _parse_unload(sql: str) -> Statement:
    """`UNLOAD (query) TO 's3://...' WITH (format = 'PARQUET', ...)` (SQLGlot has no UNLOAD)."""
    tokens = sqlglot.Dialect.get_or_raise("trino").tokenize(sql)
    if len(tokens) < 2 or tokens[1].token_type != sqlglot.TokenType.L_PAREN:
        raise SqlError("SYNTAX_ERROR: line 1:8: mismatched input. Expecting: '('")
    close = _matching_paren(tokens, 1)
    inner = sql[tokens[1].end + 1 : tokens[close].start]
    rest = sql[tokens[close].end + 1 :]
    m = re.match(r"\s*TO\s+'((?:[^']|'')*)'\s*(?:WITH\s*\((.*)\))?\s*$", rest, re.IGNORECASE | re.DOTALL)
    if not m:
        raise SqlError("SYNTAX_ERROR: line 1:1: UNLOAD needs TO 's3://...' and optional WITH (...)")
    tree = _parse_one(inner, "trino")
    if not isinstance(tree, exp.Query):
        raise SqlError("SYNTAX_ERROR: UNLOAD takes a SELECT query")
    props: dict[str, Any] = {}
    if m.group(2):
        holder = _parse_one(f"CREATE TABLE x WITH ({m.group(2)}) AS SELECT 1", "trino")
        props = _with_properties(holder.args.get("properties"))
    props["location"] = m.group(1).replace("''", "'")
    return Statement("unload", sql, tree=tree, properties=props)


def _parse_one(sql: str, dialect: str) -> exp.Expr:
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        line, col = err.get("line", 1), err.get("col", 1)
        raise SqlError(f"SYNTAX_ERROR: line {line}:{col}: {err.get('description', 'cannot parse the query')}") from None
    except SqlglotError as exc:
        raise SqlError(f"SYNTAX_ERROR: {str(exc).splitlines()[0]}") from None
    if len(trees) > 1:
        raise TooManyStatements(f"Only one sql statement is allowed. Got: {sql}")
    if not trees:
        raise SqlError("SYNTAX_ERROR: line 1:1: empty query")
    return trees[0]


_SHOW = [
    (
        "show_tables",
        re.compile(r"^TABLES(?:\s+(?:IN|FROM)\s+(?P<db>[`\"\w]+))?(?:\s+(?:LIKE\s+)?'(?P<p>[^']*)')?$", re.I),
    ),
    ("show_databases", re.compile(r"^(?:DATABASES|SCHEMAS)(?:\s+(?:LIKE\s+)?'(?P<p>[^']*)')?$", re.I)),
    (
        "show_columns",
        re.compile(r"^COLUMNS\s+(?:IN|FROM)\s+(?P<t>[`\"\w.]+)(?:\s+(?:IN|FROM)\s+(?P<db>[`\"\w]+))?$", re.I),
    ),
    ("show_create_table", re.compile(r"^CREATE\s+TABLE\s+(?P<t>[`\"\w.]+)$", re.I)),
]


def _name_parts(text: str) -> list[str]:
    return [p.strip('`"').lower() for p in text.split(".")]


def parse(sql: str, default_db: str) -> Statement:
    """Classify and parse one Athena statement (a trailing `;` and comments are fine)."""
    body = _strip(sql)
    if re.match(r"^\s*UNLOAD\b", body, re.IGNORECASE):
        return _parse_unload(body)
    msck = re.match(r"^MSCK\s+REPAIR\s+TABLE\s+([`\"\w.]+)$", body, re.IGNORECASE)
    if msck:
        parts = _name_parts(msck.group(1))
        return Statement("msck", sql, table=TableName(parts[-2] if len(parts) > 1 else default_db, parts[-1]))
    show = re.match(r"^SHOW\s+(.*)$", body, re.IGNORECASE | re.DOTALL)
    if show:
        for kind, pattern in _SHOW:
            m = pattern.match(show.group(1).strip())
            if m:
                groups = m.groupdict()
                table = None
                if groups.get("t"):
                    parts = _name_parts(groups["t"])
                    db = groups.get("db") and _name_parts(groups["db"])[0]
                    table = TableName(db or (parts[-2] if len(parts) > 1 else default_db), parts[-1])
                database = _name_parts(groups["db"])[0] if groups.get("db") and not table else None
                return Statement(kind, sql, table=table, database=database, pattern=groups.get("p"))
        raise SqlError(
            f"NOT_SUPPORTED: the sandbox's Athena does not run SHOW {show.group(1).split()[0].upper()}", 1001
        )
    execute = re.match(r"^EXECUTE\s+(\w+)(?:\s+USING\s+(.*))?$", body, re.IGNORECASE | re.DOTALL)
    if execute:
        using = list(_parse_one(f"SELECT {execute.group(2)}", "trino").expressions) if execute.group(2) else []
        return Statement("execute", sql, name=execute.group(1).lower(), using=using)
    tree = _parse_one(body, "hive" if _DDL_START.match(body) else "trino")
    if isinstance(tree, exp.Query):
        return Statement("select", sql, tree=tree)
    if isinstance(tree, exp.Describe) and isinstance(tree.this, exp.Table):
        return Statement("describe", sql, table=_table_name(tree.this, default_db))
    if isinstance(tree, exp.Drop) and str(tree.args.get("kind", "")).upper() == "TABLE":
        tables = tree.args.get("tables") or [tree.this]
        return Statement(
            "drop_table",
            sql,
            tree=tree,
            table=_table_name(tables[0], default_db),
            properties={"exists": tree.args.get("exists")},
        )
    if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE":
        props = _with_properties(tree.args.get("properties"))
        props["exists"] = bool(tree.args.get("exists"))
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if not isinstance(target, exp.Table):
            raise SqlError("SYNTAX_ERROR: CREATE TABLE needs a table name")
        name = _table_name(target, default_db)
        query = tree.expression
        if isinstance(query, exp.Query):
            if re.search(r"\bWITH\s+NO\s+DATA$", body, re.IGNORECASE):  # the table and its schema, no rows
                props.pop("none", None)
                query = exp.select("*").from_(query.subquery("_q")).limit(0)
            return Statement("ctas", sql, tree=query, table=name, properties=props)
        if props.get("external") and isinstance(tree.this, exp.Schema):
            return Statement("create_external", sql, tree=tree, table=name, properties=props)
        raise SqlError("NOT_SUPPORTED: CREATE TABLE needs EXTERNAL and a LOCATION, or AS SELECT", 1001)
    raise SqlError(
        f"NOT_SUPPORTED: the sandbox's Athena does not run {type(tree).__name__.upper()} statements "
        "(SELECT, CTAS, UNLOAD, EXECUTE, the DDL subset and SHOW/DESCRIBE only)",
        1001,
    )


# --------------------------------------------------------------------------- parameters


def _is_constant(node: exp.Expr) -> bool:
    allowed = (exp.Literal, exp.Boolean, exp.Null, exp.Neg, exp.Cast, exp.DataType, exp.Paren, exp.Var, exp.Array)
    return all(isinstance(n, allowed) for n in node.walk())


def parameter_values(values: Sequence[str | exp.Expr]) -> list[exp.Expr]:
    """ExecutionParameters (SQL literals as text) as constant expressions."""
    out = []
    for value in values:
        node = value if isinstance(value, exp.Expr) else _parse_one(f"SELECT {value}", "trino").expressions[0]
        if not _is_constant(node):
            raise SqlError(f"INVALID_PARAMETER: execution parameter {node.sql('trino')} is not a literal value")
        out.append(node)
    return out


def bind(tree: exp.Expr, values: Sequence[exp.Expr]) -> exp.Expr:
    """`tree` with its `?` placeholders replaced, in order, by `values`."""
    holes = [p for p in tree.find_all(exp.Placeholder) if not p.this]
    if len(holes) != len(values):
        raise SqlError(
            f"INVALID_PARAMETER_USAGE: Incorrect number of parameters: expected {len(holes)} but found {len(values)}"
        )
    bound = tree.copy()
    holes = [p for p in bound.find_all(exp.Placeholder) if not p.this]
    for hole, value in zip(holes, values, strict=True):
        hole.replace(value.copy())
    return bound


# --------------------------------------------------------------------------- queries


def referenced_tables(tree: exp.Expr, default_db: str) -> list[TableName]:
    """Catalog tables a query reads (CTE names excluded); refuses anything else in FROM."""
    for node in tree.walk():
        if isinstance(node, (exp.Command, exp.Pragma, exp.Set, exp.Copy, exp.Attach, exp.Install, exp.Use)):
            raise SqlError(f"NOT_SUPPORTED: {type(node).__name__.upper()} is not allowed in a query", 1001)
        if isinstance(node, exp.Func):
            name = node.sql_name() if not isinstance(node, exp.Anonymous) else str(node.this)
            if _FORBIDDEN_FUNCTIONS.match(name):
                raise SqlError(f"FUNCTION_NOT_FOUND: line 1:1: Function '{name.lower()}' not registered")
    out: set[TableName] = set()
    for scope in traverse_scope(tree):
        for source in scope.sources.values():
            if isinstance(source, exp.Table):
                if not isinstance(source.this, exp.Identifier):
                    name = source.this.sql("trino") if source.this else "?"
                    raise SqlError(
                        f"FUNCTION_NOT_FOUND: line 1:1: Function '{name.split('(')[0].lower()}' not registered"
                    )
                if "/" in source.name or "\\" in source.name:
                    raise SqlError(
                        f"TABLE_NOT_FOUND: line 1:1: Table '{CATALOG}.{default_db}.{source.name}' does not exist"
                    )
                if source.catalog and source.catalog.lower() != CATALOG:
                    raise SqlError(f"CATALOG_NOT_FOUND: line 1:1: Catalog '{source.catalog}' does not exist")
                out.add(_table_name(source, default_db))
    return sorted(out, key=lambda t: (t.database, t.table))


def uses_path_column(tree: exp.Expr) -> bool:
    return any(c.name == PATH_COLUMN for c in tree.find_all(exp.Column))


def glue_type(glue: str) -> exp.DataType:
    """A Glue (Hive) column type as SQLGlot's type; unknown types read as varchar."""
    try:
        return exp.DataType.build(glue.strip(), dialect="hive")
    except (ParseError, ValueError, SqlglotError):
        return exp.DataType.build("varchar")


def _fail_column(exc: OptimizeError, sql: str) -> SqlError:
    text = str(exc)
    m = re.search(r"Column '\"?([^'\"]+)\"?' could not be resolved(?:\. Line: (\d+), Col: (\d+))?", text) or re.search(
        r"(?:Unknown column|Cannot automatically join): \"?([^\s\"]+)\"?()()", text
    )
    if m:
        column = m.group(1)
        line, col = (int(m.group(2)), int(m.group(3)) - len(column) + 1) if m.group(2) else position(sql, column)
        return SqlError(
            f"COLUMN_NOT_FOUND: line {line}:{col}: Column '{column}' cannot be resolved or requester is not "
            "authorized to access requested resources"
        )
    return SqlError(f"SYNTAX_ERROR: line 1:1: {text.splitlines()[0]}")


def position(sql: str, needle: str) -> tuple[int, int]:
    m = re.search(rf"\b{re.escape(needle)}\b", sql, re.IGNORECASE)
    if not m:
        return 1, 1
    before = sql[: m.start()]
    return before.count("\n") + 1, m.start() - (before.rfind("\n") + 1) + 1


def output_names(tree: exp.Expr, duck_names: Sequence[str]) -> list[str]:
    """Athena's result column names: an unaliased expression is `_col<position>`."""
    select = tree if isinstance(tree, exp.Select) else None
    items = select.expressions if select is not None else []
    if not items or len(items) != len(duck_names) or any(isinstance(i, exp.Star) or i.is_star for i in items):
        return list(duck_names)
    return [
        item.alias_or_name if isinstance(item, (exp.Alias, exp.Column)) else f"_col{i}" for i, item in enumerate(items)
    ]


def _is_type(node: Any, *types: Any) -> bool:
    return isinstance(node, exp.Expr) and node.type is not None and node.type.this in types


def _trino_semantics(tree: exp.Expr) -> exp.Expr:
    """Patch the typed tree where DuckDB's meaning differs from Trino's."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Div) and node.args.get("typed"):
            left, right = node.this.type, node.expression.type
            if left and right and left.this in _INTEGERS and right.this in _INTEGERS:
                return exp.IntDiv(this=node.this, expression=node.expression)  # truncates, as Trino's
        if isinstance(node, exp.ApproxQuantile) and _is_type(node.this, *_INTEGERS):
            return exp.cast(node.copy(), node.this.type.copy())  # Trino's keeps the argument's type
        if isinstance(node, exp.Format):
            return exp.Anonymous(this="printf", expressions=[node.this, *node.expressions])  # Java's %s/%d/%.2f
        if isinstance(node, (exp.DateAdd, exp.TsOrDsAdd)) and _is_type(node.this, exp.DataType.Type.DATE):
            unit = str(node.args.get("unit") or "DAY").upper().strip("'")
            if unit in ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR"):  # Trino keeps a date a date
                return exp.cast(node.copy(), exp.DataType.build("date"))
        return node

    return tree.transform(fix)


def transpile_query(
    tree: exp.Expr, schema: Mapping[TableName, Sequence[tuple[str, exp.DataType]]], default_db: str, sql: str
) -> tuple[str, list[str]]:
    """DuckDB SQL for `tree`, qualified against `schema` (the readable columns of each table), and
    Athena's names of the result columns.

    A column outside `schema` fails as COLUMN_NOT_FOUND, wherever it is named."""
    nested: dict[str, Any] = {CATALOG: {}}
    for name, columns in schema.items():
        nested[CATALOG].setdefault(name.database, {})[name.table] = dict(columns)
    mapping = MappingSchema(nested, dialect="trino", normalize=False)
    try:
        qualified = qualify(
            tree.copy(),
            schema=mapping,
            catalog=CATALOG,
            db=default_db,
            dialect="trino",
            validate_qualify_columns=True,
            identify=True,
        )
        typed = annotate_types(qualified, schema=mapping, dialect="trino")
    except OptimizeError as exc:
        raise _fail_column(exc, sql) from None
    selects = typed.selects if isinstance(typed, exp.Query) else []
    names = output_names(tree, [e.alias_or_name for e in selects])
    return _trino_semantics(typed).sql("duckdb"), names
