"""Macie sensitive-data findings: the model, its JSON form, and the one parser for them.

``Finding.from_json`` reads a finding however it arrives: as Macie returns it
(GetFindings), inside an EventBridge event (``detail``), or in a Firehose object
(newline-delimited or concatenated JSON objects with no separator). A malformed finding is
reported in ``FindingParse.errors`` and skipped; parsing never raises on bad input.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
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

    def located_columns(self, header: Sequence[str] = ()) -> tuple[tuple[str, ...], int]:
        """The columns this detection's listed occurrences name, and how many occurrences they locate.

        A cell without ``columnName`` is mapped through ``header`` by its 1-based ``column``
        index (Macie omits the name when a CSV file has no header row).
        """
        columns: dict[str, None] = dict.fromkeys(self.columns)
        located = 0
        for cell in self.cells:
            name = cell.column_name
            if not name and 1 <= cell.column <= len(header):
                name = header[cell.column - 1]
            if name:
                columns[name] = None
                located += 1
        for record in self.records:
            columns[column_from_json_path(record.json_path)] = None
            located += 1
        return tuple(columns), located

    @property
    def fully_listed(self) -> bool:
        """Whether every occurrence is accounted for by a column: all listed, or counted per column."""
        if self.column_counts and sum(self.column_counts.values()) >= self.count:
            return True
        return self.count <= len(self.cells) + len(self.records)

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


#: file names that data tools generate, so the table is the folder holding the file: DMS full
#: loads (``LOAD00000001.csv``), DMS change files (``20261127-101500123.csv``), and the part files
#: Spark, Glue, Athena and dcp write (``part-00000-<uuid>.snappy.parquet``, ``run-...``)
GENERATED_FILE = re.compile(r"^(?:LOAD\d+|\d{8}-\d+|part-.*|run-.*|\d+)(?:\..*)?$", re.IGNORECASE)
#: folders that partition a table's files (``2026/11/27``, ``year=2026``) rather than name it
_PARTITION_FOLDER = re.compile(r"^(?:\d+|[^=/]+=[^/]*)$")


def table_from_key(key: str) -> str:
    """The table an object (a finding's object key, or a local file's path) belongs to.

    THE matching rule: findings, detailed discovery results and data files are matched to
    tables by this name, and by nothing else.

    * A generated file name (:data:`GENERATED_FILE`: DMS ``LOAD*``/CDC timestamp files, ``part-*``
      files) names no table, so the table is its folder, skipping partition folders (numeric,
      ``key=value``): ``dataset/customer/LOAD00000001.csv``,
      ``dataset/customer/2026/11/27/20261127-101500123.csv``, ``exports/customer/part-0.parquet``
      and ``exports/customer/year=2026/part-0.parquet`` are all table ``customer``.
    * Any other file is a table of its own, named by its stem (every suffix dropped):
      ``exports/customer.csv`` and ``customer.csv.gz`` are table ``customer``.
    """
    parts = [part for part in key.replace("\\", "/").split("/") if part]
    if not parts:
        return key
    name, folders = parts[-1], parts[:-1]
    if GENERATED_FILE.match(name):
        while folders and _PARTITION_FOLDER.match(folders[-1]):
            folders.pop()
        if folders:
            return folders[-1]
    return name.split(".", 1)[0]


class UnreadableFindings(ValueError):
    """A findings input that is not (entirely) Macie findings; the message names the input only."""


def read_findings(data: bytes | str, source: str) -> list[Finding]:
    """Every finding in ``data``, or :class:`UnreadableFindings` naming ``source``: fail closed.

    Masking by findings that were only partly read would publish what the unread part flagged,
    so an input that is empty, not UTF-8, not JSON, or holds a malformed finding is refused as a
    whole. Well-formed findings of other kinds (policy findings) are allowed and skipped.
    """
    if isinstance(data, bytes) and data[:2] == b"\x1f\x8b":
        import gzip

        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            raise UnreadableFindings(f"{source}: not a readable gzip file of findings") from None
    if not data.strip():
        raise UnreadableFindings(f"{source}: empty, no findings in it (run `dcp classify --format json` or `dcp scan`)")
    parse = Finding.from_json(data)
    if parse.errors:
        more = f" (and {len(parse.errors) - 1} more)" if len(parse.errors) > 1 else ""
        raise UnreadableFindings(f"{source}: not Macie findings: {parse.errors[0]}{more}")
    if not parse.findings and not parse.ignored:
        raise UnreadableFindings(f"{source}: no findings in it")
    return parse.findings


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Skip(Exception):
    """A well-formed finding that is not about sensitive data in an S3 object."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    if isinstance(exc, ValueError) and "invalid literal" in str(exc):
        return "a number field holds something else"  # never quote the value: it may be data
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
    """The JSONPath Macie writes for a (possibly dotted) column name; ``[*]`` marks list elements."""
    parts = column.split(".")
    plain = [part.removesuffix("[*]").removesuffix("[*]") for part in parts]
    if all(part.isidentifier() for part in plain):
        return "$." + column
    return "$" + "".join(
        f"['{bare}']" + "[*]" * ((len(part) - len(bare)) // 3) for part, bare in zip(parts, plain, strict=True)
    )
