"""Glue operations the sandbox runs: crawls, job runs and workflow runs (moto keeps definitions),
and the Update* operations on those definitions that moto lacks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dcp.sandbox.emulators.glue import definitions
from dcp.sandbox.emulators.glue.models import (
    ConcurrentRunsExceeded,
    CrawlerNotRunningError,
    CrawlerRunningError,
    Crawlers,
    JobEnvironment,
    JobRuns,
    Workflows,
    glue_backend,
)
from dcp.sandbox.registry import AccountRegionStore, AwsError, Call, emulates


@dataclass
class GlueRuntime:
    crawlers: Crawlers
    jobs: JobRuns
    workflows: Workflows

    @classmethod
    def create(cls, account_id: str, region: str) -> GlueRuntime:
        crawlers = Crawlers(account_id, region)
        jobs = JobRuns(account_id, region)
        return cls(crawlers, jobs, Workflows(account_id, region, crawlers, jobs))


T = TypeVar("T")
runtimes: AccountRegionStore[GlueRuntime] = AccountRegionStore(GlueRuntime.create)


def _rt(call: Call) -> GlueRuntime:
    return runtimes[(call.account_id, call.region)]


def _env(call: Call) -> JobEnvironment:
    return JobEnvironment(state_dir=call.sandbox.state_dir, endpoint_url=call.sandbox.endpoint_url)


def _not_found(what: str) -> AwsError:
    return AwsError("EntityNotFoundException", f"{what} not found")


def _paged(call: Call, key: str, items: Sequence[T], render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """One page of `items` per the call's NextToken (an offset) and MaxResults, rendered, under `key`."""
    start = int(call.params.get("NextToken") or 0)
    size = int(call.params.get("MaxResults") or 100)
    out: dict[str, Any] = {key: [render(i) for i in items[start : start + size]]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _crawler(call: Call, name: str) -> Any:
    try:
        return glue_backend(call.account_id, call.region).get_crawler(name)
    except Exception:
        raise _not_found(f"Crawler entry with name {name}") from None


# --------------------------------------------------------------------------- crawlers


def crawler_dict(rt: GlueRuntime, crawler: Any) -> dict[str, Any]:
    out = crawler.as_dict()
    runs = rt.crawlers.runs_of(crawler.name)
    out["State"] = runs.state
    out.pop("LastCrawl", None)
    finished = [c for c in runs.crawls if c.end is not None]
    if finished:
        out["LastCrawl"] = finished[-1].last_crawl()
    if runs.crawls and runs.crawls[-1].end is None:
        out["CrawlElapsedTime"] = int(runs.crawls[-1].seconds * 1000)
    return out


@emulates("glue", "StartCrawler")
def start_crawler(call: Call) -> dict[str, Any]:
    name = call.params["Name"]
    _crawler(call, name)
    try:
        _rt(call).crawlers.start(name, call.sandbox.state_dir)
    except CrawlerRunningError as exc:
        raise AwsError("CrawlerRunningException", str(exc)) from None
    return {}


@emulates("glue", "StopCrawler")
def stop_crawler(call: Call) -> dict[str, Any]:
    name = call.params["Name"]
    _crawler(call, name)
    try:
        _rt(call).crawlers.stop(name)
    except CrawlerNotRunningError as exc:
        raise AwsError("CrawlerNotRunningException", str(exc)) from None
    return {}


@emulates("glue", "GetCrawler")
def get_crawler(call: Call) -> dict[str, Any]:
    return {"Crawler": crawler_dict(_rt(call), _crawler(call, call.params["Name"]))}


@emulates("glue", "GetCrawlers")
def get_crawlers(call: Call) -> dict[str, Any]:
    rt = _rt(call)
    crawlers = glue_backend(call.account_id, call.region).get_crawlers()
    return _paged(call, "Crawlers", crawlers, lambda c: crawler_dict(rt, c))


@emulates("glue", "GetCrawlerMetrics")
def get_crawler_metrics(call: Call) -> dict[str, Any]:
    rt = _rt(call)
    names = call.params.get("CrawlerNameList") or [
        c.name for c in glue_backend(call.account_id, call.region).get_crawlers()
    ]
    return {"CrawlerMetricsList": [rt.crawlers.metrics(n) for n in names]}


@emulates("glue", "UpdateCrawler")
def update_crawler(call: Call) -> dict[str, Any]:
    name = call.params["Name"]
    crawler = _crawler(call, name)
    if _rt(call).crawlers.runs_of(name).state != "READY":
        raise AwsError("CrawlerRunningException", f"Crawler with name {name} is running")
    definitions.update_crawler(crawler, call.params)
    return {}


# --------------------------------------------------------------------------- jobs


def _job(call: Call, name: str) -> Any:
    try:
        return glue_backend(call.account_id, call.region).get_job(name)
    except Exception:
        raise _not_found(f"Job {name}") from None


@emulates("glue", "StartJobRun")
def start_job_run(call: Call) -> dict[str, Any]:
    p = call.params
    _job(call, p["JobName"])
    try:
        run = _rt(call).jobs.start(p["JobName"], p.get("Arguments"), _env(call), timeout=p.get("Timeout"))
    except ConcurrentRunsExceeded as exc:
        raise AwsError("ConcurrentRunsExceededException", str(exc)) from None
    return {"JobRunId": run.run_id}


@emulates("glue", "GetJobRun")
def get_job_run(call: Call) -> dict[str, Any]:
    _job(call, call.params["JobName"])
    run = _rt(call).jobs.get(call.params["JobName"], call.params["RunId"])
    if run is None:
        raise _not_found(f"Job Run {call.params['RunId']}")
    return {"JobRun": run.to_dict()}


@emulates("glue", "GetJobRuns")
def get_job_runs(call: Call) -> dict[str, Any]:
    _job(call, call.params["JobName"])
    return _paged(call, "JobRuns", _rt(call).jobs.history(call.params["JobName"]), lambda r: r.to_dict())


@emulates("glue", "BatchStopJobRun")
def batch_stop_job_run(call: Call) -> dict[str, Any]:
    name = call.params["JobName"]
    ok, errors = [], []
    for run_id in call.params.get("JobRunIds", []):
        if _rt(call).jobs.stop(name, run_id):
            ok.append({"JobName": name, "JobRunId": run_id})
        else:
            errors.append(
                {
                    "JobName": name,
                    "JobRunId": run_id,
                    "ErrorDetail": {
                        "ErrorCode": "InvalidInputException",
                        "ErrorMessage": "Job run is not running",
                    },
                }
            )
    return {"SuccessfulSubmissions": ok, "Errors": errors}


@emulates("glue", "UpdateJob")
def update_job(call: Call) -> dict[str, Any]:
    name = call.params["JobName"]
    definitions.update_job(_job(call, name), call.params["JobUpdate"])
    return {"JobName": name}


@emulates("glue", "UpdateTrigger")
def update_trigger(call: Call) -> dict[str, Any]:
    name = call.params["Name"]
    trigger = glue_backend(call.account_id, call.region).triggers.get(name)
    if trigger is None:
        raise _not_found(f"Trigger {name}")
    try:
        definitions.update_trigger(trigger, call.params["TriggerUpdate"])
    except definitions.DefinitionError as exc:
        raise AwsError("InvalidInputException", str(exc)) from None
    return {"Trigger": trigger.as_dict()}


# --------------------------------------------------------------------------- workflows


def _workflow(call: Call, name: str) -> Any:
    wf = glue_backend(call.account_id, call.region).workflows.get(name)
    if wf is None:
        raise _not_found(f"Workflow {name}")
    return wf


@emulates("glue", "StartWorkflowRun")
def start_workflow_run(call: Call) -> dict[str, Any]:
    name = call.params["Name"]
    _workflow(call, name)
    run = _rt(call).workflows.start(name, call.params.get("RunProperties"), _env(call))
    return {"RunId": run.run_id}


def _run(call: Call) -> Any:
    name, run_id = call.params["Name"], call.params["RunId"]
    _workflow(call, name)
    run = _rt(call).workflows.get(name, run_id)
    if run is None:
        raise _not_found(f"Workflow run {run_id}")
    return run


@emulates("glue", "GetWorkflowRun")
def get_workflow_run(call: Call) -> dict[str, Any]:
    run = _run(call)
    return {"Run": _rt(call).workflows.run_dict(run, bool(call.params.get("IncludeGraph")))}


@emulates("glue", "GetWorkflowRuns")
def get_workflow_runs(call: Call) -> dict[str, Any]:
    name = call.params["Name"]
    _workflow(call, name)
    wfs = _rt(call).workflows
    graph = bool(call.params.get("IncludeGraph"))
    return _paged(call, "Runs", wfs.history(name), lambda r: wfs.run_dict(r, graph))


@emulates("glue", "GetWorkflow")
def get_workflow(call: Call) -> dict[str, Any]:
    name = call.params["Name"]
    wf = _workflow(call, name)
    wfs = _rt(call).workflows
    out = wf.as_dict()
    out.pop("LastRun", None)
    runs = wfs.history(name)
    graph = bool(call.params.get("IncludeGraph"))
    if runs:
        out["LastRun"] = wfs.run_dict(runs[0], graph)
    if graph:
        out["Graph"] = wfs.graph(name, None)
    return {"Workflow": out}


@emulates("glue", "StopWorkflowRun")
def stop_workflow_run(call: Call) -> dict[str, Any]:
    run = _run(call)
    if run.status != "RUNNING":
        raise AwsError("IllegalWorkflowStateException", "Workflow run is not running")
    run.status = "STOPPING"
    run.stop.set()
    return {}


@emulates("glue", "GetWorkflowRunProperties")
def get_workflow_run_properties(call: Call) -> dict[str, Any]:
    return {"RunProperties": _run(call).properties}


@emulates("glue", "PutWorkflowRunProperties")
def put_workflow_run_properties(call: Call) -> dict[str, Any]:
    _run(call).properties.update(call.params.get("RunProperties") or {})
    return {}
