"""Following the Glue workflow a scan sets off: pick the runs it started, read each step's state."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dcp.aws.session import AwsContext
from dcp.pipeline.errors import PipelineError
from dcp.pipeline.waiting import Deadline, poll

RUN_DONE = frozenset({"COMPLETED", "STOPPED", "ERROR"})
STEP_FAILED = frozenset({"FAILED", "ERROR", "TIMEOUT", "STOPPED", "CANCELLED", "EXPIRED"})


@dataclass(frozen=True)
class StepRun:
    """The latest run of one crawler or job node of a workflow run."""

    kind: str  # crawler | job
    name: str
    state: str
    started: datetime | None = None
    completed: datetime | None = None
    error: str = ""

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.completed is None:
            return None
        return (self.completed - self.started).total_seconds()

    @property
    def failed(self) -> bool:
        return self.state in STEP_FAILED


def steps_of(run: Mapping[str, Any]) -> list[StepRun]:
    """The crawler and job steps of a GetWorkflowRun(IncludeGraph) run, in the order they started."""
    steps: list[StepRun] = []
    for node in (run.get("Graph") or {}).get("Nodes", []):
        kind = node.get("Type", "")
        if kind == "JOB":
            runs = (node.get("JobDetails") or {}).get("JobRuns") or []
            last = max(runs, key=_started, default=None)
            state_key = "JobRunState"
        elif kind == "CRAWLER":
            runs = (node.get("CrawlerDetails") or {}).get("Crawls") or []
            last = max(runs, key=_started, default=None)
            state_key = "State"
        else:
            continue
        if last is None:
            steps.append(StepRun(kind.lower(), node.get("Name", ""), "NOT_STARTED"))
            continue
        steps.append(
            StepRun(
                kind.lower(),
                node.get("Name", ""),
                str(last.get(state_key, "")),
                last.get("StartedOn"),
                last.get("CompletedOn"),
                str(last.get("ErrorMessage") or ""),
            )
        )
    far = datetime.max
    return sorted(
        steps,
        key=lambda s: (
            (s.started.replace(tzinfo=None) if s.started else far),
            s.name,
        ),
    )


def _started(entry: Mapping[str, Any]) -> datetime:
    value = entry.get("StartedOn")
    return value.replace(tzinfo=None) if isinstance(value, datetime) else datetime.min


def runs_since(runs: Sequence[Mapping[str, Any]], since: datetime) -> list[Mapping[str, Any]]:
    """Runs started at or after `since` (timezone-aware comparison), oldest first."""
    out = [r for r in runs if isinstance(r.get("StartedOn"), datetime) and r["StartedOn"] >= since]
    return sorted(out, key=lambda r: r["StartedOn"])


def run_failure(run: Mapping[str, Any]) -> str | None:
    """One line naming the failed step and its error, or None if the run succeeded."""
    for step in steps_of(run):
        if step.failed:
            return f"{step.kind} {step.name} {step.state}: {step.error or 'no error message'}"
    status = run.get("Status")
    if status in ("STOPPED", "ERROR"):
        return f"workflow run {run.get('WorkflowRunId', '')} {status}: {run.get('ErrorMessage') or ''}".strip()
    stats = run.get("Statistics") or {}
    failed = sum(int(stats.get(k) or 0) for k in ("FailedActions", "TimeoutActions", "ErroredActions"))
    if failed:
        return f"workflow run {run.get('WorkflowRunId', '')}: {failed} step(s) failed"
    return None


def step_rows(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows for printing: step, kind, state, seconds, error."""
    return [
        {
            "step": s.name,
            "kind": s.kind,
            "state": s.state,
            "seconds": None if s.seconds is None else round(s.seconds, 1),
            "error": s.error,
        }
        for s in steps_of(run)
    ]


def list_runs(aws: AwsContext, workflow: str, *, limit: int = 25) -> list[dict[str, Any]]:
    glue = aws.client("glue")
    return list(glue.get_workflow_runs(Name=workflow, IncludeGraph=False, MaxResults=limit).get("Runs", []))


def get_run(aws: AwsContext, workflow: str, run_id: str) -> dict[str, Any]:
    glue = aws.client("glue")
    return dict(glue.get_workflow_run(Name=workflow, RunId=run_id, IncludeGraph=True)["Run"])


def last_job_success(runs: Sequence[Mapping[str, Any]]) -> datetime | None:
    """When the latest successful job step of these runs started (None if no job succeeded)."""
    starts = [
        step.started
        for run in runs
        for step in steps_of(run)
        if step.kind == "job" and step.state == "SUCCEEDED" and step.started is not None
    ]
    return max(starts, default=None)


def real_failure(runs: Sequence[Mapping[str, Any]]) -> str | None:
    """The first step that ran and failed, as one line (a step that never started is not one)."""
    for run in runs:
        for step in steps_of(run):
            if step.failed:
                return f"{step.kind} {step.name} {step.state}: {step.error or 'no error message'}"
    return None


def covers(runs: Sequence[Mapping[str, Any]], findings_at: datetime | None) -> bool:
    """Did a job that succeeded start after the newest findings object arrived?"""
    started = last_job_success(runs)
    if started is None:
        return False
    return findings_at is None or started >= findings_at


def wait_for_runs(
    aws: AwsContext,
    workflow: str,
    since: datetime,
    deadline: Deadline,
    *,
    findings_at: Callable[[], datetime | None] = lambda: None,
    on_update: Callable[[Sequence[Mapping[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Wait for the runs the findings start: until every run since `since` has finished and one
    of their mask jobs started after the newest findings object (or a step failed)."""

    def read() -> list[dict[str, Any]]:
        runs = runs_since(list_runs(aws, workflow), since)
        if not runs or any(r.get("Status") not in RUN_DONE for r in runs):
            return [dict(r) for r in runs]
        return [get_run(aws, workflow, r["WorkflowRunId"]) for r in runs]

    def done(runs: list[dict[str, Any]]) -> bool:
        if not runs or any(r.get("Status") not in RUN_DONE for r in runs):
            return False
        return real_failure(runs) is not None or covers(runs, findings_at())

    def describe(runs: list[dict[str, Any]]) -> str:
        if not runs:
            return "no workflow run started yet (findings still on their way via EventBridge/Firehose)"
        return ", ".join(f"{r.get('WorkflowRunId', '?')[:12]} {r.get('Status')}" for r in runs)

    # At most 5% of the time waited between looks (at least 0.25 s, at most 5 s): a run that ends
    # after 10 s is seen within 0.5 s of its end, a run of minutes on AWS is read every 5 s.
    return poll(
        read, done, deadline, interval=0.25, max_interval=5.0, max_share=0.05, describe=describe, on_each=on_update
    )


def check_runs(runs: Sequence[Mapping[str, Any]], findings_at: datetime | None = None) -> list[str]:
    """Raise PipelineError if a step failed or no successful job covers the findings; notes otherwise."""
    if not runs:
        raise PipelineError("no workflow run found")
    failure = real_failure(runs)
    if failure:
        raise PipelineError(f"the Glue workflow failed: {failure}")
    if not covers(runs, findings_at):
        last = run_failure(runs[-1]) or "its mask job did not run"
        raise PipelineError(f"no mask job ran after the last findings arrived ({last}); run `dcp scan --wait` again")
    return [
        f"run {r.get('WorkflowRunId', '')[:16]}: {run_failure(r)} (another run's job covered its findings)"
        for r in runs
        if run_failure(r)
    ]
