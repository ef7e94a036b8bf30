"""Reading Glue workflow runs: which runs a scan started, each step's state, the failure line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dcp.pipeline.errors import PipelineError
from dcp.pipeline.workflow import (
    check_runs,
    covers,
    last_job_success,
    real_failure,
    run_failure,
    runs_since,
    step_rows,
    steps_of,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _run(job_state: str = "SUCCEEDED", error: str = "", status: str = "COMPLETED") -> dict:
    return {
        "WorkflowRunId": "wr_1",
        "StartedOn": T0,
        "Status": status,
        "Graph": {
            "Nodes": [
                {"Type": "TRIGGER", "Name": "dcp-start"},
                {
                    "Type": "JOB",
                    "Name": "dcp-mask-pii",
                    "JobDetails": {
                        "JobRuns": [
                            {"JobRunState": "FAILED", "StartedOn": T0 + timedelta(seconds=5)},
                            {
                                "JobRunState": job_state,
                                "StartedOn": T0 + timedelta(seconds=20),
                                "CompletedOn": T0 + timedelta(seconds=50),
                                "ErrorMessage": error,
                            },
                        ]
                    },
                },
                {
                    "Type": "CRAWLER",
                    "Name": "dcp-raw-crawler",
                    "CrawlerDetails": {
                        "Crawls": [{"State": "SUCCEEDED", "StartedOn": T0, "CompletedOn": T0 + timedelta(seconds=10)}]
                    },
                },
                {"Type": "CRAWLER", "Name": "dcp-masked-crawler", "CrawlerDetails": {"Crawls": []}},
            ]
        },
    }


def test_steps_are_ordered_by_start_with_the_latest_attempt_and_duration() -> None:
    steps = steps_of(_run())
    assert [(s.name, s.state) for s in steps] == [
        ("dcp-raw-crawler", "SUCCEEDED"),
        ("dcp-mask-pii", "SUCCEEDED"),
        ("dcp-masked-crawler", "NOT_STARTED"),
    ]
    assert steps[1].seconds == 30.0
    assert step_rows(_run())[0] == {
        "step": "dcp-raw-crawler",
        "kind": "crawler",
        "state": "SUCCEEDED",
        "seconds": 10.0,
        "error": "",
    }


def test_a_successful_run_has_no_failure_and_a_failed_step_is_named_with_its_error() -> None:
    assert run_failure(_run()) is None
    line = run_failure(_run("FAILED", "KMS AccessDeniedException on GenerateDataKey"))
    assert line == "job dcp-mask-pii FAILED: KMS AccessDeniedException on GenerateDataKey"


def test_a_completed_run_with_failed_actions_in_its_statistics_is_a_failure() -> None:
    run = {"WorkflowRunId": "wr_2", "Status": "COMPLETED", "Statistics": {"FailedActions": 1}}
    assert run_failure(run) == "workflow run wr_2: 1 step(s) failed"


def test_only_runs_started_after_the_scan_count_oldest_first() -> None:
    runs = [
        {"WorkflowRunId": "new2", "StartedOn": T0 + timedelta(seconds=9)},
        {"WorkflowRunId": "old", "StartedOn": T0 - timedelta(seconds=1)},
        {"WorkflowRunId": "new1", "StartedOn": T0 + timedelta(seconds=3)},
        {"WorkflowRunId": "nodate"},
    ]
    assert [r["WorkflowRunId"] for r in runs_since(runs, T0)] == ["new1", "new2"]


def _job_only(run_id: str, state: str | None, started: datetime) -> dict:
    runs = [] if state is None else [{"JobRunState": state, "StartedOn": started, "ErrorMessage": "boom"}]
    return {
        "WorkflowRunId": run_id,
        "Status": "COMPLETED",
        "StartedOn": started,
        "Statistics": {"FailedActions": 0 if state else 1},
        "Graph": {"Nodes": [{"Type": "JOB", "Name": "dcp-mask-pii", "JobDetails": {"JobRuns": runs}}]},
    }


def test_a_run_whose_job_never_started_is_covered_by_a_later_successful_job() -> None:
    runs = [_job_only("a", None, T0), _job_only("b", "SUCCEEDED", T0 + timedelta(seconds=5))]
    assert last_job_success(runs) == T0 + timedelta(seconds=5)
    assert covers(runs, T0 + timedelta(seconds=4))
    notes = check_runs(runs, T0 + timedelta(seconds=4))
    assert len(notes) == 1 and "covered" in notes[0]


def test_findings_newer_than_the_last_successful_job_are_not_covered() -> None:
    runs = [_job_only("a", "SUCCEEDED", T0), _job_only("b", None, T0 + timedelta(seconds=5))]
    assert not covers(runs, T0 + timedelta(seconds=3))
    with pytest.raises(PipelineError, match="no mask job ran after the last findings"):
        check_runs(runs, T0 + timedelta(seconds=3))


def test_a_job_that_ran_and_failed_fails_the_scan_with_its_error() -> None:
    runs = [_job_only("a", "SUCCEEDED", T0), _job_only("b", "FAILED", T0 + timedelta(seconds=5))]
    assert real_failure(runs) == "job dcp-mask-pii FAILED: boom"
    with pytest.raises(PipelineError, match="the Glue workflow failed: job dcp-mask-pii FAILED: boom"):
        check_runs(runs, None)
