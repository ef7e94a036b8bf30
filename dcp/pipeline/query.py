"""Run SQL in Athena as a persona's role and read the result; Lake Formation decides what comes back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from dcp.aws.errors import error_code, error_message
from dcp.aws.session import AwsContext
from dcp.pipeline.errors import AccessRefused, PipelineError
from dcp.pipeline.waiting import Deadline, poll

DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
# Athena's words for "Lake Formation / IAM said no" in StateChangeReason / AthenaError.
_DENIED_MARKERS = (
    "access denied",
    "accessdenied",
    "insufficient lake formation permission",
    "not authorized",
)


@dataclass(frozen=True)
class QueryResult:
    query_execution_id: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, str | None], ...]
    scanned_bytes: int = 0
    seconds: float = 0.0


def rows_from_pages(
    pages: Iterable[Mapping[str, Any]],
) -> tuple[tuple[str, ...], list[dict[str, str | None]]]:
    """GetQueryResults pages -> (column names, rows as dicts); the header row of a SELECT is dropped."""
    columns: tuple[str, ...] = ()
    rows: list[dict[str, str | None]] = []
    first = True
    for page in pages:
        result = page.get("ResultSet", {})
        if not columns:
            columns = tuple(c["Name"] for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", []))
        for row in result.get("Rows", []):
            values = [d.get("VarCharValue") for d in row.get("Data", [])]
            if first:
                first = False
                if tuple(values) == columns:
                    continue
            rows.append(dict(zip(columns, values, strict=False)))
    return columns, rows


def failure_reason(execution: Mapping[str, Any]) -> str:
    status = execution.get("Status", {})
    error = status.get("AthenaError", {}) or {}
    return str(error.get("ErrorMessage") or status.get("StateChangeReason") or status.get("State", "FAILED"))


def is_access_denied(reason: str) -> bool:
    low = reason.lower()
    return any(marker in low for marker in _DENIED_MARKERS)


def run_query(
    aws: AwsContext,
    workgroup: str,
    sql: str,
    *,
    database: str | None = None,
    timeout: float = 120.0,
    max_rows: int | None = None,
) -> QueryResult:
    """StartQueryExecution in `workgroup`, wait (deadline), read every result page."""
    athena = aws.client("athena")
    kwargs: dict[str, Any] = {"QueryString": sql, "WorkGroup": workgroup}
    if database:
        kwargs["QueryExecutionContext"] = {"Database": database}
    try:
        qid = athena.start_query_execution(**kwargs)["QueryExecutionId"]
    except ClientError as exc:
        if is_access_denied(f"{error_code(exc)}: {error_message(exc)}") or "AccessDenied" in error_code(exc):
            raise AccessRefused(f"Athena refused the query: {error_message(exc)}") from None
        raise
    deadline = Deadline("the Athena query", timeout)
    execution = poll(
        lambda: athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"],
        lambda e: e["Status"]["State"] in DONE,
        deadline,
        interval=0.2,
        max_interval=2.0,
        describe=lambda e: e["Status"]["State"],
    )
    state = execution["Status"]["State"]
    if state != "SUCCEEDED":
        reason = failure_reason(execution)
        if is_access_denied(reason):
            raise AccessRefused(f"Athena refused the query: {reason}")
        raise PipelineError(f"the Athena query {state.lower()}: {reason}")
    pages = []
    kwargs = {"QueryExecutionId": qid}
    fetched = 0
    while True:
        page = athena.get_query_results(**kwargs)
        pages.append(page)
        fetched += len(page.get("ResultSet", {}).get("Rows", []))
        token = page.get("NextToken")
        if not token or (max_rows is not None and fetched > max_rows):
            break
        kwargs["NextToken"] = token
    columns, rows = rows_from_pages(pages)
    if max_rows is not None:
        rows = rows[:max_rows]
    stats = execution.get("Statistics", {})
    return QueryResult(
        qid,
        columns,
        tuple(rows),
        int(stats.get("DataScannedInBytes") or 0),
        float(stats.get("TotalExecutionTimeInMillis") or 0) / 1000,
    )


def query_as(
    aws: AwsContext,
    role_arn: str,
    workgroup: str,
    sql: str,
    *,
    database: str | None = None,
    timeout: float = 120.0,
    max_rows: int | None = None,
) -> QueryResult:
    """Assume `role_arn` and run `sql` with its credentials."""
    persona_aws = aws.assume(role_arn, session_name="dcp-query")
    return run_query(persona_aws, workgroup, sql, database=database, timeout=timeout, max_rows=max_rows)


def column_values(result: QueryResult, column: str) -> list[str | None]:
    return [row.get(column) for row in result.rows]


def as_table_rows(result: QueryResult) -> Sequence[Mapping[str, Any]]:
    return result.rows
