"""Glue: catalog databases, crawlers, the masking job, the workflow and its triggers.

moto implements create/get/delete for all of these but not UpdateCrawler, UpdateJob or
UpdateTrigger; the update paths follow the botocore model and are exercised on AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import Refs
from dcp.stack.resources.base import Resource, retry_while, tags_match

GONE = ("EntityNotFoundException",)
#: What the job imports beyond the modules Glue provides: Glue 5.0's provided modules include
#: pyarrow and boto3 but not `cryptography` (dcp.masking.crypto), which pip installs at job start.
ADDITIONAL_PYTHON_MODULES = "cryptography"


def _iam_retry(exc: Exception) -> bool:
    # A role created moments ago may not be assumable by Glue yet.
    return is_code(exc, "InvalidInputException") and "role" in str(exc).lower()


def _create_when_role_ready(create: Callable[[], Any], *exists: str) -> None:
    """Create, retrying while Glue cannot assume its fresh role yet; `exists` errors mean it is there."""
    ignore_codes(lambda: retry_while(create, _iam_retry), *exists)


class _Tagged(Resource):
    """Glue resources are tagged by ARN (GetTags / TagResource)."""

    arn_kind = ""

    def arn(self) -> str:
        return self.refs.arn("glue", f"{self.arn_kind}/{self.physical}")

    def read_tags(self, ctx: AwsContext) -> dict[str, str]:
        tags = absent_on(*GONE)(lambda: ctx.client("glue").get_tags(ResourceArn=self.arn())["Tags"]) or {}
        return tags_match(self.tags, tags)

    def put_tags(self, ctx: AwsContext) -> None:
        ctx.client("glue").tag_resource(ResourceArn=self.arn(), TagsToAdd=self.tags)


class Database(_Tagged):
    kind = "glue.database"
    arn_kind = "database"

    def __init__(self, role: str, name: str, refs: Refs, description: str) -> None:
        super().__init__(f"glue-db-{role}", name, refs)
        self.description = description

    def desired(self) -> dict[str, Any]:
        return {"description": self.description, "tags": self.tags}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        db = absent_on(*GONE)(lambda: ctx.client("glue").get_database(Name=self.physical)["Database"])
        if db is None:
            return None
        return {"description": db.get("Description", ""), "tags": self.read_tags(ctx), "_arn": self.arn()}

    def create(self, ctx: AwsContext) -> None:
        glue = ctx.client("glue")
        try:
            glue.create_database(DatabaseInput=self._input(), Tags=self.tags)
        except Exception as exc:
            if not is_code(exc, "AlreadyExistsException"):
                raise
            self.update(ctx, {}, ["description", "tags"])

    def _input(self) -> dict[str, Any]:
        # No default grant to IAM_ALLOWED_PRINCIPALS on new tables: Lake Formation alone decides
        # who reads them (the account-wide default would let any IAM principal with glue/s3 rights in).
        return {"Name": self.physical, "Description": self.description, "CreateTableDefaultPermissions": []}

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if "description" in changed:
            ctx.client("glue").update_database(Name=self.physical, DatabaseInput=self._input())
        if "tags" in changed:
            self.put_tags(ctx)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("glue").delete_database(Name=self.physical), *GONE)


class Crawler(_Tagged):
    kind = "glue.crawler"
    arn_kind = "crawler"

    def __init__(self, crawl: str, refs: Refs, *, database: str, path: str, depends_on: Sequence[Resource]) -> None:
        super().__init__(f"crawler-{crawl}", refs.names.crawler(crawl), refs, depends_on)
        self.database = database
        self.path = path

    def spec(self) -> dict[str, Any]:
        return {
            "Role": self.names.role_arn("glue"),
            "DatabaseName": self.database,
            "Targets": {"S3Targets": [{"Path": self.path}]},
            "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"},
            "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_EVERYTHING"},
        }

    def desired(self) -> dict[str, Any]:
        return {"role": self.names.role_arn("glue"), "database": self.database, "paths": [self.path], "tags": self.tags}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        c = absent_on(*GONE)(lambda: ctx.client("glue").get_crawler(Name=self.physical)["Crawler"])
        if c is None:
            return None
        role = c.get("Role", "")
        if not role.startswith("arn:"):
            role = f"arn:{self.names.partition}:iam::{self.names.account_id}:role/{role}"
        return {
            "role": role,
            "database": c.get("DatabaseName"),
            "paths": [t["Path"] for t in c.get("Targets", {}).get("S3Targets", [])],
            "tags": self.read_tags(ctx),
            "_arn": self.arn(),
            "_state": c.get("State", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        glue = ctx.client("glue")
        _create_when_role_ready(
            lambda: glue.create_crawler(Name=self.physical, Tags=self.tags, **self.spec()), "AlreadyExistsException"
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if set(changed) - {"tags"}:
            retry_while(lambda: ctx.client("glue").update_crawler(Name=self.physical, **self.spec()), _iam_retry)
        if "tags" in changed:
            self.put_tags(ctx)

    def delete(self, ctx: AwsContext) -> None:
        glue = ctx.client("glue")
        ignore_codes(
            lambda: glue.stop_crawler(Name=self.physical),
            *GONE,
            "CrawlerNotRunningException",
            "CrawlerStoppingException",
        )
        ignore_codes(lambda: glue.delete_crawler(Name=self.physical), *GONE)


class Job(_Tagged):
    kind = "glue.job"
    arn_kind = "job"

    def __init__(
        self,
        refs: Refs,
        *,
        script: str,
        extra_py_files: str,
        arguments: Mapping[str, str],
        depends_on: Sequence[Resource],
    ) -> None:
        super().__init__("glue-job", refs.names.glue_job, refs, depends_on)
        self.script = script
        self.extra_py_files = extra_py_files
        self.arguments = dict(arguments)

    def spec(self) -> dict[str, Any]:
        g = self.names.settings.glue
        return {
            "Role": self.names.role_arn("glue"),
            "Command": {"Name": "glueetl", "ScriptLocation": self.script, "PythonVersion": "3"},
            "DefaultArguments": self.default_arguments(),
            "GlueVersion": g.glue_version,
            "WorkerType": g.worker_type,
            "NumberOfWorkers": g.number_of_workers,
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
            "Timeout": 120,
        }

    def default_arguments(self) -> dict[str, str]:
        return {
            "--job-language": "python",
            "--job-bookmark-option": "job-bookmark-enable",
            "--extra-py-files": self.extra_py_files,
            "--enable-metrics": "true",
            "--additional-python-modules": ADDITIONAL_PYTHON_MODULES,
            **self.arguments,
        }

    def desired(self) -> dict[str, Any]:
        g = self.names.settings.glue
        return {
            "role": self.names.role_arn("glue"),
            "script": self.script,
            "arguments": self.default_arguments(),
            "glue_version": g.glue_version,
            "worker_type": g.worker_type,
            "number_of_workers": g.number_of_workers,
            "tags": self.tags,
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        j = absent_on(*GONE)(lambda: ctx.client("glue").get_job(JobName=self.physical)["Job"])
        if j is None:
            return None
        return {
            "role": j.get("Role"),
            "script": j.get("Command", {}).get("ScriptLocation"),
            "arguments": j.get("DefaultArguments", {}),
            "glue_version": j.get("GlueVersion"),
            "worker_type": j.get("WorkerType"),
            "number_of_workers": j.get("NumberOfWorkers"),
            "tags": self.read_tags(ctx),
            "_arn": self.arn(),
        }

    def create(self, ctx: AwsContext) -> None:
        glue = ctx.client("glue")
        _create_when_role_ready(
            lambda: glue.create_job(Name=self.physical, Tags=self.tags, **self.spec()),
            "AlreadyExistsException",
            "IdempotentParameterMismatchException",
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if set(changed) - {"tags"}:
            ctx.client("glue").update_job(JobName=self.physical, JobUpdate=self.spec())
        if "tags" in changed:
            self.put_tags(ctx)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("glue").delete_job(JobName=self.physical), *GONE)


class Workflow(_Tagged):
    kind = "glue.workflow"
    arn_kind = "workflow"

    def __init__(self, refs: Refs) -> None:
        super().__init__("glue-workflow", refs.names.workflow, refs)

    def desired(self) -> dict[str, Any]:
        return {"max_concurrent_runs": 1, "tags": self.tags}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        w = absent_on(*GONE)(lambda: ctx.client("glue").get_workflow(Name=self.physical)["Workflow"])
        if w is None:
            return None
        last = (w.get("LastRun") or {}).get("Status", "")
        return {
            "max_concurrent_runs": w.get("MaxConcurrentRuns"),
            "tags": self.read_tags(ctx),
            "_arn": self.arn(),
            "_state": f"last run {last}" if last else "never run",
        }

    def create(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("glue").create_workflow(
                Name=self.physical,
                Description=f"dcp stack {self.names.prefix}",
                MaxConcurrentRuns=1,
                Tags=self.tags,
            ),
            "AlreadyExistsException",
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if "max_concurrent_runs" in changed:
            ctx.client("glue").update_workflow(Name=self.physical, MaxConcurrentRuns=1)
        if "tags" in changed:
            self.put_tags(ctx)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("glue").delete_workflow(Name=self.physical), *GONE)


class Trigger(_Tagged):
    """A workflow trigger: ON_DEMAND without conditions, else CONDITIONAL (all conditions met).

    The stack has one, `start`: the raw and findings crawlers and the job (dcp.stack.build.workflow_triggers)."""

    kind = "glue.trigger"
    arn_kind = "trigger"

    def __init__(
        self,
        stage: str,
        refs: Refs,
        *,
        actions: Sequence[dict[str, str]],
        conditions: Sequence[dict[str, str]] = (),
        depends_on: Sequence[Resource],
    ) -> None:
        super().__init__(f"trigger-{stage}", refs.names.trigger(stage), refs, depends_on)
        self.actions = [dict(a) for a in actions]
        self.conditions = [dict(c) for c in conditions]

    @property
    def trigger_type(self) -> str:
        return "CONDITIONAL" if self.conditions else "ON_DEMAND"

    def predicate(self) -> dict[str, Any] | None:
        if not self.conditions:
            return None
        return {"Logical": "AND", "Conditions": [{"LogicalOperator": "EQUALS", **c} for c in self.conditions]}

    def desired(self) -> dict[str, Any]:
        return {
            "type": self.trigger_type,
            "workflow": self.names.workflow,
            "actions": sorted(self.actions, key=str),
            "conditions": sorted(self.conditions, key=str),
            "tags": self.tags,
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        t = absent_on(*GONE)(lambda: ctx.client("glue").get_trigger(Name=self.physical)["Trigger"])
        if t is None:
            return None
        keys = ("JobName", "CrawlerName", "State", "CrawlState")
        actions = [{k: a[k] for k in ("JobName", "CrawlerName") if a.get(k)} for a in t.get("Actions", [])]
        conditions = [{k: c[k] for k in keys if c.get(k)} for c in (t.get("Predicate") or {}).get("Conditions", [])]
        return {
            "type": t.get("Type"),
            "workflow": t.get("WorkflowName"),
            "actions": sorted(actions, key=str),
            "conditions": sorted(conditions, key=str),
            "tags": self.read_tags(ctx),
            "_arn": self.arn(),
            "_state": t.get("State", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        kwargs: dict[str, Any] = {
            "Name": self.physical,
            "WorkflowName": self.names.workflow,
            "Type": self.trigger_type,
            "Actions": self.actions,
            "Tags": self.tags,
        }
        if self.conditions:
            kwargs["Predicate"] = self.predicate()
            kwargs["StartOnCreation"] = True
        ignore_codes(lambda: ctx.client("glue").create_trigger(**kwargs), "AlreadyExistsException")

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if {"type", "workflow"} & set(changed):
            self.delete(ctx)
            self.create(ctx)
            return
        if {"actions", "conditions"} & set(changed):
            update: dict[str, Any] = {"Actions": self.actions}
            if self.conditions:
                update["Predicate"] = self.predicate()
            ctx.client("glue").update_trigger(Name=self.physical, TriggerUpdate=update)
        if "tags" in changed:
            self.put_tags(ctx)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("glue").delete_trigger(Name=self.physical), *GONE)


class RetiredTrigger(Trigger):
    """A trigger earlier versions of the stack created and this one does not want: `up` deletes it
    while it exists and plans nothing once it is gone (`Resource.retired`, dcp.stack.planner)."""

    retired = True

    def __init__(self, stage: str, refs: Refs, *, depends_on: Sequence[Resource]) -> None:
        super().__init__(stage, refs, actions=(), depends_on=depends_on)

    def desired(self) -> dict[str, Any]:
        return {}  # nothing: the planner never creates or updates a retired resource
