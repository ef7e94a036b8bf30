"""The plan picks one action per flagged column, the strongest when several types meet."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dcp.masking.findings import Detection, Finding
from dcp.masking.plan import MaskingPlan
from dcp.masking.policy import Action, MaskingPolicy, strongest


def finding(key: str, *detections: Detection) -> Finding:
    return Finding(bucket="raw", key=key, detections=detections)


def test_strength_order_is_documented_order() -> None:
    order = [Action.DROP, Action.ENCRYPT, Action.TOKEN, Action.PARTIAL, Action.REDACT, Action.KEEP]
    assert sorted(Action, key=lambda a: a.strength, reverse=True) == order
    assert strongest([Action.PARTIAL, Action.TOKEN, Action.REDACT]) is Action.TOKEN
    assert strongest([]) is Action.KEEP


def test_policy_lookup_is_case_insensitive_with_default() -> None:
    policy = MaskingPolicy(actions={"credit_card_number": Action.PARTIAL}, default_action=Action.TOKEN)
    assert policy.action_for("CREDIT_CARD_NUMBER") is Action.PARTIAL
    assert policy.action_for("NAME") is Action.TOKEN
    with pytest.raises(ValueError):
        MaskingPolicy(partial_keep=-1)


def test_plan_from_findings_merges_files_and_picks_strongest() -> None:
    policy = MaskingPolicy(
        actions={
            "NAME": "token",
            "EMAIL_ADDRESS": "redact",
            "CREDIT_CARD_NUMBER": "partial",
            "account_number": "encrypt",
        },
        joinable_types=frozenset({"account_number"}),
    )
    findings = [
        finding("s/customer/LOAD1.csv", Detection("NAME", 3, ("name",)), Detection("EMAIL_ADDRESS", 3, ("mail",))),
        # a second file of the same table: the notes column holds names and emails
        finding("s/customer/LOAD2.csv", Detection("EMAIL_ADDRESS", 1, ("notes", "mail"))),
        finding("s/customer/LOAD3.csv", Detection("NAME", 1, ("notes",))),
        finding("s/bank/LOAD1.csv", Detection("account_number", 9, ("account_number",), custom=True)),
    ]
    plan = MaskingPlan.from_findings(findings, policy)
    customer = plan.tables["customer"]
    assert customer.columns["name"].action is Action.TOKEN
    assert customer.columns["mail"].action is Action.REDACT
    assert customer.columns["notes"].types == frozenset({"NAME", "EMAIL_ADDRESS"})
    assert customer.columns["notes"].action is Action.TOKEN  # token beats redact
    assert customer.rule("id") is None  # nobody flagged it: kept as is
    bank = plan.tables["bank"]
    assert bank.columns["account_number"].action is Action.ENCRYPT
    assert bank.columns["account_number"].joinable
    assert plan.warnings == ()


def test_columns_missing_from_schema_become_warnings() -> None:
    findings = [finding("s/card/LOAD1.csv", Detection("CREDIT_CARD_NUMBER", 1, ("card_number", "cc")))]
    schema = pa.schema([("id", pa.int64()), ("card_number", pa.string())])
    plan = MaskingPlan.from_findings(findings, MaskingPolicy(), schemas={"card": schema})
    assert set(plan.tables["card"].columns) == {"card_number"}
    assert len(plan.warnings) == 1 and "'cc'" in plan.warnings[0]
    plan = MaskingPlan.from_findings(findings, MaskingPolicy(), schemas={"other": ["x"]})
    assert any("no schema" in w for w in plan.warnings)


def test_policy_aliases_and_category_fallback() -> None:
    policy = MaskingPolicy(
        actions={"IBAN": "encrypt", "FINANCIAL_INFORMATION": "token", "custom_identifier": "partial"},
        default_action=Action.REDACT,
        joinable_types=frozenset({"iban"}),
    )
    assert policy.action_for("INTERNATIONAL_BANK_ACCOUNT_NUMBER") is Action.ENCRYPT
    assert policy.is_joinable("INTERNATIONAL_BANK_ACCOUNT_NUMBER")
    assert policy.action_for("CREDIT_CARD_NUMBER_(NO_KEYWORD)") is Action.TOKEN  # by category
    assert policy.action_for("account_number") is Action.PARTIAL  # custom identifiers' category
    assert policy.action_for("NAME") is Action.REDACT  # default
