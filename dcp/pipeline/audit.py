"""Who can do what, tried for real: each persona's role attempts what it must and must not do.

The intended matrix follows from config.yaml's personas (grants, decrypt, admin); the actual one
from calls made with the persona's assumed-role credentials against AWS or the sandbox. Every
attempt either succeeds (allowed) or is refused with an access-denied error (denied); anything
else is an error and counts as a difference. No attempt prints or keeps data: a read object's
body and a decrypted data key are dropped unseen, and the key-policy change puts back the
policy the key already has, so a persona that may change it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from dcp.aws.errors import error_code
from dcp.aws.session import AwsContext
from dcp.config import Persona, Settings
from dcp.names import StackNames
from dcp.pipeline.errors import AccessRefused, PipelineError
from dcp.pipeline.lake import list_keys, parquet_objects
from dcp.pipeline.query import run_query

ZONES = ("raw", "masked", "encrypted")

#: The checks, in the matrix's column order, and what each one tries.
CHECKS: Mapping[str, str] = {
    "read-raw-object": "s3:GetObject on a raw-zone object (DMS's CSV)",
    "query-raw": "an Athena SELECT on a raw-zone table",
    "query-masked": "an Athena SELECT on a masked-zone table",
    "query-encrypted": "an Athena SELECT on an encrypted-zone table",
    "read-others-query-results": "athena:GetQueryResults on another persona's query",
    "read-others-result-file": "s3:GetObject on another persona's Athena result file",
    "decrypt-data-key": "kms:Decrypt of a table's wrapped data key",
    "change-key-policy": "kms:PutKeyPolicy on the data key (with its current policy)",
}

ALLOWED, DENIED, ERROR = "allowed", "denied", "error"

#: Error codes AWS (and the sandbox) answer a refused call with.
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Forbidden",
        "403",
        "AuthorizationErrorException",
    }
)


class AuditSetupError(PipelineError):
    """The audit has nothing to try against (no raw object, no encrypted table yet...)."""


@dataclass(frozen=True)
class AuditRow:
    persona: str
    check: str
    expected: str
    actual: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.expected == self.actual

    def difference(self) -> str:
        why = f" ({self.detail})" if self.detail else ""
        return f"{self.persona}: {self.check}: expected {self.expected}, actual {self.actual}{why}"


def _zones_granted(persona: Persona) -> set[str]:
    """Zones a SELECT grant of the persona reaches (an expression without `zone` reaches all)."""
    out: set[str] = set()
    for grant in persona.grants:
        if "SELECT" in grant.permissions:
            out |= set(grant.expression.get("zone", ZONES))
    return out


def intended(persona: Persona) -> dict[str, str]:
    """What config.yaml says the persona may do (allowed / denied per check).

    Data is read through Lake Formation only: no persona reads raw objects directly, even the
    Lake Formation administrator. Results are private to their persona. Only `decrypt: true`
    personas may unwrap the data key, and no persona administers it (the operator does).
    """
    zones = _zones_granted(persona)

    def allow(yes: bool) -> str:
        return ALLOWED if yes else DENIED

    return {
        "read-raw-object": DENIED,
        "query-raw": allow("raw" in zones),
        "query-masked": allow("masked" in zones),
        "query-encrypted": allow("encrypted" in zones),
        "read-others-query-results": DENIED,
        "read-others-result-file": DENIED,
        "decrypt-data-key": allow(persona.decrypt),
        "change-key-policy": DENIED,
    }


def _error_code(exc: BaseException) -> str:
    return error_code(exc) or type(exc).__name__


def attempt(call: Callable[[], Any]) -> tuple[str, str]:
    """(allowed|denied|error, detail) of one call; its result is dropped."""
    from dcp.masking.crypto import KmsAccessDenied

    try:
        call()
    except AccessRefused as exc:
        return DENIED, str(exc)[:200]
    except KmsAccessDenied:
        return DENIED, "AccessDeniedException"
    except ClientError as exc:
        code = _error_code(exc)
        if code in DENIED_CODES or "AccessDenied" in code:
            return DENIED, code
        return ERROR, f"{code}: {exc.response.get('Error', {}).get('Message', '')}"[:200]
    except PipelineError as exc:
        return ERROR, str(exc)[:200]
    return ALLOWED, ""


@dataclass
class Targets:
    """What the attempts aim at, found with the operator's own credentials."""

    table: str
    raw_key: str
    data_key_arn: str
    key_policy: str
    wrapped_key_metadata: Mapping[bytes, bytes]


def find_targets(aws: AwsContext, names: StackNames) -> Targets:
    settings = names.settings
    table = settings.source.tables[0]
    raw_key = next(
        (
            o["Key"]
            for o in list_keys(aws, names.raw_bucket, names.raw_prefix(table))
            if o["Key"].endswith((".csv", ".parquet"))
        ),
        None,
    )
    if raw_key is None:
        raise AuditSetupError(
            f"no raw object under s3://{names.raw_bucket}/{names.raw_prefix(table)}; run `dcp seed` first"
        )
    metadata: Mapping[bytes, bytes] | None = None
    for _, part in parquet_objects(aws, names.curated_bucket, names.encrypted_prefix(table)):
        if part.schema.metadata and b"dcp:wrapped_key" in part.schema.metadata:
            metadata = dict(part.schema.metadata)
            break
    if metadata is None:
        raise AuditSetupError(f"no encrypted copy of {table} yet; run `dcp scan --wait` first")
    kms = aws.client("kms")
    key_arn = str(kms.describe_key(KeyId=names.data_key_alias)["KeyMetadata"]["Arn"])
    policy = str(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    return Targets(table, raw_key, key_arn, policy, metadata)


def _database(names: StackNames, zone: str) -> str:
    return {"raw": names.raw_database, "masked": names.masked_database, "encrypted": names.encrypted_database}[zone]


def _s3_location(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def audit_persona(
    persona_aws: AwsContext,
    names: StackNames,
    persona: str,
    targets: Targets,
    other_query: tuple[str, str] | None,
    *,
    timeout: float,
) -> dict[str, tuple[str, str]]:
    """check -> (actual, detail) for one persona (calls made with `persona_aws`)."""
    from dcp.masking.crypto import TableCrypto

    s3, athena, kms = (persona_aws.client(s) for s in ("s3", "athena", "kms"))
    workgroup = names.persona_workgroup(persona)
    out: dict[str, tuple[str, str]] = {}
    out["read-raw-object"] = attempt(
        lambda: s3.get_object(Bucket=names.raw_bucket, Key=targets.raw_key)["Body"].close()
    )
    for zone in ZONES:
        sql = f'SELECT * FROM "{_database(names, zone)}"."{targets.table}" LIMIT 1'
        out[f"query-{zone}"] = attempt(partial(run_query, persona_aws, workgroup, sql, timeout=timeout))
    if other_query is None:
        out["read-others-query-results"] = (ERROR, "no other persona ran a query")
        out["read-others-result-file"] = (ERROR, "no other persona ran a query")
    else:
        query_id, location = other_query
        out["read-others-query-results"] = attempt(lambda: athena.get_query_results(QueryExecutionId=query_id))
        bucket, key = _s3_location(location)
        out["read-others-result-file"] = attempt(lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].close())
    out["decrypt-data-key"] = attempt(lambda: TableCrypto.from_metadata(kms, targets.wrapped_key_metadata))
    out["change-key-policy"] = attempt(
        lambda: kms.put_key_policy(KeyId=targets.data_key_arn, PolicyName="default", Policy=targets.key_policy)
    )
    return out


def _reference_query(persona_aws: AwsContext, names: StackNames, persona: str, timeout: float) -> tuple[str, str]:
    """A query `persona` runs in its own workgroup: (query id, result file) for the others to try."""
    result = run_query(persona_aws, names.persona_workgroup(persona), "SELECT 1 AS audit", timeout=timeout)
    execution = persona_aws.client("athena").get_query_execution(QueryExecutionId=result.query_execution_id)
    return result.query_execution_id, str(execution["QueryExecution"]["ResultConfiguration"]["OutputLocation"])


def run_audit(aws: AwsContext, names: StackNames, *, timeout: float = 120.0) -> list[AuditRow]:
    """Every persona's intended and actual outcome of every check, in config order."""
    settings: Settings = names.settings
    targets = find_targets(aws, names)
    personas = list(settings.lakeformation.personas.values())
    contexts = {
        p.name: aws.assume(names.persona_role_arn(p.name), session_name=f"dcp-audit-{p.name}") for p in personas
    }

    # Each persona reads the results of the next one in config order (the last reads the first's).
    def reference(persona: str) -> tuple[str, str] | None:
        try:
            return _reference_query(contexts[persona], names, persona, timeout)
        except (ClientError, PipelineError):
            return None

    def other_of(i: int) -> str | None:
        return personas[(i + 1) % len(personas)].name if len(personas) > 1 else None

    # Personas are independent: their attempts run side by side (each waits on Athena mostly).
    with ThreadPoolExecutor(max_workers=min(8, len(personas)) or 1, thread_name_prefix="dcp-audit") as pool:
        queries = dict(zip([p.name for p in personas], pool.map(reference, [p.name for p in personas]), strict=True))
        actuals = list(
            pool.map(
                lambda i: audit_persona(
                    contexts[personas[i].name],
                    names,
                    personas[i].name,
                    targets,
                    queries.get(other_of(i) or ""),
                    timeout=timeout,
                ),
                range(len(personas)),
            )
        )
    rows: list[AuditRow] = []
    for i, p in enumerate(personas):
        other = other_of(i)
        actual = actuals[i]
        expected = intended(p)
        for check in CHECKS:
            if check.startswith("read-others") and other is None:
                continue
            state, detail = actual[check]
            rows.append(AuditRow(p.name, check, expected[check], state, detail if state != expected[check] else ""))
    return rows


def differences(rows: Sequence[AuditRow]) -> list[AuditRow]:
    return [r for r in rows if not r.ok]


def matrix(rows: Sequence[AuditRow]) -> list[dict[str, str]]:
    """One row per persona, one column per check: `actual` or `actual (expected X)` where they differ."""
    by_persona: dict[str, dict[str, str]] = {}
    for r in rows:
        cell = r.actual if r.ok else f"{r.actual.upper()} (expected {r.expected})"
        by_persona.setdefault(r.persona, {"persona": r.persona})[r.check] = cell
    return list(by_persona.values())


def to_json(rows: Sequence[AuditRow]) -> dict[str, Any]:
    return {
        "checks": dict(CHECKS),
        "rows": [asdict(r) | {"ok": r.ok} for r in rows],
        "differences": [r.difference() for r in differences(rows)],
    }
