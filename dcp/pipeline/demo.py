"""The demo's checks and views: what each persona sees, whether revealed values match the source,
what a CDC round changed in the masked table. Nothing here returns plaintext of a flagged column
for printing: comparisons yield counts and booleans only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dcp.aws.session import AwsContext
from dcp.names import StackNames
from dcp.pipeline.errors import AccessRefused, PipelineError
from dcp.pipeline.lake import read_parquet_prefix
from dcp.pipeline.query import QueryResult, query_as
from dcp.pipeline.reveal import reveal_as
from dcp.pipeline.seed import PRIMARY_KEY, TableRows


def try_query(aws: AwsContext, names: StackNames, persona: str, sql: str) -> QueryResult | str:
    """The result, or Athena's one-line refusal."""
    try:
        return query_as(aws, names.persona_role_arn(persona), names.persona_workgroup(persona), sql, timeout=120)
    except AccessRefused as exc:
        return str(exc)
    except PipelineError as exc:
        return str(exc)


def can_decrypt(aws: AwsContext, names: StackNames, persona: str, table: str) -> str:
    """'yes' or the reason KMS (or S3) refused `persona`."""
    try:
        reveal_as(aws, names, names.persona_role_arn(persona), table, limit=1)
    except AccessRefused:
        return "no (KMS denies)"
    except PipelineError as exc:
        return f"no ({exc})"
    return "yes"


@dataclass(frozen=True)
class RevealCheck:
    table: str
    rows: int
    columns: tuple[str, ...]
    equal: bool
    mismatched: int


def compare_with_source(revealed: pa.Table, decrypted: Sequence[str], source: TableRows) -> RevealCheck:
    """Do the decrypted columns equal the seeded values, row by row (matched by primary key)?"""
    by_id = {row[source.columns.index(PRIMARY_KEY)]: row for row in source.rows}
    ids = [int(i) for i in revealed.column(PRIMARY_KEY).to_pylist()]
    mismatched = 0
    for column in decrypted:
        if column not in source.columns:
            continue
        i = source.columns.index(column)
        for key, value in zip(ids, revealed.column(column).to_pylist(), strict=True):
            expected = by_id.get(key)
            if expected is None or (expected[i] if expected[i] is None else str(expected[i])) != value:
                mismatched += 1
    missing = len(set(by_id) ^ set(ids))
    return RevealCheck(
        source.name,
        revealed.num_rows,
        tuple(decrypted),
        mismatched == 0 and missing == 0,
        mismatched + missing,
    )


def masked_rows(aws: AwsContext, names: StackNames, table: str) -> dict[int, dict[str, Any]]:
    """id -> masked row, read from the curated bucket's Parquet (as the caller)."""
    data = read_parquet_prefix(aws, names.curated_bucket, names.masked_prefix(table))
    if data is None:
        return {}
    return {int(r[PRIMARY_KEY]): r for r in data.to_pylist()}


@dataclass(frozen=True)
class CdcChange:
    rows_before: int
    rows_after: int
    inserted: int
    deleted: int
    changed: int
    example: tuple[int, str, Any, Any] | None  # id, column, masked before, masked after


def cdc_change(
    before: Mapping[int, Mapping[str, Any]], after: Mapping[int, Mapping[str, Any]], prefer: Sequence[str] = ()
) -> CdcChange:
    """How the masked table moved between two snapshots, with an example of a changed value: in
    one of the `prefer` columns (the flagged ones) when one changed, else the first that did."""
    common = set(before) & set(after)
    changed = [i for i in sorted(common) if before[i] != after[i]]
    example: tuple[int, str, Any, Any] | None = None
    fallback: tuple[int, str, Any, Any] | None = None
    for i in changed:
        differing = [c for c in after[i] if c != PRIMARY_KEY and before[i].get(c) != after[i].get(c)]
        preferred = [c for c in prefer if c in differing]
        if preferred:
            example = (i, preferred[0], before[i].get(preferred[0]), after[i].get(preferred[0]))
            break
        if differing and fallback is None:
            fallback = (i, differing[0], before[i].get(differing[0]), after[i].get(differing[0]))
    example = example or fallback
    return CdcChange(
        len(before),
        len(after),
        len(set(after) - set(before)),
        len(set(before) - set(after)),
        len(changed),
        example,
    )
