"""Masking plan: per table, per column, the detected types and the action they get.

Built from findings and a policy. Columns nobody flagged are absent from the plan and are
kept as they are. A column is a top-level column name or the dotted path of a nested field
(``person.name``; list elements are addressed through the list, ``cards`` for ``$.cards[*]``).

:meth:`MaskingPlan.for_tables` is what publishing paths use, and it fails closed: findings are
matched to tables by :func:`dcp.masking.findings.table_from_key`; a table no finding matches, or
whose findings report a type no column can be located for (by ``columnName``, by the ``column``
index through the header, by the detailed discovery results), is scanned by dcp's own detector,
and a type even that cannot locate puts the table in ``MaskingPlan.blocked``: not published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import pyarrow as pa

from dcp.masking.findings import Detection, Finding
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

    def rules_under(self, column: str) -> dict[tuple[str, ...], ColumnRule]:
        """The rules for top-level ``column`` and its nested fields, by path below it (``()``: itself)."""
        found: dict[tuple[str, ...], ColumnRule] = {}
        for path, rule in self.columns.items():
            if path == column:
                found[()] = rule
            elif path.startswith(column + "."):
                found[tuple(path[len(column) + 1 :].split("."))] = rule
        return found

    def flags(self, column: str) -> bool:
        """Whether ``column`` or any field nested in it is flagged."""
        return any(path == column or path.startswith(column + ".") for path in self.columns)


#: dcp's own detector for a table (``classify_source`` over the table's data), or None if clean
Detector = Callable[[str], Finding | None]


@dataclass(frozen=True)
class MaskingPlan:
    tables: Mapping[str, TablePlan]
    warnings: tuple[str, ...] = ()
    #: table -> why it must not be published (a reported type no column could be located for)
    blocked: Mapping[str, str] = field(default_factory=dict)
    #: table -> what dcp's detector located because the findings could not (for the job's output)
    detected: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def for_tables(
        findings: Iterable[Finding],
        policy: MaskingPolicy,
        schemas: Mapping[str, pa.Schema],
        detect: Detector,
        results: Iterable[Finding] = (),
    ) -> MaskingPlan:
        """The plan for the tables in ``schemas``, fail closed (see the module docstring).

        ``results`` are Macie's detailed discovery results (:mod:`dcp.masking.results`), matched
        to tables by the same rule; ``detect(table)`` runs dcp's detector on the table's data.
        """
        by_table: dict[str, list[Finding]] = {}
        for finding in findings:
            by_table.setdefault(finding.table, []).append(finding)
        results_by_table: dict[str, list[Finding]] = {}
        for result in results:
            results_by_table.setdefault(result.table, []).append(result)
        warnings: list[str] = []
        blocked: dict[str, str] = {}
        detected: dict[str, str] = {}
        tables: dict[str, TablePlan] = {}
        for table, schema in sorted(schemas.items()):
            columns: dict[str, set[str]] = {}
            unlocated: dict[str, int] = {}  # type -> count not accounted for by a column
            for detection in _detections(by_table.get(table, ())):
                located, covered = _locate(detection, schema, warnings, table)
                if not covered:
                    for extra in _detections(results_by_table.get(table, ()), detection.type):
                        more, covered = _locate(extra, schema, warnings, table)
                        located += more
                for column in located:
                    columns.setdefault(column, set()).add(detection.type)
                if not covered:
                    unlocated[detection.type] = unlocated.get(detection.type, 0) + detection.count
            if unlocated or table not in by_table:
                own = detect(table)
                own_columns: dict[str, set[str]] = {}
                for detection in own.detections if own is not None else ():
                    for column in detection.columns:
                        if _has_path(schema, column):
                            own_columns.setdefault(column, set()).add(detection.type)
                missing = sorted(t for t in unlocated if not any(t in ts for ts in own_columns.values()))
                if missing:
                    blocked[table] = (
                        f"table {table!r} not published: findings report {', '.join(missing)} but no column "
                        "could be located for it (no column in the listed occurrences, the discovery results "
                        "or dcp's own detector)"
                    )
                    continue
                wanted = (
                    own_columns
                    if table not in by_table
                    else {c: ts & set(unlocated) for c, ts in own_columns.items() if ts & set(unlocated)}
                )
                for column, types in wanted.items():
                    columns.setdefault(column, set()).update(types)
                if wanted:
                    reason = "no finding matches it" if table not in by_table else "findings list too few occurrences"
                    detected[table] = f"{reason}; dcp's detector located {', '.join(sorted(wanted))}"
            tables[table] = _table_plan(table, columns, policy)
        return MaskingPlan(
            tables=MappingProxyType(tables),
            warnings=tuple(warnings),
            blocked=MappingProxyType(blocked),
            detected=MappingProxyType(detected),
        )

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
            rules: dict[str, set[str]] = {}
            for column, types in columns.items():
                if known is not None and column not in known:
                    warnings.append(
                        f"table {table!r}: findings flag column {column!r} "
                        f"({', '.join(sorted(types))}) but the table has no such column"
                    )
                    continue
                rules[column] = types
            tables[table] = _table_plan(table, rules, policy)
        return MaskingPlan(tables=MappingProxyType(tables), warnings=tuple(warnings))


def _table_plan(table: str, columns: Mapping[str, set[str]], policy: MaskingPolicy) -> TablePlan:
    rules = {
        column: ColumnRule(
            types=frozenset(types),
            action=strongest(policy.action_for(t) for t in types),
            joinable=any(policy.is_joinable(t) for t in types),
        )
        for column, types in columns.items()
    }
    return TablePlan(columns=rules, name=table, partial_keep=policy.partial_keep, redact_mask=policy.redact_mask)


def _detections(findings: Iterable[Finding], type_: str | None = None) -> Iterable[Detection]:
    for finding in findings:
        for detection in finding.detections:
            if type_ is None or detection.type == type_:
                yield detection


def _locate(detection: Detection, schema: pa.Schema, warnings: list[str], table: str) -> tuple[list[str], bool]:
    """The schema columns a detection locates, and whether they account for its every occurrence."""
    columns, located = detection.located_columns(schema.names)
    known = [column for column in columns if _has_path(schema, column)]
    for column in columns:
        if column not in known:
            warnings.append(
                f"table {table!r}: findings flag column {column!r} ({detection.type}) but the table has no such column"
            )
    counted = bool(detection.column_counts) and sum(detection.column_counts.values()) >= detection.count
    covered = len(known) == len(columns) and (counted or located >= detection.count)
    return known, covered


def _has_path(schema: pa.Schema, column: str) -> bool:
    """Whether ``column`` is a top-level column or the dotted path of a field nested in one."""
    if column in schema.names:
        return True
    head, _, rest = column.partition(".")
    if not rest or head not in schema.names:
        return False
    data_type = schema.field(head).type
    for part in rest.split("."):
        while pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
            data_type = data_type.value_type
        if not pa.types.is_struct(data_type) or data_type.get_field_index(part) < 0:
            return False
        data_type = data_type.field(part).type
    return True


def _column_names(schemas: Mapping[str, pa.Schema | Sequence[str]] | None, table: str) -> frozenset[str] | None:
    if schemas is None or table not in schemas:
        return None
    schema = schemas[table]
    names = schema.names if isinstance(schema, pa.Schema) else schema
    return frozenset(names)
