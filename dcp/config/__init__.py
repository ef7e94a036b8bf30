"""Load `config.yaml` and validate it into frozen settings before any AWS call is made.

The settings are declared once, as pydantic models (:mod:`dcp.config.models`); the loader
(:mod:`dcp.config.loader`) reports every problem as `file:line: key.path: what is allowed`;
`dcp config schema` prints the JSON Schema editors use (committed as config.schema.json).
"""

from dcp.config.errors import ConfigError, ConfigIssue, UnknownPersonaError
from dcp.config.loader import default_settings, load_settings, parse_settings
from dcp.config.models import (
    DEFAULT_JOINABLE_TYPES,
    DEFAULT_MASKING_ACTIONS,
    AthenaSettings,
    DmsSettings,
    GlueSettings,
    KmsSettings,
    LakeFormationSettings,
    LfGrant,
    MacieSettings,
    MaskingSettings,
    Persona,
    ProjectSettings,
    Settings,
    SourceSettings,
    config_schema,
    config_schema_json,
)

__all__ = [
    "DEFAULT_JOINABLE_TYPES",
    "DEFAULT_MASKING_ACTIONS",
    "AthenaSettings",
    "ConfigError",
    "ConfigIssue",
    "DmsSettings",
    "GlueSettings",
    "KmsSettings",
    "LakeFormationSettings",
    "LfGrant",
    "MacieSettings",
    "MaskingSettings",
    "Persona",
    "ProjectSettings",
    "Settings",
    "SourceSettings",
    "UnknownPersonaError",
    "config_schema",
    "config_schema_json",
    "default_settings",
    "load_settings",
    "parse_settings",
]
