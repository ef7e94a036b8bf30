"""DMS replication that runs: full load from the source database into S3 in DMS's layout, then
snapshot-diff change data capture.

Full load streams each selected table (server-side cursor, `yield_per` batches) into
`<BucketFolder>/<schema>/<table>/LOAD00000001.csv`, `LOAD00000002.csv`... split at
`MaxFileSize`, CSV as DMS writes it (RFC 4180 quoting, null as `CsvNullValue`, a header when
`AddColumnName`). With `DataFormat: parquet` the same files are `.parquet`, typed from the source
columns as DMS maps them (:mod:`dcp.sandbox.emulators.dms.parquetout`), `Op` first when
`IncludeOpForFullLoad`.

CDC here is **snapshot-diff, not log-based**: for `full-load-and-cdc` (and `cdc`) tasks the
sandbox keeps, per task and table, a SQLite snapshot `<state_dir>/dms/<task>/<schema>.<table>.sqlite`
of primary key -> rendered row. A later `StartReplicationTask` with `resume-processing` diffs the
current source against it and writes the differences as one change file per table,
`<schema>/<table>/<yyyymmdd-hhmmssfff>.csv` (or `.parquet`), `Op` (I/U/D) first; a delete carries the row's last
known values. Changes made and reverted between two starts are invisible, as are intermediate
versions of a row. `reload-target` runs the full load again and resets the snapshot, as DMS does.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import MetaData, Table, create_engine, inspect, select
from sqlalchemy.engine import Engine, make_url

from dcp.sandbox.emulators.dms.csvout import (
    CsvFormat,
    SplitFileWriter,
    prefix_lines,
    render_lines,
)
from dcp.sandbox.emulators.dms.parquetout import (
    ParquetSplitWriter,
    arrow_type,
    parquet_version,
    typed_array,
    with_op,
)

log = logging.getLogger("dcp.sandbox")

BATCH_ROWS = 20_000
DEFAULT_MAX_FILE_KB = 1_048_576  # DMS's default MaxFileSize: 1 GB
KEY_SEPARATOR = "\x1f"


class ReplicationError(Exception):
    """The task cannot run; its message becomes LastFailureMessage."""


# --------------------------------------------------------------------------- source and target


@dataclass(frozen=True)
class SourceSpec:
    """How to reach the source database and which of its schemas/tables to replicate."""

    url: str
    database: str
    rules: tuple[Mapping[str, Any], ...] = ()

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()


@dataclass(frozen=True)
class TargetSpec:
    """The S3 target: bucket, folder, CSV format, split size and CDC options."""

    bucket: str
    folder: str = ""
    csv: CsvFormat = field(default_factory=CsvFormat)
    max_file_bytes: int = DEFAULT_MAX_FILE_KB * 1024
    include_op_for_full_load: bool = False
    data_format: str = "csv"  # csv | parquet
    parquet_version: str = "1.0"  # pyarrow's format version for ParquetVersion
    parquet_statistics: bool = True  # EnableStatistics
    #: Seconds a CDC file stays buffered before it is written (CdcMaxBatchInterval). DMS's default
    #: is 60; the sandbox writes at once unless the endpoint sets it, as the stack does.
    cdc_max_batch_interval: float = 0.0

    def key(self, schema: str, table: str, name: str) -> str:
        folder = self.folder.strip("/")
        return "/".join(p for p in (folder, schema, table, name) if p)

    @property
    def suffix(self) -> str:
        return ".parquet" if self.data_format == "parquet" else ".csv"

    @property
    def snapshot_format(self) -> CsvFormat:
        """How rows are rendered for the change diff: as written for CSV; for Parquet with a NULL
        marker no value has, so that NULL -> '' is a change."""
        return self.csv if self.data_format == "csv" else CsvFormat(null_value="\x00")


def _truthy(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "y", "yes", "1")


def _extra_attributes(text: str | None) -> dict[str, str]:
    """`addColumnName=true;csvDelimiter=,` -> {"addcolumnname": "true", ...}."""
    out = {}
    for part in (text or "").split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip().lower()] = v.strip()
    return out


def target_spec(s3_settings: Mapping[str, Any] | None, extra_attributes: str | None) -> TargetSpec:
    """TargetSpec from an S3 endpoint's S3Settings (and extra connection attributes)."""
    s = dict(s3_settings or {})
    extra = _extra_attributes(extra_attributes)

    def opt(name: str) -> Any:
        return s.get(name, extra.get(name.lower()))

    bucket = opt("BucketName")
    if not bucket:
        raise ReplicationError("the target endpoint has no S3Settings.BucketName")
    csv = CsvFormat(
        delimiter=opt("CsvDelimiter") or ",",
        row_delimiter=(opt("CsvRowDelimiter") or "\n").replace("\\n", "\n").replace("\\r", "\r"),
        null_value=opt("CsvNullValue") or "",
        header=_truthy(opt("AddColumnName"), False),
        rfc4180=_truthy(opt("Rfc4180"), True),
    )
    fmt = str(opt("DataFormat") or "csv").lower()
    if fmt not in ("csv", "parquet"):
        raise ReplicationError(f"the sandbox's DMS writes DataFormat csv or parquet, not {fmt}")
    max_kb = int(opt("MaxFileSize") or DEFAULT_MAX_FILE_KB)
    return TargetSpec(
        bucket=str(bucket),
        folder=str(opt("BucketFolder") or ""),
        csv=csv,
        max_file_bytes=max(1, max_kb) * 1024,
        include_op_for_full_load=_truthy(opt("IncludeOpForFullLoad"), False),
        data_format=fmt,
        parquet_version=parquet_version(opt("ParquetVersion")),
        parquet_statistics=_truthy(opt("EnableStatistics"), True),
        cdc_max_batch_interval=float(opt("CdcMaxBatchInterval") or 0),
    )


def selection_rules(table_mappings: str | None) -> tuple[Mapping[str, Any], ...]:
    if not table_mappings:
        return ()
    try:
        doc = json.loads(table_mappings)
    except json.JSONDecodeError:
        raise ReplicationError("TableMappings is not valid JSON") from None
    return tuple(r for r in doc.get("rules", []) if r.get("rule-type") == "selection")


def _like(pattern: str, name: str) -> bool:
    """DMS object-locator matching: % is any run of characters, _ one character; case-insensitive."""
    glob = pattern.replace("*", "[*]").replace("?", "[?]").replace("%", "*").replace("_", "?")
    return fnmatch.fnmatchcase(name.lower(), glob.lower())


def selected(rules: Sequence[Mapping[str, Any]], schema: str, table: str) -> bool:
    """Include/exclude selection rules as DMS applies them (no rules: everything)."""
    if not rules:
        return True
    included = False
    for rule in rules:
        loc = rule.get("object-locator", {})
        if _like(str(loc.get("schema-name", "%")), schema) and _like(str(loc.get("table-name", "%")), table):
            if rule.get("rule-action", "include") == "exclude":
                return False
            included = True
    return included


# --------------------------------------------------------------------------- source reading


@dataclass(frozen=True)
class SourceTable:
    schema: str  # the folder name DMS uses
    db_schema: str | None  # what SQLAlchemy reflects with (None: the connection's default)
    name: str


def source_tables(engine: Engine, spec: SourceSpec) -> list[SourceTable]:
    """The tables the selection rules pick, per DMS's notion of schema for the engine."""
    insp = inspect(engine)
    dialect = engine.dialect.name
    candidates: list[SourceTable] = []
    if dialect == "postgresql":
        for schema in insp.get_schema_names():
            if schema in ("information_schema",) or schema.startswith("pg_"):
                continue
            candidates += [SourceTable(schema, schema, t) for t in insp.get_table_names(schema=schema)]
    else:
        # MySQL: the database is the schema. SQLite: one schema, named after the endpoint's database.
        candidates = [SourceTable(spec.database, None, t) for t in insp.get_table_names()]
    return sorted(
        (t for t in candidates if selected(spec.rules, t.schema, t.name)),
        key=lambda t: (t.schema, t.name),
    )


def read_batches(engine: Engine, table: SourceTable) -> tuple[list[str], list[str], Iterator[pa.RecordBatch]]:
    """Column names, primary key columns, and the table's rows as Arrow batches (streamed)."""
    md = MetaData()
    t = Table(table.name, md, schema=table.db_schema, autoload_with=engine)
    columns = [c.name for c in t.columns]
    types = [arrow_type(c.type, engine.dialect.name) for c in t.columns]
    pk = [c.name for c in t.primary_key.columns]

    def batches() -> Iterator[pa.RecordBatch]:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
                select(t).order_by(*t.primary_key.columns) if pk else select(t)
            )
            for rows in result.partitions(BATCH_ROWS):
                cols = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
                yield pa.record_batch([typed_array(c, ty) for c, ty in zip(cols, types, strict=True)], names=columns)

    return columns, pk, batches()


def row_keys(batch: pa.RecordBatch, pk: Sequence[str], lines: pa.Array) -> pa.Array:
    """The snapshot key of each row: its primary key values, or the whole row without one."""
    if not pk:
        return lines
    parts = [pc.fill_null(pc.cast(batch.column(batch.schema.get_field_index(c)), pa.string()), "\x00") for c in pk]
    return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, KEY_SEPARATOR)


# --------------------------------------------------------------------------- snapshots


class Snapshot:
    """Primary key -> rendered row of one table at the last run, in a SQLite file.

    Rows are bulk-inserted unindexed; the key index is built once, before diffing.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE IF NOT EXISTS snap (k TEXT NOT NULL, line TEXT NOT NULL)")
        self.db.execute("CREATE INDEX IF NOT EXISTS snap_k ON snap (k)")

    def begin(self) -> None:
        self.db.execute("DROP TABLE IF EXISTS cur")
        self.db.execute("CREATE TABLE cur (k TEXT NOT NULL, line TEXT NOT NULL)")

    def add(self, keys: pa.Array, lines: pa.Array) -> None:
        self.db.executemany("INSERT INTO cur VALUES (?, ?)", zip(keys.to_pylist(), lines.to_pylist(), strict=True))

    def _index(self) -> None:
        self.db.execute("CREATE INDEX IF NOT EXISTS cur_k ON cur (k)")

    def commit(self) -> None:
        """Make the rows added since begin() the snapshot."""
        self.db.execute("DROP TABLE IF EXISTS snap")
        self.db.execute("DROP INDEX IF EXISTS cur_k")
        self.db.execute("ALTER TABLE cur RENAME TO snap")
        self.db.execute("CREATE INDEX snap_k ON snap (k)")
        self.db.commit()

    def changes(self) -> Iterator[tuple[str, str, str]]:
        """(op, key, line) of the rows inserted, updated and deleted between snap and cur."""
        self._index()
        q = {
            "I": "SELECT c.k, c.line FROM cur c WHERE NOT EXISTS (SELECT 1 FROM snap s WHERE s.k = c.k) ORDER BY c.k",
            "U": "SELECT c.k, c.line FROM cur c JOIN snap s ON s.k = c.k WHERE s.line <> c.line ORDER BY c.k",
            "D": "SELECT s.k, s.line FROM snap s WHERE NOT EXISTS (SELECT 1 FROM cur c WHERE c.k = s.k) ORDER BY s.k",
        }
        for op, sql in q.items():
            for key, line in self.db.execute(sql):
                yield op, key, line

    def close(self) -> None:
        self.db.close()


# --------------------------------------------------------------------------- task state


@dataclass
class TableStats:
    schema: str
    table: str
    full_load_rows: int = 0
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    state: str = "Before load"
    full_load_start: datetime | None = None
    full_load_end: datetime | None = None
    last_update: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "SchemaName": self.schema,
            "TableName": self.table,
            "Inserts": self.inserts,
            "Deletes": self.deletes,
            "Updates": self.updates,
            "Ddls": 0,
            "AppliedInserts": self.inserts,
            "AppliedDeletes": self.deletes,
            "AppliedUpdates": self.updates,
            "AppliedDdls": 0,
            "FullLoadRows": self.full_load_rows,
            "FullLoadCondtnlChkFailedRows": 0,
            "FullLoadErrorRows": 0,
            "FullLoadReloaded": False,
            "TableState": self.state,
            "ValidationPendingRecords": 0,
            "ValidationFailedRecords": 0,
            "ValidationSuspendedRecords": 0,
            "ValidationState": "Not enabled",
        }
        for key, value in (
            ("FullLoadStartTime", self.full_load_start),
            ("FullLoadEndTime", self.full_load_end),
            ("LastUpdateTime", self.last_update),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass
class TaskRun:
    """What the sandbox knows of one replication task beyond moto's record."""

    arn: str
    status: str = "ready"
    stop_reason: str | None = None
    failure: str | None = None
    tables: dict[tuple[str, str], TableStats] = field(default_factory=dict)
    fresh_start: datetime | None = None
    start: datetime | None = None
    stop: datetime | None = None
    full_load_start: datetime | None = None
    full_load_finish: datetime | None = None
    full_load_done: bool = False
    started_monotonic: float = 0.0
    elapsed_ms: int = 0
    stop_requested: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def stats(self) -> dict[str, Any]:
        states = [t.state for t in self.tables.values()]
        total = len(states)
        loaded = sum(s == "Table completed" for s in states)
        elapsed = (
            int((time.monotonic() - self.started_monotonic) * 1000)
            if self.status in ("starting", "running") and self.started_monotonic
            else self.elapsed_ms
        )
        out: dict[str, Any] = {
            "FullLoadProgressPercent": 100 if self.full_load_done else (loaded * 100 // total if total else 0),
            "ElapsedTimeMillis": elapsed,
            "TablesLoaded": loaded,
            "TablesLoading": sum(s == "Full load" for s in states),
            "TablesQueued": sum(s == "Before load" for s in states),
            "TablesErrored": sum(s == "Table error" for s in states),
        }
        for key, value in (
            ("FreshStartDate", self.fresh_start),
            ("StartDate", self.start),
            ("StopDate", self.stop),
            ("FullLoadStartDate", self.full_load_start),
            ("FullLoadFinishDate", self.full_load_finish),
        ):
            if value is not None:
                out[key] = value
        return out


def now() -> datetime:
    return datetime.now(UTC)


def cdc_file_name(at: datetime, suffix: str = ".csv") -> str:
    """DMS's change-file name: yyyymmdd-hhmmssfff.csv (or .parquet)."""
    return at.strftime("%Y%m%d-%H%M%S") + f"{at.microsecond // 1000:03d}{suffix}"


Uploader = Callable[[str, str, Path], None]  # (bucket, key, local file)


class Replication:
    """Runs one task's full load or change capture; updates a TaskRun as it goes."""

    def __init__(
        self,
        run: TaskRun,
        task_id: str,
        migration_type: str,
        source: SourceSpec,
        target: TargetSpec,
        workdir: Path,
        upload: Uploader,
    ) -> None:
        self.run, self.task_id, self.migration_type = run, task_id, migration_type
        self.source, self.target, self.workdir, self.upload = source, target, workdir, upload

    @property
    def keeps_snapshot(self) -> bool:
        return self.migration_type in ("full-load-and-cdc", "cdc")

    def snapshot(self, table: SourceTable) -> Snapshot:
        return Snapshot(self.workdir / f"{table.schema}.{table.name}.sqlite")

    def execute(self, start_type: str) -> None:
        run = self.run
        engine = create_engine(self.source.url, pool_pre_ping=True)
        try:
            tables = source_tables(engine, self.source)
            if not tables:
                raise ReplicationError("no source table matches the task's table mappings")
            for t in tables:
                run.tables.setdefault((t.schema, t.name), TableStats(t.schema, t.name))
            do_cdc = (start_type == "resume-processing" and self.keeps_snapshot and run.full_load_done) or (
                self.migration_type == "cdc" and start_type != "reload-target"
            )
            if do_cdc:
                # The task stays "starting" until the diff is written, then runs (replicating) on.
                for t in tables:
                    if run.stop_requested.is_set():
                        break
                    self.capture_changes(engine, t)
                return
            run.status = "running"
            run.full_load_start = now()
            run.full_load_done = False
            for t in tables:
                run.tables[(t.schema, t.name)] = TableStats(t.schema, t.name)
            for t in tables:
                if run.stop_requested.is_set():
                    return
                self.load_table(engine, t)
            run.full_load_finish = now()
            run.full_load_done = True
        finally:
            engine.dispose()

    def rows_store(self, table: SourceTable) -> RowStore:
        return RowStore(self.workdir / f"{table.schema}.{table.name}.rows.parquet")

    def load_table(self, engine: Engine, table: SourceTable) -> None:
        stats = self.run.tables[(table.schema, table.name)]
        stats.state, stats.full_load_start = "Full load", now()
        columns, pk, batches = read_batches(engine, table)
        target = self.target
        tmp = self.workdir / "out" / f"{table.schema}.{table.name}"
        sink = LoadSink(
            target,
            columns,
            tmp,
            lambda path, n: self.upload(
                target.bucket, target.key(table.schema, table.name, f"LOAD{n:08d}{target.suffix}"), path
            ),
        )
        snap = self.snapshot(table) if self.keeps_snapshot else None
        rows = self.rows_store(table) if snap and target.data_format == "parquet" else None
        if snap:
            snap.begin()
        try:
            for batch in batches:
                if self.run.stop_requested.is_set():
                    stats.state = "Table cancelled"
                    return
                lines = render_lines(batch, target.snapshot_format)
                sink.write(batch, lines)
                if snap:
                    keys = row_keys(batch, pk, lines)
                    snap.add(keys, lines)
                    if rows:
                        rows.add(batch, keys)
                stats.full_load_rows += batch.num_rows
            sink.close()
            if snap:
                snap.commit()
            if rows:
                rows.commit()
        finally:
            if snap:
                snap.close()
            if rows:
                rows.close()
            shutil.rmtree(tmp, ignore_errors=True)
        stats.state, stats.full_load_end, stats.last_update = "Table completed", now(), now()

    def upload_buffered(self, key: str, path: Path) -> None:
        """Write a CDC file now, or after CdcMaxBatchInterval as DMS's S3 target does (the table
        statistics already count its changes meanwhile: `dcp scan` must wait for the file)."""
        delay = self.target.cdc_max_batch_interval
        if delay <= 0:
            self.upload(self.target.bucket, key, path)
            return
        held = self.workdir / "held" / f"{time.monotonic_ns()}-{path.name}"
        held.parent.mkdir(parents=True, exist_ok=True)
        path.rename(held)

        def flush() -> None:
            try:
                self.upload(self.target.bucket, key, held)
            except Exception:
                log.exception("sandbox: DMS could not write %s", key)
            finally:
                held.unlink(missing_ok=True)

        timer = threading.Timer(delay, flush)
        timer.daemon = True
        timer.start()

    def capture_changes(self, engine: Engine, table: SourceTable) -> None:
        stats = self.run.tables[(table.schema, table.name)]
        columns, pk, batches = read_batches(engine, table)
        target = self.target
        snap = self.snapshot(table)
        rows = self.rows_store(table) if target.data_format == "parquet" else None
        try:
            snap.begin()
            for batch in batches:
                lines = render_lines(batch, target.snapshot_format)
                keys = row_keys(batch, pk, lines)
                snap.add(keys, lines)
                if rows:
                    rows.add(batch, keys)
            at = now()
            tmp = self.workdir / "out" / f"{table.schema}.{table.name}.cdc"
            tmp.mkdir(parents=True, exist_ok=True)
            path = tmp / f"changes{target.suffix}"
            if rows:
                counts = rows.write_changes(path, snap.changes(), target)
            else:
                counts = _write_csv_changes(path, snap.changes(), columns, target.csv)
            if any(counts.values()):
                key = self.target.key(table.schema, table.name, cdc_file_name(at, target.suffix))
                self.upload_buffered(key, path)
            snap.commit()
            if rows:
                rows.commit()
            shutil.rmtree(tmp, ignore_errors=True)
        finally:
            snap.close()
            if rows:
                rows.close()
        stats.inserts += counts["I"]
        stats.updates += counts["U"]
        stats.deletes += counts["D"]
        stats.state = "Table completed"
        if any(counts.values()):
            stats.last_update = at


def _write_csv_changes(
    path: Path, changes: Iterator[tuple[str, str, str]], columns: Sequence[str], fmt: CsvFormat
) -> dict[str, int]:
    counts = {"I": 0, "U": 0, "D": 0}
    with path.open("wb") as f:
        if fmt.header:
            f.write(fmt.header_line(["Op", *columns]))
        for op, _key, line in changes:
            counts[op] += 1
            f.write(f"{op}{fmt.delimiter}{line}{fmt.row_delimiter}".encode())
    return counts


class LoadSink:
    """The full-load files of one table: CSV lines or typed Parquet batches, `Op` first when
    IncludeOpForFullLoad, split at MaxFileSize."""

    def __init__(self, target: TargetSpec, columns: Sequence[str], tmp: Path, ship: Callable[[Path, int], None]):
        self.target, self.op = target, target.include_op_for_full_load
        self.parquet: ParquetSplitWriter | None = None
        self.csv: SplitFileWriter | None = None
        if target.data_format == "parquet":
            self.parquet = ParquetSplitWriter(
                tmp,
                target.max_file_bytes,
                ship,
                version=target.parquet_version,
                statistics=target.parquet_statistics,
            )
        else:
            fmt = target.csv
            header = fmt.header_line((["Op"] if self.op else []) + list(columns)) if fmt.header else b""
            self.csv = SplitFileWriter(tmp, header, target.max_file_bytes, ship)

    def write(self, batch: pa.RecordBatch, lines: pa.Array) -> None:
        """``lines``: the batch rendered as the CSV target writes it (unused for Parquet)."""
        if self.parquet is not None:
            ops = pa.repeat(pa.scalar("I", pa.string()), batch.num_rows)
            self.parquet.write(with_op(batch, ops) if self.op else pa.Table.from_batches([batch]))
        elif self.csv is not None:
            fmt = self.target.csv
            self.csv.write(prefix_lines(lines, "I" + fmt.delimiter) if self.op else lines, fmt.row_delimiter)

    def close(self) -> None:
        for writer in (self.parquet, self.csv):
            if writer is not None:
                writer.close()


class RowStore:
    """A table's typed rows at the last run (Parquet, each with its snapshot key) beside the
    Snapshot, so that a Parquet change file carries rows with their types: inserts and updates
    from this run's rows, deletes with the row's last known values."""

    KEY = "__dcp_key"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.next = path.with_name(path.name + ".next")
        self._writer: pq.ParquetWriter | None = None

    def add(self, batch: pa.RecordBatch, keys: pa.Array) -> None:
        table = pa.Table.from_batches([batch]).append_column(self.KEY, pc.cast(keys, pa.string()))
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self.next), table.schema)
        elif table.schema != self._writer.schema:
            table = table.cast(self._writer.schema)
        self._writer.write_table(table)

    def _finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _select(self, path: Path, ops: Mapping[str, str]) -> Iterator[pa.Table]:
        if not ops or not path.exists():
            return
        wanted = pa.array(list(ops), pa.string())
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            keys = batch.column(batch.schema.get_field_index(self.KEY))
            chosen = pa.Table.from_batches([batch]).filter(pc.is_in(keys, value_set=wanted))
            if chosen.num_rows:
                op = pa.array([ops[k] for k in chosen.column(self.KEY).to_pylist()], pa.string())
                yield with_op(chosen.drop_columns([self.KEY]), op)

    def write_changes(self, path: Path, changes: Iterator[tuple[str, str, str]], target: TargetSpec) -> dict[str, int]:
        """The change file of this run (Op first) at ``path``; the I/U/D counts."""
        self._finish()
        current: dict[str, str] = {}
        deleted: dict[str, str] = {}
        for op, key, _line in changes:
            (deleted if op == "D" else current)[key] = op
        counts = {"I": 0, "U": 0, "D": 0}
        writer: pq.ParquetWriter | None = None
        try:
            for part in [*self._select(self.next, current), *self._select(self.path, deleted)]:
                if writer is None:
                    writer = pq.ParquetWriter(
                        str(path),
                        part.schema,
                        version=target.parquet_version,
                        write_statistics=target.parquet_statistics,
                    )
                elif part.schema != writer.schema:
                    part = part.cast(writer.schema)
                writer.write_table(part)
                for op in part.column(0).to_pylist():
                    counts[op] += 1
        finally:
            if writer is not None:
                writer.close()
        return counts

    def commit(self) -> None:
        """Make the rows added this run the stored ones."""
        self._finish()
        if self.next.exists():
            self.next.replace(self.path)
        else:
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        self._finish()
        self.next.unlink(missing_ok=True)
