"""The job's command line: what Glue, spark-submit and the sandbox pass, and its mistakes."""

from __future__ import annotations

import pytest

from dcp.gluejob.args import JobArgumentError, parse_job_args, policy_from_json, policy_to_json
from dcp.masking.policy import Action, MaskingPolicy

BASE = [
    "mask_pii.py",
    "--JOB_NAME", "job",
    "--raw_bucket", "raw",
    "--findings_bucket", "findings",
    "--curated_bucket", "curated",
    "--data_key_id", "alias/dcp-data",
    "--token_key", "00" * 32,
]  # fmt: skip


def test_defaults_and_glue_system_arguments_are_tolerated() -> None:
    args = parse_job_args([*BASE, "--job-bookmark-option", "job-bookmark-enable", "--TempDir", "s3://t/"])
    assert args.engine == "arrow"  # no awsglue here, so no Spark unless asked
    assert args.findings_prefix == "findings/"
    assert args.raw_prefix == ""
    assert args.tables == ()
    assert args.primary_key == "id"
    assert args.batch_size == 10_000
    assert args.policy == MaskingPolicy()
    assert args.token_key == bytes(32)


def test_every_optional_argument_is_read() -> None:
    policy = MaskingPolicy(actions={"NAME": Action.TOKEN}, partial_keep=2, joinable_types=frozenset({"NAME"}))
    args = parse_job_args(
        [
            *BASE,
            "--raw_prefix", "dataset",
            "--findings_prefix", "/macie/",
            "--tables", "customer, card,",
            "--engine", "SPARK",
            "--policy", policy_to_json(policy),
            "--batch_size", "500",
            "--primary_key", "customer_id",
            "--masked_database", "dataset_masked",
            "--encrypted_database", "dataset_encrypted",
        ]
    )  # fmt: skip
    assert (args.raw_prefix, args.findings_prefix) == ("dataset/", "macie/")
    assert args.tables == ("customer", "card")
    assert args.engine == "spark"
    assert args.policy == policy
    assert (args.batch_size, args.primary_key) == (500, "customer_id")
    assert (args.masked_database, args.encrypted_database) == ("dataset_masked", "dataset_encrypted")


def test_policy_json_round_trips_the_settings_policy() -> None:
    policy = MaskingPolicy(
        actions={"CREDIT_CARD_NUMBER": Action.PARTIAL, "account_number": Action.ENCRYPT},
        default_action=Action.DROP,
        partial_keep=3,
        joinable_types=frozenset({"account_number"}),
        redact_mask="###",
    )
    assert policy_from_json(policy_to_json(policy)) == policy


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--engine", "flink"], "--engine must be one of spark, arrow"),
        (["--policy", "{"], "--policy is not valid JSON"),
        (["--policy", '{"actions": {"NAME": "shred"}}'], "valid actions: redact, partial"),
        (["--policy", '{"action": {}}'], "unknown key(s): action"),
        (["--batch_size", "0"], "--batch_size must be positive"),
        (["--token_key", "zz"], "--token_key must be hexadecimal"),
    ],
)
def test_malformed_arguments_say_which_and_why(extra: list[str], message: str) -> None:
    with pytest.raises(JobArgumentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_job_args([*BASE, *extra])


def test_missing_required_arguments_are_all_named() -> None:
    with pytest.raises(JobArgumentError, match="--raw_bucket, --curated_bucket"):
        parse_job_args(["mask_pii.py", "--JOB_NAME", "j", "--findings_bucket", "f", "--data_key_id", "k"])


def test_a_token_key_or_secret_is_required_and_the_key_never_shows_in_repr() -> None:
    with pytest.raises(JobArgumentError, match="--token_secret_id"):
        parse_job_args(BASE[:-2])
    args = parse_job_args([*BASE[:-2], "--token_key", "ab" * 32])
    assert "ab" * 4 not in repr(args) and "171" not in repr(args)


def test_full_rebuild_and_buckets() -> None:
    assert parse_job_args(BASE).full_rebuild is False and parse_job_args(BASE).buckets == 32
    args = parse_job_args([*BASE, "--full_rebuild", "true", "--buckets", "64"])
    assert args.full_rebuild is True and args.buckets == 64
    with pytest.raises(JobArgumentError, match="--full_rebuild must be true or false"):
        parse_job_args([*BASE, "--full_rebuild", "maybe"])
    with pytest.raises(JobArgumentError, match="--buckets must be positive"):
        parse_job_args([*BASE, "--buckets", "0"])
