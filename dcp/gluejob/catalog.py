"""Record each output table's key metadata in its Glue Data Catalog table parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# what UpdateTable accepts back from GetTable's Table (GetTable adds read-only fields)
_TABLE_INPUT_FIELDS = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
)


def glue_table_name(table: str) -> str:
    """The name a crawler gives the table of ``<kind>/<table>/``: Glue lower-cases names."""
    return table.lower()


def set_table_parameters(glue: Any, database: str, table: str, parameters: Mapping[str, str]) -> bool:
    """Merge ``parameters`` into the table's parameters; False when the table does not exist (yet).

    On a first run the crawlers have not created the output tables yet; the Parquet footers
    hold the same metadata, and the next run records it here.
    """
    try:
        current = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return False
    merged = {**(current.get("Parameters") or {}), **parameters}
    if merged == current.get("Parameters"):
        return True
    table_input = {name: current[name] for name in _TABLE_INPUT_FIELDS if name in current}
    table_input["Parameters"] = merged
    glue.update_table(DatabaseName=database, TableInput=table_input)
    return True


def as_parameters(metadata: Mapping[bytes, bytes], **extra: str) -> dict[str, str]:
    """Parquet schema metadata as Glue table parameters (both are string maps)."""
    return {key.decode(): value.decode() for key, value in metadata.items()} | extra
