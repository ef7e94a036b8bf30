"""DMS tasks of one account/region: resolve endpoints from moto's records and run replications."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from dcp.lambdas.dburl import resolve_host, sqlalchemy_url
from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.dms.models import (
    Replication,
    ReplicationError,
    SourceSpec,
    TaskRun,
    now,
    selection_rules,
    target_spec,
)
from dcp.sandbox.emulators.glue import s3io

log = logging.getLogger("dcp.sandbox")

START_TYPES = ("start-replication", "resume-processing", "reload-target")
_ENGINES = {
    "mysql": "mysql",
    "mariadb": "mysql",
    "aurora": "mysql",
    "aurora-mysql": "mysql",
    "postgres": "postgres",
    "aurora-postgresql": "postgres",
}


STOP_WAIT_SECONDS = 10.0  # how long deleting a task waits for its replication thread to stop


def task_workdir(state_dir: Path, task_id: str) -> Path:
    """Where a task keeps its change-capture snapshots and files being written."""
    return state_dir / "dms" / task_id


class TaskStateError(Exception):
    """The task is not in a state that allows the request (InvalidResourceStateFault)."""


def _dms_backend(account_id: str, region: str) -> Any:
    dms_backends = moto_compat.backends("dms")
    return dms_backends[account_id][region]


def _endpoint_by_arn(account_id: str, region: str, arn: str) -> Any:
    for endpoint in _dms_backend(account_id, region).endpoints.values():
        if endpoint.endpoint_arn == arn:
            return endpoint
    raise ReplicationError(f"endpoint {arn} does not exist")


def _secret(account_id: str, region: str, secret_id: str) -> dict[str, Any]:
    secretsmanager_backends = moto_compat.backends("secretsmanager")
    try:
        value = secretsmanager_backends[account_id][region].get_secret_value(secret_id, None, None)
        return dict(json.loads(value["SecretString"]))
    except Exception as exc:
        raise ReplicationError(f"cannot read the source secret {secret_id}: {type(exc).__name__}") from None


def source_spec(account_id: str, region: str, endpoint: Any, table_mappings: str | None) -> SourceSpec:
    """The source endpoint as a SQLAlchemy URL: its secret, or its own server/port/user/password.

    A ServerName that is a sandbox RDS instance's endpoint name (`<id>.<token>.<region>.rds.amazonaws.com`)
    is replaced by where that instance's data really lives; an RDS name the sandbox does not know fails.
    """
    from dcp.sandbox.emulators.rds.responses import all_endpoints

    settings = endpoint.my_sql_settings or endpoint.postgre_sql_settings or {}
    secret_id = settings.get("SecretsManagerSecretId")
    engine = _ENGINES.get(str(endpoint.engine_name).lower())
    if secret_id:
        secret = _secret(account_id, region, secret_id)
        secret.setdefault("engine", engine or "mysql")
    else:
        if engine is None and not str(endpoint.server_name or "").startswith("/"):
            raise ReplicationError(f"the sandbox cannot read a {endpoint.engine_name} source")
        secret = {
            "engine": engine or "mysql",
            "host": endpoint.server_name,
            "port": endpoint.port,
            "username": endpoint.username,
            "password": endpoint.password,
            "dbname": endpoint.database_name,
        }
    try:
        secret = resolve_host(secret, all_endpoints())
    except ValueError as exc:
        raise ReplicationError(str(exc)) from None
    database = str(secret.get("dbname") or endpoint.database_name or "")
    secret["dbname"] = database
    try:
        url = sqlalchemy_url(secret)
    except ValueError as exc:
        raise ReplicationError(str(exc)) from None
    return SourceSpec(url=url, database=database or "main", rules=selection_rules(table_mappings))


class DmsTasks:
    """The sandbox's side of every replication task of one account/region."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id, self.region = account_id, region
        self.runs: dict[str, TaskRun] = {}
        self.lock = threading.Lock()

    def run_of(self, arn: str) -> TaskRun:
        with self.lock:
            run = self.runs.get(arn)
            if run is None:
                run = self.runs[arn] = TaskRun(arn)
            return run

    def task(self, arn: str) -> Any:
        task = _dms_backend(self.account_id, self.region).replication_tasks.get(arn)
        if task is None:
            raise KeyError(arn)
        return task

    def start(self, arn: str, start_type: str, state_dir: Path) -> TaskRun:
        task = self.task(arn)
        run = self.run_of(arn)
        if start_type not in START_TYPES:
            raise ValueError(f"StartReplicationTaskType must be one of {', '.join(START_TYPES)}")
        with self.lock:
            if run.status in ("starting", "running", "stopping"):
                raise TaskStateError(f"Replication task is {run.status}")
            run.status, run.stop_reason, run.failure = "starting", None, None
            run.stop_requested.clear()
            run.start, run.stop = now(), None
            run.fresh_start = run.fresh_start or run.start
            run.started_monotonic = time.monotonic()
        task.status, task.start_date = "starting", run.start
        workdir = task_workdir(state_dir, task.id)
        thread = threading.Thread(
            target=self._execute, args=(task, run, start_type, workdir), name=f"dms-{task.id}", daemon=True
        )
        run.thread = thread
        thread.start()
        return run

    def _execute(self, task: Any, run: TaskRun, start_type: str, workdir: Path) -> None:
        try:
            source = source_spec(
                self.account_id,
                self.region,
                _endpoint_by_arn(self.account_id, self.region, task.source_endpoint_arn),
                task.table_mappings,
            )
            target_endpoint = _endpoint_by_arn(self.account_id, self.region, task.target_endpoint_arn)
            if str(target_endpoint.engine_name).lower() != "s3":
                raise ReplicationError("the sandbox's DMS replicates to S3 targets only")
            target = target_spec(target_endpoint.s3_settings, target_endpoint.extra_connection_attributes)
            writer = RoleWriter(self.account_id, self.region, dict(target_endpoint.s3_settings or {}))
            Replication(run, task.id, task.migration_type, source, target, workdir, writer.upload).execute(start_type)
        except Exception as exc:
            message = str(exc) if isinstance(exc, ReplicationError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ReplicationError):
                log.exception("sandbox: DMS task %s failed", task.id)
            self._finish(task, run, "failed", "Stop Reason FATAL_ERROR", _scrub(message))
            return
        if run.stop_requested.is_set():
            self._finish(task, run, "stopped", "Stop Reason NORMAL")
        elif task.migration_type == "full-load":
            self._finish(task, run, "stopped", "Stop Reason FULL_LOAD_ONLY_FINISHED")
        else:
            # full-load-and-cdc / cdc: the task keeps running (replicating changes) until stopped.
            task.status = run.status = "running"

    def _finish(self, task: Any, run: TaskRun, status: str, reason: str, failure: str | None = None) -> None:
        with self.lock:
            run.elapsed_ms = int((time.monotonic() - run.started_monotonic) * 1000)
            run.status, run.stop_reason, run.failure = status, reason, failure
            run.stop = now()
        task.status, task.stop_date = status, run.stop

    def stop(self, arn: str) -> TaskRun:
        task = self.task(arn)
        run = self.run_of(arn)
        if run.status not in ("running", "starting"):
            raise TaskStateError("Replication task is not running")
        run.stop_requested.set()
        thread = run.thread
        if thread is not None and thread.is_alive():
            with self.lock:
                run.status = "stopping"
            task.status = "stopping"
            # The loader notices at its next batch and finishes as stopped.
        else:
            self._finish(task, run, "stopped", "Stop Reason NORMAL")
        return run

    def forget(self, arn: str, state_dir: Path) -> None:
        """Drop a deleted task's run and snapshots: a new task of the same name starts afresh."""
        with self.lock:
            run = self.runs.pop(arn, None)
        if run is not None:
            run.stop_requested.set()
            if run.thread is not None:
                run.thread.join(timeout=STOP_WAIT_SECONDS)
        shutil.rmtree(task_workdir(state_dir, arn.rsplit(":", 1)[-1]), ignore_errors=True)


class RoleWriter:
    """Writes the task's files to S3 as DMS does: as the endpoint's service access role, with its
    encryption settings. A permission the role lacks fails the task with S3's or KMS's message
    (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Target.S3.html#CHAP_Target.S3.Prerequisites:
    s3:PutObject, s3:DeleteObject, s3:PutObjectTagging, s3:ListBucket, and the key for SSE-KMS)."""

    def __init__(self, account_id: str, region: str, s3_settings: dict[str, Any]) -> None:
        self.account_id, self.region = account_id, region
        self.role_arn = str(s3_settings.get("ServiceAccessRoleArn") or "")
        sse_kms = str(s3_settings.get("EncryptionMode") or "").upper() == "SSE_KMS"
        self.kms_key_id = str(s3_settings.get("ServerSideEncryptionKmsKeyId") or "") if sse_kms else ""
        self.encryption = "aws:kms" if sse_kms else None

    def upload(self, bucket: str, key: str, path: Path) -> None:
        from dcp.sandbox.gates import AccessDenied, Check, role_may, s3_checks, s3_write_checks

        headers = {}
        if self.encryption:
            headers["x-amz-server-side-encryption"] = self.encryption
            if self.kms_key_id:
                headers["x-amz-server-side-encryption-aws-kms-key-id"] = self.kms_key_id
        checks = s3_write_checks(self.account_id, self.region, bucket, key, headers)
        tagging, _ = s3_checks(self.account_id, self.region, "s3:PutObjectTagging", bucket, key)
        # DMS uploads in parts: completing a multipart SSE-KMS upload needs kms:Decrypt as well.
        decrypt = [Check("kms:Decrypt", c.resource, kms_key=c.kms_key, context=c.context) for c in checks if c.kms_key]
        if not self.role_arn:
            raise ReplicationError("the S3 target endpoint has no ServiceAccessRoleArn")
        try:
            role_may(self.role_arn, [*checks, tagging, *decrypt], session_name="dms-replication")
        except AccessDenied as exc:
            raise ReplicationError(f"Failed to upload file to s3://{bucket}/{key}: {exc.code}: {exc.message}") from None
        s3io.upload(
            self.account_id,
            bucket,
            key,
            path,
            content_type="application/octet-stream" if key.endswith(".parquet") else "text/csv",
            encryption=self.encryption,
            kms_key_id=self.kms_key_id or None,
        )


def _scrub(message: str) -> str:
    """Drop credentials of any URL from an error message (it becomes LastFailureMessage)."""
    return re.sub(r"://[^@\s/]+@", "://***@", message)[:1000]
