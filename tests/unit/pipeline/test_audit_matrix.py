"""The audit's intended matrix follows config.yaml's personas; its verdicts follow AWS's errors."""

from __future__ import annotations

from botocore.exceptions import ClientError

from dcp.config import default_settings, parse_settings
from dcp.pipeline.audit import ALLOWED, DENIED, ERROR, AuditRow, attempt, differences, intended, matrix
from dcp.pipeline.replicate import moved_tables


def test_intended_matrix_of_the_default_personas() -> None:
    personas = default_settings().lakeformation.personas
    admin, analyst = intended(personas["lf-admin"]), intended(personas["analyst"])
    scientist, trainer = intended(personas["data-scientist"]), intended(personas["ml-training"])
    assert admin["query-raw"] == ALLOWED and analyst["query-raw"] == DENIED
    assert analyst["query-masked"] == ALLOWED and analyst["query-encrypted"] == DENIED
    assert scientist["query-encrypted"] == ALLOWED and scientist["decrypt-data-key"] == DENIED
    assert trainer["decrypt-data-key"] == ALLOWED
    for row in (admin, analyst, scientist, trainer):
        assert row["read-raw-object"] == row["change-key-policy"] == DENIED
        assert row["read-others-query-results"] == row["read-others-result-file"] == DENIED


def test_a_grant_in_config_changes_the_intended_matrix() -> None:
    text = "lakeformation:\n  personas:\n    auditor:\n      grants:\n        - expression: {zone: [raw]}\n"
    assert intended(parse_settings(text).lakeformation.personas["auditor"])["query-raw"] == ALLOWED


def _raise(code: str) -> None:
    raise ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")


def test_access_denied_is_denied_other_errors_are_errors() -> None:
    assert attempt(lambda: None) == (ALLOWED, "")
    assert attempt(lambda: _raise("AccessDenied"))[0] == DENIED
    assert attempt(lambda: _raise("AccessDeniedException"))[0] == DENIED
    assert attempt(lambda: _raise("NoSuchKey"))[0] == ERROR


def test_differences_name_persona_check_and_both_outcomes() -> None:
    rows = [
        AuditRow("analyst", "query-raw", DENIED, ALLOWED),
        AuditRow("analyst", "query-masked", ALLOWED, ALLOWED),
    ]
    assert [r.difference() for r in differences(rows)] == ["analyst: query-raw: expected denied, actual allowed"]
    assert matrix(rows) == [{"persona": "analyst", "query-raw": "ALLOWED (expected denied)", "query-masked": "allowed"}]


def test_only_tables_whose_change_counters_grew_await_a_cdc_file() -> None:
    before = [{"TableName": "customer", "Inserts": 1, "Updates": 0, "Deletes": 0}, {"TableName": "card"}]
    after = [{"TableName": "customer", "Inserts": 3, "Updates": 0, "Deletes": 0}, {"TableName": "card"}]
    assert moved_tables(before, after, ["customer", "card", "bank"]) == ["customer"]
