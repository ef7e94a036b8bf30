"""Athena queries on DuckDB over the Glue tables' S3 data, with Lake Formation column enforcement.

Each query gets its own in-memory DuckDB with a memory limit and a spill directory. Every
Glue table the SQL references becomes a view `awsdatacatalog."<db>"."<table>"` over local
mirrors of its S3 objects (`read_csv` / `read_parquet` / `read_json`, streamed by DuckDB, so
memory stays bounded), exposing only the columns the caller may read per Lake Formation:
`SELECT *` returns the permitted columns, naming another fails as Athena does. The SQL itself
may not call table functions (no reading files around the views), and DuckDB's file access is
limited to the mirrored objects. Results go to `<output>/<QueryExecutionId>.csv` (+ `.metadata`)
with the workgroup's encryption, and are paged from a local Parquet copy.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dcp.sandbox.emulators.glue import s3io
from dcp.sandbox.emulators.lakeformation.models import LfState, read_state
from dcp.sandbox.lf_eval import ColumnAccess, readable_columns

log = logging.getLogger("dcp.sandbox")

MEMORY_LIMIT = "512MB"
ALLOWED_TABLE_FUNCTIONS = frozenset({"unnest", "range", "generate_series"})
_GLUE_TO_DUCKDB = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "binary": "BLOB",
}


def now() -> datetime:
    return datetime.now(UTC)


def duck_type(glue_type: str) -> str:
    t = glue_type.strip().lower()
    if t.startswith("decimal"):
        return t.upper()
    if t.startswith(("varchar", "char")):
        return "VARCHAR"
    return _GLUE_TO_DUCKDB.get(t, "VARCHAR")


def athena_type(duck: str) -> str:
    """The Athena (Trino) type name of a DuckDB result column type."""
    t = duck.upper()
    for prefix, name in (
        ("DECIMAL", "decimal"),
        ("VARCHAR", "varchar"),
        ("BIGINT", "bigint"),
        ("HUGEINT", "bigint"),
        ("INTEGER", "integer"),
        ("SMALLINT", "smallint"),
        ("TINYINT", "tinyint"),
        ("DOUBLE", "double"),
        ("FLOAT", "float"),
        ("BOOLEAN", "boolean"),
        ("DATE", "date"),
        ("TIMESTAMP", "timestamp"),
        ("BLOB", "varbinary"),
    ):
        if t.startswith(prefix):
            return name
    return "varchar"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class QueryFailed(Exception):
    """The query fails; the message is Athena's StateChangeReason."""

    def __init__(self, message: str, error_category: int = 2, error_type: int = 1006) -> None:
        super().__init__(message)
        self.error_category, self.error_type = error_category, error_type


# --------------------------------------------------------------------------- SQL checks


def _walk(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def check_sql(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """Reject what Athena would not run here: non-queries and file-reading table functions.

    Returns DuckDB's parse tree of the query."""
    raw = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    doc = json.loads(raw[0]) if raw else {"error": True}
    if doc.get("error"):
        message = str(doc.get("error_message") or "")
        if "Only SELECT statements" in message:
            raise QueryFailed("NOT_SUPPORTED: the sandbox's Athena runs SELECT queries only", 2, 1001)
        raise QueryFailed(f"SYNTAX_ERROR: {message.splitlines()[0] if message else 'cannot parse the query'}")
    for node in _walk(doc.get("statements", [])):
        if node.get("type") == "TABLE_FUNCTION":
            fn = str((node.get("function") or {}).get("function_name", "")).lower()
            if fn not in ALLOWED_TABLE_FUNCTIONS:
                raise QueryFailed(f"FUNCTION_NOT_FOUND: Function '{fn}' not registered")
    return dict(doc)


def athena_names(doc: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    """Result column names as Athena gives them: an unaliased expression is `_col<position>`."""
    statements = doc.get("statements") or []
    node = statements[0].get("node", {}) if statements else {}
    items = node.get("select_list") if node.get("type") == "SELECT_NODE" else None
    if not items or len(items) != len(names) or any(i.get("class") in ("STAR", "COLUMNS") for i in items):
        return list(names)
    return [
        name if item.get("alias") or item.get("class") == "COLUMN_REF" else f"_col{i}"
        for i, (item, name) in enumerate(zip(items, names, strict=True))
    ]


def _position(sql: str, needle: str) -> tuple[int, int]:
    m = re.search(rf"\b{re.escape(needle)}\b", sql, re.IGNORECASE)
    if not m:
        return 1, 1
    before = sql[: m.start()]
    return before.count("\n") + 1, m.start() - (before.rfind("\n") + 1) + 1


def translate_error(sql: str, exc: Exception, default_db: str) -> QueryFailed:
    """A DuckDB error as Athena's StateChangeReason."""
    text = str(exc)
    m = re.search(r'Referenced column "([^"]+)" not found', text) or re.search(
        r'Column "([^"]+)" does not exist|column "([^"]+)" not found', text, re.IGNORECASE
    )
    if m:
        column = next(g for g in m.groups() if g)
        line, col = _position(sql, column)
        return QueryFailed(
            f"COLUMN_NOT_FOUND: line {line}:{col}: Column '{column}' cannot be resolved or requester is not "
            "authorized to access requested resources"
        )
    m = re.search(r"Table with name ([^\s]+) does not exist", text)
    if m:
        name = m.group(1).strip('"').lower()
        line, col = _position(sql, name.split(".")[-1])
        full = name if name.count(".") >= 1 else f"{default_db}.{name}"
        return QueryFailed(f"TABLE_NOT_FOUND: line {line}:{col}: Table 'awsdatacatalog.{full}' does not exist")
    if isinstance(exc, duckdb.ParserException):
        return QueryFailed(f"SYNTAX_ERROR: {text.splitlines()[0]}")
    return QueryFailed(f"GENERIC_INTERNAL_ERROR: {text.splitlines()[0]}", 1, 1000)


# --------------------------------------------------------------------------- catalog -> views


@dataclass(frozen=True)
class TableRef:
    database: str
    table: str


def referenced_tables(sql: str, default_db: str) -> list[TableRef]:
    """Glue tables a query names: table, db.table, catalog.db.table (lower-cased, as Athena does)."""
    out = []
    for name in duckdb.get_table_names(sql, qualified=True):
        parts = [p.strip('"').lower() for p in name.split(".")]
        if len(parts) == 1:
            out.append(TableRef(default_db, parts[0]))
        else:
            out.append(TableRef(parts[-2], parts[-1]))
    return sorted(set(out), key=lambda r: (r.database, r.table))


@dataclass
class TableSource:
    """A Glue table resolved to local files and typed columns."""

    ref: TableRef
    columns: list[tuple[str, str]]  # (name, glue type), partition keys last
    partition_keys: list[str]
    classification: str
    files: list[Path]
    header: bool
    delimiter: str
    scanned_bytes: int


def view_sql(src: TableSource, allowed: Sequence[str]) -> str:
    """SELECT over the table's files, casting to the Glue types, only the `allowed` columns."""
    types = dict(src.columns)
    select = (
        ", ".join(f"TRY_CAST({_ident(c)} AS {duck_type(types[c])}) AS {_ident(c)}" for c in allowed)
        or "NULL AS __no_column"
    )
    if not src.files:
        empty = ", ".join(f"CAST(NULL AS {duck_type(types[c])}) AS {_ident(c)}" for c in allowed)
        return f"SELECT {empty or 'NULL AS __no_column'} WHERE false"
    files = "[" + ", ".join(_literal(str(f)) for f in src.files) + "]"
    hive = ", hive_partitioning = true" if src.partition_keys else ""
    if src.classification == "parquet":
        source = f"read_parquet({files}, union_by_name = true{hive})"
    elif src.classification == "json":
        source = f"read_json_auto({files}, union_by_name = true{hive})"
    elif src.header:
        source = (
            f"read_csv({files}, header = true, delim = {_literal(src.delimiter)}, "
            "quote = '\"', escape = '\"', "
            f"all_varchar = true, union_by_name = true, null_padding = true{hive})"
        )
    else:
        data_cols = [c for c, _ in src.columns if c not in src.partition_keys]
        spec = "{" + ", ".join(f"{_literal(c)}: 'VARCHAR'" for c in data_cols) + "}"
        source = (
            f"read_csv({files}, header = false, delim = {_literal(src.delimiter)}, quote = '\"', "
            f"escape = '\"', columns = {spec}, null_padding = true{hive})"
        )
    return f"SELECT {select} FROM {source}"


# --------------------------------------------------------------------------- executions


@dataclass
class QueryExecution:
    query_id: str
    sql: str
    database: str
    catalog: str
    workgroup: str
    output_location: str | None
    encryption: Mapping[str, Any] | None
    submitted: datetime
    state: str = "QUEUED"
    reason: str | None = None
    error_category: int | None = None
    error_type: int | None = None
    completed: datetime | None = None
    engine_ms: int = 0
    queue_ms: int = 0
    planning_ms: int = 0
    scanned_bytes: int = 0
    result_path: Path | None = None
    columns: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def output_uri(self) -> str | None:
        if not self.output_location:
            return None
        return self.output_location.rstrip("/") + f"/{self.query_id}.csv"

    def to_dict(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error_category is not None:
            status["AthenaError"] = {
                "ErrorCategory": self.error_category,
                "ErrorType": self.error_type,
                "Retryable": False,
                "ErrorMessage": self.reason,
            }
        result_config: dict[str, Any] = {}
        if self.output_uri:
            result_config["OutputLocation"] = self.output_uri
        if self.encryption:
            result_config["EncryptionConfiguration"] = dict(self.encryption)
        total = self.engine_ms + self.queue_ms
        return {
            "QueryExecutionId": self.query_id,
            "Query": self.sql,
            "StatementType": "DML",
            "ResultConfiguration": result_config,
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": self.engine_ms,
                "DataScannedInBytes": self.scanned_bytes,
                "TotalExecutionTimeInMillis": total,
                "QueryQueueTimeInMillis": self.queue_ms,
                "QueryPlanningTimeInMillis": self.planning_ms,
                "ServicePreProcessingTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
                "ResultReuseInformation": {"ReusedPreviousResult": False},
            },
            "WorkGroup": self.workgroup,
            "EngineVersion": {
                "SelectedEngineVersion": "AUTO",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }


@dataclass(frozen=True)
class Caller:
    """The principal of the StartQueryExecution call."""

    arn: str
    kind: str
    role_arn: str | None
    account: str


class AthenaQueries:
    """Query executions of one account/region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id, self.region = account_id, region
        self.executions: dict[str, QueryExecution] = {}
        self.lock = threading.Lock()

    def get(self, query_id: str) -> QueryExecution | None:
        with self.lock:
            return self.executions.get(query_id)

    def in_workgroup(self, workgroup: str) -> list[QueryExecution]:
        with self.lock:
            return [q for q in reversed(self.executions.values()) if q.workgroup == workgroup]

    def start(
        self,
        sql: str,
        *,
        database: str,
        catalog: str,
        workgroup: str,
        output_location: str | None,
        encryption: Mapping[str, Any] | None,
        caller: Caller,
        state_dir: Path,
    ) -> QueryExecution:
        q = QueryExecution(
            query_id=_query_id(),
            sql=sql,
            database=database,
            catalog=catalog,
            workgroup=workgroup,
            output_location=output_location,
            encryption=encryption,
            submitted=now(),
        )
        with self.lock:
            self.executions[q.query_id] = q
        threading.Thread(
            target=self._run, args=(q, caller, state_dir), name=f"athena-{q.query_id[:8]}", daemon=True
        ).start()
        return q

    def stop(self, query_id: str) -> None:
        q = self.get(query_id)
        if q is not None and q.state in ("QUEUED", "RUNNING"):
            q.cancel.set()

    def _run(self, q: QueryExecution, caller: Caller, state_dir: Path) -> None:
        started = time.monotonic()
        q.queue_ms = int((now() - q.submitted).total_seconds() * 1000)
        q.state = "RUNNING"
        workdir = state_dir / "athena" / "queries" / q.query_id
        try:
            self.execute(q, caller, state_dir, workdir)
            q.state = "CANCELLED" if q.cancel.is_set() else "SUCCEEDED"
        except QueryFailed as exc:
            q.state, q.reason = "FAILED", str(exc)
            q.error_category, q.error_type = exc.error_category, exc.error_type
        except Exception as exc:
            log.exception("sandbox: Athena query %s failed", q.query_id)
            q.state, q.reason = "FAILED", f"GENERIC_INTERNAL_ERROR: {type(exc).__name__}: {exc}"
            q.error_category, q.error_type = 1, 1000
        q.engine_ms = int((time.monotonic() - started) * 1000)
        q.completed = now()

    def table_source(self, ref: TableRef, cache: Path) -> TableSource | None:
        from moto.glue.models import glue_backends

        glue = glue_backends[self.account_id][self.region]
        db = glue.databases.get(ref.database)
        table = db.tables.get(ref.table) if db is not None else None
        if table is None:
            return None
        t = table.get_version(str(table._current_version))
        sd = t.get("StorageDescriptor") or {}
        params = {**(sd.get("Parameters") or {}), **(t.get("Parameters") or {})}
        partition_keys = [str(c["Name"]).lower() for c in t.get("PartitionKeys", []) or []]
        columns = [(str(c["Name"]).lower(), str(c.get("Type", "string"))) for c in sd.get("Columns", [])]
        columns += [(k, "string") for k in partition_keys]
        serde = (sd.get("SerdeInfo") or {}).get("SerializationLibrary", "") or ""
        classification = str(params.get("classification", "")).lower()
        if not classification:
            classification = "parquet" if "parquet" in serde.lower() else ("json" if "json" in serde.lower() else "csv")
        serde_params = (sd.get("SerdeInfo") or {}).get("Parameters") or {}
        delimiter = str(
            params.get("delimiter") or serde_params.get("field.delim") or serde_params.get("separatorChar") or ","
        )
        files, scanned = [], 0
        location = sd.get("Location")
        if location:
            bucket, prefix = s3io.parse_s3_uri(location)
            if prefix and not prefix.endswith("/"):
                prefix += "/"
            try:
                objects = s3io.list_objects(self.account_id, bucket, prefix)
            except s3io.S3Missing:
                objects = []
            for obj in objects:
                rel = obj.key[len(prefix) :]
                if obj.size == 0 or any(part.startswith(("_", ".")) for part in rel.split("/")):
                    continue
                if obj.key.endswith((".metadata", "$folder$")):
                    continue
                files.append(_mirror_keep_path(self.account_id, obj, cache))
                scanned += obj.size
        return TableSource(
            ref,
            columns,
            partition_keys,
            classification,
            files,
            header=str(params.get("skip.header.line.count", "0")) == "1",
            delimiter=delimiter,
            scanned_bytes=scanned,
        )

    def execute(self, q: QueryExecution, caller: Caller, state_dir: Path, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        spill = workdir / "spill"
        spill.mkdir(exist_ok=True)
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": 2, "temp_directory": str(spill)})
        try:
            parsed = check_sql(con, q.sql)
            lf = read_state(self.account_id, self.region)
            refs = referenced_tables(q.sql, q.database)
            con.execute("ATTACH ':memory:' AS awsdatacatalog")
            cache = state_dir / "athena" / "cache"
            allowed_files: list[str] = []
            for ref in refs:
                src = self.table_source(ref, cache)
                if src is None:
                    continue  # DuckDB reports it as TABLE_NOT_FOUND (or it is a CTE name)
                access = self._access(lf, caller, src)
                if not access.any:
                    raise QueryFailed(
                        f"Insufficient Lake Formation permission(s) on {ref.table} "
                        "(Service: AmazonDataCatalog; Status Code: 400; Error Code: AccessDeniedException)",
                        2,
                        1003,
                    )
                con.execute(f"CREATE SCHEMA IF NOT EXISTS awsdatacatalog.{_ident(ref.database)}")
                con.execute(
                    f"CREATE VIEW awsdatacatalog.{_ident(ref.database)}.{_ident(ref.table)} AS "
                    + view_sql(src, access.allowed)
                )
                q.scanned_bytes += src.scanned_bytes
                allowed_files += [str(f) for f in src.files]
            con.execute(f"CREATE SCHEMA IF NOT EXISTS awsdatacatalog.{_ident(q.database)}")
            con.execute(f"USE awsdatacatalog.{_ident(q.database)}")
            result = workdir / "result.parquet"
            csv_path = workdir / "result.csv"
            con.execute(
                "SET allowed_paths = "
                + "["
                + ", ".join(_literal(p) for p in [*allowed_files, str(result), str(csv_path)])
                + "]"
            )
            con.execute(f"SET allowed_directories = [{_literal(str(spill))}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            planning = time.monotonic()
            try:
                con.execute(f"COPY ({q.sql.strip().rstrip(';')}) TO {_literal(str(result))} (FORMAT parquet)")
            except duckdb.Error as exc:
                raise translate_error(q.sql, exc, q.database) from None
            q.planning_ms = int((time.monotonic() - planning) * 1000)
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_literal(str(result))})").fetchall()
            names = athena_names(parsed, [str(r[0]) for r in described])
            q.columns = [(n, athena_type(str(r[1]))) for n, r in zip(names, described, strict=True)]
            q.rows = pq.ParquetFile(result).metadata.num_rows
            q.result_path = result
            if q.output_uri:
                select = (
                    ", ".join(f"{_ident(str(r[0]))} AS {_ident(n)}" for n, r in zip(names, described, strict=True))
                    or "*"
                )
                con.execute(
                    f"COPY (SELECT {select} FROM read_parquet({_literal(str(result))})) "
                    f"TO {_literal(str(csv_path))} "
                    "(HEADER, DELIMITER ',', QUOTE '\"', FORCE_QUOTE *)"
                )
                self._publish(q, csv_path)
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)

    def _access(self, lf: LfState, caller: Caller, src: TableSource) -> ColumnAccess:
        requester = lf.requester(arn=caller.arn, kind=caller.kind, role_arn=caller.role_arn, account=caller.account)
        return readable_columns(
            requester, lf.grants, lf.tags, src.ref.database, src.ref.table, [c for c, _ in src.columns]
        )

    def _publish(self, q: QueryExecution, csv_path: Path) -> None:
        assert q.output_uri
        bucket, key = s3io.parse_s3_uri(q.output_uri)
        option = (q.encryption or {}).get("EncryptionOption")
        sse = {"SSE_S3": "AES256", "SSE_KMS": "aws:kms", "CSE_KMS": "aws:kms"}.get(str(option)) if option else None
        kms = (q.encryption or {}).get("KmsKey") if sse == "aws:kms" else None
        try:
            s3io.upload(
                self.account_id,
                bucket,
                key,
                csv_path,
                content_type="text/csv",
                encryption=sse,
                kms_key_id=kms,
            )
            metadata = json.dumps({"columns": [{"name": n, "type": t} for n, t in q.columns], "rows": q.rows})
            s3io.upload(self.account_id, bucket, key + ".metadata", metadata.encode(), encryption=sse, kms_key_id=kms)
        except s3io.S3Missing as exc:
            raise QueryFailed(f"Unable to verify/create output bucket {bucket}: {exc}", 2, 1001) from None
        csv_path.unlink(missing_ok=True)

    def page(self, q: QueryExecution, start: int, size: int) -> tuple[list[list[str | None]], int | None]:
        """Rows [start, start+size) as strings (None for null) and the next offset, if any."""
        assert q.result_path is not None
        f = pq.ParquetFile(q.result_path)
        rows: list[list[str | None]] = []
        seen = 0
        for rg in range(f.num_row_groups):
            n = f.metadata.row_group(rg).num_rows
            if seen + n <= start:
                seen += n
                continue
            table = f.read_row_group(rg)
            lo = max(0, start - seen)
            part = table.slice(lo, size - len(rows))
            for row in zip(*[_strings(part.column(i)) for i in range(part.num_columns)], strict=True):
                rows.append(list(row))
            seen += n
            if len(rows) >= size:
                break
        nxt = start + len(rows)
        return rows, (nxt if nxt < q.rows else None)


def _strings(col: pa.ChunkedArray) -> list[str | None]:
    if pa.types.is_boolean(col.type):
        return [None if v is None else str(v).lower() for v in col.to_pylist()]
    if pa.types.is_timestamp(col.type):
        return [None if v is None else v.isoformat(sep=" ", timespec="milliseconds") for v in col.to_pylist()]
    return [None if v is None else str(v) for v in col.to_pylist()]


def _mirror_keep_path(account_id: str, obj: s3io.S3Object, cache: Path) -> Path:
    """A local copy at cache/bucket/key (key=value folders intact for hive partitioning)."""
    dest = cache / obj.bucket / obj.key
    tag = dest.with_name(f".{dest.name}.etag")
    if not dest.exists() or not tag.exists() or tag.read_text() != obj.etag:
        s3io.download(account_id, obj.bucket, obj.key, dest)
        tag.write_text(obj.etag)
    return dest


def _query_id() -> str:
    h = secrets.token_hex(16)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
