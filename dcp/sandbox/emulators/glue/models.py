"""Glue that runs: crawlers infer tables from S3, job runs execute their script, workflows walk
their trigger graph. moto keeps the definitions (crawlers, jobs, triggers, workflows, tables);
these classes keep the runs and write the catalog through moto's glue backend.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dcp
from dcp.sandbox import crawl as crawling
from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.glue import s3io

log = logging.getLogger("dcp.sandbox")

DEFAULT_JOB_TIMEOUT_MIN = 2880
STDERR_TAIL = 2000


def now() -> datetime:
    return datetime.now(UTC)


def glue_backend(account_id: str, region: str) -> Any:
    glue_backends = moto_compat.backends("glue")
    return glue_backends[account_id][region]


# --------------------------------------------------------------------------- crawlers


@dataclass
class CrawlRecord:
    crawl_id: str
    crawler: str
    start: datetime
    state: str = "RUNNING"  # RUNNING | SUCCEEDED | FAILED | CANCELLED
    end: datetime | None = None
    error: str | None = None
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_created: int = 0

    def last_crawl(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Status": self.state,
            "LogGroup": "/aws-glue/crawlers",
            "LogStream": self.crawler,
            "MessagePrefix": self.crawl_id,
            "StartTime": self.start,
        }
        if self.error:
            out["ErrorMessage"] = self.error
        return out

    def to_crawl(self) -> dict[str, Any]:
        """ListCrawls / workflow graph `Crawl` shape."""
        out: dict[str, Any] = {
            "State": self.state,
            "StartedOn": self.start,
            "LogGroup": "/aws-glue/crawlers",
            "LogStream": self.crawler,
        }
        if self.end:
            out["CompletedOn"] = self.end
        if self.error:
            out["ErrorMessage"] = self.error
        return out

    @property
    def seconds(self) -> float:
        return ((self.end or now()) - self.start).total_seconds()


@dataclass
class CrawlerRuns:
    """Run state of one crawler."""

    state: str = "READY"  # READY | RUNNING | STOPPING
    crawls: list[CrawlRecord] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)


class CrawlerRunningError(Exception):
    pass


class CrawlerNotRunningError(Exception):
    pass


#: The least time a crawl stays RUNNING, and then STOPPING, so pollers see Glue's states.
MIN_CRAWL_SECONDS = 1.0
STOPPING_SECONDS = 0.2


class Crawlers:
    """Runs crawls for one account/region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id, self.region = account_id, region
        self.runs: dict[str, CrawlerRuns] = {}
        self.lock = threading.Lock()

    def runs_of(self, name: str) -> CrawlerRuns:
        with self.lock:
            return self.runs.setdefault(name, CrawlerRuns())

    def start(self, name: str, state_dir: Path, on_done: Callable[[CrawlRecord], None] | None = None) -> CrawlRecord:
        crawler = glue_backend(self.account_id, self.region).get_crawler(name)
        runs = self.runs_of(name)
        with self.lock:
            if runs.state != "READY":
                raise CrawlerRunningError(f"Crawler with name {name} has already started")
            record = CrawlRecord(secrets.token_hex(16), name, now())
            runs.state = "RUNNING"
            runs.cancel.clear()
            runs.crawls.append(record)
        threading.Thread(
            target=self._run,
            args=(crawler, runs, record, state_dir / "glue" / "crawl-cache", on_done),
            name=f"crawl-{name}",
            daemon=True,
        ).start()
        return record

    def stop(self, name: str) -> None:
        runs = self.runs_of(name)
        with self.lock:
            if runs.state != "RUNNING":
                raise CrawlerNotRunningError(f"Crawler with name {name} isn't running")
            runs.state = "STOPPING"
            runs.cancel.set()

    def _run(
        self,
        crawler: Any,
        runs: CrawlerRuns,
        record: CrawlRecord,
        cache: Path,
        on_done: Callable[[CrawlRecord], None] | None,
    ) -> None:
        started = time.monotonic()
        try:
            self.crawl(crawler, record, runs.cancel, cache)
            # A crawl takes visible time on AWS (a minute or more): stay RUNNING long enough for
            # a caller polling GetCrawler to see it, unless StopCrawler ends it sooner.
            runs.cancel.wait(max(0.0, MIN_CRAWL_SECONDS - (time.monotonic() - started)))
            record.state = "CANCELLED" if runs.cancel.is_set() else "SUCCEEDED"
        except crawling.CrawlError as exc:
            record.state, record.error = "FAILED", str(exc)
        except Exception as exc:
            log.exception("sandbox: crawler %s failed", crawler.name)
            record.state, record.error = "FAILED", f"Internal Service Exception: {type(exc).__name__}: {exc}"
        with self.lock:
            runs.state = "STOPPING"
        record.end = now()
        threading.Event().wait(STOPPING_SECONDS)  # Glue reports STOPPING while it writes the crawl's summary
        with self.lock:
            runs.state = "READY"
        if on_done is not None:
            on_done(record)

    def crawl(self, crawler: Any, record: CrawlRecord, cancel: threading.Event, cache: Path) -> None:
        from dcp.sandbox.gates import (
            AccessDenied,
            authorize,
            role_arn_of,
            role_principal,
            s3_list_check,
            s3_read_checks,
        )
        from dcp.sandbox.locations import may_create_table_at

        # The crawler reads and catalogs as its role; a permission it lacks fails the crawl.
        role = role_principal(role_arn_of(self.account_id, str(crawler.role or "")), "AWS-Crawler")

        def allowed(checks: list[Any]) -> None:
            try:
                authorize(role, checks, code="AccessDenied")
            except AccessDenied as exc:
                raise crawling.CrawlError(f"{exc.code}: {exc.message}") from None

        glue = glue_backend(self.account_id, self.region)
        database = crawler.database_name
        if database not in glue.databases:
            glue.create_database(database, {"Name": database})
        targets = (crawler.targets or {}).get("S3Targets", [])
        if not targets:
            raise crawling.CrawlError("the crawler has no S3 targets (the sandbox crawls S3 only)")
        prefix = crawler.table_prefix or ""
        policy = crawler.schema_change_policy or {}
        update_ok = policy.get("UpdateBehavior", "UPDATE_IN_DATABASE") == "UPDATE_IN_DATABASE"
        for target in targets:
            path = str(target["Path"])
            bucket, key_prefix = s3io.parse_s3_uri(path if "://" in path else f"s3://{path}")
            if key_prefix and not key_prefix.endswith("/"):
                key_prefix += "/"
            allowed([s3_list_check(self.account_id, self.region, bucket, key_prefix)])
            try:
                objects = s3io.list_objects(self.account_id, bucket, key_prefix)
            except s3io.S3Missing as exc:
                raise crawling.CrawlError(str(exc)) from None
            exclusions = list(target.get("Exclusions", []))
            files = []
            for obj in objects:
                if cancel.is_set():
                    return
                rel = obj.key[len(key_prefix) :]
                if any(fnmatch.fnmatch(rel, pattern) for pattern in exclusions):
                    continue
                fmt = crawling.file_format(rel)
                if fmt is None or obj.size == 0:
                    continue
                allowed(s3_read_checks(self.account_id, self.region, obj.bucket, obj.key))
                local = self._sample(obj, fmt, cache)
                files.append(crawling.DataFile(rel, local, obj.size))
            for table in crawling.crawl(f"s3://{bucket}/{key_prefix}", files):
                location = str(table.storage_descriptor().get("Location") or f"s3://{bucket}/{key_prefix}")
                refused = may_create_table_at(role, location, self.account_id, self.region)
                if refused is not None:
                    raise crawling.CrawlError(refused)
                self._write_table(glue, database, table, prefix, crawler.name, update_ok, record)

    def _sample(self, obj: s3io.S3Object, fmt: str, cache: Path) -> Path:
        """A local copy to infer from: all of a Parquet file (its footer), the head of a text file."""
        if fmt == "parquet":
            return s3io.mirror(self.account_id, obj, cache)
        digest = hashlib.sha1(f"{obj.bucket}/{obj.key}/{obj.etag}".encode()).hexdigest()[:20]
        dest = cache / "heads" / f"{digest}{Path(obj.key).suffix}"
        if not dest.exists():
            s3io.download(self.account_id, obj.bucket, obj.key, dest, limit=crawling.SAMPLE_BYTES)
        return dest

    @staticmethod
    def _write_table(
        glue: Any,
        database: str,
        table: crawling.CrawledTable,
        prefix: str,
        crawler: str,
        update_ok: bool,
        record: CrawlRecord,
    ) -> None:
        table_input = table.table_input(prefix, crawler)
        name = table_input["Name"]
        db = glue.databases[database]
        existing = db.tables.get(name)
        if existing is None:
            glue.create_table(database, name, table_input)
            record.tables_created += 1
        elif update_ok and crawling.schema_changed(existing.get_version(str(existing._current_version)), table_input):
            glue.update_table(database, name, table_input)
            record.tables_updated += 1
        moto_table = db.tables[name]
        for partition in table.partition_inputs():
            key = str(partition["Values"])
            if key not in moto_table.partitions:
                moto_table.create_partition(partition)
                record.partitions_created += 1

    def metrics(self, name: str) -> dict[str, Any]:
        runs = self.runs_of(name)
        done = [c for c in runs.crawls if c.end is not None]
        last = done[-1] if done else None
        durations = sorted(c.seconds for c in done)
        running = runs.crawls[-1] if runs.crawls and runs.crawls[-1].end is None else None
        return {
            "CrawlerName": name,
            "TimeLeftSeconds": 0.0,
            "StillEstimating": running is not None,
            "LastRuntimeSeconds": last.seconds if last else 0.0,
            "MedianRuntimeSeconds": durations[len(durations) // 2] if durations else 0.0,
            "TablesCreated": last.tables_created if last else 0,
            "TablesUpdated": last.tables_updated if last else 0,
            "TablesDeleted": last.tables_deleted if last else 0,
        }


# --------------------------------------------------------------------------- job runs


@dataclass
class JobRunRecord:
    run_id: str
    job_name: str
    arguments: dict[str, str]
    started: datetime
    state: str = "STARTING"  # STARTING | RUNNING | SUCCEEDED | FAILED | TIMEOUT | STOPPED | ERROR
    completed: datetime | None = None
    error: str | None = None
    timeout_min: int = DEFAULT_JOB_TIMEOUT_MIN
    previous_run_id: str | None = None
    trigger_name: str | None = None
    worker_type: str | None = None
    number_of_workers: int | None = None
    glue_version: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    stop_requested: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Id": self.run_id,
            "Attempt": 0,
            "JobName": self.job_name,
            "StartedOn": self.started,
            "LastModifiedOn": self.completed or self.started,
            "JobRunState": self.state,
            "Arguments": self.arguments,
            "PredecessorRuns": [],
            "ExecutionTime": int(((self.completed or now()) - self.started).total_seconds()),
            "Timeout": self.timeout_min,
            "LogGroupName": "/aws-glue/jobs",
        }
        for key, value in (
            ("CompletedOn", self.completed),
            ("ErrorMessage", self.error),
            ("PreviousRunId", self.previous_run_id),
            ("TriggerName", self.trigger_name),
            ("WorkerType", self.worker_type),
            ("NumberOfWorkers", self.number_of_workers),
            ("GlueVersion", self.glue_version),
        ):
            if value is not None:
                out[key] = value
        return out

    @property
    def finished(self) -> bool:
        return self.state not in ("STARTING", "RUNNING", "STOPPING")


class ConcurrentRunsExceeded(Exception):
    pass


@dataclass(frozen=True)
class JobEnvironment:
    """What a job subprocess needs from the sandbox."""

    state_dir: Path
    endpoint_url: str | None


def _s3_download(account_id: str, uri: str, dest: Path, role: Any = None) -> Path:
    """Fetch a job's script or library (as the job's role, when given: Glue reads them as it)."""
    bucket, key = s3io.parse_s3_uri(uri)
    if role is not None:
        from dcp.sandbox.gates import authorize, s3_read_checks

        authorize(role, s3_read_checks(account_id, "us-east-1", bucket, key), code="AccessDenied")
    return s3io.download(account_id, bucket, key, dest)


class JobRuns:
    """Runs Glue jobs (their Python script in a subprocess) for one account/region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id, self.region = account_id, region
        self.runs: dict[str, list[JobRunRecord]] = {}
        self.lock = threading.Lock()

    def get(self, job_name: str, run_id: str) -> JobRunRecord | None:
        with self.lock:
            return next((r for r in self.runs.get(job_name, []) if r.run_id == run_id), None)

    def history(self, job_name: str) -> list[JobRunRecord]:
        with self.lock:
            return list(reversed(self.runs.get(job_name, [])))

    def start(
        self,
        job_name: str,
        arguments: Mapping[str, str] | None,
        env: JobEnvironment,
        *,
        timeout: int | None = None,
        trigger_name: str | None = None,
        on_done: Callable[[JobRunRecord], None] | None = None,
    ) -> JobRunRecord:
        job = glue_backend(self.account_id, self.region).get_job(job_name)
        merged = {
            **(job.default_arguments or {}),
            **(arguments or {}),
            **(job.non_overridable_arguments or {}),
        }
        with self.lock:
            active = [r for r in self.runs.get(job_name, []) if not r.finished]
            limit = int((job.execution_property or {}).get("MaxConcurrentRuns", 1))
            if len(active) >= limit:
                raise ConcurrentRunsExceeded(f"Job with name {job_name} already running")
            record = JobRunRecord(
                run_id="jr_" + secrets.token_hex(32),
                job_name=job_name,
                arguments=merged,
                started=now(),
                timeout_min=int(timeout or job.timeout or DEFAULT_JOB_TIMEOUT_MIN),
                trigger_name=trigger_name,
                worker_type=job.worker_type,
                number_of_workers=job.number_of_workers,
                glue_version=job.glue_version,
            )
            self.runs.setdefault(job_name, []).append(record)
        threading.Thread(
            target=self._run, args=(job, record, env, on_done), name=f"job-{job_name}", daemon=True
        ).start()
        return record

    def stop(self, job_name: str, run_id: str) -> bool:
        record = self.get(job_name, run_id)
        if record is None or record.finished:
            return False
        record.stop_requested = True
        if record.process is not None:
            record.process.terminate()
        return True

    def _run(
        self,
        job: Any,
        record: JobRunRecord,
        env: JobEnvironment,
        on_done: Callable[[JobRunRecord], None] | None,
    ) -> None:
        try:
            record.state, record.error = self.execute(job, record, env)
        except Exception as exc:
            log.exception("sandbox: job run %s failed to start", record.run_id)
            record.state, record.error = "FAILED", f"{type(exc).__name__}: {exc}"
        record.completed = now()
        record.process = None
        if on_done is not None:
            on_done(record)

    def credentials(self, role: str) -> dict[str, str]:
        """Temporary credentials of the job's role, issued by the sandbox's STS."""
        sts_backends = moto_compat.backends("sts")
        partition = moto_compat.partition(self.region)
        arn = role if role.startswith("arn:") else f"arn:{partition}:iam::{self.account_id}:role/{role}"
        assumed = sts_backends[self.account_id][partition].assume_role(
            region_name=self.region,
            role_session_name="GlueJobRunnerSession",
            role_arn=arn,
            policy="",
            duration=3600,
            external_id="",
        )
        return {
            "AWS_ACCESS_KEY_ID": assumed.access_key_id,
            "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
            "AWS_SESSION_TOKEN": assumed.session_token,
        }

    def execute(self, job: Any, record: JobRunRecord, env: JobEnvironment) -> tuple[str, str | None]:
        """Run the job's script to completion; (JobRunState, ErrorMessage)."""
        if env.endpoint_url is None:
            return (
                "FAILED",
                "the sandbox runs Glue job scripts only when it serves on a port (dcp sandbox start)",
            )
        script_uri = (job.command or {}).get("ScriptLocation")
        if not script_uri:
            return "FAILED", "the job has no Command.ScriptLocation"
        from dcp.sandbox.gates import AccessDenied, role_arn_of, role_principal

        run_dir = env.state_dir / "glue" / "runs" / record.run_id
        role = role_principal(role_arn_of(self.account_id, str(job.role or "")), "GlueJobRunnerSession")
        try:
            script = _s3_download(
                self.account_id, script_uri, run_dir / Path(s3io.parse_s3_uri(script_uri)[1]).name, role
            )
            paths = [str(Path(dcp.__file__).resolve().parent.parent)]
            for uri in filter(None, (u.strip() for u in record.arguments.get("--extra-py-files", "").split(","))):
                local = _s3_download(self.account_id, uri, run_dir / "lib" / Path(s3io.parse_s3_uri(uri)[1]).name, role)
                paths.append(str(local if local.suffix in (".zip", ".egg", ".whl") else local.parent))
        except AccessDenied as exc:
            return "FAILED", f"{exc.code}: {exc.message}"
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        child_env.update(self.credentials(job.role))
        child_env.update(
            AWS_ENDPOINT_URL=env.endpoint_url,
            AWS_DEFAULT_REGION=self.region,
            AWS_REGION=self.region,
            PYTHONPATH=os.pathsep.join([*paths, child_env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            PYTHONUNBUFFERED="1",
        )
        argv = [sys.executable, str(script), "--JOB_NAME", record.job_name, "--JOB_RUN_ID", record.run_id]
        for key, value in record.arguments.items():
            argv += [key if key.startswith("--") else f"--{key}", str(value)]
        stderr_path = run_dir / "stderr.log"
        with (run_dir / "stdout.log").open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(argv, cwd=run_dir, env=child_env, stdout=out, stderr=err)
            record.process = process
            record.state = "RUNNING"
            try:
                code = process.wait(timeout=record.timeout_min * 60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return "TIMEOUT", f"Job run timed out after {record.timeout_min} minutes"
        if record.stop_requested:
            return "STOPPED", None
        if code == 0:
            return "SUCCEEDED", None
        tail = stderr_path.read_bytes()[-STDERR_TAIL:].decode("utf-8", "replace").strip()
        last = tail.splitlines()[-1] if tail else f"exit code {code}"
        return "FAILED", f"{last}" if len(tail) < 200 else f"{last}\n{tail}"


# --------------------------------------------------------------------------- workflows


@dataclass
class NodeRun:
    kind: str  # JOB | CRAWLER
    name: str
    run_id: str | None = None
    state: str = "RUNNING"  # job: SUCCEEDED/FAILED/...; crawler: SUCCEEDED/FAILED/CANCELLED


@dataclass
class WorkflowRunRecord:
    workflow: str
    run_id: str
    properties: dict[str, str]
    started: datetime
    previous_run_id: str | None = None
    status: str = "RUNNING"  # RUNNING | COMPLETED | STOPPING | STOPPED | ERROR
    completed: datetime | None = None
    error: str | None = None
    nodes: dict[tuple[str, str], NodeRun] = field(default_factory=dict)
    fired: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def statistics(self) -> dict[str, int]:
        states = [n.state for n in self.nodes.values()]
        return {
            "TotalActions": len(states),
            "TimeoutActions": states.count("TIMEOUT"),
            "FailedActions": states.count("FAILED"),
            "StoppedActions": states.count("STOPPED") + states.count("CANCELLED"),
            "SucceededActions": states.count("SUCCEEDED"),
            "RunningActions": sum(s in ("RUNNING", "STARTING") for s in states),
            "ErroredActions": states.count("ERROR"),
            "WaitingActions": 0,
        }


def node_id(kind: str, name: str) -> str:
    return "wnode_" + hashlib.sha1(f"{kind}:{name}".encode()).hexdigest()[:32]


def condition_met(condition: Mapping[str, Any], nodes: Mapping[tuple[str, str], NodeRun]) -> bool:
    if condition.get("JobName"):
        node = nodes.get(("JOB", condition["JobName"]))
        return node is not None and node.state == condition.get("State", "SUCCEEDED")
    node = nodes.get(("CRAWLER", condition.get("CrawlerName", "")))
    return node is not None and node.state == condition.get("CrawlState", "SUCCEEDED")


def predicate_met(predicate: Mapping[str, Any], nodes: Mapping[tuple[str, str], NodeRun]) -> bool:
    conditions = predicate.get("Conditions", [])
    if not conditions:
        return False
    results = [condition_met(c, nodes) for c in conditions]
    return any(results) if predicate.get("Logical") == "ANY" else all(results)


class Workflows:
    """Runs workflows: the on-demand start trigger, then conditional triggers as predicates are met."""

    def __init__(self, account_id: str, region: str, crawlers: Crawlers, jobs: JobRuns) -> None:
        self.account_id, self.region = account_id, region
        self.crawlers, self.jobs = crawlers, jobs
        self.runs: dict[str, dict[str, WorkflowRunRecord]] = {}
        self.lock = threading.Lock()

    def triggers(self, workflow: str) -> list[dict[str, Any]]:
        glue = glue_backend(self.account_id, self.region)
        return [t.as_dict() for t in glue.triggers.values() if t.workflow_name == workflow]

    def get(self, workflow: str, run_id: str) -> WorkflowRunRecord | None:
        with self.lock:
            return self.runs.get(workflow, {}).get(run_id)

    def history(self, workflow: str) -> list[WorkflowRunRecord]:
        with self.lock:
            return list(reversed(self.runs.get(workflow, {}).values()))

    def start(self, workflow: str, properties: Mapping[str, str] | None, env: JobEnvironment) -> WorkflowRunRecord:
        wf = glue_backend(self.account_id, self.region).workflows[workflow]
        props = {**(wf.default_run_properties or {}), **(properties or {})}
        with self.lock:
            existing = self.runs.setdefault(workflow, {})
            previous = next(reversed(existing.values())).run_id if existing else None
            record = WorkflowRunRecord(workflow, "wr_" + secrets.token_hex(32), props, now(), previous)
            existing[record.run_id] = record
        threading.Thread(target=self._run, args=(record, env), name=f"workflow-{workflow}", daemon=True).start()
        return record

    def _run(self, record: WorkflowRunRecord, env: JobEnvironment) -> None:
        import queue

        done: queue.Queue[tuple[str, str, str]] = queue.Queue()
        running = 0
        try:
            triggers = self.triggers(record.workflow)
            starters = [t for t in triggers if t["Type"] in ("ON_DEMAND", "EVENT", "SCHEDULED")]
            if not starters:
                raise RuntimeError("the workflow has no start trigger")
            pending = list(starters[:1])
            while True:
                for trigger in pending:
                    record.fired.add(trigger["Name"])
                    for action in trigger.get("Actions", []):
                        if record.stop.is_set():
                            break
                        running += self._start_action(record, trigger["Name"], action, env, done)
                pending = []
                if running == 0:
                    break
                kind, name, state = done.get(timeout=DEFAULT_JOB_TIMEOUT_MIN * 60)
                running -= 1
                record.nodes[(kind, name)].state = state
                if record.stop.is_set():
                    continue
                pending = [
                    t
                    for t in triggers
                    if t["Type"] == "CONDITIONAL"
                    and t["Name"] not in record.fired
                    and predicate_met(t.get("Predicate", {}), record.nodes)
                ]
            record.status = "STOPPED" if record.stop.is_set() else "COMPLETED"
        except Exception as exc:
            log.exception("sandbox: workflow run %s failed", record.run_id)
            record.status, record.error = "ERROR", f"{type(exc).__name__}: {exc}"
        record.completed = now()

    def _start_action(
        self,
        record: WorkflowRunRecord,
        trigger: str,
        action: Mapping[str, Any],
        env: JobEnvironment,
        done: Any,
    ) -> int:
        if action.get("JobName"):
            name = action["JobName"]
            node = record.nodes[("JOB", name)] = NodeRun("JOB", name)
            # Glue tells a workflow's job which run it belongs to (for GetWorkflowRunProperties).
            args = {
                **(action.get("Arguments") or {}),
                "--WORKFLOW_NAME": record.workflow,
                "--WORKFLOW_RUN_ID": record.run_id,
            }
            try:
                run = self.jobs.start(
                    name,
                    args,
                    env,
                    timeout=action.get("Timeout"),
                    trigger_name=trigger,
                    on_done=lambda r: done.put(("JOB", r.job_name, r.state)),
                )
            except Exception as exc:
                node.state = "FAILED"
                log.warning("sandbox: workflow %s could not start job %s: %s", record.workflow, name, exc)
                done.put(("JOB", name, "FAILED"))
                return 1
            node.run_id = run.run_id
            return 1
        if action.get("CrawlerName"):
            name = action["CrawlerName"]
            node = record.nodes[("CRAWLER", name)] = NodeRun("CRAWLER", name)
            try:
                crawl = self.crawlers.start(
                    name, env.state_dir, on_done=lambda c: done.put(("CRAWLER", c.crawler, c.state))
                )
            except Exception as exc:
                log.warning("sandbox: workflow %s could not start crawler %s: %s", record.workflow, name, exc)
                done.put(("CRAWLER", name, "FAILED"))
                return 1
            node.run_id = crawl.crawl_id
            return 1
        return 0

    def graph(self, workflow: str, record: WorkflowRunRecord | None) -> dict[str, Any]:
        """The workflow's Graph (Nodes, Edges); with a run, each node's runs in that run."""
        triggers = self.triggers(workflow)
        glue = glue_backend(self.account_id, self.region)
        nodes: dict[str, dict[str, Any]] = {}
        edges: list[dict[str, str]] = []

        def add(kind: str, name: str) -> str:
            uid = node_id(kind, name)
            if uid not in nodes:
                node: dict[str, Any] = {"Type": kind, "Name": name, "UniqueId": uid}
                if kind == "JOB":
                    runs = []
                    if record is not None and (n := record.nodes.get(("JOB", name))) and n.run_id:
                        jr = self.jobs.get(name, n.run_id)
                        if jr is not None:
                            runs.append(jr.to_dict())
                    node["JobDetails"] = {"JobRuns": runs}
                elif kind == "CRAWLER":
                    crawls = []
                    if record is not None and (n := record.nodes.get(("CRAWLER", name))) and n.run_id:
                        c = next((c for c in self.crawlers.runs_of(name).crawls if c.crawl_id == n.run_id), None)
                        if c is not None:
                            crawls.append(c.to_crawl())
                    node["CrawlerDetails"] = {"Crawls": crawls}
                nodes[uid] = node
            return uid

        for t in triggers:
            tid = add("TRIGGER", t["Name"])
            nodes[tid]["TriggerDetails"] = {"Trigger": glue.triggers[t["Name"]].as_dict()}
            for action in t.get("Actions", []):
                if action.get("JobName"):
                    edges.append({"SourceId": tid, "DestinationId": add("JOB", action["JobName"])})
                elif action.get("CrawlerName"):
                    edges.append({"SourceId": tid, "DestinationId": add("CRAWLER", action["CrawlerName"])})
            for c in (t.get("Predicate") or {}).get("Conditions", []):
                src = add("JOB", c["JobName"]) if c.get("JobName") else add("CRAWLER", c.get("CrawlerName", ""))
                edges.append({"SourceId": src, "DestinationId": tid})
        return {"Nodes": list(nodes.values()), "Edges": edges}

    def run_dict(self, record: WorkflowRunRecord, include_graph: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": record.workflow,
            "WorkflowRunId": record.run_id,
            "StartedOn": record.started,
            "Status": record.status,
            "Statistics": record.statistics(),
        }
        if record.properties:
            out["WorkflowRunProperties"] = record.properties
        if record.previous_run_id:
            out["PreviousRunId"] = record.previous_run_id
        if record.completed:
            out["CompletedOn"] = record.completed
        if record.error:
            out["ErrorMessage"] = record.error
        if include_graph:
            out["Graph"] = self.graph(record.workflow, record)
        return out
