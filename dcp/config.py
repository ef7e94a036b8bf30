"""Load `config.yaml` and validate it into frozen settings before any AWS call is made."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dcp.masking.identifiers import (
    MANAGED_IDENTIFIERS,
    RECOMMENDED_MANAGED_IDENTIFIERS,
    CustomIdentifier,
    canonical_type,
    is_macie_managed,
)
from dcp.masking.policy import Action, MaskingPolicy

PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
ENGINES = ("mysql", "postgres")
MIGRATION_TYPES = ("full-load", "full-load-and-cdc")
MANAGED_SELECTIONS = ("RECOMMENDED", "ALL", "INCLUDE", "EXCLUDE", "NONE")
LF_PERMISSIONS = ("SELECT", "DESCRIBE", "ALTER", "DROP", "INSERT", "DELETE")
ACTIONS = tuple(a.value for a in Action)
IDENTIFIER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")
GLUE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
PERSONA_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
KMS_ALIAS_RE = re.compile(r"^alias/[A-Za-z0-9/_-]{1,250}$")


class ConfigError(Exception):
    """A config value is wrong; the message names the file, line, key path and what is allowed."""

    def __init__(self, path: str, line: int | None, key_path: str, message: str) -> None:
        self.path, self.line, self.key_path, self.message = path, line, key_path, message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key_path}: {message}" if key_path else f"{where}: {message}")


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ProjectSettings:
    prefix: str = "dcp"
    region: str = "us-east-1"
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSettings:
    engine: str = "mysql"
    version: str = ""
    instance_class: str = "db.t3.micro"
    allocated_storage_gb: int = 20
    db_name: str = "dataset"
    username: str = "dcpadmin"
    tables: tuple[str, ...] = ("customer", "bank", "card")
    sandbox_url: str = ""


@dataclass(frozen=True)
class DmsSettings:
    migration_type: str = "full-load-and-cdc"
    instance_class: str = "dms.t3.micro"
    table_mappings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cdc(self) -> bool:
        return self.migration_type == "full-load-and-cdc"


@dataclass(frozen=True)
class MacieSettings:
    # INCLUDE with no IDs: the Macie managed identifiers that masking.actions names (see
    # Settings.macie_managed_ids), so the job looks for every type the config promises to mask.
    managed_identifier_selection: str = "INCLUDE"
    managed_identifier_ids: tuple[str, ...] = ()
    custom_identifiers: tuple[CustomIdentifier, ...] = (CustomIdentifier(name="account_number", regex=r"XYZ-\d+"),)
    # `dcp scan`: the longest upload to the raw bucket (plus clock skew; the tail a job checks), and the
    # per-GB price of sensitive data discovery jobs for `dcp scan --dry-run` (see config.yaml).
    scan_overlap_seconds: int = 10
    scan_price_per_gb: float = 1.0


DEFAULT_MASKING_ACTIONS: Mapping[str, Action] = {
    "CREDIT_CARD_NUMBER": Action.PARTIAL,
    "CREDIT_CARD_SECURITY_CODE": Action.REDACT,
    "CREDIT_CARD_EXPIRATION": Action.REDACT,
    "BANK_ACCOUNT_NUMBER": Action.PARTIAL,
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER": Action.PARTIAL,
    "UK_BANK_ACCOUNT_NUMBER": Action.PARTIAL,
    "GERMANY_BANK_ACCOUNT_NUMBER": Action.PARTIAL,
    "FRANCE_BANK_ACCOUNT_NUMBER": Action.PARTIAL,
    "SPAIN_BANK_ACCOUNT_NUMBER": Action.PARTIAL,
    "ITALY_BANK_ACCOUNT_NUMBER": Action.PARTIAL,
    "EMAIL_ADDRESS": Action.TOKEN,
    "NAME": Action.REDACT,
    "DATE_OF_BIRTH": Action.REDACT,
    "account_number": Action.TOKEN,
}
DEFAULT_JOINABLE_TYPES = ("EMAIL_ADDRESS", "account_number")


@dataclass(frozen=True)
class MaskingSettings:
    actions: Mapping[str, Action] = field(default_factory=lambda: dict(DEFAULT_MASKING_ACTIONS))
    default_action: Action = Action.REDACT
    partial_keep: int = 4
    joinable_types: tuple[str, ...] = DEFAULT_JOINABLE_TYPES

    def to_policy(self, type_names: Mapping[str, str] | None = None) -> MaskingPolicy:
        """The engine's policy; `type_names` renames types (a custom identifier's config name to
        the name Macie reports it under, e.g. account_number -> <prefix>-account_number)."""
        rename = dict(type_names or {})
        return MaskingPolicy(
            actions={rename.get(t, t): a for t, a in self.actions.items()},
            default_action=self.default_action,
            partial_keep=self.partial_keep,
            joinable_types=frozenset(rename.get(t, t) for t in self.joinable_types),
        )


@dataclass(frozen=True)
class KmsSettings:
    data_key_alias: str
    bucket_key_alias: str


@dataclass(frozen=True)
class GlueSettings:
    raw_database: str = "dataset"
    masked_database: str = "dataset_masked"
    encrypted_database: str = "dataset_encrypted"
    findings_database: str = "dcp"
    glue_version: str = "5.0"
    worker_type: str = "G.1X"
    number_of_workers: int = 2


@dataclass(frozen=True)
class LfGrant:
    """An LF-tag expression (keys ANDed, values ORed) and the permissions granted on it."""

    expression: Mapping[str, tuple[str, ...]]
    permissions: tuple[str, ...] = ("SELECT", "DESCRIBE")


@dataclass(frozen=True)
class Persona:
    name: str
    description: str = ""
    admin: bool = False
    decrypt: bool = False
    grants: tuple[LfGrant, ...] = ()


@dataclass(frozen=True)
class LakeFormationSettings:
    tags: Mapping[str, tuple[str, ...]]
    personas: Mapping[str, Persona]


@dataclass(frozen=True)
class AthenaSettings:
    workgroup: str


@dataclass(frozen=True)
class Settings:
    path: str
    project: ProjectSettings
    endpoint: str
    source: SourceSettings
    dms: DmsSettings
    macie: MacieSettings
    masking: MaskingSettings
    kms: KmsSettings
    glue: GlueSettings
    lakeformation: LakeFormationSettings
    athena: AthenaSettings

    @property
    def prefix(self) -> str:
        return self.project.prefix

    @property
    def is_local(self) -> bool:
        return self.endpoint == "local"

    def macie_managed_ids(self, *, extensions: bool = False) -> tuple[str, ...]:
        """The managedDataIdentifierIds of a scan job (INCLUDE / EXCLUDE; empty for the others).

        INCLUDE without IDs means the Macie managed identifiers that masking.actions names, and
        with `extensions` also dcp's own detectors it names (EMAIL_ADDRESS, IP_ADDRESS), which
        only dcp runs: `dcp classify` and the sandbox's Macie.
        """
        m = self.macie
        if m.managed_identifier_selection == "INCLUDE" and not m.managed_identifier_ids:
            ids = {
                canonical_type(t)
                for t in self.masking.actions
                if is_macie_managed(t) or (extensions and canonical_type(t) in _DCP_EXTENSIONS)
            }
            return tuple(sorted(ids))
        if m.managed_identifier_selection in ("INCLUDE", "EXCLUDE"):
            return m.managed_identifier_ids
        return ()

    def undetectable_action_types(self) -> dict[str, str]:
        """masking.actions types no selected identifier can detect on Macie -> why (empty: all covered).

        A type is covered by a custom identifier of that name or by a selected Macie managed
        identifier; dcp's own extensions (EMAIL_ADDRESS, IP_ADDRESS) have no Macie identifier.
        """
        customs = {c.name for c in self.macie.custom_identifiers}
        selected = _selected_managed(self.macie.managed_identifier_selection, self.macie_managed_ids())
        out: dict[str, str] = {}
        for type_id, action in self.masking.actions.items():
            if action == Action.KEEP or type_id in customs:
                continue
            if canonical_type(type_id) in _DCP_EXTENSIONS:
                out[type_id] = (
                    f"Macie has no managed identifier for {type_id}; only the sandbox detects it "
                    f"(add a custom identifier named {type_id} for AWS)"
                )
            elif not is_macie_managed(type_id):
                out[type_id] = f"no custom identifier is named {type_id} and it is no Macie managed identifier"
            elif canonical_type(type_id) not in selected:
                out[type_id] = (
                    f"managed_identifier_selection {self.macie.managed_identifier_selection} "
                    f"does not include {canonical_type(type_id)}, so Macie would not report it"
                )
        return out

    def persona(self, name: str) -> Persona:
        """The persona called `name`; a usage error listing the valid ones otherwise."""
        try:
            return self.lakeformation.personas[name]
        except KeyError:
            valid = ", ".join(sorted(self.lakeformation.personas))
            raise UnknownPersonaError(f"unknown persona {name!r}; valid personas: {valid}") from None


#: dcp's own detectors that Macie has no managed identifier for.
_DCP_EXTENSIONS = frozenset(i.id for i in MANAGED_IDENTIFIERS if not i.macie_managed)


def _selected_managed(selection: str, ids: tuple[str, ...]) -> frozenset[str]:
    """The Macie managed identifier IDs a job with this selection uses, as far as dcp knows them."""
    known = {i.id for i in MANAGED_IDENTIFIERS if i.macie_managed}
    chosen = {canonical_type(i) for i in ids}
    if selection == "ALL":
        return frozenset(known)
    if selection == "RECOMMENDED":
        return RECOMMENDED_MANAGED_IDENTIFIERS
    if selection == "INCLUDE":
        return frozenset(chosen)
    if selection == "EXCLUDE":
        return frozenset(known - chosen)
    return frozenset()


class UnknownPersonaError(Exception):
    """A persona name that config does not define."""


# --------------------------------------------------------------------------- validation


class _Node:
    """A YAML node with the file, line and key path an error message needs."""

    def __init__(self, node: yaml.Node | None, path: str, key_path: str, key_line: int | None = None) -> None:
        self.node, self.file, self.key_path, self.key_line = node, path, key_path, key_line

    @property
    def line(self) -> int | None:
        """The line of the key (where a person looks), else of the value."""
        if self.key_line is not None:
            return self.key_line
        return self.node.start_mark.line + 1 if self.node is not None else None

    def fail(self, message: str) -> ConfigError:
        return ConfigError(self.file, self.line, self.key_path, message)

    def child(self, node: yaml.Node | None, key: str, key_line: int | None = None) -> _Node:
        return _Node(node, self.file, f"{self.key_path}.{key}" if self.key_path else key, key_line)

    def value(self) -> Any:
        if self.node is None:
            return None
        return yaml.SafeLoader("").construct_object(self.node, deep=True)

    def mapping(self, allowed: tuple[str, ...] | None = None) -> dict[str, _Node]:
        """Children of a mapping; unknown keys are an error naming the allowed ones."""
        if self.node is None or (isinstance(self.node, yaml.ScalarNode) and self.node.tag == "tag:yaml.org,2002:null"):
            return {}
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail(f"must be a mapping, got {_kind(self.node)}")
        out: dict[str, _Node] = {}
        for key_node, value_node in self.node.value:
            key = str(key_node.value)
            if allowed is not None and key not in allowed:
                bad = self.child(key_node, key)
                raise bad.fail(f"unknown key; allowed keys here: {', '.join(allowed)}")
            if key in out:
                raise self.child(key_node, key).fail("duplicate key")
            out[key] = self.child(value_node, key, key_node.start_mark.line + 1)
        return out

    def items(self) -> list[_Node]:
        if self.node is None:
            return []
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail(f"must be a list, got {_kind(self.node)}")
        return [_Node(n, self.file, f"{self.key_path}[{i}]") for i, n in enumerate(self.node.value)]

    def string(self, *, choices: tuple[str, ...] | None = None, allow_empty: bool = True) -> str:
        value = self.value()
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(f"must be a string, got {_kind(self.node)}")
        text = str(value)
        if choices is not None and text not in choices:
            raise self.fail(f"{text!r} is not allowed; choose one of: {', '.join(choices)}")
        if not allow_empty and not text:
            raise self.fail("must not be empty")
        return text

    def integer(self, low: int, high: int) -> int:
        value = self.value()
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"must be an integer, got {_kind(self.node)}")
        if not low <= value <= high:
            raise self.fail(f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self) -> bool:
        value = self.value()
        if not isinstance(value, bool):
            raise self.fail(f"must be true or false, got {_kind(self.node)}")
        return value

    def strings(self, *, pattern: re.Pattern[str] | None = None, what: str = "") -> tuple[str, ...]:
        out = []
        for item in self.items():
            text = item.string(allow_empty=False)
            if pattern is not None and not pattern.match(text):
                raise item.fail(f"{text!r} is not a valid {what}")
            out.append(text)
        return tuple(out)


def _kind(node: yaml.Node | None) -> str:
    if node is None:
        return "nothing"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    value = yaml.SafeLoader("").construct_object(node)
    return {bool: "a boolean", int: "an integer", float: "a number", type(None): "null"}.get(
        type(value), f"the string {value!r}"
    )


def _section(root: dict[str, _Node], name: str, parent: _Node, allowed: tuple[str, ...]) -> dict[str, _Node]:
    return root.get(name, parent.child(None, name)).mapping(allowed)


def _get(section: dict[str, _Node], key: str, parse: Callable[[_Node], Any], default: Any) -> Any:
    return parse(section[key]) if key in section else default


def _project(root: dict[str, _Node], top: _Node) -> ProjectSettings:
    s = _section(root, "project", top, ("prefix", "region", "tags"))
    prefix = _get(s, "prefix", lambda n: n.string(), "dcp")
    if not PREFIX_RE.match(prefix) or "--" in prefix:
        raise s["prefix"].fail(
            f"{prefix!r} is not a valid prefix: 3-20 characters of lowercase letters, digits and "
            "hyphens, starting with a letter and not ending with a hyphen (it becomes part of S3 "
            "bucket names)"
        )
    region = _get(s, "region", lambda n: n.string(allow_empty=False), "us-east-1")
    if not REGION_RE.match(region):
        raise s["region"].fail(f"{region!r} is not an AWS region name such as us-east-1")
    tags: dict[str, str] = {}
    for key, node in _get(s, "tags", lambda n: n.mapping(), {}).items():
        if key.startswith("aws:") or key.startswith("dcp:"):
            raise node.fail("tag keys starting with aws: or dcp: are reserved")
        tags[key] = node.string()
    return ProjectSettings(prefix=prefix, region=region, tags=tags)


def _endpoint(root: dict[str, _Node], top: _Node) -> str:
    node = root.get("endpoint")
    if node is None:
        return "local"
    value = node.string(allow_empty=False)
    if value not in ("aws", "local") and not re.match(r"^https?://[^\s/]+(:\d+)?/?$", value):
        raise node.fail(f"{value!r} is not allowed; use aws, local or a URL like http://127.0.0.1:4566")
    return value


def _source(root: dict[str, _Node], top: _Node) -> SourceSettings:
    s = _section(
        root,
        "source",
        top,
        (
            "engine",
            "version",
            "instance_class",
            "allocated_storage_gb",
            "db_name",
            "username",
            "tables",
            "sandbox_url",
        ),
    )
    d = SourceSettings()
    tables = _get(s, "tables", lambda n: n.strings(pattern=GLUE_NAME_RE, what="table name"), d.tables)
    if not tables:
        raise s["tables"].fail("name at least one table")
    db_name = _get(s, "db_name", lambda n: n.string(allow_empty=False), d.db_name)
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,62}$", db_name):
        raise s["db_name"].fail(f"{db_name!r} is not a valid database name (letters, digits, _)")
    username = _get(s, "username", lambda n: n.string(allow_empty=False), d.username)
    if not re.match(r"^[A-Za-z][A-Za-z0-9_]{0,15}$", username) or username.lower() in ("admin", "root"):
        raise s["username"].fail(
            f"{username!r} is not allowed: 1-16 letters, digits or _, starting with a letter, "
            "and not a reserved word such as admin or root"
        )
    url = _get(s, "sandbox_url", lambda n: n.string(), d.sandbox_url)
    if url and not re.match(r"^(sqlite|postgresql|mysql|mariadb)(\+\w+)?://", url):
        raise s["sandbox_url"].fail(f"{_redact_url(url)!r} is not a SQLAlchemy URL for sqlite, postgresql or mysql")
    return SourceSettings(
        engine=_get(s, "engine", lambda n: n.string(choices=ENGINES), d.engine),
        version=_get(s, "version", _engine_version, d.version),
        instance_class=_get(s, "instance_class", _instance_class("db."), d.instance_class),
        allocated_storage_gb=_get(s, "allocated_storage_gb", lambda n: n.integer(20, 65536), 20),
        db_name=db_name,
        username=username,
        tables=tables,
        sandbox_url=url,
    )


def _engine_version(node: _Node) -> str:
    text = node.string()
    if text and not re.match(r"^\d+(\.\d+){0,2}$", text):
        raise node.fail(f"{text!r} is not an engine version like 8.0 or 16.4 (empty: the engine's default)")
    return text


def _redact_url(url: str) -> str:
    """A database URL with its password replaced, safe to print."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _instance_class(family: str) -> Callable[[_Node], str]:
    def parse(node: _Node) -> str:
        text = node.string(allow_empty=False)
        if not re.match(rf"^{re.escape(family)}[a-z0-9]+\.[a-z0-9]+$", text):
            raise node.fail(f"{text!r} is not an instance class like {family}t3.micro")
        return text

    return parse


def _dms(root: dict[str, _Node], top: _Node) -> DmsSettings:
    s = _section(root, "dms", top, ("migration_type", "instance_class", "table_mappings"))
    d = DmsSettings()
    mappings = _get(s, "table_mappings", lambda n: n.value() or {}, {})
    if not isinstance(mappings, dict):
        raise s["table_mappings"].fail("must be a mapping (DMS table-mapping JSON as YAML)")
    if mappings and not isinstance(mappings.get("rules"), list):
        raise s["table_mappings"].fail("must have a `rules` list, as DMS table mappings do")
    return DmsSettings(
        migration_type=_get(s, "migration_type", lambda n: n.string(choices=MIGRATION_TYPES), d.migration_type),
        instance_class=_get(s, "instance_class", _instance_class("dms."), d.instance_class),
        table_mappings=mappings,
    )


def _custom_identifier(node: _Node) -> CustomIdentifier:
    s = node.mapping(("name", "regex", "keywords", "ignore_words", "maximum_match_distance", "description"))
    if "name" not in s or "regex" not in s:
        raise node.fail("a custom identifier needs `name` and `regex`")
    name = s["name"].string(allow_empty=False)
    if not IDENTIFIER_RE.match(name):
        raise s["name"].fail(f"{name!r} is not a valid identifier name (letters, digits, _ and -)")
    regex = s["regex"].string(allow_empty=False)
    if len(regex) > 512:
        raise s["regex"].fail("Macie allows at most 512 characters")
    try:
        re.compile(regex)
    except re.error as exc:
        raise s["regex"].fail(f"invalid regular expression: {exc}") from None
    keywords = _get(s, "keywords", lambda n: n.strings(), ())
    ignore = _get(s, "ignore_words", lambda n: n.strings(), ())
    for key, values in (("keywords", keywords), ("ignore_words", ignore)):
        if len(values) > 50:
            raise s[key].fail("Macie allows at most 50 entries")
        for v in values:
            if not 3 <= len(v) <= 90:
                raise s[key].fail(f"{v!r}: each entry must be 3-90 characters, as Macie requires")
    return CustomIdentifier(
        name=name,
        regex=regex,
        keywords=keywords,
        ignore_words=ignore,
        maximum_match_distance=_get(s, "maximum_match_distance", lambda n: n.integer(1, 300), 50),
    )


def _macie(root: dict[str, _Node], top: _Node) -> MacieSettings:
    s = _section(
        root,
        "macie",
        top,
        (
            "managed_identifier_selection",
            "managed_identifier_ids",
            "custom_identifiers",
            "scan_overlap_seconds",
            "scan_price_per_gb",
        ),
    )
    d = MacieSettings()
    selection = _get(
        s,
        "managed_identifier_selection",
        lambda n: n.string(choices=MANAGED_SELECTIONS),
        d.managed_identifier_selection,
    )
    ids = _get(
        s,
        "managed_identifier_ids",
        lambda n: n.strings(pattern=re.compile(r"^[A-Z][A-Z0-9_]+$"), what="managed identifier ID"),
        (),
    )
    if selection == "EXCLUDE" and not ids:
        raise s.get("managed_identifier_ids", s["managed_identifier_selection"]).fail(
            f"{selection} needs managed_identifier_ids"
        )
    unknown = [i for i in ids if canonical_type(i) in _DCP_EXTENSIONS]
    if unknown:
        raise s["managed_identifier_ids"].fail(
            f"not Macie managed identifier IDs: {', '.join(unknown)} (dcp's EMAIL_ADDRESS and IP_ADDRESS "
            "have no Macie identifier; use a custom identifier)"
        )
    customs = (
        tuple(_custom_identifier(n) for n in s["custom_identifiers"].items())
        if "custom_identifiers" in s
        else d.custom_identifiers
    )
    names = [c.name for c in customs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise s["custom_identifiers"].fail(f"duplicate custom identifier names: {', '.join(sorted(dupes))}")
    overlap = _get(s, "scan_overlap_seconds", lambda n: n.integer(0, 3600), d.scan_overlap_seconds)
    price = _get(s, "scan_price_per_gb", _price, d.scan_price_per_gb)
    return MacieSettings(
        managed_identifier_selection=selection,
        managed_identifier_ids=ids,
        custom_identifiers=customs,
        scan_overlap_seconds=overlap,
        scan_price_per_gb=price,
    )


def _price(node: _Node) -> float:
    value = node.value()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise node.fail(f"must be a price in USD per GB (a number >= 0), got {_kind(node.node)}")
    return float(value)


def _masking(root: dict[str, _Node], top: _Node) -> MaskingSettings:
    s = _section(root, "masking", top, ("actions", "default_action", "partial_keep", "joinable_types"))
    actions = dict(DEFAULT_MASKING_ACTIONS) if "actions" not in s else {}
    for key, node in _get(s, "actions", lambda n: n.mapping(), {}).items():
        if not IDENTIFIER_RE.match(key):
            raise node.fail("keys are Macie managed identifier IDs or custom identifier names")
        actions[key] = Action(node.string(choices=ACTIONS))
    return MaskingSettings(
        actions=actions,
        default_action=Action(_get(s, "default_action", lambda n: n.string(choices=ACTIONS), Action.REDACT.value)),
        partial_keep=_get(s, "partial_keep", lambda n: n.integer(0, 64), 4),
        joinable_types=_get(s, "joinable_types", lambda n: n.strings(), DEFAULT_JOINABLE_TYPES),
    )


def _alias(node: _Node) -> str:
    text = node.string()
    if text and not KMS_ALIAS_RE.match(text):
        raise node.fail(f"{text!r} is not a KMS alias like alias/my-key")
    if text.startswith("alias/aws/"):
        raise node.fail("aliases under alias/aws/ are reserved for AWS managed keys")
    return text


def _kms(root: dict[str, _Node], top: _Node, prefix: str) -> KmsSettings:
    s = _section(root, "kms", top, ("data_key_alias", "bucket_key_alias"))
    return KmsSettings(
        data_key_alias=_get(s, "data_key_alias", _alias, "") or f"alias/{prefix}-data",
        bucket_key_alias=_get(s, "bucket_key_alias", _alias, "") or f"alias/{prefix}-buckets",
    )


def _glue_name(node: _Node) -> str:
    text = node.string(allow_empty=True)
    if text and not GLUE_NAME_RE.match(text):
        raise node.fail(f"{text!r} is not a valid Glue database name (lowercase letters, digits, _)")
    return text


def _glue(root: dict[str, _Node], top: _Node, prefix: str) -> GlueSettings:
    s = _section(
        root,
        "glue",
        top,
        (
            "raw_database",
            "masked_database",
            "encrypted_database",
            "findings_database",
            "glue_version",
            "worker_type",
            "number_of_workers",
        ),
    )
    d = GlueSettings()
    settings = GlueSettings(
        raw_database=_get(s, "raw_database", _glue_name, "") or d.raw_database,
        masked_database=_get(s, "masked_database", _glue_name, "") or d.masked_database,
        encrypted_database=_get(s, "encrypted_database", _glue_name, "") or d.encrypted_database,
        findings_database=_get(s, "findings_database", _glue_name, "") or prefix.replace("-", "_"),
        glue_version=_get(s, "glue_version", lambda n: n.string(choices=("4.0", "5.0")), "5.0"),
        worker_type=_get(s, "worker_type", lambda n: n.string(choices=("G.1X", "G.2X", "G.4X", "G.8X")), "G.1X"),
        number_of_workers=_get(s, "number_of_workers", lambda n: n.integer(2, 299), 2),
    )
    seen: dict[str, str] = {}
    for key in ("raw_database", "masked_database", "encrypted_database", "findings_database"):
        name = getattr(settings, key)
        if name in seen:
            node = s.get(key) or s.get(seen[name]) or root.get("glue", top.child(None, "glue"))
            raise node.fail(f"{name!r} is already the {seen[name]}; the four databases need different names")
        seen[name] = key
    return settings


def _lakeformation(root: dict[str, _Node], top: _Node) -> LakeFormationSettings:
    s = _section(root, "lakeformation", top, ("tags", "personas"))
    tags: dict[str, tuple[str, ...]] = {}
    if "tags" in s:
        for key, node in s["tags"].mapping().items():
            values = node.strings(pattern=re.compile(r"^[\w.:/=+@-]{1,255}$"), what="LF-tag value")
            if not values:
                raise node.fail("an LF-tag needs at least one value")
            tags[key] = values
    else:
        tags = {"zone": ("raw", "masked", "encrypted"), "sensitivity": ("public", "pii")}
    for required in ("zone", "sensitivity"):
        if required not in tags:
            raise s.get("tags", top).fail(f"the LF-tag `{required}` is required (dcp tags tables with it)")
    missing = {"raw", "masked", "encrypted"} - set(tags["zone"])
    if missing:
        raise s["tags"].fail(
            f"the zone tag must allow raw, masked and encrypted (missing: {', '.join(sorted(missing))})"
        )
    personas: dict[str, Persona] = {}
    persona_nodes = s["personas"].mapping() if "personas" in s else None
    if persona_nodes is None:
        return LakeFormationSettings(tags=tags, personas=_default_personas())
    for name, node in persona_nodes.items():
        if not PERSONA_RE.match(name):
            raise node.fail(f"{name!r} is not a valid persona name (lowercase letters, digits, -)")
        p = node.mapping(("description", "admin", "decrypt", "grants"))
        grants = []
        for g in p["grants"].items() if "grants" in p else []:
            gm = g.mapping(("expression", "permissions"))
            if "expression" not in gm:
                raise g.fail("a grant needs an `expression` (LF-tag key: [values])")
            expression: dict[str, tuple[str, ...]] = {}
            for key, values_node in gm["expression"].mapping().items():
                if key not in tags:
                    raise values_node.fail(f"unknown LF-tag {key!r}; defined tags: {', '.join(tags)}")
                values = values_node.strings()
                unknown = [v for v in values if v not in tags[key]]
                if unknown or not values:
                    raise values_node.fail(
                        f"values must be among {', '.join(tags[key])}"
                        + (f" (got {', '.join(unknown)})" if unknown else "")
                    )
                expression[key] = values
            if not expression:
                raise gm["expression"].fail("an expression needs at least one LF-tag")
            perms = _get(
                gm,
                "permissions",
                lambda n: tuple(i.string(choices=LF_PERMISSIONS) for i in n.items()),
                ("SELECT", "DESCRIBE"),
            )
            grants.append(LfGrant(expression=expression, permissions=perms))
        personas[name] = Persona(
            name=name,
            description=_get(p, "description", lambda n: n.string(), ""),
            admin=_get(p, "admin", lambda n: n.boolean(), False),
            decrypt=_get(p, "decrypt", lambda n: n.boolean(), False),
            grants=tuple(grants),
        )
    if not personas:
        raise s["personas"].fail("define at least one persona")
    return LakeFormationSettings(tags=tags, personas=personas)


def _default_personas() -> dict[str, Persona]:
    """The personas of config.yaml's defaults (used when the file has no `personas` key)."""
    sel = ("SELECT", "DESCRIBE")
    return {
        "lf-admin": Persona("lf-admin", admin=True, grants=(LfGrant({"zone": ("raw", "masked", "encrypted")}, sel),)),
        "analyst": Persona("analyst", grants=(LfGrant({"zone": ("masked",)}, sel),)),
        "data-scientist": Persona("data-scientist", grants=(LfGrant({"zone": ("masked", "encrypted")}, sel),)),
        "ml-training": Persona("ml-training", decrypt=True, grants=(LfGrant({"zone": ("masked", "encrypted")}, sel),)),
    }


def _athena(root: dict[str, _Node], top: _Node, prefix: str) -> AthenaSettings:
    s = _section(root, "athena", top, ("workgroup",))
    wg = _get(s, "workgroup", lambda n: n.string(), "")
    if wg and not re.match(r"^[a-zA-Z0-9._-]{1,128}$", wg):
        raise s["workgroup"].fail(f"{wg!r} is not a valid Athena workgroup name")
    return AthenaSettings(workgroup=wg or f"{prefix}-wg")


TOP_LEVEL = (
    "project",
    "endpoint",
    "source",
    "dms",
    "macie",
    "masking",
    "kms",
    "glue",
    "lakeformation",
    "athena",
)


def parse_settings(text: str, path: str = "config.yaml") -> Settings:
    """Validate YAML text into Settings; raise ConfigError on the first problem."""
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, line, "", f"not valid YAML: {problem}") from None
    top = _Node(document, path, "")
    root = top.mapping(TOP_LEVEL)
    project = _project(root, top)
    settings = Settings(
        path=path,
        project=project,
        endpoint=_endpoint(root, top),
        source=_source(root, top),
        dms=_dms(root, top),
        macie=_macie(root, top),
        masking=_masking(root, top),
        kms=_kms(root, top, project.prefix),
        glue=_glue(root, top, project.prefix),
        lakeformation=_lakeformation(root, top),
        athena=_athena(root, top, project.prefix),
    )
    _check_detectable(settings, root, top)
    return settings


def _check_detectable(settings: Settings, root: dict[str, _Node], top: _Node) -> None:
    """A Macie managed type that masking.actions names must be in the job's selection.

    Otherwise real Macie never reports it and its column reaches the masked zone in plaintext.
    (Other names only warn, in `dcp plan`: dcp's extension types, which the sandbox detects, and
    names no custom identifier defines.)
    """
    for type_id, reason in settings.undetectable_action_types().items():
        if not is_macie_managed(type_id):
            continue
        masking = root.get("masking")
        actions = masking.mapping().get("actions") if masking is not None else None
        node = (actions.mapping().get(type_id) if actions is not None else None) or root.get("macie", top)
        raise node.fail(f"masking.actions names {type_id} but {reason}")


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the config file; without one, the built-in defaults apply."""
    if path is None:
        candidate = Path("config.yaml")
        if not candidate.exists():
            return parse_settings("", "<defaults>")
        path = candidate
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), None, "", "file not found (pass --config PATH)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), None, "", f"cannot read: {exc}") from None
    return parse_settings(text, str(p))


def default_settings() -> Settings:
    """Settings with every default, as if config.yaml were empty."""
    return parse_settings("", "<defaults>")
