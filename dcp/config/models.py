"""The settings of `config.yaml`, declared once: types, defaults, constraints and cross-field rules.

Every section is a frozen pydantic model that forbids unknown keys; the loader
(:mod:`dcp.config.loader`) maps pydantic's errors to the file's lines, and
:func:`config_schema` is the JSON Schema editors use (`dcp config schema`).

A cross-field rule raises :func:`problems` with the location of each problem under the
model, so the message points at the key a person has to change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    GetPydanticSchema,
    PrivateAttr,
    Strict,
    StrictBool,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from dcp.config.errors import UnknownPersonaError
from dcp.masking.identifiers import (
    DEFAULT_MAXIMUM_MATCH_DISTANCE,
    MANAGED_IDENTIFIERS,
    RECOMMENDED_MANAGED_IDENTIFIERS,
    CustomIdentifier,
    canonical_type,
    is_macie_managed,
)
from dcp.masking.policy import Action, MaskingPolicy

#: The error type of dcp's own rules; its `problems` context holds (location, message) pairs.
PROBLEM = "dcp_config"
Loc = tuple[str | int, ...]


def problems(found: Sequence[tuple[Loc, str]]) -> PydanticCustomError:
    """One pydantic error carrying several problems, each at a location under the failing model."""
    return PydanticCustomError(
        PROBLEM, "{message}", {"message": "; ".join(m for _, m in found), "problems": tuple(found)}
    )


def problem(message: str, *at: str | int) -> PydanticCustomError:
    return problems([(tuple(at), message)])


# --------------------------------------------------------------------------- field types


def _scalar_text(value: Any) -> Any:
    """YAML numbers where text is expected read as their text (`glue_version: 5.0`, `prefix: 123`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _none_as_empty(value: Any) -> Any:
    """An empty YAML mapping (`tags:` with nothing under it) is null; read it as {}."""
    return {} if value is None else value


@dataclass(frozen=True)
class Matches:
    """Text matching `regex` (a JSON Schema `pattern` as well); `message` names what is allowed.

    `message` is formatted with `value` (repr'd; a URL's password replaced when `secret_url`).
    With `empty_ok`, the empty string means "the default" and is allowed.
    """

    regex: str
    message: str
    empty_ok: bool = False
    secret_url: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        out = handler(schema)
        out["pattern"] = f"^$|{self.regex}" if self.empty_ok else self.regex
        return out

    def _check(self, value: str) -> str:
        if (value or not self.empty_ok) and not re.search(self.regex, value):
            shown = _redact_url(value) if self.secret_url else value
            raise problem(self.message.format(value=repr(shown)))
        return value


def _redact_url(url: str) -> str:
    """A database URL with its password replaced, safe to print."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


Text = Annotated[str, BeforeValidator(_scalar_text)]
NonEmpty = Annotated[Text, Field(min_length=1)]
Int = Annotated[int, Strict()]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Price = Annotated[float, BeforeValidator(_not_bool), Field(ge=0)]


NullIsEmpty = BeforeValidator(_none_as_empty)
#: In the JSON Schema, a mapping whose keys must match its patternProperties.
ONLY_PATTERN_KEYS: dict[str, Any] = {"additionalProperties": False}

PREFIX = r"^(?!.*--)[a-z][a-z0-9-]{1,18}[a-z0-9]$"
REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_-]{0,127}$"
GLUE_NAME = r"^[a-z][a-z0-9_]{0,254}$"
PERSONA = r"^[a-z][a-z0-9-]{0,30}$"
KMS_ALIAS = r"^(?!alias/aws/)alias/[A-Za-z0-9/_-]{1,250}$"
LF_TAG_VALUE = r"^[\w.:/=+@-]{1,255}$"
MANAGED_ID = r"^[A-Z][A-Z0-9_]+$"
KEYWORD_LENGTH = (3, 90)  # Macie's bounds for a keyword or an ignore word
RESERVED_USERNAMES = ("admin", "root")

Prefix = Annotated[
    Text,
    Matches(
        PREFIX,
        "{value} is not a valid prefix: 3-20 characters of lowercase letters, digits and hyphens, starting "
        "with a letter and not ending with a hyphen (it becomes part of S3 bucket names)",
    ),
]
Region = Annotated[Text, Matches(REGION, "{value} is not an AWS region name such as us-east-1")]
Endpoint = Annotated[
    Text,
    Matches(
        r"^(aws|local|https?://[^\s/]+(:\d+)?/?)$",
        "{value} is not allowed; use aws, local or a URL like http://127.0.0.1:4566",
    ),
]
EngineVersion = Annotated[
    Text,
    Matches(
        r"^\d+(\.\d+){0,2}$",
        "{value} is not an engine version like 8.0 or 16.4 (empty: the engine's default)",
        empty_ok=True,
    ),
]
RdsClass = Annotated[Text, Matches(r"^db\.[a-z0-9]+\.[a-z0-9]+$", "{value} is not an instance class like db.t3.micro")]
DmsClass = Annotated[
    Text, Matches(r"^dms\.[a-z0-9]+\.[a-z0-9]+$", "{value} is not an instance class like dms.t3.micro")
]
DbName = Annotated[
    Text, Matches(r"^[A-Za-z][A-Za-z0-9_]{0,62}$", "{value} is not a valid database name (letters, digits, _)")
]
Username = Annotated[
    Text,
    Matches(
        r"^[A-Za-z][A-Za-z0-9_]{0,15}$", "{value} is not allowed: 1-16 letters, digits or _, starting with a letter"
    ),
]
SandboxUrl = Annotated[
    Text,
    Matches(
        r"^(sqlite|postgresql|mysql|mariadb)(\+\w+)?://",
        "{value} is not a SQLAlchemy URL for sqlite, postgresql or mysql",
        empty_ok=True,
        secret_url=True,
    ),
]
GlueName = Annotated[
    Text, Matches(GLUE_NAME, "{value} is not a valid Glue database name (lowercase letters, digits, _)", empty_ok=True)
]
TableName = Annotated[Text, Matches(GLUE_NAME, "{value} is not a valid table name (lowercase letters, digits, _)")]
IdentifierName = Annotated[
    Text, Matches(IDENTIFIER, "{value}: keys are Macie managed identifier IDs or custom identifier names")
]
CustomName = Annotated[Text, Matches(IDENTIFIER, "{value} is not a valid identifier name (letters, digits, _ and -)")]
ManagedId = Annotated[Text, Matches(MANAGED_ID, "{value} is not a valid managed identifier ID")]
KmsAlias = Annotated[
    Text,
    Matches(
        KMS_ALIAS,
        "{value} is not a KMS alias like alias/my-key (aliases under alias/aws/ are reserved for AWS managed keys)",
        empty_ok=True,
    ),
]
PersonaName = Annotated[Text, Matches(PERSONA, "{value} is not a valid persona name (lowercase letters, digits, -)")]
LfTagValue = Annotated[Text, Matches(LF_TAG_VALUE, "{value} is not a valid LF-tag value")]
WorkgroupName = Annotated[
    Text, Matches(r"^[a-zA-Z0-9._-]{1,128}$", "{value} is not a valid Athena workgroup name", empty_ok=True)
]
LfPermission = Literal["SELECT", "DESCRIBE", "ALTER", "DROP", "INSERT", "DELETE"]
ManagedSelection = Literal["RECOMMENDED", "ALL", "INCLUDE", "EXCLUDE", "NONE"]


def _word_lengths(words: tuple[str, ...]) -> tuple[str, ...]:
    low, high = KEYWORD_LENGTH
    bad = [w for w in words if not low <= len(w) <= high]
    if bad:
        raise problem(f"{bad[0]!r}: each entry must be {low}-{high} characters, as Macie requires")
    return words


Words = Annotated[
    tuple[Text, ...],
    Field(
        max_length=50,
        json_schema_extra={"items": {"type": "string", "minLength": KEYWORD_LENGTH[0], "maxLength": KEYWORD_LENGTH[1]}},
    ),
    AfterValidator(_word_lengths),
]


# --------------------------------------------------------------------------- sections


class Section(BaseModel):
    """A frozen block of config.yaml: unknown keys are errors; null means "all defaults"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _null_is_empty(cls, data: Any) -> Any:
        return _none_as_empty(data)


class ProjectSettings(Section):
    prefix: Prefix = Field(
        default="dcp",
        description="Prefix of every resource name (S3 bucket naming rules: 3-20 of a-z0-9-, starting with a letter).",
    )
    region: Region = Field(default="us-east-1", description="AWS region; --region and AWS_REGION override it.")
    tags: Annotated[Mapping[str, Text], NullIsEmpty] = Field(
        default={},
        json_schema_extra={"propertyNames": {"not": {"pattern": "^(aws|dcp):"}}},
        description=(
            "Extra tags on every resource (dcp:stack=<prefix> is always added; aws: and dcp: keys are reserved)."
        ),
    )

    @field_validator("tags", mode="after")
    @classmethod
    def _tag_keys(cls, tags: Mapping[str, str]) -> Mapping[str, str]:
        found = [
            ((key,), "tag keys starting with aws: or dcp: are reserved")
            for key in tags
            if key.startswith(("aws:", "dcp:"))
        ]
        if found:
            raise problems(found)
        return tags


class SourceSettings(Section):
    engine: Literal["mysql", "postgres"] = Field(default="mysql", description="RDS engine of the source database.")
    version: EngineVersion = Field(
        default="", description="RDS engine version; empty picks the engine's default (mysql 8.0, postgres 16)."
    )
    instance_class: RdsClass = "db.t3.micro"
    allocated_storage_gb: Annotated[Int, Field(ge=20, le=65536)] = 20
    db_name: DbName = Field(default="dataset", description="Database (and, for DMS, schema) holding the tables.")
    username: Username = Field(
        default="dcpadmin", description="Master user; the password is generated into Secrets Manager."
    )
    tables: Annotated[tuple[TableName, ...], Field(min_length=1)] = Field(
        default=("customer", "bank", "card"), description="Tables replicated, scanned and masked."
    )
    sandbox_url: SandboxUrl = Field(
        default="",
        description=(
            "Sandbox only: SQLAlchemy URL of the real database behind the sandbox's RDS; empty: SQLite under .dcp/."
        ),
    )

    @field_validator("username", mode="after")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name.lower() in RESERVED_USERNAMES:
            raise problem(
                f"{name!r} is reserved by RDS ({', '.join(RESERVED_USERNAMES)}); choose another master user name"
            )
        return name


class DmsSettings(Section):
    migration_type: Literal["full-load", "full-load-and-cdc"] = "full-load-and-cdc"
    instance_class: DmsClass = "dms.t3.micro"
    table_mappings: Annotated[Mapping[str, Any], NullIsEmpty] = Field(
        default={}, description="DMS table-mapping rules (the JSON as YAML); empty includes exactly source.tables."
    )

    @field_validator("table_mappings", mode="after")
    @classmethod
    def _has_rules(cls, mappings: Mapping[str, Any]) -> Mapping[str, Any]:
        if mappings and not isinstance(mappings.get("rules"), list):
            raise problem("must have a `rules` list, as DMS table mappings do")
        return mappings

    @property
    def cdc(self) -> bool:
        return self.migration_type == "full-load-and-cdc"


def _compiles(regex: str) -> str:
    try:
        re.compile(regex)
    except re.error as exc:
        raise problem(f"invalid regular expression: {exc}") from None
    return regex


class CustomIdentifierSpec(Section):
    """A Macie custom data identifier (CreateCustomDataIdentifier semantics)."""

    name: CustomName
    regex: Annotated[NonEmpty, Field(max_length=512), AfterValidator(_compiles)]
    keywords: Words = Field(
        default=(),
        description="Case-insensitive; one must precede a match by at most maximum_match_distance characters.",
    )
    ignore_words: Words = Field(default=(), description="Case-sensitive; a match containing one is dropped.")
    maximum_match_distance: Annotated[Int, Field(ge=1, le=300)] = DEFAULT_MAXIMUM_MATCH_DISTANCE
    description: Text = ""

    def identifier(self) -> CustomIdentifier:
        return CustomIdentifier(
            name=self.name,
            regex=self.regex,
            keywords=self.keywords,
            ignore_words=self.ignore_words,
            maximum_match_distance=self.maximum_match_distance,
        )


def _identifier_schema(source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
    """Validated as a CustomIdentifierSpec (and documented as one), kept as the engine's CustomIdentifier."""
    return core_schema.no_info_after_validator_function(
        lambda spec: spec.identifier(),
        handler(CustomIdentifierSpec),
        serialization=core_schema.plain_serializer_function_ser_schema(_identifier_json),
    )


def _identifier_json(identifier: CustomIdentifier) -> dict[str, Any]:
    return {k: v for k, v in vars(identifier).items() if k in CustomIdentifierSpec.model_fields}


DEFAULT_CUSTOM_IDENTIFIERS = (CustomIdentifier(name="account_number", regex=r"XYZ-\d+"),)


CustomIdentifierField = Annotated[CustomIdentifier, GetPydanticSchema(_identifier_schema)]

#: dcp's own detectors that Macie has no managed identifier for.
_DCP_EXTENSIONS = frozenset(i.id for i in MANAGED_IDENTIFIERS if not i.macie_managed)


class MacieSettings(Section):
    managed_identifier_selection: ManagedSelection = Field(
        default="INCLUDE",
        description=(
            "Macie managed identifiers. INCLUDE with no IDs: the Macie types masking.actions names, "
            "so the job looks for every type the config promises to mask."
        ),
    )
    managed_identifier_ids: tuple[ManagedId, ...] = Field(
        default=(), description="The identifier IDs for INCLUDE / EXCLUDE."
    )
    custom_identifiers: tuple[CustomIdentifierField, ...] = Field(
        default=DEFAULT_CUSTOM_IDENTIFIERS,
        json_schema_extra={"default": [_identifier_json(c) for c in DEFAULT_CUSTOM_IDENTIFIERS]},
    )
    scan_overlap_seconds: Annotated[Int, Field(ge=0, le=3600)] = Field(
        default=10,
        description=(
            "dcp scan: the longest upload to the raw bucket plus clock skew; each job checks this tail "
            "of its range again at the next scan (uploads in flight)."
        ),
    )
    scan_price_per_gb: Price = Field(
        default=1.0,
        description="USD per GB classified by a discovery job, for dcp scan --dry-run (see config.yaml).",
    )

    @model_validator(mode="after")
    def _ids_fit_the_selection(self) -> MacieSettings:
        found: list[tuple[Loc, str]] = []
        selection, ids = self.managed_identifier_selection, self.managed_identifier_ids
        if selection == "EXCLUDE" and not ids:
            at = (
                "managed_identifier_ids"
                if "managed_identifier_ids" in self.model_fields_set
                else "managed_identifier_selection"
            )
            found.append(((at,), f"{selection} needs managed_identifier_ids"))
        unknown = [i for i in ids if canonical_type(i) in _DCP_EXTENSIONS]
        if unknown:
            found.append(
                (
                    ("managed_identifier_ids",),
                    f"not Macie managed identifier IDs: {', '.join(unknown)} (dcp's EMAIL_ADDRESS and IP_ADDRESS "
                    "have no Macie identifier; use a custom identifier)",
                )
            )
        names = [c.name for c in self.custom_identifiers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            found.append((("custom_identifiers",), f"duplicate custom identifier names: {', '.join(dupes)}"))
        if found:
            raise problems(found)
        return self


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


class MaskingSettings(Section):
    actions: Annotated[Mapping[IdentifierName, Action], NullIsEmpty] = Field(
        default=DEFAULT_MASKING_ACTIONS,
        json_schema_extra=ONLY_PATTERN_KEYS,
        description=(
            "What happens to a column per detected data type. Keys are Macie managed identifier IDs or "
            "custom identifier names; with the default Macie selection the scan looks for exactly these types."
        ),
    )
    default_action: Action = Field(
        default=Action.REDACT, description="Action for a flagged type not listed in actions."
    )
    partial_keep: Annotated[Int, Field(ge=0, le=64)] = Field(
        default=4, description="`partial` keeps this many trailing characters."
    )
    joinable_types: tuple[NonEmpty, ...] = Field(
        default=DEFAULT_JOINABLE_TYPES,
        description="Types whose encrypted cells use deterministic AES-SIV, so equal values join.",
    )

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


class KmsSettings(Section):
    data_key_alias: KmsAlias = Field(
        default="", description="Data key for the encrypted copy; empty means alias/<prefix>-data."
    )
    bucket_key_alias: KmsAlias = Field(
        default="", description="Key for bucket default encryption; empty means alias/<prefix>-buckets."
    )


class GlueSettings(Section):
    raw_database: GlueName = "dataset"
    masked_database: GlueName = "dataset_masked"
    encrypted_database: GlueName = "dataset_encrypted"
    findings_database: GlueName = Field(default="", description="Empty means the prefix (hyphens as underscores).")
    glue_version: Annotated[Literal["4.0", "5.0"], BeforeValidator(_scalar_text)] = Field(
        default="5.0", description="Glue 5.0 runs Spark 3.5 and Python 3.11, the versions dcp is tested with."
    )
    worker_type: Literal["G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    number_of_workers: Annotated[Int, Field(ge=2, le=299)] = 2

    @field_validator("raw_database", "masked_database", "encrypted_database", mode="after")
    @classmethod
    def _empty_is_default(cls, name: str, info: ValidationInfo) -> str:
        """An empty name in the file means the field's default."""
        return name or str(cls.model_fields[info.field_name or ""].default)

    @model_validator(mode="after")
    def _distinct_databases(self) -> GlueSettings:
        """The four databases need different names (an empty findings_database is derived later)."""
        clash = self.database_clash(self.model_fields_set)
        if clash is not None:
            raise problems([clash])
        return self

    def database_clash(self, given: set[str]) -> tuple[Loc, str] | None:
        """Where two of the databases have the same name, and why that is wrong (None: all differ)."""
        seen: dict[str, str] = {}
        for key in ("raw_database", "masked_database", "encrypted_database", "findings_database"):
            name = getattr(self, key)
            if name in seen:
                written = [k for k in (key, seen[name]) if k in given]
                why = f"{name!r} is both the {seen[name]} and the {key}; the four need different names"
                if key == "findings_database" and key not in given:
                    why += " (an empty findings_database means the prefix)"
                return ((written[0],) if written else ()), why
            if name:
                seen[name] = key
        return None


class LfGrant(Section):
    """An LF-tag expression (keys ANDed, values ORed) and the permissions granted on it."""

    expression: Annotated[dict[str, tuple[Text, ...]], Field(min_length=1)] = Field(
        description="LF-tag key: [values]; the keys must be lakeformation.tags keys and the values among theirs."
    )
    permissions: tuple[LfPermission, ...] = ("SELECT", "DESCRIBE")


class Persona(Section):
    """An IAM role (<prefix>-<name>) and the LF-tag expressions granted to it."""

    description: Text = ""
    admin: StrictBool = Field(
        default=False, description="A Lake Formation data lake administrator (reads the raw zone)."
    )
    decrypt: StrictBool = Field(default=False, description="The data key lets this role decrypt the encrypted copy.")
    grants: tuple[LfGrant, ...] = ()
    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        """The persona's key under lakeformation.personas."""
        return self._name


ZONES = ("raw", "masked", "encrypted")


def _default_personas() -> dict[str, Persona]:
    """The personas of config.yaml's defaults (used when the file has no `personas` key)."""
    reader = ("masked", "encrypted")
    return {
        "lf-admin": Persona(admin=True, grants=(LfGrant(expression={"zone": ZONES}),)),
        "analyst": Persona(grants=(LfGrant(expression={"zone": ("masked",)}),)),
        "data-scientist": Persona(grants=(LfGrant(expression={"zone": reader}),)),
        "ml-training": Persona(decrypt=True, grants=(LfGrant(expression={"zone": reader}),)),
    }


class LakeFormationSettings(Section):
    tags: Annotated[
        Mapping[str, Annotated[tuple[LfTagValue, ...], Field(min_length=1)]],
        NullIsEmpty,
    ] = Field(
        default={"zone": ZONES, "sensitivity": ("public", "pii")},
        description=(
            "LF-tag keys and their allowed values; `zone` (with raw, masked, encrypted) and `sensitivity` are required."
        ),
    )
    personas: Annotated[dict[PersonaName, Persona], Field(min_length=1), NullIsEmpty] = Field(
        default_factory=_default_personas,
        json_schema_extra=ONLY_PATTERN_KEYS,
        description="Personas: an IAM role each (<prefix>-<name>) and the LF-tag expressions granted to it.",
    )

    @model_validator(mode="after")
    def _tags_and_grants(self) -> LakeFormationSettings:
        for name, persona in self.personas.items():
            persona._name = name
        found: list[tuple[Loc, str]] = [
            (("tags",), f"the LF-tag `{required}` is required (dcp tags tables with it)")
            for required in ("zone", "sensitivity")
            if required not in self.tags
        ]
        missing = sorted(set(ZONES) - set(self.tags.get("zone", ZONES)))
        if missing:
            found.append(
                (("tags",), f"the zone tag must allow raw, masked and encrypted (missing: {', '.join(missing)})")
            )
        if found:  # the grants are checked against valid tags only
            raise problems(found)
        for name, persona in self.personas.items():
            for i, grant in enumerate(persona.grants):
                for key, values in grant.expression.items():
                    at: Loc = ("personas", name, "grants", i, "expression", key)
                    if key not in self.tags:
                        found.append((at, f"unknown LF-tag {key!r}; defined tags: {', '.join(self.tags)}"))
                        continue
                    unknown = [v for v in values if v not in self.tags[key]]
                    if unknown or not values:
                        got = f" (got {', '.join(unknown)})" if unknown else ""
                        found.append((at, f"values must be among {', '.join(self.tags[key])}{got}"))
        if found:
            raise problems(found)
        return self


class AthenaSettings(Section):
    workgroup: WorkgroupName = Field(
        default="",
        description="Each persona queries in its own workgroup <workgroup>-<persona>; empty means <prefix>-wg.",
    )


class Settings(Section):
    """dcp settings (config.yaml). Every key is optional."""

    project: ProjectSettings = ProjectSettings()
    endpoint: Endpoint = Field(
        default="local",
        description="Where the AWS APIs are: aws (the standard endpoints), local (the embedded sandbox) or a URL.",
    )
    source: SourceSettings = SourceSettings()
    dms: DmsSettings = DmsSettings()
    macie: MacieSettings = MacieSettings()
    masking: MaskingSettings = MaskingSettings()
    kms: KmsSettings = KmsSettings()
    glue: GlueSettings = GlueSettings()
    lakeformation: LakeFormationSettings = Field(default_factory=LakeFormationSettings)
    athena: AthenaSettings = AthenaSettings()
    _path: str = PrivateAttr("config.yaml")

    @model_validator(mode="wrap")
    @classmethod
    def _derive_names_then_check(cls, data: Any, handler: Callable[[Any], Settings]) -> Settings:
        """Fill the names whose default follows the prefix, then apply the rules across sections."""
        settings = handler(data)
        derived = settings._with_derived_names()
        # the derived findings_database may take a name already in use
        clash = derived.glue.database_clash(settings.glue.model_fields_set)
        if clash is not None:
            raise problem(clash[1], "glue", *clash[0])
        derived._check_detectable()
        return derived

    def _with_derived_names(self) -> Settings:
        """Empty KMS aliases, findings database and workgroup named after the prefix."""
        prefix, kms, glue, athena = self.prefix, self.kms, self.glue, self.athena
        aliases = {
            "data_key_alias": kms.data_key_alias or f"alias/{prefix}-data",
            "bucket_key_alias": kms.bucket_key_alias or f"alias/{prefix}-buckets",
        }
        findings = {"findings_database": glue.findings_database or prefix.replace("-", "_")}
        return self.model_copy(
            update={
                "kms": kms.model_copy(update=aliases),
                "glue": glue.model_copy(update=findings),
                "athena": athena.model_copy(update={"workgroup": athena.workgroup or f"{prefix}-wg"}),
            }
        )

    @property
    def path(self) -> str:
        """The file these settings were read from (`<defaults>` without one)."""
        return self._path

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

    def _check_detectable(self) -> None:
        """A Macie managed type that masking.actions names must be in the job's selection.

        Otherwise real Macie never reports it and its column reaches the masked zone in plaintext.
        (Other names only warn, in `dcp plan`: dcp's extension types, which the sandbox detects, and
        names no custom identifier defines.)
        """
        given = "actions" in self.masking.model_fields_set
        found: list[tuple[Loc, str]] = [
            (("masking", "actions", type_id) if given else ("macie",), f"masking.actions names {type_id} but {reason}")
            for type_id, reason in self.undetectable_action_types().items()
            if is_macie_managed(type_id)
        ]
        if found:
            raise problems(found)

    def persona(self, name: str) -> Persona:
        """The persona called `name`; a usage error listing the valid ones otherwise."""
        try:
            return self.lakeformation.personas[name]
        except KeyError:
            valid = ", ".join(sorted(self.lakeformation.personas))
            raise UnknownPersonaError(f"unknown persona {name!r}; valid personas: {valid}") from None


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


def config_schema() -> dict[str, Any]:
    """The JSON Schema of config.yaml, generated from the models."""
    schema = Settings.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "dcp config.yaml"}


def config_schema_json() -> str:
    """What `dcp config schema` prints and config.schema.json holds."""
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"
