"""The DMS stage: start (or resume) the replication task and wait until the raw bucket has the data.

DMS's own rules for StartReplicationTask: `start-replication` the first time (status `ready`),
`resume-processing` to continue a stopped full-load-and-cdc task from its checkpoint, and
`reload-target` to run a full load again. A full-load-and-cdc task that is already `running`
is capturing changes; we wait until its table statistics have caught up and stopped moving.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcp.aws.session import AwsContext
from dcp.pipeline.errors import PipelineError
from dcp.pipeline.waiting import Deadline, poll

FAILED = frozenset({"failed", "failed-move", "deleting"})
TABLE_DONE = frozenset({"Table completed", "Table cancelled", "Table error"})
#: the longest pause between two looks at the task: each pause may add as much to a round (a
#: look is DescribeReplicationTasks, DescribeTableStatistics and, while DMS holds changes back,
#: one ListObjectsV2 per changed table)
_MAX_POLL = 0.5


def find_task(aws: AwsContext, task_id: str) -> dict[str, Any]:
    dms = aws.client("dms")
    try:
        tasks = dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [task_id]}], WithoutSettings=True
        ).get("ReplicationTasks", [])
    except dms.exceptions.ResourceNotFoundFault:
        tasks = []
    if not tasks:
        raise PipelineError(f"no DMS replication task {task_id}; run `dcp up` first")
    return dict(tasks[0])


def start_type(task: Mapping[str, Any]) -> str | None:
    """The StartReplicationTaskType for the task's state, or None when it is already running."""
    status = task.get("Status", "")
    if status in ("running", "starting", "modifying", "creating", "moving", "testing"):
        return None
    if status == "ready":
        return "start-replication"
    if status in FAILED:
        return "reload-target"
    # stopped: a cdc task resumes from its checkpoint; a full-load task loads again
    if task.get("MigrationType") == "full-load":
        return "reload-target"
    if task.get("ReplicationTaskStartDate") is None and not task.get("RecoveryCheckpoint"):
        return "start-replication"
    return "resume-processing"


def table_stats(aws: AwsContext, task_arn: str) -> list[dict[str, Any]]:
    dms = aws.client("dms")
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ReplicationTaskArn": task_arn}
    while True:
        page = dms.describe_table_statistics(**kwargs)
        out.extend(page.get("TableStatistics", []))
        marker = page.get("Marker")
        if not marker:
            return out
        kwargs["Marker"] = marker


def stats_signature(stats: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    """What changes when DMS moves rows: per table, load rows and CDC counters."""
    return tuple(
        sorted(
            (
                s.get("SchemaName", ""),
                s.get("TableName", ""),
                s.get("FullLoadRows", 0),
                s.get("Inserts", 0),
                s.get("Updates", 0),
                s.get("Deletes", 0),
                s.get("TableState", ""),
            )
            for s in stats
        )
    )


def full_load_done(task: Mapping[str, Any], stats: Sequence[Mapping[str, Any]], tables: Sequence[str]) -> bool:
    """Every configured table has finished its full load."""
    if task.get("Status") in FAILED:
        return True
    states = {s.get("TableName", "").lower(): s.get("TableState", "") for s in stats}
    if not all(states.get(t.lower()) in TABLE_DONE for t in tables):
        return False
    progress = (task.get("ReplicationTaskStats") or {}).get("FullLoadProgressPercent")
    return progress is None or progress >= 100 or task.get("Status") in ("running", "stopped")


def stats_rows(stats: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "table": s.get("TableName", ""),
            "state": s.get("TableState", ""),
            "full_load_rows": s.get("FullLoadRows", 0),
            "inserts": s.get("Inserts", 0),
            "updates": s.get("Updates", 0),
            "deletes": s.get("Deletes", 0),
        }
        for s in sorted(stats, key=lambda s: s.get("TableName", ""))
    ]


@dataclass
class ReplicationResult:
    task: dict[str, Any]
    stats: list[dict[str, Any]] = field(default_factory=list)
    started_with: str | None = None


def replicate(
    aws: AwsContext,
    task_id: str,
    tables: Sequence[str],
    deadline: Deadline,
    *,
    settle_seconds: float = 3.0,
    on_update: Callable[[Mapping[str, Any], list[dict[str, Any]]], None] | None = None,
    raw_files: Callable[[str], set[str]] | None = None,
) -> ReplicationResult:
    """Bring the raw bucket up to date with the source.

    First run: `start-replication`, wait for the full load. Later runs of a change-capturing
    task: stop it (so every change so far is flushed), `resume-processing` from the checkpoint,
    and wait until the table statistics have moved and stay put for `settle_seconds`.

    The statistics count a change when DMS has read it, but the S3 target buffers changes
    (CdcMaxBatchInterval seconds, or CdcMinFileSize) before writing the file. So with
    `raw_files` (table -> the keys under its raw folder) it then waits, for every table whose
    change counters moved, until a file that was not there before the resume has been written;
    only then may Macie scan the bucket.
    """
    dms = aws.client("dms")
    task = find_task(aws, task_id)
    arn = task["ReplicationTaskArn"]
    if task.get("Status") == "running" and _is_cdc(task):
        dms.stop_replication_task(ReplicationTaskArn=arn)
        task = _wait_status(aws, task_id, {"stopped", *FAILED}, deadline, on_update)
    before_stats = table_stats(aws, arn) if task.get("Status") != "ready" else []
    before = stats_signature(before_stats) if before_stats else ()
    kind = start_type(task)
    files_before = {t: raw_files(t) for t in tables} if raw_files is not None and kind == "resume-processing" else {}
    if kind is not None:
        dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType=kind)
    wait = 0.3
    stable_since: float | None = None
    last_sig: tuple[Any, ...] | None = None
    while True:
        task = find_task(aws, task_id)
        stats = table_stats(aws, arn)
        if on_update is not None:
            on_update(task, stats)
        status = task.get("Status", "")
        if status in FAILED:
            reason = task.get("LastFailureMessage") or task.get("StopReason") or status
            raise PipelineError(f"the DMS task {task_id} failed: {reason}")
        errored = [s.get("TableName") for s in stats if s.get("TableState") == "Table error"]
        if errored:
            raise PipelineError(f"DMS could not load table(s) {', '.join(map(str, errored))}; see the task logs")
        sig = stats_signature(stats)
        if full_load_done(task, stats, tables) and status in ("running", "stopped"):
            if status == "stopped" or kind != "resume-processing":
                return ReplicationResult(task, stats, kind)
            if sig != last_sig:
                last_sig, stable_since = sig, deadline.elapsed
            # the flush is watched while the statistics settle, not after: DMS writes the
            # files CdcMaxBatchInterval after it read the changes, whatever dcp waits for
            pending = (
                _pending_cdc_files(raw_files, moved_tables(before_stats, stats, tables), files_before)
                if raw_files is not None and sig != before
                else []
            )
            if (
                stable_since is not None
                and deadline.elapsed - stable_since >= settle_seconds
                # changes arrived (or, with nothing to replicate, three settle periods passed)
                and (sig != before or deadline.elapsed >= 3 * settle_seconds)
                and not pending
            ):
                return ReplicationResult(task, stats, kind)
            status = f"{status}; DMS writing the changes of {', '.join(pending)} to S3" if pending else status
        deadline.sleep(wait, f"DMS task {status}")
        wait = min(_MAX_POLL, wait * 1.5)


def _changes(stats: Sequence[Mapping[str, Any]]) -> dict[str, tuple[int, int, int]]:
    return {
        str(s.get("TableName", "")).lower(): (
            int(s.get("Inserts", 0)),
            int(s.get("Updates", 0)),
            int(s.get("Deletes", 0)),
        )
        for s in stats
    }


def moved_tables(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]], tables: Sequence[str]
) -> list[str]:
    """The tables whose CDC counters (inserts, updates, deletes) grew."""
    old, new = _changes(before), _changes(after)
    return [t for t in tables if new.get(t.lower(), (0, 0, 0)) != old.get(t.lower(), (0, 0, 0))]


def _pending_cdc_files(
    raw_files: Callable[[str], set[str]], tables: Sequence[str], before: Mapping[str, set[str]]
) -> list[str]:
    """The tables in `tables` that have no raw file they did not have before (DMS has not flushed yet)."""
    return [t for t in tables if not (raw_files(t) - before.get(t, set()))]


def _wait_status(
    aws: AwsContext,
    task_id: str,
    wanted: set[str],
    deadline: Deadline,
    on_update: Callable[[Mapping[str, Any], list[dict[str, Any]]], None] | None,
) -> dict[str, Any]:
    return poll(
        lambda: find_task(aws, task_id),
        lambda task: task.get("Status") in wanted,
        deadline,
        interval=0.3,
        max_interval=_MAX_POLL,
        describe=lambda task: f"DMS task {task.get('Status')}",
        on_each=None if on_update is None else lambda task: on_update(task, []),
    )


def _is_cdc(task: Mapping[str, Any]) -> bool:
    return task.get("MigrationType") in ("full-load-and-cdc", "cdc")
