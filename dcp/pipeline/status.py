"""`dcp status`'s pipeline section: last DMS run, last Macie job, last workflow run, rows, grants.

Each part is read independently; one that cannot be read (not deployed yet, access denied)
becomes a row saying so instead of failing the whole status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dcp.aws.errors import error_code, error_message
from dcp.aws.session import AwsContext
from dcp.config import Persona
from dcp.names import StackNames
from dcp.pipeline.errors import PipelineError
from dcp.pipeline.grant import existing_grants, grants_table, list_principal_permissions
from dcp.pipeline.lake import prefix_row_count, raw_current_ids
from dcp.pipeline.replicate import find_task, stats_rows, table_stats
from dcp.pipeline.workflow import get_run, list_runs, step_rows


@dataclass(frozen=True)
class StatusSection:
    """One titled table of `dcp status`."""

    title: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "rows": self.rows}


def _unavailable(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return f"unavailable: {error_code(exc)} {error_message(exc)}".strip()
    return f"unavailable: {exc}"


def _guard(title: str, columns: Sequence[str], read: Callable[[], list[dict[str, Any]]]) -> StatusSection:
    try:
        rows = read()
    except (ClientError, BotoCoreError, PipelineError, KeyError, ValueError) as exc:
        rows = [{columns[0]: _unavailable(exc)}]
    return StatusSection(title, tuple(columns), rows)


def dms_rows(task: Mapping[str, Any]) -> list[dict[str, Any]]:
    stats = task.get("ReplicationTaskStats") or {}
    return [
        {
            "task": task.get("ReplicationTaskIdentifier", ""),
            "status": task.get("Status", ""),
            "type": task.get("MigrationType", ""),
            "started": stats.get("StartDate") or task.get("ReplicationTaskStartDate"),
            "full_load": f"{stats.get('FullLoadProgressPercent', 0)}%",
            "tables_loaded": stats.get("TablesLoaded", 0),
            "stop_reason": task.get("StopReason") or task.get("LastFailureMessage") or "",
        }
    ]


def latest_job(jobs: Sequence[Mapping[str, Any]], prefix: str) -> Mapping[str, Any] | None:
    """The newest classification job `dcp scan` created for this stack (name `<prefix>-scan-...`)."""
    ours = [j for j in jobs if str(j.get("name", "")).startswith(f"{prefix}-scan-")]
    return max(ours, key=lambda j: str(j.get("createdAt", "")), default=None)


def _macie(aws: AwsContext, names: StackNames) -> list[dict[str, Any]]:
    macie = aws.client("macie2")
    jobs: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = macie.list_classification_jobs(**kwargs)
        jobs.extend(page.get("items", []))
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    job = latest_job(jobs, names.prefix)
    if job is None:
        return [{"job": "none yet (run `dcp scan`)"}]
    count = 0
    kwargs = {"findingCriteria": {"criterion": {"classificationDetails.jobId": {"eq": [job["jobId"]]}}}}
    while True:
        page = macie.list_findings(**kwargs)
        count += len(page.get("findingIds", []))
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return [
        {
            "job": job.get("name", job["jobId"]),
            "status": job.get("jobStatus", ""),
            "created": job.get("createdAt"),
            "findings": count,
        }
    ]


def _workflow(aws: AwsContext, names: StackNames) -> list[dict[str, Any]]:
    runs = list_runs(aws, names.workflow, limit=1)
    if not runs:
        return [{"step": "no run yet (findings start one)"}]
    run = get_run(aws, names.workflow, runs[0]["WorkflowRunId"])
    header = {
        "step": f"run {run.get('WorkflowRunId', '')}",
        "kind": "workflow",
        "state": run.get("Status", ""),
        "seconds": None,
        "error": run.get("ErrorMessage") or "",
    }
    if run.get("StartedOn") and run.get("CompletedOn"):
        header["seconds"] = round((run["CompletedOn"] - run["StartedOn"]).total_seconds(), 1)
    return [header, *step_rows(run)]


def _rows(aws: AwsContext, names: StackNames) -> list[dict[str, Any]]:
    out = []
    for table in names.settings.source.tables:
        raw = raw_current_ids(aws, names.raw_bucket, names.raw_prefix(table))
        out.append(
            {
                "table": table,
                "raw": len(raw),
                "masked": prefix_row_count(aws, names.curated_bucket, names.masked_prefix(table)),
                "encrypted": prefix_row_count(aws, names.curated_bucket, names.encrypted_prefix(table)),
            }
        )
    return out


def persona_rows(aws: AwsContext, names: StackNames, personas: Mapping[str, Persona]) -> list[dict[str, Any]]:
    out = []
    for name, persona in personas.items():
        principal = names.persona_role_arn(name)
        grants = grants_table(existing_grants(list_principal_permissions(aws, principal), principal))
        out.append(
            {
                "persona": name,
                "role": names.persona_role(name),
                "decrypt": persona.decrypt,
                "grants": "; ".join(f"{g['permissions']} on {g['on']} {g['expression']}" for g in grants)
                or "none (run `dcp grant --all`)",
            }
        )
    return out


def pipeline_status(aws: AwsContext, names: StackNames) -> list[StatusSection]:
    """Every pipeline section of `dcp status`."""
    settings = names.settings

    def dms() -> list[dict[str, Any]]:
        return dms_rows(find_task(aws, names.replication_task))

    def dms_tables() -> list[dict[str, Any]]:
        return stats_rows(table_stats(aws, find_task(aws, names.replication_task)["ReplicationTaskArn"]))

    return [
        _guard(
            "Last DMS run",
            ("task", "status", "type", "started", "full_load", "tables_loaded", "stop_reason"),
            dms,
        ),
        _guard(
            "DMS table statistics",
            ("table", "state", "full_load_rows", "inserts", "updates", "deletes"),
            dms_tables,
        ),
        _guard("Last Macie job", ("job", "status", "created", "findings"), lambda: _macie(aws, names)),
        _guard("Last workflow run", ("step", "kind", "state", "seconds", "error"), lambda: _workflow(aws, names)),
        _guard("Rows per table", ("table", "raw", "masked", "encrypted"), lambda: _rows(aws, names)),
        _guard(
            "Personas and grants",
            ("persona", "role", "decrypt", "grants"),
            lambda: persona_rows(aws, names, settings.lakeformation.personas),
        ),
    ]
