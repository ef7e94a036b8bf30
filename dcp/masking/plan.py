"""Masking plan: per table, per column, the detected types and the action they get.

Built from findings and a policy. Columns nobody flagged are absent from the plan and are
kept as they are; columns a finding names but the table's schema lacks become warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import pyarrow as pa

from dcp.masking.findings import Finding
from dcp.masking.policy import Action, MaskingPolicy, strongest


@dataclass(frozen=True)
class ColumnRule:
    """What happens to one column: its detected types and the strongest action among them."""

    types: frozenset[str]
    action: Action
    joinable: bool = False


@dataclass(frozen=True)
class TablePlan:
    """The rules for one table's flagged columns, by column name."""

    columns: Mapping[str, ColumnRule]
    name: str = ""
    partial_keep: int = 4
    redact_mask: str = "****"

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))

    def rule(self, column: str) -> ColumnRule | None:
        return self.columns.get(column)


@dataclass(frozen=True)
class MaskingPlan:
    tables: Mapping[str, TablePlan]
    warnings: tuple[str, ...] = ()

    @staticmethod
    def from_findings(
        findings: Iterable[Finding],
        policy: MaskingPolicy,
        schemas: Mapping[str, pa.Schema | Sequence[str]] | None = None,
    ) -> MaskingPlan:
        """Merge the findings of every object per table and choose each column's action.

        ``schemas`` (table -> Arrow schema or column names), when given, is checked: a
        flagged column missing from its table's schema is left out with a warning.
        """
        types_by_table: dict[str, dict[str, set[str]]] = {}
        for finding in findings:
            columns = types_by_table.setdefault(finding.table, {})
            for detection in finding.detections:
                for column in detection.columns:
                    columns.setdefault(column, set()).add(detection.type)

        warnings: list[str] = []
        tables: dict[str, TablePlan] = {}
        for table, columns in sorted(types_by_table.items()):
            known = _column_names(schemas, table)
            if schemas is not None and known is None:
                warnings.append(f"table {table!r}: findings name it but no schema was given for it")
            rules: dict[str, ColumnRule] = {}
            for column, types in columns.items():
                if known is not None and column not in known:
                    warnings.append(
                        f"table {table!r}: findings flag column {column!r} "
                        f"({', '.join(sorted(types))}) but the table has no such column"
                    )
                    continue
                action = strongest(policy.action_for(t) for t in types)
                joinable = any(policy.is_joinable(t) for t in types)
                rules[column] = ColumnRule(types=frozenset(types), action=action, joinable=joinable)
            tables[table] = TablePlan(
                columns=rules,
                name=table,
                partial_keep=policy.partial_keep,
                redact_mask=policy.redact_mask,
            )
        return MaskingPlan(tables=MappingProxyType(tables), warnings=tuple(warnings))


def _column_names(schemas: Mapping[str, pa.Schema | Sequence[str]] | None, table: str) -> frozenset[str] | None:
    if schemas is None or table not in schemas:
        return None
    schema = schemas[table]
    names = schema.names if isinstance(schema, pa.Schema) else schema
    return frozenset(names)
