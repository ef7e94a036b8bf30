"""`up`, `plan` and `down` against moto in-process: complete, idempotent, convergent, clean."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from dcp.config import Settings, default_settings
from dcp.gluejob.args import job_args_from_mapping
from dcp.stack import deploy
from dcp.stack.build import build_stack
from dcp.stack.planner import Action, plan_stack
from tests.aws.aws_account import CallLog, Env, make_context, moto_account, settings_with
from tests.aws.stack_checks import custom_identifiers, remaining, snapshot

pytestmark = pytest.mark.slow


def test_up_creates_every_resource_with_its_settings(aws_env: Env, settings: Settings) -> None:
    result = deploy.up(settings, aws_env.ctx)
    assert result.result.ok, result.result.failed
    stack = build_stack(settings, aws_env.ctx)
    snap = snapshot(stack, aws_env.ctx)
    assert all(v == [] for v in snap["resources"].values()), snap["resources"]
    assert len(stack.resources) >= 60

    c = aws_env.ctx.client
    names = stack.names
    # buckets: SSE-KMS with the bucket key (logs: SSE-S3), TLS only, logging, public access blocked
    rule = c("s3").get_bucket_encryption(Bucket=names.raw_bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True
    logs_rule = c("s3").get_bucket_encryption(Bucket=names.logs_bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert logs_rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(c("s3").get_bucket_policy(Bucket=names.curated_bucket)["Policy"])
    deny = policy["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert c("s3").get_bucket_logging(Bucket=names.assets_bucket)["LoggingEnabled"]["TargetBucket"] == names.logs_bucket
    pab = c("s3").get_public_access_block(Bucket=names.findings_bucket)["PublicAccessBlockConfiguration"]
    assert all(pab.values())
    # data key: rotation on; only ml-training may decrypt; Glue and the operator may only encrypt
    key_id = c("kms").describe_key(KeyId=names.data_key_alias)["KeyMetadata"]["KeyId"]
    assert c("kms").get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    key_policy = json.loads(c("kms").get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    by_sid = {s["Sid"]: s for s in key_policy["Statement"]}
    decrypters = by_sid["Decrypt"]["Principal"]["AWS"]
    assert names.persona_role_arn("ml-training") in decrypters
    assert not any("analyst" in p or "data-scientist" in p for p in decrypters)
    assert "kms:Decrypt" not in by_sid["KeyAdministration"]["Action"]
    assert names.role_arn("glue") in by_sid["Encrypt"]["Principal"]["AWS"]
    operator = c("sts").get_caller_identity()["Arn"].replace(":sts::", ":iam::")
    assert operator in by_sid["Encrypt"]["Principal"]["AWS"] and operator not in decrypters
    # workflow: start -> raw and findings crawlers and the job at once (the job reads S3, not
    # their catalog); no trigger waits for a crawl
    start = c("glue").get_trigger(Name=names.trigger("start"))["Trigger"]
    assert start["Type"] == "ON_DEMAND"
    assert sorted(str(a.get("JobName") or a.get("CrawlerName")) for a in start["Actions"]) == sorted(
        [names.crawler("raw"), names.crawler("findings"), names.glue_job]
    )
    # and the job crawls the output zones itself, only when the catalog may not match its output
    triggers = c("glue").list_triggers()["TriggerNames"]
    assert names.trigger("after-crawl") not in triggers and names.trigger("after-job") not in triggers
    job = c("glue").get_job(JobName=names.glue_job)["Job"]
    assert job["DefaultArguments"]["--extra-py-files"].endswith("glue/dcp_masking.zip")
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    assert job["DefaultArguments"]["--additional-python-modules"] == "cryptography"  # not in Glue 5.0
    assert job["GlueVersion"] == "5.0"
    # the job's arguments are what glue_jobs/mask_pii.py accepts
    job_args = job_args_from_mapping(
        {"JOB_NAME": job["Name"], **{k[2:]: v for k, v in job["DefaultArguments"].items()}}
    )
    assert job_args.data_key_id == names.data_key_alias and job_args.tables == settings.source.tables
    assert job_args.output_crawlers == (names.crawler("masked"), names.crawler("encrypted"))
    assert job_args.policy == settings.masking.to_policy(names.custom_identifier_types())
    # findings name the custom identifier by its Macie name; the configured action must follow it
    macie_type = names.custom_identifier("account_number")
    assert job_args.policy.action_for(macie_type) == settings.masking.actions["account_number"]
    assert job_args.policy.is_joinable(macie_type)
    library = c("s3").get_object(Bucket=names.assets_bucket, Key=names.GLUE_LIBRARY_KEY)["Body"].read()
    assert "dcp/gluejob/runtime.py" in zipfile.ZipFile(io.BytesIO(library)).namelist()
    # findings path: rule -> firehose (newline delimited) -> findings bucket; S3 event -> Lambda
    stream = c("firehose").describe_delivery_stream(DeliveryStreamName=names.firehose_stream)
    dest = stream["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["Prefix"] == "findings/"
    assert dest["ProcessingConfiguration"]["Processors"][0]["Type"] == "AppendDelimiterToRecord"
    targets = c("events").list_targets_by_rule(Rule=names.findings_rule)["Targets"]
    assert targets[0]["Arn"] == stream["DeliveryStreamDescription"]["DeliveryStreamARN"]
    notification = c("s3").get_bucket_notification_configuration(Bucket=names.findings_bucket)
    assert notification["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"].endswith(names.workflow_lambda)
    seed = c("lambda").get_function(FunctionName=names.seed_lambda)["Configuration"]
    assert seed["Runtime"] == "python3.12" and len(seed["VpcConfig"]["SubnetIds"]) == 2
    # database: private, encrypted, its endpoint written into the secret
    db = c("rds").describe_db_instances(DBInstanceIdentifier=names.db_instance)["DBInstances"][0]
    assert db["PubliclyAccessible"] is False and db["StorageEncrypted"] is True
    secret = json.loads(c("secretsmanager").get_secret_value(SecretId=names.db_secret)["SecretString"])
    assert secret["host"] == db["Endpoint"]["Address"] and secret["engine"] == "mysql"
    assert len(secret["password"]) == 32
    # DMS task includes exactly the configured tables
    task = c("dms").describe_replication_tasks()["ReplicationTasks"][0]
    rules = json.loads(task["TableMappings"])["rules"]
    assert sorted(r["object-locator"]["table-name"] for r in rules) == sorted(settings.source.tables)
    assert task["MigrationType"] == "full-load-and-cdc"
    # Macie custom identifier, LF tags, Athena workgroup
    assert custom_identifiers(aws_env.ctx) == {"dcp-account_number": "XYZ-\\d+"}
    lf_tags = {t["TagKey"]: sorted(t["TagValues"]) for t in c("lakeformation").list_lf_tags()["LFTags"]}
    assert lf_tags == {"zone": ["encrypted", "masked", "raw"], "sensitivity": ["pii", "public"]}
    for persona in settings.lakeformation.personas:
        wg = c("athena").get_work_group(WorkGroup=f"dcp-wg-{persona}")["WorkGroup"]["Configuration"]
        assert wg["EnforceWorkGroupConfiguration"] is True
        assert wg["ResultConfiguration"]["OutputLocation"] == f"s3://{names.athena_results_bucket}/{persona}/"
        assert wg["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"


def test_second_up_makes_no_mutating_call_and_plan_is_all_noops(aws_env: Env, settings: Settings) -> None:
    assert deploy.up(settings, aws_env.ctx).result.ok
    aws_env.log.reset()
    ctx = aws_env.new_context()
    again = deploy.up(settings, ctx)
    assert again.result.ok
    assert aws_env.log.mutating == []
    assert len(aws_env.log.calls) > 60  # it did read everything
    _, plan = deploy.plan(settings, ctx)
    assert {s.action for s in plan.steps} == {Action.NOOP}


def test_up_deletes_the_retired_triggers_of_an_older_stack(aws_env: Env, settings: Settings) -> None:
    """Older stacks started the job when both first crawlers succeeded, and the output crawlers
    when the job succeeded; left in place, those triggers would start the job a second time (the
    start trigger starts it now) and crawl the outputs after every run (the job decides now)."""
    assert deploy.up(settings, aws_env.ctx).result.ok
    names = build_stack(settings, aws_env.ctx).names
    glue = aws_env.ctx.client("glue")
    old = {
        "after-crawl": (
            [
                {"LogicalOperator": "EQUALS", "CrawlerName": names.crawler(c), "CrawlState": "SUCCEEDED"}
                for c in ("raw", "findings")
            ],
            [{"JobName": names.glue_job}],
        ),
        "after-job": (
            [{"LogicalOperator": "EQUALS", "JobName": names.glue_job, "State": "SUCCEEDED"}],
            [{"CrawlerName": names.crawler(c)} for c in ("masked", "encrypted")],
        ),
    }
    for stage, (conditions, actions) in old.items():
        glue.create_trigger(
            Name=names.trigger(stage),
            WorkflowName=names.workflow,
            Type="CONDITIONAL",
            Predicate={"Logical": "AND", "Conditions": conditions},
            Actions=actions,
            Tags=names.tags(),
        )
    _, plan = deploy.plan(settings, aws_env.ctx)
    assert sorted((s.resource, s.action) for s in plan.changes) == [
        ("trigger-after-crawl", Action.DELETE),
        ("trigger-after-job", Action.DELETE),
    ]
    assert deploy.up(settings, aws_env.ctx).result.ok
    assert not {names.trigger(stage) for stage in old} & set(glue.list_triggers()["TriggerNames"])
    _, plan = deploy.plan(settings, aws_env.ctx)
    assert plan.changes == [] and not [s for s in plan.steps if s.resource.startswith("trigger-after")]
    down = deploy.down(settings, aws_env.new_context())
    assert down.ok and not [s for s in down.plan.changes if s.resource.startswith("trigger-after")]


def test_one_changed_setting_plans_exactly_one_update(aws_env: Env, settings: Settings) -> None:
    assert deploy.up(settings, aws_env.ctx).result.ok
    changed = settings_with("glue: {number_of_workers: 5}")
    _, plan = deploy.plan(changed, aws_env.ctx)
    assert [(s.resource, s.action, s.changed) for s in plan.changes] == [
        ("glue-job", Action.UPDATE, ("number_of_workers",))
    ]
    assert "number_of_workers" in plan.step("glue-job").reason


def test_changed_custom_identifier_regex_is_a_replace(aws_env: Env, settings: Settings) -> None:
    assert deploy.up(settings, aws_env.ctx).result.ok
    changed = settings_with("macie: {custom_identifiers: [{name: account_number, regex: 'XYZ-\\d{6}'}]}")
    stack, plan = deploy.plan(changed, aws_env.ctx)
    # The identifier is replaced (Macie's custom identifiers are immutable) and the Glue job's
    # --custom_identifiers argument follows, so its detector fallback finds the new pattern.
    assert sorted((s.resource, s.action) for s in plan.changes) == [
        ("glue-job", Action.UPDATE),
        ("macie-cdi-account_number", Action.REPLACE),
    ]
    result = deploy.up(changed, aws_env.ctx)
    assert result.result.ok
    assert custom_identifiers(aws_env.ctx) == {"dcp-account_number": "XYZ-\\d{6}"}
    assert plan_stack(stack.resources, aws_env.ctx).changes == []


@pytest.mark.parametrize("fail_at", [1, 7, 23, 48, 77, 95, 110, 125])
def test_interrupted_up_converges_when_rerun(aws_env: Env, settings: Settings, fail_at: int) -> None:
    aws_env.log.fail_at = fail_at
    first = deploy.up(settings, aws_env.ctx)
    assert not first.result.ok
    failed = first.result.failed
    assert failed is not None and "InjectedFault" in failed.error and "\n" not in failed.error
    second = deploy.up(settings, aws_env.new_context())
    assert second.result.ok, second.result.failed
    stack = build_stack(settings, aws_env.ctx)
    snap = snapshot(stack, aws_env.ctx)
    assert all(v == [] for v in snap["resources"].values()), snap["resources"]
    assert snap["inventory"] == EXPECTED_INVENTORY
    assert plan_stack(stack.resources, aws_env.ctx).changes == []


#: What a complete default stack leaves tagged with dcp:stack (one of each, no orphans).
EXPECTED_INVENTORY: dict[str, int] = {}


@pytest.fixture(autouse=True, scope="module")
def _expected_inventory() -> None:
    """The reference inventory, from one uninterrupted `up` in its own moto account."""
    if EXPECTED_INVENTORY:
        return
    mp = pytest.MonkeyPatch()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        mp.setenv(key, value)
    try:
        with moto_account():
            ctx = make_context(CallLog())
            settings = default_settings()
            assert deploy.up(settings, ctx).result.ok
            EXPECTED_INVENTORY.update(snapshot(build_stack(settings, ctx), ctx)["inventory"])
    finally:
        mp.undo()


def test_down_after_up_leaves_nothing_and_down_twice_succeeds(aws_env: Env, settings: Settings) -> None:
    assert deploy.up(settings, aws_env.ctx).result.ok
    assert remaining(aws_env.ctx, "dcp")  # the check sees the stack
    s3 = aws_env.ctx.client("s3")
    raw = build_stack(settings, aws_env.ctx).names.raw_bucket
    for body in (b"v1", b"v2"):  # two versions and a delete marker in a versioned bucket
        s3.put_object(Bucket=raw, Key="dataset/customer/LOAD00000001.csv", Body=body)
    s3.delete_object(Bucket=raw, Key="dataset/customer/LOAD00000001.csv")
    logs = aws_env.ctx.client("logs")
    for group in ("/aws/lambda/dcp-start-workflow", "/aws/lambda/dcp-other-start-workflow"):
        logs.create_log_group(logGroupName=group)  # as Lambda does on the first invocation
    down = deploy.down(settings, aws_env.new_context())
    assert down.ok, (down.result.failed, down.swept)
    assert remaining(aws_env.ctx, "dcp") == []
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert groups == ["/aws/lambda/dcp-other-start-workflow"]
    assert custom_identifiers(aws_env.ctx) == {}
    again = deploy.down(settings, aws_env.new_context())
    assert again.ok
    assert again.plan.changes == []


def test_down_of_a_half_built_stack_and_of_no_stack(aws_env: Env, settings: Settings) -> None:
    assert deploy.down(settings, aws_env.ctx).ok  # nothing there
    aws_env.log.fail_at = 60
    assert not deploy.up(settings, aws_env.ctx).result.ok
    down = deploy.down(settings, aws_env.new_context())
    assert down.ok, (down.result.failed, down.swept)
    assert remaining(aws_env.ctx, "dcp") == []


def test_sweeper_removes_tagged_leftovers_of_an_older_config(aws_env: Env, settings: Settings) -> None:
    old = settings_with("macie: {custom_identifiers: [{name: old_id, regex: 'OLD-\\d+'}]}")
    assert deploy.up(old, aws_env.ctx).result.ok
    # The current config no longer has `old_id`: only the sweeper can find it.
    down = deploy.down(settings, aws_env.new_context())
    assert down.ok
    assert any("custom-data-identifier" in s.item.arn for s in down.swept)
    assert remaining(aws_env.ctx, "dcp") == []


def test_another_stack_with_a_longer_prefix_is_untouched(aws_env: Env, settings: Settings) -> None:
    other = settings_with(
        "project: {prefix: dcp-other}\n"
        "glue: {raw_database: o_raw, masked_database: o_masked, encrypted_database: o_enc}\n"
    )
    assert deploy.up(other, aws_env.ctx).result.ok
    mine = deploy.up(settings, aws_env.ctx).result
    assert mine.ok, mine.failed
    assert deploy.down(settings, aws_env.new_context()).ok
    stack = build_stack(other, aws_env.ctx)
    # LF-tag keys are account-wide and unprefixed, and Macie keeps one classification export per
    # account and region (the last stack up owns it): the only things the two stacks share.
    changed = {s.resource for s in plan_stack(stack.resources, aws_env.ctx).changes}
    assert changed <= {"lf-tag-zone", "lf-tag-sensitivity", "macie-classification-export"}


def test_drift_is_planned_as_updates_and_repaired(aws_env: Env, settings: Settings) -> None:
    import io
    import zipfile

    assert deploy.up(settings, aws_env.ctx).result.ok
    names = build_stack(settings, aws_env.ctx).names
    c = aws_env.ctx.client
    c("s3").delete_bucket_policy(Bucket=names.raw_bucket)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("start_workflow.py", "def handler(e, c):\n    return 'edited by hand'\n")
    c("lambda").update_function_code(FunctionName=names.workflow_lambda, ZipFile=buf.getvalue())
    c("iam").delete_role_policy(RoleName=names.role("events"), PolicyName="dcp")
    _, plan = deploy.plan(settings, aws_env.ctx)
    assert {(s.resource, s.action, s.changed) for s in plan.changes} == {
        ("bucket-raw", Action.UPDATE, ("policy",)),
        ("fn-start-workflow", Action.UPDATE, ("code_sha256",)),
        ("role-events", Action.UPDATE, ("policy",)),
    }
    assert deploy.up(settings, aws_env.ctx).result.ok
    _, plan = deploy.plan(settings, aws_env.ctx)
    assert plan.changes == []


def test_a_new_project_tag_plans_a_tag_update_on_every_taggable_resource(aws_env: Env, settings: Settings) -> None:
    assert deploy.up(settings, aws_env.ctx).result.ok
    tagged = settings_with("project: {tags: {team: data-platform}}")
    stack, plan = deploy.plan(tagged, aws_env.ctx)
    taggable = {r.logical for r in stack.resources if "tags" in r.desired()}
    assert len(taggable) > 40
    assert {s.resource for s in plan.changes} == taggable
    assert {s.changed for s in plan.changes} == {("tags",)}
