"""Athena queries on DuckDB over the Glue tables' S3 data, with Lake Formation column enforcement.

Each query is parsed once by SQLGlot (:mod:`.sql`). Every Glue table it reads is loaded into
the query's own in-memory DuckDB (memory limit, spill directory) with only the columns the
caller may read per Lake Formation, and the query is qualified against exactly those
columns, so a hidden column is unknown through any alias, CTE, subquery, `USING` or `*`.
Then DuckDB's file access is switched off except for the query's result file, and the
DuckDB SQL generated from the same parse runs. Results go to `<output>/<QueryExecutionId>.csv`
(+ `.metadata`) with the workgroup's encryption, formatted as Athena formats them
(:mod:`.results`). CTAS and UNLOAD write Parquet to S3 (and a Glue table for CTAS); SHOW,
DESCRIBE and the DDL subset are answered from the Glue catalog (:mod:`.catalog`).
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.athena import results, sql
from dcp.sandbox.emulators.athena.sql import Statement
from dcp.sandbox.emulators.glue import s3io
from dcp.sandbox.emulators.lakeformation.models import LfState, read_state
from dcp.sandbox.identity import Principal
from dcp.sandbox.lf_eval import ColumnAccess, Requester, readable_columns

log = logging.getLogger("dcp.sandbox")

MEMORY_LIMIT = "512MB"
# Queries that run at once per sandbox; the others wait QUEUED (memory stays bounded).
MAX_CONCURRENT_QUERIES = 2
_running = threading.BoundedSemaphore(MAX_CONCURRENT_QUERIES)


def now() -> datetime:
    return datetime.now(UTC)


def duck_type(glue_type: str) -> str:
    """The DuckDB type of a Glue (Hive) column type (nested types included)."""
    return sql.glue_type(glue_type).sql("duckdb")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class QueryFailed(Exception):
    """The query fails; the message is Athena's StateChangeReason."""

    def __init__(self, message: str, error_category: int = 2, error_type: int = 1006) -> None:
        super().__init__(message)
        self.error_category, self.error_type = error_category, error_type


def translate_error(query: str, exc: Exception) -> QueryFailed:
    """A DuckDB error as Athena's StateChangeReason."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, duckdb.InterruptException):
        return QueryFailed("Query cancelled by user", 2, 1001)
    if isinstance(exc, duckdb.ConversionException | duckdb.InvalidInputException):
        return QueryFailed(f"INVALID_CAST_ARGUMENT: {text}")
    if isinstance(exc, duckdb.BinderException | duckdb.CatalogException):
        return QueryFailed(f"SYNTAX_ERROR: line 1:1: {text}")
    if isinstance(exc, duckdb.ParserException):
        return QueryFailed(f"SYNTAX_ERROR: {text}")
    return QueryFailed(f"GENERIC_INTERNAL_ERROR: {text}", 1, 1000)


@dataclass
class TableSource:
    """A Glue table resolved to local files and typed columns."""

    ref: sql.TableName
    columns: list[tuple[str, str]]  # (name, glue type), partition keys last
    partition_keys: list[str]
    classification: str
    files: list[Path]
    header: bool
    delimiter: str
    scanned_bytes: int
    location: str | None


def view_sql(src: TableSource, allowed: Sequence[str], cache: Path | None = None) -> str:
    """SELECT over the table's files, casting to the Glue types, only the `allowed` columns.

    With `cache` given, also `"$path"`: the S3 URI of each row's object."""
    types = dict(src.columns)
    select = [f"TRY_CAST({_ident(c)} AS {duck_type(types[c])}) AS {_ident(c)}" for c in allowed]
    if cache is not None:
        select.append(f"'s3://' || substr(filename, {len(str(cache)) + 2}) AS {_ident(sql.PATH_COLUMN)}")
    if not src.files:
        empty = [f"CAST(NULL AS {duck_type(types[c])}) AS {_ident(c)}" for c in allowed]
        if cache is not None:
            empty.append(f"CAST(NULL AS VARCHAR) AS {_ident(sql.PATH_COLUMN)}")
        return f"SELECT {', '.join(empty) or 'NULL AS __no_column'} WHERE false"
    files = "[" + ", ".join(_literal(str(f)) for f in src.files) + "]"
    hive = ", hive_partitioning = true" if src.partition_keys else ""
    hive += ", filename = true" if cache is not None else ""
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
    return f"SELECT {', '.join(select) or 'NULL AS __no_column'} FROM {source}"


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
    statement: Statement
    parameters: list[str] = field(default_factory=list)
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
    columns: list[results.ColumnType] = field(default_factory=list)
    rows: int = 0
    header: bool = True  # DML results start with a header row; SHOW/DESCRIBE do not
    update_count: int = 0
    manifest: str | None = None
    principal: Principal | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    connection: duckdb.DuckDBPyConnection | None = None

    @property
    def output_uri(self) -> str | None:
        if not self.output_location:
            return None
        suffix = ".csv" if self.statement.statement_type == "DML" else ".txt"
        return self.output_location.rstrip("/") + f"/{self.query_id}{suffix}"

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
        statistics: dict[str, Any] = {
            "EngineExecutionTimeInMillis": self.engine_ms,
            "DataScannedInBytes": self.scanned_bytes,
            "TotalExecutionTimeInMillis": total,
            "QueryQueueTimeInMillis": self.queue_ms,
            "QueryPlanningTimeInMillis": self.planning_ms,
            "ServicePreProcessingTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": 0,
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        if self.manifest:
            statistics["DataManifestLocation"] = self.manifest
        out: dict[str, Any] = {
            "QueryExecutionId": self.query_id,
            "Query": self.sql,
            "StatementType": self.statement.statement_type,
            "ResultConfiguration": result_config,
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status,
            "Statistics": statistics,
            "WorkGroup": self.workgroup,
            "EngineVersion": {
                "SelectedEngineVersion": "AUTO",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }
        if self.parameters:
            out["ExecutionParameters"] = list(self.parameters)
        if self.statement.kind == "ctas" and self.statement.table is not None:
            out["SubstatementType"] = "CREATE_TABLE_AS_SELECT"
        return out


@dataclass(frozen=True)
class Caller:
    """The principal of the StartQueryExecution call."""

    arn: str
    kind: str
    role_arn: str | None
    account: str

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        return cls(principal.arn, principal.kind, principal.role_arn, principal.account)


@dataclass
class PreparedStatement:
    name: str
    workgroup: str
    query: str
    description: str | None
    modified: datetime = field(default_factory=now)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StatementName": self.name,
            "QueryStatement": self.query,
            "WorkGroupName": self.workgroup,
            "LastModifiedTime": self.modified,
        }
        if self.description:
            out["Description"] = self.description
        return out


class AthenaQueries:
    """Query executions and prepared statements of one account/region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id, self.region = account_id, region
        self.executions: dict[str, QueryExecution] = {}
        self.prepared: dict[tuple[str, str], PreparedStatement] = {}
        self.lock = threading.Lock()

    def get(self, query_id: str) -> QueryExecution | None:
        with self.lock:
            return self.executions.get(query_id)

    def in_workgroup(self, workgroup: str) -> list[QueryExecution]:
        with self.lock:
            return [q for q in reversed(self.executions.values()) if q.workgroup == workgroup]

    def start(
        self,
        statement: sql.Statement,
        *,
        database: str,
        catalog: str,
        workgroup: str,
        output_location: str | None,
        encryption: Mapping[str, Any] | None,
        caller: Caller,
        state_dir: Path,
        parameters: Sequence[str] = (),
        principal: Principal | None = None,
    ) -> QueryExecution:
        q = QueryExecution(
            query_id=_query_id(),
            sql=statement.sql,
            database=database,
            catalog=catalog,
            workgroup=workgroup,
            output_location=output_location,
            encryption=encryption,
            submitted=now(),
            statement=statement,
            parameters=list(parameters),
            principal=principal,
        )
        with self.lock:
            self.executions[q.query_id] = q
        threading.Thread(
            target=self._run, args=(q, caller, state_dir), name=f"athena-{q.query_id[:8]}", daemon=True
        ).start()
        return q

    def stop(self, query_id: str) -> None:
        """Cancel a queued query, or interrupt DuckDB in the middle of a running one."""
        q = self.get(query_id)
        if q is not None and q.state in ("QUEUED", "RUNNING"):
            q.cancel.set()
            con = q.connection
            if con is not None:
                con.interrupt()

    def _run(self, q: QueryExecution, caller: Caller, state_dir: Path) -> None:
        workdir = state_dir / "athena" / "queries" / q.query_id
        with _running:
            started = time.monotonic()
            q.queue_ms = int((now() - q.submitted).total_seconds() * 1000)
            if q.cancel.is_set():
                q.state, q.completed = "CANCELLED", now()
                return
            q.state = "RUNNING"
            try:
                self.execute(q, caller, state_dir, workdir)
                q.state = "CANCELLED" if q.cancel.is_set() else "SUCCEEDED"
            except QueryFailed as exc:
                q.state, q.reason = ("CANCELLED", None) if q.cancel.is_set() else ("FAILED", str(exc))
                if q.state == "FAILED":
                    q.error_category, q.error_type = exc.error_category, exc.error_type
            except sql.SqlError as exc:
                q.state, q.reason = "FAILED", str(exc)
                q.error_category, q.error_type = 2, exc.error_type
            except Exception as exc:
                log.exception("sandbox: Athena query %s failed", q.query_id)
                q.state, q.reason = "FAILED", f"GENERIC_INTERNAL_ERROR: {type(exc).__name__}: {exc}"
                q.error_category, q.error_type = 1, 1000
            q.engine_ms = int((time.monotonic() - started) * 1000)
            q.completed = now()

    # ------------------------------------------------------------------ catalog access

    def glue(self) -> Any:
        glue_backends = moto_compat.backends("glue")
        return glue_backends[self.account_id][self.region]

    def glue_table(self, ref: sql.TableName) -> Mapping[str, Any] | None:
        db = self.glue().databases.get(ref.database)
        table = db.tables.get(ref.table) if db is not None else None
        if table is None:
            return None
        return dict(table.get_version(str(table._current_version)))

    def table_source(self, ref: sql.TableName, cache: Path) -> TableSource | None:
        t = self.glue_table(ref)
        if t is None:
            return None
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
            location=location,
        )

    def requester(self, lf: LfState, caller: Caller) -> Requester:
        return lf.requester(arn=caller.arn, kind=caller.kind, role_arn=caller.role_arn, account=caller.account)

    def _access(self, lf: LfState, caller: Caller, src: TableSource) -> ColumnAccess:
        return readable_columns(
            self.requester(lf, caller), lf.grants, lf.tags, src.ref.database, src.ref.table, [c for c, _ in src.columns]
        )

    # ------------------------------------------------------------------ execution

    def execute(self, q: QueryExecution, caller: Caller, state_dir: Path, workdir: Path) -> None:
        from dcp.sandbox.emulators.athena import catalog

        statement = self.bound_statement(q)
        if statement.kind in ("select", "ctas", "unload"):
            assert statement.tree is not None
            self.run_query(q, statement, caller, state_dir, workdir)
            return
        lines = catalog.answer(self, q, statement, caller)
        workdir.mkdir(parents=True, exist_ok=True)
        result = workdir / "result.parquet"
        column = {
            "show_tables": "tab_name",
            "show_databases": "database_name",
            "show_columns": "field",
            "show_create_table": "createtab_stmt",
            "describe": "col_name",
            "msck": "result",
        }.get(statement.kind)
        q.header = False
        if column is None:  # DDL: no result rows
            pq.write_table(pa.table({"_": pa.array([], pa.string())}).select([]), result)
            q.columns = []
        else:
            pq.write_table(pa.table({column: pa.array(lines, pa.string())}), result)
            q.columns = [results.column_type(column, pa.string())]
        q.rows = len(lines) if column else 0
        q.result_path = result
        if q.output_uri:
            self._publish(q, workdir / "result.out", "\n".join(lines) + ("\n" if lines else ""))

    def bound_statement(self, q: QueryExecution) -> sql.Statement:
        """The statement to run: EXECUTE's prepared statement, `?` bound to the parameters."""
        statement = q.statement if q.statement.kind != "invalid" else sql.parse(q.sql, q.database)
        values: list[exp.Expr] = sql.parameter_values(q.parameters)
        if statement.kind == "execute":
            with self.lock:
                prepared = self.prepared.get((q.workgroup, statement.name or ""))
            if prepared is None:
                raise sql.SqlError(f"PREPARED_STATEMENT_NOT_FOUND: Prepared statement not found: {statement.name}")
            values = sql.parameter_values(statement.using) + values
            statement = sql.parse(prepared.query, q.database)
        if statement.tree is not None and statement.kind in ("select", "ctas", "unload"):
            statement.tree = sql.bind(statement.tree, values)
        elif values:
            raise sql.SqlError("INVALID_PARAMETER_USAGE: this statement takes no parameters")
        return statement

    def load_tables(
        self, con: duckdb.DuckDBPyConnection, tree: exp.Expr, q: QueryExecution, caller: Caller, cache: Path
    ) -> dict[sql.TableName, list[tuple[str, exp.DataType]]]:
        """Load each table the query reads, only its readable columns; the schema qualify checks against."""
        refs = sql.referenced_tables(tree, q.database)
        lf = read_state(self.account_id, self.region)
        with_path = sql.uses_path_column(tree)
        schema: dict[sql.TableName, list[tuple[str, exp.DataType]]] = {}
        con.execute(f"ATTACH ':memory:' AS {sql.CATALOG}")
        for ref in refs:
            src = self.table_source(ref, cache)
            if src is None:
                line, col = sql.position(q.sql, ref.table)
                name = f"{sql.CATALOG}.{ref.database}.{ref.table}"
                raise QueryFailed(f"TABLE_NOT_FOUND: line {line}:{col}: Table '{name}' does not exist")
            access = self._access(lf, caller, src)
            if not access.any:
                raise QueryFailed(
                    f"Insufficient Lake Formation permission(s) on {ref.table} "
                    "(Service: AmazonDataCatalog; Status Code: 400; Error Code: AccessDeniedException)",
                    2,
                    1003,
                )
            if src.location and q.principal is not None:
                # Lake Formation reads a registered location with the registering role's rights, an
                # unregistered one with the caller's own (IAM and the objects' KMS key).
                from dcp.sandbox.locations import can_read_location

                denied = can_read_location(q.principal, str(src.location), self.account_id, self.region)
                if denied:
                    raise QueryFailed(f"Permission denied on S3 path: {src.location}: {denied}", 2, 1003)
            types = dict(src.columns)
            schema[ref] = [(c, sql.glue_type(types[c])) for c in access.allowed]
            if with_path:
                schema[ref].append((sql.PATH_COLUMN, exp.DataType.build("varchar")))
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {sql.CATALOG}.{_ident(ref.database)}")
            try:
                con.execute(
                    f"CREATE TABLE {sql.CATALOG}.{_ident(ref.database)}.{_ident(ref.table)} AS "
                    + view_sql(src, access.allowed, cache if with_path else None)
                )
            except duckdb.Error as exc:
                raise QueryFailed(f"HIVE_BAD_DATA: Error reading table {ref.database}.{ref.table}: {exc}") from None
            q.scanned_bytes += src.scanned_bytes
        return schema

    def run_query(
        self, q: QueryExecution, statement: sql.Statement, caller: Caller, state_dir: Path, workdir: Path
    ) -> None:
        from dcp.sandbox.emulators.athena import catalog

        assert statement.tree is not None
        workdir.mkdir(parents=True, exist_ok=True)
        spill = workdir / "spill"
        spill.mkdir(exist_ok=True)
        con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": 2, "temp_directory": str(spill)})
        q.connection = con
        try:
            if statement.kind == "ctas":
                catalog.check_ctas(self, q, statement, caller)
            schema = self.load_tables(con, statement.tree, q, caller, state_dir / "athena" / "cache")
            duck_sql, names = sql.transpile_query(statement.tree, schema, q.database, q.sql)
            con.execute(f"USE {sql.CATALOG}.main")
            result = workdir / "result.parquet"
            # From here on DuckDB reads no file and writes only the result.
            con.execute(f"SET allowed_paths = [{_literal(str(result))}]")
            con.execute(f"SET allowed_directories = [{_literal(str(spill))}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            planning = time.monotonic()
            if q.cancel.is_set():  # stopped before DuckDB started: interrupt() would not reach it
                raise QueryFailed("Query cancelled by user", 2, 1001)
            try:
                con.execute(f"COPY ({duck_sql}) TO {_literal(str(result))} (FORMAT parquet)")
            except duckdb.Error as exc:
                raise translate_error(q.sql, exc) from None
            q.planning_ms = int((time.monotonic() - planning) * 1000)
            arrow_schema = pq.read_schema(result)
            if len(names) != len(arrow_schema.names):
                names = list(arrow_schema.names)
            if statement.kind in ("ctas", "unload"):
                catalog.write_table_data(self, q, statement, result, names)
                return
            q.columns = [results.column_type(n, f.type) for n, f in zip(names, arrow_schema, strict=True)]
            q.rows = pq.ParquetFile(result).metadata.num_rows
            q.result_path = result
            if q.output_uri:
                self._publish(q, workdir / "result.csv", None)
        finally:
            q.connection = None
            con.close()
            shutil.rmtree(spill, ignore_errors=True)

    def _encryption(self, q: QueryExecution) -> tuple[str | None, str | None]:
        option = (q.encryption or {}).get("EncryptionOption")
        sse = {"SSE_S3": "AES256", "SSE_KMS": "aws:kms", "CSE_KMS": "aws:kms"}.get(str(option)) if option else None
        kms = (q.encryption or {}).get("KmsKey") if sse == "aws:kms" else None
        return sse, kms

    def put(self, q: QueryExecution, uri: str, source: Path | bytes, content_type: str = "binary/octet-stream") -> None:
        """Store one output object with the query's result encryption."""
        bucket, key = s3io.parse_s3_uri(uri)
        sse, kms = self._encryption(q)
        try:
            s3io.upload(self.account_id, bucket, key, source, content_type=content_type, encryption=sse, kms_key_id=kms)
        except s3io.S3Missing as exc:
            raise QueryFailed(f"Unable to verify/create output bucket {bucket}: {exc}", 2, 1001) from None

    def _publish(self, q: QueryExecution, path: Path, text: str | None) -> None:
        """The result object (CSV with header for DML, plain lines for SHOW/DESCRIBE) and its .metadata."""
        from dcp.sandbox.emulators.athena import gates

        assert q.output_uri
        gates.check_write_location(self, q, q.output_uri)
        if text is None:
            with path.open("w", encoding="utf-8", newline="") as out:
                out.write(results.csv_line(c.name for c in q.columns))
                assert q.result_path is not None
                f = pq.ParquetFile(q.result_path)
                for rg in range(f.num_row_groups):
                    for row in results.rows(f.read_row_group(rg)):
                        out.write(results.csv_line(row))
            self.put(q, q.output_uri, path, "text/csv")
            path.unlink(missing_ok=True)
        else:
            self.put(q, q.output_uri, text.encode(), "text/plain")
        metadata = json.dumps({"columns": [c.column_info() for c in q.columns], "rows": q.rows})
        self.put(q, q.output_uri + ".metadata", metadata.encode())

    def page(self, q: QueryExecution, start: int, size: int) -> tuple[list[list[str | None]], int | None]:
        """Rows [start, start+size) as Athena's strings (None for null) and the next offset, if any."""
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
            rows.extend(results.rows(table.slice(lo, size - len(rows))))
            seen += n
            if len(rows) >= size:
                break
        nxt = start + len(rows)
        return rows, (nxt if nxt < q.rows else None)


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
