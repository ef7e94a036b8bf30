"""Macie sensitive-data findings: the model, its JSON form, and the one parser for them.

``Finding.from_json`` reads a finding however it arrives: as Macie returns it
(GetFindings), inside an EventBridge event (``detail``), or in a Firehose object
(newline-delimited or concatenated JSON objects with no separator). A malformed finding is
reported in ``FindingParse.errors`` and skipped; parsing never raises on bad input.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dcp.masking.identifiers import FINDING_TYPE_SUFFIX, Category, category_of

#: Macie reports at most this many occurrences per detected type.
MAX_OCCURRENCES = 15
SCHEMA_VERSION = "1.0"
_SEVERITY_SCORE = {"Low": 1, "Medium": 2, "High": 3}


@dataclass(frozen=True)
class Cell:
    """A CSV/TSV occurrence: 1-based row (the header is row 1) and 1-based column."""

    row: int
    column: int
    column_name: str
    cell_reference: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "columnName": self.column_name,
            "cellReference": self.cell_reference,
        }


@dataclass(frozen=True)
class Record:
    """A JSON/JSON Lines/Parquet occurrence: 0-based record index and a JSONPath."""

    record_index: int
    json_path: str

    def to_json(self) -> dict[str, Any]:
        return {"recordIndex": self.record_index, "jsonPath": self.json_path}


@dataclass(frozen=True)
class Detection:
    """One detected type in one object: how often, in which columns, and sample occurrences."""

    type: str
    count: int
    columns: tuple[str, ...]
    custom: bool = False
    category: str = ""
    arn: str | None = None
    cells: tuple[Cell, ...] = ()
    records: tuple[Record, ...] = ()
    #: cells per column, when dcp's detector produced the detection (Macie's schema has no such field)
    column_counts: Mapping[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.category:
            category = Category.CUSTOM_IDENTIFIER if self.custom else category_of(self.type)
            object.__setattr__(self, "category", str(category))

    def occurrences_json(self, limit: int = MAX_OCCURRENCES) -> dict[str, Any]:
        occurrences: dict[str, Any] = {}
        if self.cells:
            occurrences["cells"] = [cell.to_json() for cell in self.cells[:limit]]
        if self.records:
            occurrences["records"] = [record.to_json() for record in self.records[:limit]]
        return occurrences


@dataclass(frozen=True)
class Finding:
    """A Macie ``SensitiveData:S3Object/*`` finding, reduced to what masking needs plus identity."""

    bucket: str
    key: str
    #: derived from the key (DMS layout ``<schema>/<table>/<file>``) when not given
    table: str = ""
    detections: tuple[Detection, ...] = ()
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    account_id: str = "000000000000"
    region: str = "us-east-1"
    created_at: str = field(default_factory=lambda: _now())
    size_classified: int | None = None
    mime_type: str | None = None
    schema_version: str = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if not self.table:
            object.__setattr__(self, "table", table_from_key(self.key))

    # --- derived Macie fields -------------------------------------------------------------
    @property
    def type(self) -> str:
        categories = {Category(d.category) for d in self.detections}
        if len(categories) == 1:
            return f"SensitiveData:S3Object/{FINDING_TYPE_SUFFIX[categories.pop()]}"
        return "SensitiveData:S3Object/Multiple"

    @property
    def severity(self) -> str:
        categories = {d.category for d in self.detections}
        if {Category.CREDENTIALS, Category.FINANCIAL_INFORMATION} & categories:
            return "High"
        if Category.PERSONAL_INFORMATION in categories:
            return "Medium"
        return "Low"

    def columns_by_type(self) -> dict[str, tuple[str, ...]]:
        return {d.type: d.columns for d in self.detections}

    # --- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """This finding in Macie's JSON schema (as GetFindings and EventBridge carry it)."""
        by_category: dict[str, list[Detection]] = {}
        custom: list[Detection] = []
        for detection in self.detections:
            if detection.custom:
                custom.append(detection)
            else:
                by_category.setdefault(detection.category, []).append(detection)
        sensitive = [
            {
                "category": category,
                "totalCount": sum(d.count for d in detections),
                "detections": [
                    {"type": d.type, "count": d.count, "occurrences": d.occurrences_json()} for d in detections
                ],
            }
            for category, detections in by_category.items()
        ]
        total = sum(d.count for d in self.detections)
        severity = self.severity
        return {
            "schemaVersion": self.schema_version,
            "id": self.id,
            "accountId": self.account_id,
            "partition": "aws",
            "region": self.region,
            "type": self.type,
            "title": f"The S3 object contains {severity.lower()}-severity sensitive information.",
            "description": "The object contains sensitive information.",
            "severity": {"score": _SEVERITY_SCORE[severity], "description": severity},
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
            "count": 1,
            "archived": False,
            "category": "CLASSIFICATION",
            "sample": False,
            "resourcesAffected": {
                "s3Bucket": {"name": self.bucket, "arn": f"arn:aws:s3:::{self.bucket}"},
                "s3Object": {
                    "bucketArn": f"arn:aws:s3:::{self.bucket}",
                    "key": self.key,
                    "path": f"{self.bucket}/{self.key}",
                    "extension": self.key.rsplit(".", 1)[-1] if "." in self.key else "",
                    "size": self.size_classified,
                },
            },
            "classificationDetails": {
                "detailedResultsLocation": None,
                "jobId": "dcp-local",
                "originType": "SENSITIVE_DATA_DISCOVERY_JOB",
                "result": {
                    "status": {"code": "COMPLETE", "reason": None},
                    "mimeType": self.mime_type,
                    "sizeClassified": self.size_classified,
                    "additionalOccurrences": any(
                        len(d.cells) + len(d.records) > MAX_OCCURRENCES for d in self.detections
                    )
                    or any(d.count > MAX_OCCURRENCES for d in self.detections),
                    "sensitiveData": sensitive,
                    "customDataIdentifiers": {
                        "totalCount": sum(d.count for d in custom),
                        "detections": [
                            {
                                "arn": d.arn,
                                "name": d.type,
                                "count": d.count,
                                "occurrences": d.occurrences_json(),
                            }
                            for d in custom
                        ],
                    },
                },
            },
            "totalCount": total,
        }

    @staticmethod
    def from_json(text: str | bytes | dict[str, Any] | list[Any]) -> FindingParse:
        """Parse Macie findings from any of the shapes they travel in; never raises on bad data."""
        parse = FindingParse()
        for item, where in _documents(text, parse):
            for finding_json, location in _unwrap(item, where):
                try:
                    finding = _finding_from_json(finding_json)
                except _Skip:
                    parse.ignored += 1
                    continue
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    parse.errors.append(f"{location}: malformed finding: {_reason(exc)}")
                    continue
                parse.findings.append(finding)
        return parse


@dataclass
class FindingParse:
    """Result of :meth:`Finding.from_json`: the findings read and one message per skipped input."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: well-formed findings that are not sensitive-data findings (e.g. policy findings)
    ignored: int = 0


def table_from_key(key: str) -> str:
    """The table an object belongs to in DMS's layout ``[prefix/]<schema>/<table>/<file>``."""
    parts = [part for part in key.split("/") if part]
    if len(parts) >= 2:
        return parts[-2]
    stem = parts[-1] if parts else key
    return stem.split(".", 1)[0]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Skip(Exception):
    """A well-formed finding that is not about sensitive data in an S3 object."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def _documents(text: str | bytes | dict[str, Any] | list[Any], parse: FindingParse) -> Iterator[tuple[Any, str]]:
    """JSON documents in ``text``: one, a newline-delimited stream, or concatenated objects."""
    if isinstance(text, dict | list):
        yield text, "document 1"
        return
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            parse.errors.append(f"input is not UTF-8: {exc}")
            return
    decoder = json.JSONDecoder()
    position, number, length = 0, 0, len(text)
    while True:
        while position < length and text[position] in " \t\r\n,":
            position += 1
        if position >= length:
            return
        number += 1
        try:
            document, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            parse.errors.append(f"document {number} (offset {position}): invalid JSON: {exc.msg}")
            position = _resync(text, position + 1)
            continue
        yield document, f"document {number}"
        position = end


def _resync(text: str, start: int) -> int:
    """Where the next top-level object probably starts after a broken one."""
    candidates = [i for i in (text.find("\n{", start), text.find("}{", start)) if i >= 0]
    return min(candidates) + 1 if candidates else len(text)


def _unwrap(item: Any, where: str) -> Iterator[tuple[Any, str]]:
    """Findings inside a document: a finding, an EventBridge event, a GetFindings response, a list."""
    if isinstance(item, list):
        for index, element in enumerate(item):
            yield from _unwrap(element, f"{where}[{index}]")
    elif isinstance(item, dict) and "detail" in item and "detail-type" in item:
        yield item["detail"], f"{where} (EventBridge event {item.get('id', '?')})"
    elif isinstance(item, dict) and isinstance(item.get("findings"), list):
        yield from _unwrap(item["findings"], f"{where}.findings")
    else:
        yield item, where


def _finding_from_json(data: Any) -> Finding:
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    finding_type = data["type"]
    if not isinstance(finding_type, str):
        raise TypeError("field 'type' is not a string")
    if not finding_type.startswith("SensitiveData:"):
        raise _Skip(finding_type)
    resources = data["resourcesAffected"]
    bucket = resources["s3Bucket"]["name"]
    key = resources["s3Object"]["key"]
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise TypeError("bucket name and object key must be strings")
    result = data["classificationDetails"]["result"]
    detections: list[Detection] = []
    for group in result.get("sensitiveData") or []:
        category = group["category"]
        for item in group.get("detections") or []:
            detections.append(_detection(item, item["type"], custom=False, category=category))
    for item in (result.get("customDataIdentifiers") or {}).get("detections") or []:
        detections.append(_detection(item, item["name"], custom=True, arn=item.get("arn")))
    return Finding(
        bucket=bucket,
        key=key,
        detections=tuple(detections),
        id=str(data.get("id") or uuid.uuid4().hex),
        account_id=str(data.get("accountId") or "000000000000"),
        region=str(data.get("region") or "us-east-1"),
        created_at=str(data.get("createdAt") or _now()),
        size_classified=result.get("sizeClassified"),
        mime_type=result.get("mimeType"),
        schema_version=str(data.get("schemaVersion") or SCHEMA_VERSION),
    )


def _detection(
    item: dict[str, Any], type_: str, *, custom: bool, category: str = "", arn: str | None = None
) -> Detection:
    if not isinstance(type_, str) or not type_:
        raise ValueError("detection without a type/name")
    count = int(item.get("count", 0))
    occurrences = item.get("occurrences") or {}
    cells = tuple(
        Cell(
            row=int(cell["row"]),
            column=int(cell["column"]),
            column_name=str(cell.get("columnName") or ""),
            cell_reference=cell.get("cellReference"),
        )
        for cell in occurrences.get("cells") or []
    )
    records = tuple(
        Record(record_index=int(record["recordIndex"]), json_path=str(record["jsonPath"]))
        for record in occurrences.get("records") or []
    )
    columns: dict[str, None] = {}
    for cell in cells:
        if cell.column_name:
            columns[cell.column_name] = None
    for record in records:
        columns[column_from_json_path(record.json_path)] = None
    return Detection(
        type=type_,
        count=count,
        columns=tuple(columns),
        custom=custom,
        category=category,
        arn=arn,
        cells=cells,
        records=records,
    )


def column_from_json_path(json_path: str) -> str:
    """``$.mail`` -> ``mail``; ``$['card number']`` -> ``card number``; ``$.a.b`` -> ``a.b``."""
    path = json_path.strip()
    if path.startswith("$"):
        path = path[1:]
    parts: list[str] = []
    for piece in path.replace("[*]", "").split("."):
        if not piece:
            continue
        if piece.startswith("['") and piece.endswith("']"):
            piece = piece[2:-2]
        parts.append(piece.split("[", 1)[0] if not piece.startswith("[") else piece.strip("[]'\""))
    return ".".join(parts)


def json_path_for(column: str) -> str:
    """The JSONPath Macie writes for a (possibly dotted) column name."""
    if all(part.isidentifier() for part in column.split(".")):
        return "$." + column
    return "$" + "".join(f"['{part}']" for part in column.split("."))
