"""Tag assignment from findings and LF-tag grant diffing: pure logic, then moto's Lake Formation."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from dcp.aws.session import AwsContext
from dcp.config import default_settings
from dcp.masking.findings import Detection, Finding
from dcp.names import StackNames
from dcp.pipeline.grant import (
    LfTagGrant,
    apply_tags,
    desired_grants,
    diff_grants,
    existing_grants,
    grant_persona,
    pii_columns,
    plan_tag_assignments,
)

SCHEMAS = {
    "dataset": {"customer": ["id", "username", "name", "gender", "mail", "birthdate"]},
    "dataset_masked": {"customer": ["id", "username", "name", "gender", "mail", "birthdate"]},
}
ZONES = {"dataset": "raw", "dataset_masked": "masked", "dataset_encrypted": "encrypted"}


def _finding(table: str, **types: tuple[str, ...]) -> Finding:
    return Finding(
        bucket="raw",
        key=f"dataset/{table}/LOAD00000001.csv",
        detections=tuple(Detection(type=t, count=3, columns=cols) for t, cols in types.items()),
    )


def test_pii_columns_merges_findings_per_table_case_insensitively() -> None:
    findings = [
        _finding("customer", NAME=("Name",), EMAIL_ADDRESS=("mail",)),
        _finding("customer", DATE_OF_BIRTH=("birthdate",)),
        _finding("card", CREDIT_CARD_NUMBER=("card_number",)),
    ]
    assert pii_columns(findings) == {"customer": {"name", "mail", "birthdate"}, "card": {"card_number"}}


def test_flagged_columns_get_pii_the_rest_public_and_every_level_its_zone() -> None:
    plan = plan_tag_assignments(SCHEMAS, ZONES, {"customer": {"name", "mail"}})
    by_label = {a.label: dict(a.tags) for a in plan}
    assert by_label["dataset"] == {"zone": "raw"}
    assert by_label["dataset_masked"] == {"zone": "masked"}
    assert by_label["dataset_masked.customer"] == {"zone": "masked", "sensitivity": "public"}
    assert by_label["dataset_masked.customer (name, mail)"] == {"zone": "masked", "sensitivity": "pii"}
    assert by_label["dataset.customer (id, username, gender, birthdate)"] == {
        "zone": "raw",
        "sensitivity": "public",
    }
    # column order of the table is kept inside each group
    pii = next(a for a in plan if a.label == "dataset.customer (name, mail)")
    assert pii.lf_tags() == [
        {"TagKey": "sensitivity", "TagValues": ["pii"]},
        {"TagKey": "zone", "TagValues": ["raw"]},
    ]


def test_a_table_without_findings_is_all_public() -> None:
    plan = plan_tag_assignments({"dataset": {"bank": ["id", "iban"]}}, ZONES, {})
    cols = [a for a in plan if "TableWithColumns" in a.resource]
    assert len(cols) == 1
    assert cols[0].tags["sensitivity"] == "public"
    assert cols[0].resource["TableWithColumns"]["ColumnNames"] == ["id", "iban"]


ROLE = "arn:aws:iam::123456789012:role/dcp-persona-analyst"


def test_desired_grants_are_table_permissions_plus_database_describe() -> None:
    persona = default_settings().persona("analyst")
    grants = {(g.resource_type, g.expression): g.permissions for g in desired_grants(persona, ROLE)}
    expr = (("zone", ("masked",)),)
    assert grants == {("TABLE", expr): {"SELECT", "DESCRIBE"}, ("DATABASE", expr): {"DESCRIBE"}}


def test_diff_sends_only_missing_permissions_and_nothing_when_in_place() -> None:
    persona = default_settings().persona("data-scientist")
    desired = desired_grants(persona, ROLE)
    assert diff_grants(desired, []) == desired
    in_place = [LfTagGrant(g.principal, g.resource_type, g.expression, g.permissions) for g in desired]
    assert diff_grants(desired, in_place) == []
    partial = [LfTagGrant(ROLE, "TABLE", desired[0].expression, frozenset({"DESCRIBE"}))]
    todo = diff_grants(desired, partial)
    table = next(g for g in todo if g.resource_type == "TABLE")
    assert table.permissions == {"SELECT"}


def test_revoke_diff_only_revokes_what_exists() -> None:
    persona = default_settings().persona("analyst")
    desired = desired_grants(persona, ROLE)
    assert diff_grants(desired, [], revoke=True) == []
    assert {g.resource_type for g in diff_grants(desired, desired, revoke=True)} == {"TABLE", "DATABASE"}


def test_existing_grants_read_list_permissions_entries_regardless_of_value_order() -> None:
    entries = [
        {
            "Principal": {"DataLakePrincipalIdentifier": ROLE},
            "Resource": {
                "LFTagPolicy": {
                    "ResourceType": "TABLE",
                    "Expression": [{"TagKey": "zone", "TagValues": ["masked", "encrypted"]}],
                }
            },
            "Permissions": ["SELECT"],
        },
        {"Principal": {"DataLakePrincipalIdentifier": "other"}, "Resource": {}, "Permissions": ["ALL"]},
        {"Principal": {"DataLakePrincipalIdentifier": ROLE}, "Resource": {"Database": {"Name": "x"}}},
    ]
    (grant,) = existing_grants(entries, ROLE)
    assert grant.expression == (("zone", ("encrypted", "masked")),)
    assert grant.permissions == {"SELECT"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        yield AwsContext.create(region="us-east-1")


class _CountingLf:
    """Counts mutating Lake Formation calls made through a real (moto) client."""

    def __init__(self, ctx: AwsContext) -> None:
        self.calls: list[str] = []
        client = ctx.client("lakeformation")

        def count(**kwargs: object) -> None:
            self.calls.append(kwargs["event_name"].split(".")[-1])  # type: ignore[union-attr]

        for op in ("GrantPermissions", "RevokePermissions", "AddLFTagsToResource"):
            client.meta.events.register(f"before-call.lakeformation.{op}", count)


def test_granting_twice_makes_no_second_mutating_call(aws: AwsContext) -> None:
    settings = default_settings()
    names = StackNames.of(settings, aws.account_id, aws.region)
    counter = _CountingLf(aws)
    first = grant_persona(aws, names, settings.persona("ml-training"))
    assert len(first.changed) == 2
    assert counter.calls == ["GrantPermissions", "GrantPermissions"]
    second = grant_persona(aws, names, settings.persona("ml-training"))
    assert second.changed == []
    assert counter.calls == ["GrantPermissions", "GrantPermissions"]
    assert {g.resource_type for g in second.current} == {"TABLE", "DATABASE"}
    revoked = grant_persona(aws, names, settings.persona("ml-training"), revoke=True)
    assert len(revoked.changed) == 2
    assert grant_persona(aws, names, settings.persona("ml-training"), revoke=True).changed == []


def test_tags_are_applied_once(aws: AwsContext) -> None:
    lf = aws.client("lakeformation")
    lf.create_lf_tag(TagKey="zone", TagValues=["raw", "masked", "encrypted"])
    lf.create_lf_tag(TagKey="sensitivity", TagValues=["public", "pii"])
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "dataset"})
    glue.create_table(
        DatabaseName="dataset",
        TableInput={
            "Name": "card",
            "StorageDescriptor": {"Columns": [{"Name": "id"}, {"Name": "card_number"}]},
        },
    )
    plan = plan_tag_assignments({"dataset": {"card": ["id", "card_number"]}}, ZONES, {"card": {"card_number"}})
    counter = _CountingLf(aws)
    first = apply_tags(aws, plan)
    assert len(first.applied) == 4
    got = lf.get_resource_lf_tags(
        Resource={"TableWithColumns": {"DatabaseName": "dataset", "Name": "card", "ColumnNames": ["card_number"]}}
    )
    tags = {t["TagKey"]: t["TagValues"] for t in got["LFTagsOnColumns"][0]["LFTags"]}
    assert tags == {"sensitivity": ["pii"], "zone": ["raw"]}
    calls = len(counter.calls)
    second = apply_tags(aws, plan)
    assert second.applied == [] and second.unchanged_tables == ["dataset.card"]
    assert len(counter.calls) == calls
