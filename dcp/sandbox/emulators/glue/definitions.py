"""UpdateJob, UpdateCrawler and UpdateTrigger on the definitions moto keeps (moto 5.2.5 lacks them).

As Glue defines them: UpdateJob *replaces* the job definition with the JobUpdate (a member left
out is reset); UpdateCrawler and UpdateTrigger change only the members given. The objects are
moto's (FakeJob, FakeCrawler, FakeTrigger), so every other operation sees the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dcp.sandbox.moto_compat import glue_trigger_parts, utcnow

# JobUpdate member -> FakeJob attribute, with the value a member left out resets to.
_JOB_FIELDS: dict[str, tuple[str, Any]] = {
    "Description": ("description", None),
    "LogUri": ("log_uri", None),
    "Role": ("role", None),
    "ExecutionProperty": ("execution_property", {}),
    "Command": ("command", None),
    "DefaultArguments": ("default_arguments", {}),
    "NonOverridableArguments": ("non_overridable_arguments", None),
    "Connections": ("connections", None),
    "MaxRetries": ("max_retries", None),
    "AllocatedCapacity": ("allocated_capacity", None),
    "Timeout": ("timeout", None),
    "MaxCapacity": ("max_capacity", None),
    "WorkerType": ("worker_type", None),
    "NumberOfWorkers": ("number_of_workers", None),
    "SecurityConfiguration": ("security_configuration", None),
    "NotificationProperty": ("notification_property", None),
    "GlueVersion": ("glue_version", None),
    "CodeGenConfigurationNodes": ("code_gen_configuration_nodes", None),
    "ExecutionClass": ("execution_class", "STANDARD"),
    "SourceControlDetails": ("source_control_details", None),
}

# UpdateCrawler member -> FakeCrawler attribute.
_CRAWLER_FIELDS = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Schedule": "schedule",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}


class DefinitionError(Exception):
    """The update is invalid (InvalidInputException)."""


def update_job(job: Any, update: Mapping[str, Any]) -> None:
    """Overwrite `job` (a moto FakeJob) with a JobUpdate, as Glue's UpdateJob does."""
    for member, (attribute, reset) in _JOB_FIELDS.items():
        value = update.get(member)
        setattr(job, attribute, reset if value is None else value)
    job.last_modified_on = utcnow()


def update_crawler(crawler: Any, request: Mapping[str, Any]) -> None:
    """Apply the members of an UpdateCrawler request to `crawler` (a moto FakeCrawler)."""
    for member, attribute in _CRAWLER_FIELDS.items():
        if member in request:
            setattr(crawler, attribute, request[member])
    crawler.version += 1
    crawler.last_updated = utcnow()


def update_trigger(trigger: Any, update: Mapping[str, Any]) -> None:
    """Apply a TriggerUpdate to `trigger` (a moto FakeTrigger)."""
    try:
        actions, predicate = glue_trigger_parts(update)
    except ValueError as exc:
        raise DefinitionError(str(exc)) from None
    if actions is not None:
        if not actions:
            raise DefinitionError("Actions cannot be empty")
        trigger.actions = actions
    if predicate is not None:
        trigger.predicate = predicate
    for member, attribute in (
        ("Description", "description"),
        ("Schedule", "schedule"),
        ("EventBatchingCondition", "event_batching_condition"),
    ):
        if member in update:
            setattr(trigger, attribute, update[member])
