"""`dcp scan`: replicate with DMS, classify with Macie, print findings; `--wait` follows the workflow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from dcp.cli import App, pass_app


@click.command()
@click.option(
    "--wait/--no-wait",
    default=False,
    help="Follow the Glue workflow the findings start, to its end, and show each step.",
)
@click.option(
    "--timeout",
    type=click.IntRange(10, 24 * 3600),
    default=1800,
    show_default=True,
    help="Seconds each stage (DMS, Macie, workflow) may take.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Classify every raw object again, not only those new or changed since the last successful scan.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the objects and bytes the next Macie job would classify and its estimated cost; start nothing.",
)
@pass_app
def scan(app: App, wait: bool, timeout: int, full: bool, dry_run: bool) -> None:
    """Replicate the source (DMS), classify what is new or changed in the raw bucket (Macie), show the findings."""
    from dcp.pipeline.scan import findings_rows, job_findings, plan_scan, start_job, wait_job
    from dcp.pipeline.scan_scope import raw_objects, settle, with_tail
    from dcp.pipeline.waiting import Deadline

    names = app.names
    console = app.console
    report = _Report(app)
    if dry_run:
        _dry_run(app, report, plan_scan(app.aws, names, full=full))
        report.flush()
        return
    replication = _replicate(app, names, Deadline("the DMS replication", timeout))
    report.table(
        "DMS table statistics",
        ["table", "state", "full_load_rows", "inserts", "updates", "deletes"],
        _stats_rows(replication.stats),
        key="replication",
    )
    scope = plan_scan(app.aws, names, full=full)
    _scope_line(app, report, scope)
    if not scope.objects:
        console.success("nothing new or changed in the raw bucket since the last scan: no Macie job started")
        report.flush()
        return
    with console.progress(transient=True) as progress:
        task = progress.add_task("Macie classification job", total=None, status="waiting for uploads to settle")
        settle(scope)
        overlap = app.settings.macie.scan_overlap_seconds
        scope = with_tail(scope, raw_objects(app.aws, names.raw_bucket), overlap)
        # findings can start a workflow run any time after the job starts; allow for clock skew
        since = datetime.now(UTC) - timedelta(seconds=5)
        progress.update(task, status="starting")
        job_id = start_job(app.aws, names, scope)
        job = wait_job(
            app.aws,
            job_id,
            Deadline("the Macie classification job", timeout),
            on_each=lambda j: progress.update(task, status=str(j.get("jobStatus", ""))),
        )
    findings = job_findings(app.aws, job_id)
    console.success(f"Macie job {job.get('name', job_id)} complete: {len(findings)} finding(s)")
    report.table(
        "Findings (sensitive data per table and column)",
        ["table", "column", "types", "occurrences"],
        findings_rows(findings),
        key="findings",
    )
    if wait and not findings:
        console.warn("no sensitive data found, so no finding starts the Glue workflow; nothing to wait for")
    elif wait:
        _follow_workflow(app, report, names, since, timeout)
    report.flush()


def _scope_line(app: App, report: _Report, scope: Any) -> None:
    summary = {
        "full": scope.full,
        "reason": scope.reason,
        "since": scope.since.isoformat() if scope.since else None,
        "objects": len(scope.objects),
        "bytes": scope.bytes,
        "identifiers_fingerprint": scope.fingerprint,
        "estimated_cost_usd": round(scope.estimated_cost(app.settings.macie.scan_price_per_gb), 6),
    }
    if app.console.output == "json":
        report.document["scope"] = summary
    else:
        app.console.info(f"{scope.reason}: {len(scope.objects)} object(s), {scope.bytes} bytes")


def _dry_run(app: App, report: _Report, scope: Any) -> None:
    from dcp.pipeline.scan_scope import scope_time

    report.table(
        "Objects the next Macie job would classify (the raw bucket as it is now; no replication was run)",
        ["key", "bytes", "last_modified"],
        [{"key": o.key, "bytes": o.size, "last_modified": scope_time(o.modified)} for o in scope.objects],
        key="objects",
    )
    _scope_line(app, report, scope)
    price = app.settings.macie.scan_price_per_gb
    if app.console.output != "json":
        app.console.info(
            f"estimated Macie cost: {scope.estimated_cost(price):.6f} USD "
            f"({scope.bytes / 1024**3:.6f} GB at {price} USD/GB, macie.scan_price_per_gb; before the free tier)"
        )


class _Report:
    """Tables as they come for people; one JSON document at the end for `--output json`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.document: dict[str, Any] = {}

    def table(self, title: str, columns: list[str], rows: list[dict[str, Any]], *, key: str) -> None:
        if self.app.console.output == "json":
            self.document.setdefault(key, []).extend(rows)
        else:
            self.app.console.table(title, columns, rows, key=key)

    def flush(self) -> None:
        if self.app.console.output == "json":
            self.app.console.data(self.document)


def _stats_rows(stats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from dcp.pipeline.replicate import stats_rows

    return stats_rows(stats)


def _replicate(app: App, names: Any, deadline: Any) -> Any:
    from dcp.pipeline.lake import list_keys
    from dcp.pipeline.replicate import replicate

    tables = list(app.settings.source.tables)
    with app.console.progress(transient=True) as progress:
        task = progress.add_task("DMS replication", total=len(tables), status="")

        def update(task_record: Mapping[str, Any], stats: list[dict[str, Any]]) -> None:
            done = sum(1 for s in stats if s.get("TableState") == "Table completed")
            rows = sum(int(s.get("FullLoadRows") or 0) for s in stats)
            progress.update(task, completed=done, status=f"{task_record.get('Status', '')}, {rows} rows loaded")

        def raw_files(table: str) -> set[str]:
            return {o["Key"] for o in list_keys(app.aws, names.raw_bucket, names.raw_prefix(table))}

        return replicate(app.aws, names.replication_task, tables, deadline, on_update=update, raw_files=raw_files)


def _follow_workflow(app: App, report: _Report, names: Any, since: datetime, timeout: int) -> None:
    from dcp.pipeline.lake import newest_object_time
    from dcp.pipeline.waiting import Deadline
    from dcp.pipeline.workflow import check_runs, step_rows, wait_for_runs

    def findings_at() -> Any:
        return newest_object_time(app.aws, names.findings_bucket, names.FINDINGS_PREFIX)

    with app.console.progress(transient=True) as progress:
        task = progress.add_task(f"Glue workflow {names.workflow}", total=None, status="waiting for findings")

        def update(runs: Sequence[Mapping[str, Any]]) -> None:
            state = ", ".join(str(r.get("Status")) for r in runs) or "waiting for the findings to arrive"
            progress.update(task, status=state)

        runs = wait_for_runs(
            app.aws,
            names.workflow,
            since,
            Deadline("the Glue workflow", timeout),
            findings_at=findings_at,
            on_update=update,
        )
    for run in runs:
        report.table(
            f"Workflow run {run.get('WorkflowRunId', '')[:16]} ({run.get('Status', '')})",
            ["step", "kind", "state", "seconds", "error"],
            [{"run": run.get("WorkflowRunId", "")[:16], **row} for row in step_rows(run)],
            key="workflow",
        )
    for note in check_runs(runs, findings_at()):
        app.console.info(note)
    app.console.success("workflow finished: masked and encrypted tables are up to date")
