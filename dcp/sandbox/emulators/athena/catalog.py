"""Statements Athena answers from the Glue catalog, and where CTAS/UNLOAD put their Parquet.

SHOW TABLES/DATABASES/COLUMNS/CREATE TABLE and DESCRIBE list only what Lake Formation lets
the caller see; CREATE EXTERNAL TABLE and CTAS need `CREATE_TABLE` on the database, DROP TABLE
needs `DROP` on the table (or a data lake administrator), as
https://docs.aws.amazon.com/lake-formation/latest/dg/lf-permissions-reference.html says.
CTAS without `external_location` writes under `<workgroup output>/tables/<query id>/`
(https://docs.aws.amazon.com/athena/latest/ug/ctas.html); CTAS and UNLOAD refuse a
non-empty target (HIVE_PATH_ALREADY_EXISTS) and leave a `<query id>-manifest.csv` of the
files they wrote beside the query's result, as Athena does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from sqlglot import exp

from dcp.sandbox.emulators.athena import results, sql
from dcp.sandbox.emulators.glue import s3io
from dcp.sandbox.emulators.lakeformation.models import read_state
from dcp.sandbox.lf_eval import can_describe_database, has_permission, readable_columns

if TYPE_CHECKING:
    from dcp.sandbox.emulators.athena.models import AthenaQueries, Caller, QueryExecution

PARQUET_SERDE = {
    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    "Parameters": {"serialization.format": "1"},
}
PARQUET_IO = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
}
TEXT_IO = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
}


def _fail(message: str, error_type: int = 1006) -> sql.SqlError:
    return sql.SqlError(message, error_type)


def _like(pattern: str | None, name: str) -> bool:
    """SHOW ... LIKE 'a*|b*': `*` any characters, `|` alternatives (Hive's pattern)."""
    if not pattern:
        return True
    return any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), name) for p in pattern.lower().split("|"))


def _visible_columns(
    queries: AthenaQueries, caller: Caller, table: sql.TableName
) -> tuple[Mapping[str, Any], list[dict[str, Any]]]:
    """The Glue table and the columns the caller may see (TABLE_NOT_FOUND when it may see none)."""
    t = queries.glue_table(table)
    missing = _fail(f"TABLE_NOT_FOUND: line 1:1: Table '{sql.CATALOG}.{table.database}.{table.table}' does not exist")
    if t is None:
        raise missing
    sd = t.get("StorageDescriptor") or {}
    columns = list(sd.get("Columns") or []) + list(t.get("PartitionKeys") or [])
    lf = read_state(queries.account_id, queries.region)
    access = readable_columns(
        queries.requester(lf, caller), lf.grants, lf.tags, table.database, table.table, [c["Name"] for c in columns]
    )
    if not access.any:
        raise missing
    return t, [c for c in columns if c["Name"] in access.allowed]


def _table_location(t: Mapping[str, Any]) -> str:
    return str((t.get("StorageDescriptor") or {}).get("Location") or "")


def show_create_table(t: Mapping[str, Any], table: sql.TableName, columns: list[dict[str, Any]]) -> list[str]:
    sd = t.get("StorageDescriptor") or {}
    parts = {c["Name"] for c in t.get("PartitionKeys") or []}
    data = [c for c in columns if c["Name"] not in parts]
    lines = [f"CREATE EXTERNAL TABLE `{table.database}`.`{table.table}`("]
    lines += [
        f"  `{c['Name']}` {c.get('Type', 'string')}" + ("," if i < len(data) - 1 else ")") for i, c in enumerate(data)
    ]
    partitions = [c for c in columns if c["Name"] in parts]
    if partitions:
        lines.append("PARTITIONED BY ( ")
        lines += [
            f"  `{c['Name']}` {c.get('Type', 'string')}" + ("," if i < len(partitions) - 1 else ")")
            for i, c in enumerate(partitions)
        ]
    serde = sd.get("SerdeInfo") or {}
    lines += [
        "ROW FORMAT SERDE ",
        f"  '{serde.get('SerializationLibrary', 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe')}' ",
    ]
    if serde.get("Parameters"):
        lines.append("WITH SERDEPROPERTIES ( ")
        items = list(serde["Parameters"].items())
        lines += [f"  '{k}'='{v}'" + ("," if i < len(items) - 1 else ")") for i, (k, v) in enumerate(items)]
    lines += ["STORED AS INPUTFORMAT ", f"  '{sd.get('InputFormat', TEXT_IO['InputFormat'])}' "]
    lines += ["OUTPUTFORMAT ", f"  '{sd.get('OutputFormat', TEXT_IO['OutputFormat'])}'"]
    lines += ["LOCATION", f"  '{_table_location(t)}'"]
    props = list((t.get("Parameters") or {}).items())
    if props:
        lines.append("TBLPROPERTIES (")
        lines += [f"  '{k}'='{v}'" + ("," if i < len(props) - 1 else ")") for i, (k, v) in enumerate(props)]
    return lines


def answer(queries: AthenaQueries, q: QueryExecution, statement: sql.Statement, caller: Caller) -> list[str]:
    """The result lines of a catalog statement (none for DDL), after its permission checks."""
    glue = queries.glue()
    lf = read_state(queries.account_id, queries.region)
    requester = queries.requester(lf, caller)
    kind = statement.kind
    if kind == "show_databases":
        names = sorted(glue.databases)
        return [
            n for n in names if _like(statement.pattern, n) and can_describe_database(requester, lf.grants, lf.tags, n)
        ]
    if kind == "show_tables":
        db = statement.database or q.database
        database = glue.databases.get(db)
        if database is None:
            raise _fail(f"SCHEMA_NOT_FOUND: line 1:1: Schema '{db}' does not exist")
        out = []
        for name in sorted(database.tables):
            if not _like(statement.pattern, name):
                continue
            try:
                _visible_columns(queries, caller, sql.TableName(db, name))
            except sql.SqlError:
                continue
            out.append(name)
        return out
    table = statement.table
    assert table is not None
    if kind == "show_columns":
        return [c["Name"] for c in _visible_columns(queries, caller, table)[1]]
    if kind == "describe":
        t, columns = _visible_columns(queries, caller, table)
        parts = [c for c in columns if c["Name"] in {p["Name"] for p in t.get("PartitionKeys") or []}]
        lines = [f"{c['Name']:<20}\t{c.get('Type', 'string'):<20}\t{c.get('Comment', '')}" for c in columns]
        if parts:
            lines += ["", "# Partition Information", f"{'# col_name':<20}\t{'data_type':<20}\tcomment", ""]
            lines += [f"{c['Name']:<20}\t{c.get('Type', 'string'):<20}\t{c.get('Comment', '')}" for c in parts]
        return lines
    if kind == "show_create_table":
        t, columns = _visible_columns(queries, caller, table)
        return show_create_table(t, table, columns)
    if kind == "msck":
        return repair_table(queries, caller, table)
    if kind == "drop_table":
        if queries.glue_table(table) is None:
            if statement.properties.get("exists"):
                return []
            raise _fail(f"FAILED: SemanticException [Error 10001]: Table not found {table.database}.{table.table}")
        if not has_permission(requester, lf.grants, lf.tags, "DROP", table.database, table.table):
            raise _fail(f"Insufficient Lake Formation permission(s) on {table.table}", 1003)
        glue.delete_table(table.database, table.table)
        return []
    if kind == "create_external":
        create_external_table(queries, statement, caller)
        return []
    raise _fail(f"NOT_SUPPORTED: {kind}", 1001)


def _require_create_table(queries: AthenaQueries, caller: Caller, table: sql.TableName) -> None:
    glue = queries.glue()
    if table.database not in glue.databases:
        raise _fail(f"SCHEMA_NOT_FOUND: line 1:1: Schema '{table.database}' does not exist")
    lf = read_state(queries.account_id, queries.region)
    if not has_permission(queries.requester(lf, caller), lf.grants, lf.tags, "CREATE_TABLE", table.database):
        raise _fail(f"Insufficient Lake Formation permission(s) on {table.database}", 1003)


def create_external_table(queries: AthenaQueries, statement: sql.Statement, caller: Caller) -> None:
    table = statement.table
    assert table is not None and isinstance(statement.tree, exp.Create)
    _require_create_table(queries, caller, table)
    if queries.glue_table(table) is not None:
        if statement.properties.get("exists"):
            return
        raise _fail(f"FAILED: AlreadyExistsException: Table {table.database}.{table.table} already exists")
    props = statement.properties
    schema = statement.tree.this
    columns = [{"Name": c.name.lower(), "Type": c.args["kind"].sql("hive").lower()} for c in schema.expressions]
    partitioned = props.get("partitioned_by")
    partition_keys: list[dict[str, str]] = []
    part_node = next(
        (
            p
            for p in (statement.tree.args.get("properties") or exp.Properties()).expressions
            if isinstance(p, exp.PartitionedByProperty)
        ),
        None,
    )
    if part_node is not None and isinstance(part_node.this, exp.Schema):
        partition_keys = [
            {"Name": c.name.lower(), "Type": c.args["kind"].sql("hive").lower()} for c in part_node.this.expressions
        ]
    del partitioned
    location = str(props.get("location") or "")
    if not location.startswith("s3://"):
        raise _fail("SYNTAX_ERROR: CREATE EXTERNAL TABLE needs LOCATION 's3://...'")
    fmt = str(props.get("format") or "TEXTFILE").upper()
    parameters = {
        k: str(v)
        for k, v in props.items()
        if k not in ("format", "location", "external", "exists", "partitioned_by", "delimiter")
    }
    if fmt == "PARQUET":
        sd_extra: dict[str, Any] = {**PARQUET_IO, "SerdeInfo": PARQUET_SERDE}
        parameters.setdefault("classification", "parquet")
    else:
        delim = str(props.get("delimiter") or ",")
        sd_extra = {
            **TEXT_IO,
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                "Parameters": {"field.delim": delim, "serialization.format": delim},
            },
        }
        parameters.setdefault("classification", "csv")
    queries.glue().create_table(
        table.database,
        table.table,
        {
            "Name": table.table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"EXTERNAL": "TRUE", **parameters},
            "PartitionKeys": partition_keys,
            "StorageDescriptor": {"Columns": columns, "Location": location, **sd_extra},
        },
    )


def repair_table(queries: AthenaQueries, caller: Caller, table: sql.TableName) -> list[str]:
    """MSCK REPAIR TABLE: add the `key=value/` folders under the location as partitions."""
    t, _ = _visible_columns(queries, caller, table)
    keys = [p["Name"] for p in t.get("PartitionKeys") or []]
    location = _table_location(t)
    if not keys or not location:
        return []
    bucket, prefix = s3io.parse_s3_uri(location.rstrip("/") + "/")
    found: dict[tuple[str, ...], str] = {}
    for obj in s3io.list_objects(queries.account_id, bucket, prefix):
        parts = obj.key[len(prefix) :].split("/")[: len(keys)]
        pairs = [p.split("=", 1) for p in parts]
        if len(pairs) == len(keys) and all(len(p) == 2 and p[0].lower() == k for p, k in zip(pairs, keys, strict=True)):
            found[tuple(v for _, v in pairs)] = f"s3://{bucket}/{prefix}{'/'.join(parts)}/"
    glue_table = queries.glue().get_table(table.database, table.table)
    existing = (
        {tuple(p.partition_input["Values"]) for p in glue_table.partitions.values()}
        if hasattr(glue_table, "partitions")
        else set()
    )
    sd = t.get("StorageDescriptor") or {}
    added = []
    for values, where in sorted(found.items()):
        if values in existing:
            continue
        queries.glue().batch_create_partition(
            table.database, table.table, [{"Values": list(values), "StorageDescriptor": {**sd, "Location": where}}]
        )
        added.append("/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)))
    lines = [f"Partitions not in metastore:\t{' '.join(f'{table.table}:{a}' for a in added)}"] if added else []
    return lines + [f"Repair: Added partition to metastore {table.table}:{a}" for a in added]


def _target(queries: AthenaQueries, q: QueryExecution, statement: sql.Statement) -> str:
    """Where CTAS/UNLOAD write: their location, or the workgroup's `tables/<query id>/`."""
    props = statement.properties
    location = props.get("external_location") if statement.kind == "ctas" else props.get("location")
    if not location:
        if not q.output_location:
            raise _fail("INVALID_TABLE_PROPERTY: external_location or a query result location is required")
        location = q.output_location.rstrip("/") + f"/tables/{q.query_id}"
    location = str(location)
    if not location.startswith("s3://"):
        raise _fail(f"INVALID_TABLE_PROPERTY: {location} is not an s3:// location")
    return location.rstrip("/") + "/"


def check_ctas(queries: AthenaQueries, q: QueryExecution, statement: sql.Statement, caller: Caller) -> None:
    table = statement.table
    assert table is not None
    _require_create_table(queries, caller, table)
    if queries.glue_table(table) is not None:
        raise _fail(
            f"TABLE_ALREADY_EXISTS: line 1:1: Table '{sql.CATALOG}.{table.database}.{table.table}' already exists"
        )


def write_table_data(
    queries: AthenaQueries, q: QueryExecution, statement: sql.Statement, result: Path, names: list[str]
) -> None:
    """Store CTAS/UNLOAD's Parquet under the target, the manifest, and for CTAS the Glue table."""
    from dcp.sandbox.emulators.athena import gates

    fmt = str(statement.properties.get("format") or "PARQUET").upper()
    if fmt != "PARQUET":
        raise _fail(f"NOT_SUPPORTED: the sandbox writes format 'PARQUET' only, not '{fmt}'", 1001)
    target = _target(queries, q, statement)
    gates.check_write_location(queries, q, target)
    if q.output_uri:
        gates.check_write_location(queries, q, q.output_uri)
    bucket, prefix = s3io.parse_s3_uri(target)
    try:
        existing = s3io.list_objects(queries.account_id, bucket, prefix)
    except s3io.S3Missing:
        raise _fail(f"HIVE_CANNOT_OPEN_SPLIT: bucket {bucket} does not exist") from None
    if existing:
        raise _fail(f"HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists: {target}")
    table = pq.read_table(result)
    table = table.rename_columns(names)
    renamed = result.with_name("renamed.parquet")
    pq.write_table(table, renamed, compression=str(statement.properties.get("compression") or "snappy").lower())
    file_uri = f"{target}{q.query_id}_00000"
    queries.put(q, file_uri, renamed)
    renamed.unlink(missing_ok=True)
    q.update_count = q.rows = table.num_rows
    if q.output_location:
        q.manifest = q.output_location.rstrip("/") + f"/{q.query_id}-manifest.csv"
        queries.put(q, q.manifest, (file_uri + "\n").encode(), "text/csv")
    q.columns = []
    q.result_path = result.with_name("empty.parquet")
    pq.write_table(table.schema.empty_table().select([]), q.result_path)
    q.header = False
    q.rows = 0
    if statement.kind == "ctas":
        assert statement.table is not None
        columns = [
            {"Name": n.lower(), "Type": results.hive_type(f.type)} for n, f in zip(names, table.schema, strict=True)
        ]
        queries.glue().create_table(
            statement.table.database,
            statement.table.table,
            {
                "Name": statement.table.table,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet", "has_encrypted_data": "false"},
                "StorageDescriptor": {"Columns": columns, "Location": target, **PARQUET_IO, "SerdeInfo": PARQUET_SERDE},
            },
        )
    if q.output_location:
        # awswrangler reads `<id>.metadata` beside `<id>-manifest.csv`
        queries.put(q, q.output_location.rstrip("/") + f"/{q.query_id}.metadata", b'{"columns": [], "rows": 0}')
    if q.output_uri:
        queries.put(q, q.output_uri, b"", "text/plain")
