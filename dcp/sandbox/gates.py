"""The sandbox's access gates: every request from a non-root identity, and every action a service
takes as its role, is authorised here by the one evaluator in :mod:`dcp.sandbox.policy_eval`.

AWS's rule for a request inside one account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny in any policy wins; otherwise an Allow in an identity policy *or* in the
resource's policy (S3 bucket policy, Secrets Manager resource policy) allows; otherwise the
request is implicitly denied. KMS is the exception: the key policy decides every operation on
a key, and IAM policies count only where the key policy delegates to the account
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html); grants add.

:func:`required_access` maps an operation to the IAM actions and resource ARNs it needs (S3's
action names follow https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html;
an operation that cannot be mapped to a resource is checked on its action alone).
:func:`authorize_call` is what the dispatcher runs before an emulator or moto serves the call;
:func:`role_may` and :func:`macie_may_read` are what emulators run when a service acts as its
role (Macie reading an object, DMS writing one, a crawler reading a bucket).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from dcp.sandbox import moto_compat
from dcp.sandbox.identity import Principal, identity_policies, principal_arns, role_principal
from dcp.sandbox.policy_eval import AccessRequest, Decision, evaluate
from dcp.sandbox.registry import AwsError, Call

log = logging.getLogger("dcp.sandbox")

#: IAM service prefixes that differ from the SigV4 signing name.
_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}

#: Operations whose IAM action is not `<prefix>:<Operation>`.
_ACTION = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("lambda", "InvokeAsync"): "lambda:InvokeFunction",
    ("lambda", "InvokeWithResponseStream"): "lambda:InvokeFunction",
}

#: Operations any authenticated principal may call without a permission.
_ALWAYS_ALLOWED = {("sts", "GetCallerIdentity")}

#: S3 operations whose IAM action differs from `s3:<Operation>` (the service authorization reference).
_S3_ACTION = {
    "HeadObject": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObject",
    "SelectObjectContent": "s3:GetObject",
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "ListParts": "s3:ListMultipartUploadParts",
    "ListBuckets": "s3:ListAllMyBuckets",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "DeleteObjects": "s3:DeleteObject",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketWebsite": "s3:DeleteBucketWebsite",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
}

#: KMS operations on no particular key: the caller's IAM policies decide.
_KMS_KEYLESS = {
    "CreateKey",
    "ListKeys",
    "ListAliases",
    "GenerateRandom",
    "ListRetirableGrants",
    "CreateCustomKeyStore",
    "DescribeCustomKeyStores",
    "ConnectCustomKeyStore",
    "DisconnectCustomKeyStore",
    "DeleteCustomKeyStore",
    "UpdateCustomKeyStore",
    "RetireGrant",  # authorised by the grant's retiring principal, not by a policy
}


@dataclass(frozen=True)
class Check:
    """One permission an operation needs: an action on a resource, and how the resource decides.

    `resource` None: the operation's resource is not known to the sandbox, so only the action
    is matched. `resource_policy`: the resource's own policy (bucket, secret). `kms_key`: the
    key whose policy decides (KMS operations and SSE-KMS objects).
    """

    action: str
    resource: str | None
    resource_policy: str | None = None
    kms_key: Any = None  # dcp.sandbox.emulators.kms.models.KeyRef
    context: Mapping[str, Any] = field(default_factory=dict)


class AccessDenied(AwsError):
    """An AWS-shaped access-denied error that names the principal, action and resource."""

    def __init__(self, code: str, principal: Principal, check: Check, why: str, status: int = 403) -> None:
        resource = check.resource or "*"
        super().__init__(
            code,
            f"User: {principal.arn} is not authorized to perform: {check.action} on resource: {resource} because {why}",
            status,
        )
        self.check = check


# --------------------------------------------------------------------------- decisions


def _request(principal: Principal, check: Check) -> AccessRequest:
    context: dict[str, Any] = {
        "aws:SecureTransport": "true",  # the sandbox stands in for AWS's HTTPS endpoints
        "aws:PrincipalAccount": principal.account,
        "aws:PrincipalArn": principal.role_arn or principal.arn,
        "aws:PrincipalType": "AssumedRole" if principal.kind == "assumed-role" else principal.kind.title(),
        **check.context,
    }
    return AccessRequest(
        action=check.action,
        resource=check.resource or "*",
        principal_arns=principal_arns(principal),
        account=principal.account,
        context=context,
    )


def decide(principal: Principal, check: Check, identity: Sequence[str] | None = None) -> tuple[Decision, str]:
    """The decision for one check, and AWS's "because ..." reason when it is not ALLOW."""
    if principal.is_root and check.kms_key is None:
        return Decision.ALLOW, ""
    docs = list(identity_policies(principal) if identity is None else identity)
    if check.kms_key is not None:
        from dcp.sandbox.emulators.kms.models import key_decision

        decision = key_decision(principal, check.kms_key, check.action.split(":", 1)[1], check.context, docs)
        return decision, "" if decision is Decision.ALLOW else _why(decision, "key policy, IAM policy or grant")
    request = _request(principal, check)
    if check.resource is None:
        request = AccessRequest(
            action=request.action,
            resource="*",
            principal_arns=request.principal_arns,
            account=request.account,
            context=request.context,
        )
        decision = _evaluate_any_resource(docs, request)
    else:
        decision = evaluate(docs, request)
    if decision is Decision.DENY:
        return decision, _why(decision, "identity-based policy")
    if check.resource_policy:
        # A resource policy naming the account root delegates to IAM: it allows no one by itself,
        # but its Deny statements bind everyone in the account.
        if evaluate([check.resource_policy], request, resource_policy=True) is Decision.DENY:
            return Decision.DENY, _why(Decision.DENY, "resource-based policy")
        if evaluate([check.resource_policy], request, resource_policy=True, include_account=False) is Decision.ALLOW:
            return Decision.ALLOW, ""
    if decision is Decision.ALLOW:
        return decision, ""
    return Decision.NO_MATCH, f"no identity-based policy allows the {check.action} action"


def _evaluate_any_resource(docs: Sequence[str], request: AccessRequest) -> Decision:
    """Like `evaluate`, but a statement's Resource always matches (the resource is unknown)."""
    from dcp.sandbox.policy_eval import statements

    loosened = []
    for doc in docs:
        stmts = [{k: v for k, v in s.items() if k not in ("Resource", "NotResource")} for s in statements(doc)]
        loosened.append({"Statement": stmts})
    return evaluate(loosened, request)


def _why(decision: Decision, kind: str) -> str:
    if decision is Decision.DENY:
        return f"an explicit deny in a {kind}"
    return f"no {kind} allows it"


def authorize(
    principal: Principal,
    checks: Sequence[Check],
    *,
    code: str,
    status: int = 403,
    identity: Sequence[str] | None = None,
) -> None:
    """Raise :class:`AccessDenied` (AWS-shaped, `code`) unless `principal` passes every check.

    `identity`: the principal's identity policies when IAM does not hold them (a service-linked role).
    """
    if not checks:
        return
    if identity is None:
        identity = [] if principal.is_root else identity_policies(principal)
    for check in checks:
        decision, why = decide(principal, check, identity)
        if decision is not Decision.ALLOW:
            raise AccessDenied(code, principal, check, why, status)


# --------------------------------------------------------------------------- operation -> checks


def iam_prefix(service: str) -> str:
    try:
        name = str(moto_compat.service_model(service).metadata.get("signingName") or service)
    except Exception:
        name = service
    return _PREFIX.get(name, name)


def required_access(call: Call) -> list[Check]:
    """The permissions `call` needs, per the service's authorization reference."""
    if (call.service, call.operation) in _ALWAYS_ALLOWED:
        return []
    handler = _SERVICES.get(call.service)
    if handler is not None:
        return handler(call)
    action = _ACTION.get((call.service, call.operation), f"{iam_prefix(call.service)}:{call.operation}")
    return [Check(action, None)]


#: Lake Formation operations only a data lake administrator (or, for grants, a holder of the grant
#: option on the resource) may call, whatever IAM allows
#: (https://docs.aws.amazon.com/lake-formation/latest/dg/permissions-reference.html).
_LF_ADMIN_ONLY = {
    "GrantPermissions",
    "RevokePermissions",
    "BatchGrantPermissions",
    "BatchRevokePermissions",
    "PutDataLakeSettings",
    "RegisterResource",
    "DeregisterResource",
    "CreateLFTag",
    "UpdateLFTag",
    "DeleteLFTag",
}


def _check_lake_formation(call: Call, code: str) -> None:
    if call.operation not in _LF_ADMIN_ONLY:
        return
    from dcp.sandbox.emulators.lakeformation.models import lf_backend, read_state

    names = {call.principal.arn, call.principal.role_arn or call.principal.arn}
    if names & read_state(call.account_id, call.region).admins:
        return
    entries = call.params.get("Entries") or [call.params]
    catalog = lf_backend(call.account_id, call.region).grants.get(call.account_id)
    held = [
        p
        for p in (list(catalog.permissions) if catalog is not None else [])
        if str((p.principal or {}).get("DataLakePrincipalIdentifier", "")) in names and p.permissions_with_grant_options
    ]
    if call.operation.endswith(("GrantPermissions", "RevokePermissions")) and all(
        any(p.resource == entry.get("Resource") for p in held) for entry in entries
    ):
        return
    raise AccessDenied(
        code,
        call.principal,
        Check(f"lakeformation:{call.operation}", "*"),
        "it is not a data lake administrator and holds no grant option on the resource",
    )


def authorize_call(call: Call, protocol: str) -> None:
    """The dispatcher's gate: raise an AWS-shaped AccessDenied unless the caller may make `call`."""
    code = "AccessDenied" if protocol in ("rest-xml", "query", "ec2") else "AccessDeniedException"
    status = 400 if call.service == "kms" else 403  # KMS answers AccessDeniedException with 400
    if call.principal.is_root:
        # The root has every IAM permission, but a key policy binds it too.
        if call.service == "kms":
            authorize(call.principal, required_access(call), code=code, status=status)
        return
    authorize(call.principal, required_access(call), code=code, status=status)
    if call.service == "sts" and call.operation == "AssumeRole":
        _check_trust(call, code)
    if call.service == "lakeformation":
        _check_lake_formation(call, code)


# ---- S3


def s3_object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _s3_bucket(account_id: str, name: str) -> Any:
    s3_backends = moto_compat.backends("s3")
    try:
        return s3_backends[account_id]["aws"].buckets.get(name)
    except Exception:
        return None


def _bucket_policy(bucket: Any) -> str | None:
    policy = getattr(bucket, "policy", None)
    if policy is None:
        return None
    return policy.decode() if isinstance(policy, bytes) else str(policy)


def s3_checks(account_id: str, region: str, action: str, bucket_name: str, key: str | None = None) -> tuple[Check, Any]:
    """The check for an S3 action on a bucket or object (with the bucket's policy), and the bucket."""
    bucket = _s3_bucket(account_id, bucket_name)
    resource = s3_object_arn(bucket_name, key) if key is not None else f"arn:aws:s3:::{bucket_name}"
    return Check(action, resource, resource_policy=_bucket_policy(bucket)), bucket


def _key_check(
    account_id: str, region: str, key_id: str | None, operation: str, context: Mapping[str, Any]
) -> Check | None:
    if not key_id:
        return None
    from dcp.sandbox.emulators.kms.models import find_key

    key = find_key(account_id, region, key_id)
    if key is None:
        return None
    return Check(f"kms:{operation}", key.arn, kms_key=key, context=context)


def _bucket_region(bucket: Any, default: str) -> str:
    return str(getattr(bucket, "region_name", None) or default)


def s3_read_checks(account_id: str, region: str, bucket_name: str, key: str) -> list[Check]:
    """Reading an object: s3:GetObject, and kms:Decrypt on its key when it is SSE-KMS."""
    check, bucket = s3_checks(account_id, region, "s3:GetObject", bucket_name, key)
    checks = [check]
    obj = None
    if bucket is not None:
        obj = bucket.keys.get(key)
    if obj is not None and getattr(obj, "encryption", None) == "aws:kms":
        kms = _key_check(
            account_id,
            _bucket_region(bucket, region),
            getattr(obj, "kms_key_id", None),
            "Decrypt",
            {"kms:EncryptionContext:aws:s3:arn": _s3_context_arn(obj, bucket_name, key)},
        )
        if kms is not None:
            checks.append(kms)
    return checks


def _s3_context_arn(obj: Any, bucket_name: str, key: str) -> str:
    # With an S3 Bucket Key the encryption context is the bucket's ARN, else the object's.
    if getattr(obj, "bucket_key_enabled", False):
        return f"arn:aws:s3:::{bucket_name}"
    return s3_object_arn(bucket_name, key)


def s3_write_checks(
    account_id: str, region: str, bucket_name: str, key: str, headers: Mapping[str, str] | None = None
) -> list[Check]:
    """Writing an object: s3:PutObject, and kms:GenerateDataKey when it will be SSE-KMS."""
    check, bucket = s3_checks(account_id, region, "s3:PutObject", bucket_name, key)
    checks = [check]
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    sse = lower.get("x-amz-server-side-encryption")
    key_id = lower.get("x-amz-server-side-encryption-aws-kms-key-id")
    bucket_key = str(lower.get("x-amz-server-side-encryption-bucket-key-enabled", "")).lower() == "true"
    if sse is None and bucket is not None:
        sse, key_id, bucket_key = _default_encryption(bucket)
    if sse == "aws:kms":
        arn = f"arn:aws:s3:::{bucket_name}" if bucket_key else s3_object_arn(bucket_name, key)
        kms = _key_check(
            account_id,
            _bucket_region(bucket, region),
            key_id,
            "GenerateDataKey",
            {"kms:EncryptionContext:aws:s3:arn": arn},
        )
        if kms is not None:
            checks.append(kms)
    return checks


def _default_encryption(bucket: Any) -> tuple[str | None, str | None, bool]:
    encryption = getattr(bucket, "encryption", None) or {}
    rules = encryption.get("Rule") or encryption.get("Rules") or []
    rules = rules if isinstance(rules, list) else [rules]
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default:
            enabled = str(rule.get("BucketKeyEnabled", "false")).lower() == "true"
            return default.get("SSEAlgorithm"), default.get("KMSMasterKeyID"), enabled
    return None, None, False


_VIRTUAL_HOST = re.compile(r"^(.+?)\.s3[.-][^/]*amazonaws\.com(?::\d+)?$")
_DELETE_KEY = re.compile(r"<Key>(.*?)</Key>", re.DOTALL)


def _s3(call: Call) -> list[Check]:
    raw = call.request
    path = unquote(raw.path if raw else "").lstrip("/")
    headers = raw.headers if raw else {}
    host = str({k.lower(): v for k, v in headers.items()}.get("host", ""))
    virtual = _VIRTUAL_HOST.match(host)
    if virtual:  # bucket.s3[.region].amazonaws.com/key
        bucket_name, key = virtual.group(1), path
    else:
        bucket_name, _, key = path.partition("/")
    op = call.operation
    acct, region = call.account_id, call.region
    if op == "ListBuckets":
        return [Check("s3:ListAllMyBuckets", "*")]
    if not bucket_name:
        return [Check(_S3_ACTION.get(op, f"s3:{op}"), None)]
    if op in ("GetObject", "HeadObject", "GetObjectAttributes", "SelectObjectContent"):
        return s3_read_checks(acct, region, bucket_name, key)
    if op in ("PutObject", "CreateMultipartUpload"):
        return s3_write_checks(acct, region, bucket_name, key, headers)
    if op == "CopyObject":
        source = unquote(str({k.lower(): v for k, v in headers.items()}.get("x-amz-copy-source", ""))).lstrip("/")
        src_bucket, _, src_key = source.split("?", 1)[0].partition("/")
        reads = s3_read_checks(acct, region, src_bucket, src_key) if src_bucket else []
        return [*reads, *s3_write_checks(acct, region, bucket_name, key, headers)]
    if op == "DeleteObjects":
        body = raw.body.decode("utf-8", "replace") if raw else ""
        keys = [_xml_unescape(k) for k in _DELETE_KEY.findall(body)] or ["*"]
        return [s3_checks(acct, region, "s3:DeleteObject", bucket_name, k)[0] for k in keys]
    action = _S3_ACTION.get(op, f"s3:{op}")
    if op in ("ListObjects", "ListObjectsV2"):
        return [
            s3_list_check(acct, region, bucket_name, parse_qs(raw.query_string if raw else "").get("prefix", [""])[0])
        ]
    if key and op not in ("CreateBucket", "DeleteBucket"):
        if "versionId" in parse_qs(raw.query_string if raw else "") and op in ("GetObject", "DeleteObject"):
            action = f"{action}Version"
        return [s3_checks(acct, region, action, bucket_name, key)[0]]
    return [s3_checks(acct, region, action, bucket_name)[0]]


def _xml_unescape(text: str) -> str:
    import html

    return html.unescape(text)


# ---- KMS


def _kms(call: Call) -> list[Check]:
    from dcp.sandbox.emulators.kms.models import key_id_of_ciphertext

    p = call.params
    op = call.operation
    if op in _KMS_KEYLESS:
        return [Check(f"kms:{op}", "*" if op != "CreateKey" else None)]
    context: dict[str, Any] = {}
    if op == "Decrypt":
        key_id = key_id_of_ciphertext(p.get("CiphertextBlob") or b"") or p.get("KeyId")
        context = _kms_context(p.get("EncryptionContext"))
    elif op == "ReEncrypt":
        source = key_id_of_ciphertext(p.get("CiphertextBlob") or b"") or p.get("SourceKeyId")
        checks = [
            _key_check(
                call.account_id, call.region, source, "ReEncryptFrom", _kms_context(p.get("SourceEncryptionContext"))
            ),
            _key_check(
                call.account_id,
                call.region,
                p.get("DestinationKeyId"),
                "ReEncryptTo",
                _kms_context(p.get("DestinationEncryptionContext")),
            ),
        ]
        return [c for c in checks if c is not None]
    elif op in ("CreateAlias", "UpdateAlias"):
        key_id = p.get("TargetKeyId")
    elif op == "DeleteAlias":
        key_id = p.get("AliasName")
    else:
        key_id = p.get("KeyId")
        context = _kms_context(p.get("EncryptionContext"))
    if op == "CreateGrant":
        context = {
            "kms:GrantOperations": list(p.get("Operations") or []),
            "kms:GranteePrincipal": p.get("GranteePrincipal"),
        }
    check = _key_check(call.account_id, call.region, key_id, op, context)
    # An unknown key: moto answers NotFoundException, as KMS does for a key the caller may not see.
    return [check] if check is not None else []


def _kms_context(context: Any) -> dict[str, Any]:
    context = dict(context or {})
    out: dict[str, Any] = {f"kms:EncryptionContext:{k}": v for k, v in context.items()}
    out["kms:EncryptionContextKeys"] = sorted(context)
    return out


# ---- Secrets Manager


def _secret(call: Call) -> list[Check]:
    action = f"secretsmanager:{call.operation}"
    secret_id = call.params.get("SecretId") or call.params.get("Name")
    if not secret_id:
        return [Check(action, "*")]
    secretsmanager_backends = moto_compat.backends("secretsmanager")
    secret = None
    try:
        backend = secretsmanager_backends[call.account_id][call.region]
        secret = backend.secrets.get(secret_id)
        if secret is None:
            secret = next((s for s in backend.secrets.values() if getattr(s, "name", None) == secret_id), None)
    except Exception:
        secret = None
    if secret is None:
        arn = (
            secret_id
            if str(secret_id).startswith("arn:")
            else (f"arn:aws:secretsmanager:{call.region}:{call.account_id}:secret:{secret_id}")
        )
        return [Check(action, arn)]
    policy = getattr(secret, "policy", None)
    return [Check(action, str(secret.arn), resource_policy=str(policy) if policy else None)]


# ---- IAM and STS


def _iam(call: Call) -> list[Check]:
    p = call.params
    acct = call.account_id
    action = f"iam:{call.operation}"
    if p.get("RoleName"):
        resource = _role_arn(acct, str(p["RoleName"]))
    elif p.get("UserName"):
        resource = f"arn:aws:iam::{acct}:user/{p['UserName']}"
    elif p.get("GroupName"):
        resource = f"arn:aws:iam::{acct}:group/{p['GroupName']}"
    elif p.get("InstanceProfileName"):
        resource = f"arn:aws:iam::{acct}:instance-profile/{p['InstanceProfileName']}"
    elif p.get("PolicyArn"):
        resource = str(p["PolicyArn"])
    elif call.operation == "CreatePolicy" and p.get("PolicyName"):
        resource = f"arn:aws:iam::{acct}:policy{p.get('Path') or '/'}{p['PolicyName']}"
    else:
        resource = "*"
    return [Check(action, resource)]


def _role_arn(account_id: str, name: str) -> str:
    iam_backends = moto_compat.backends("iam")
    try:
        return str(iam_backends[account_id]["aws"].get_role(name).arn)
    except Exception:
        return f"arn:aws:iam::{account_id}:role/{name}"


def _sts(call: Call) -> list[Check]:
    if call.operation in ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        return [Check(f"sts:{call.operation}", str(call.params.get("RoleArn") or "*"))]
    return [Check(f"sts:{call.operation}", None)]


def _check_trust(call: Call, code: str) -> None:
    """AssumeRole also needs the role's trust policy to allow the caller."""
    iam_backends = moto_compat.backends("iam")
    role_arn = str(call.params.get("RoleArn") or "")
    name = role_arn.split("/")[-1]
    try:
        role = iam_backends[call.account_id]["aws"].get_role(name)
    except Exception:
        return  # moto answers for an unknown role
    check = Check("sts:AssumeRole", role_arn)
    request = _request(call.principal, check)
    trust = role.assume_role_policy_document
    if evaluate([trust], request, resource_policy=True) is not Decision.ALLOW:
        raise AccessDenied(code, call.principal, check, "the role's trust policy does not allow it")


# ---- ARN-scoped services


def _arn(call: Call, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{call.region}:{call.account_id}:{resource}"


def _glue(call: Call) -> list[Check]:
    p = call.params
    action = f"glue:{call.operation}"
    catalog = _arn(call, "glue", "catalog")
    database = p.get("DatabaseName")
    if call.operation in ("CreateDatabase", "DeleteDatabase", "GetDatabase", "UpdateDatabase"):
        database = database or p.get("Name") or (p.get("DatabaseInput") or {}).get("Name")
    table = p.get("TableName")
    if table is None and database and call.operation in ("CreateTable", "UpdateTable"):
        table = (p.get("TableInput") or {}).get("Name")
    if table is None and database and call.operation in ("GetTable", "DeleteTable"):
        table = p.get("Name")
    if database is None:
        if call.operation in ("GetDatabases", "SearchTables", "GetCatalogImportStatus"):
            return [Check(action, catalog)]
        return [Check(action, _glue_resource(call))]
    checks = [Check(action, catalog), Check(action, _arn(call, "glue", f"database/{database}"))]
    location = ((p.get("TableInput") or {}).get("StorageDescriptor") or {}).get("Location")
    if location and call.operation in ("CreateTable", "UpdateTable") and not call.principal.is_root:
        from dcp.sandbox.locations import may_create_table_at

        refused = may_create_table_at(call.principal, str(location), call.account_id, call.region)
        if refused is not None:
            raise AwsError("AccessDeniedException", refused, 400)
    if table:
        checks.append(Check(action, _arn(call, "glue", f"table/{database}/{table}")))
    elif call.operation in ("GetTables", "GetPartitions", "DeleteDatabase"):
        checks.append(Check(action, _arn(call, "glue", f"table/{database}/*")))
    return checks


def _glue_resource(call: Call) -> str | None:
    p = call.params
    name = p.get("Name") or p.get("JobName") or p.get("CrawlerName") or p.get("WorkflowName")
    kinds = {"Job": "job", "Crawler": "crawler", "Workflow": "workflow", "Trigger": "trigger"}
    for word, kind in kinds.items():
        if word in call.operation and name:
            return _arn(call, "glue", f"{kind}/{name}")
    return None


def _lambda(call: Call) -> list[Check]:
    action = _ACTION.get(("lambda", call.operation), f"lambda:{call.operation}")
    name = call.params.get("FunctionName")
    if not name:
        return [Check(action, None)]
    name = str(name)
    arn = name if name.startswith("arn:") else _arn(call, "lambda", f"function:{name}")
    return [Check(action, arn)]


def _athena(call: Call) -> list[Check]:
    action = f"athena:{call.operation}"
    catalog = call.params.get("CatalogName") or (call.params.get("Name") if "DataCatalog" in call.operation else None)
    if catalog is not None:
        # The catalog operations are authorised on the data catalog's ARN (Service Authorization
        # Reference: resource type datacatalog), also when they name a WorkGroup as PyAthena does;
        # catalog names are case-insensitive (PyAthena sends `awsdatacatalog`).
        catalog = "AwsDataCatalog" if str(catalog).lower() == "awsdatacatalog" else catalog
        return [Check(action, _arn(call, "athena", f"datacatalog/{catalog}"))]
    workgroup = call.params.get("WorkGroup") or call.params.get("Name")
    if workgroup is None and call.operation == "StartQueryExecution":
        workgroup = "primary"
    if workgroup is None and call.params.get("QueryExecutionId"):
        workgroup = _query_workgroup(call)
    if workgroup is None:
        return [Check(action, None)]
    return [Check(action, _arn(call, "athena", f"workgroup/{workgroup}"))]


def _query_workgroup(call: Call) -> str | None:
    """The workgroup a query ran in (Athena authorises GetQueryResults etc. on it)."""
    from dcp.sandbox.emulators.athena.responses import queries

    query = queries[(call.account_id, call.region)].get(str(call.params["QueryExecutionId"]))
    return query.workgroup if query is not None else None


def _firehose(call: Call) -> list[Check]:
    name = call.params.get("DeliveryStreamName")
    action = f"firehose:{call.operation}"
    return [Check(action, _arn(call, "firehose", f"deliverystream/{name}") if name else None)]


_SERVICES = {
    "s3": _s3,
    "kms": _kms,
    "secretsmanager": _secret,
    "iam": _iam,
    "sts": _sts,
    "glue": _glue,
    "lambda": _lambda,
    "athena": _athena,
    "firehose": _firehose,
}


# --------------------------------------------------------------------------- services acting as roles


def role_arn_of(account_id: str, role: str) -> str:
    """A role given by name or ARN (Glue accepts both), as its ARN."""
    return role if role.startswith("arn:") else _role_arn(account_id, role)


def s3_list_check(account_id: str, region: str, bucket: str, prefix: str = "") -> Check:
    """s3:ListBucket on `bucket`, with the `s3:prefix` condition key."""
    check, _ = s3_checks(account_id, region, "s3:ListBucket", bucket)
    return Check(check.action, check.resource, check.resource_policy, context={"s3:prefix": prefix})


def macie_role_arn(account_id: str, partition: str = "aws") -> str:
    """Macie's service-linked role (https://docs.aws.amazon.com/macie/latest/user/service-linked-roles.html)."""
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/macie.amazonaws.com/AWSServiceRoleForAmazonMacie"


#: The S3 part of the managed AmazonMacieServiceRolePolicy: Macie may read every object, but it
#: has no KMS permission; a customer managed key's policy must let the role decrypt
#: (https://docs.aws.amazon.com/macie/latest/user/discovery-supported-encryption-types.html).
MACIE_ROLE_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:GetObjectAcl",'
    '"s3:GetObjectTagging","s3:GetObjectVersion","s3:ListBucket","s3:GetBucketLocation",'
    '"s3:GetEncryptionConfiguration","s3:GetBucketPolicy"],"Resource":"*"}]}'
)


def macie_may_read(account_id: str, region: str, bucket: str, key: str) -> str | None:
    """None if Macie's service-linked role may read (and decrypt) the object, else why not."""
    principal = role_principal(macie_role_arn(account_id), "AmazonMacieSession")
    try:
        authorize(
            principal,
            s3_read_checks(account_id, region, bucket, key),
            code="AccessDenied",
            identity=[MACIE_ROLE_POLICY],
        )
    except AccessDenied as exc:
        return exc.message
    return None


def role_may(role_arn: str, checks: Sequence[Check], session_name: str = "dcp-sandbox-service") -> None:
    """Raise :class:`AccessDenied` unless the IAM role `role_arn` passes every check (a service using it)."""
    authorize(role_principal(role_arn, session_name), checks, code="AccessDenied")
