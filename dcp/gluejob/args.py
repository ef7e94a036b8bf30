"""The job's arguments: read with awsglue's getResolvedOptions on Glue, with argparse elsewhere."""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dcp.gluejob.incremental import DEFAULT_BUCKETS
from dcp.masking.identifiers import CustomIdentifier
from dcp.masking.policy import Action, MaskingPolicy

ENGINES = ("spark", "arrow")
DEFAULT_BATCH_SIZE = 10_000

REQUIRED = ("JOB_NAME", "raw_bucket", "findings_bucket", "curated_bucket", "data_key_id")
OPTIONAL = (
    "raw_prefix",
    "findings_prefix",
    "token_secret_id",
    "token_key",
    "tables",
    "masked_database",
    "encrypted_database",
    "engine",
    "policy",
    "batch_size",
    "primary_key",
    "discovery_results",
    "custom_identifiers",
    "full_rebuild",
    "buckets",
    "output_crawlers",
)


class JobArgumentError(ValueError):
    """An argument is missing or malformed; the message names it and says what is expected."""


@dataclass(frozen=True)
class JobArgs:
    """Everything one run of the job needs, validated."""

    job_name: str
    raw_bucket: str
    findings_bucket: str
    curated_bucket: str
    data_key_id: str
    raw_prefix: str = ""
    findings_prefix: str = "findings/"
    token_secret_id: str | None = None
    token_key: bytes | None = None
    tables: tuple[str, ...] = ()
    masked_database: str | None = None
    encrypted_database: str | None = None
    engine: str = "arrow"
    policy: MaskingPolicy = field(default_factory=MaskingPolicy)
    batch_size: int = DEFAULT_BATCH_SIZE
    primary_key: str = "id"
    #: ``s3://bucket/prefix/`` of Macie's detailed discovery results (its classification export)
    discovery_results: str | None = None
    #: the custom data identifiers the Macie job used, under their Macie names: the job's own
    #: detector (the fail-closed fallback) must find the types those findings report
    custom_identifiers: tuple[CustomIdentifier, ...] = ()
    #: rebuild every table from all its raw files, ignoring what earlier runs applied
    full_rebuild: bool = False
    #: key-hash buckets (parts) per table and kind in a full rebuild (see dcp.gluejob.incremental)
    buckets: int = DEFAULT_BUCKETS
    #: the crawlers of the masked and encrypted zones, run when the catalog may not match the
    #: output (a table rebuilt, or not in the catalog yet; see dcp.gluejob.crawl)
    output_crawlers: tuple[str, ...] = ()

    def __repr__(self) -> str:  # the token key must never reach a log line
        return f"JobArgs(job_name={self.job_name!r}, engine={self.engine!r}, tables={self.tables!r})"


def on_glue() -> bool:
    """True inside an AWS Glue job run (the awsglue library is importable only there)."""
    return importlib.util.find_spec("awsglue") is not None


def default_engine() -> str:
    """spark on Glue; arrow anywhere else (no JVM start for the sandbox, pyspark optional)."""
    return "spark" if on_glue() else "arrow"


def parse_job_args(argv: Sequence[str]) -> JobArgs:
    """Parse ``argv`` (``sys.argv``, script name first) the way the running platform passes it."""
    raw = _resolve_with_glue(argv) if on_glue() else _resolve_with_argparse(argv)
    return job_args_from_mapping(raw)


def job_args_from_mapping(raw: Mapping[str, str | None]) -> JobArgs:
    """Validate resolved ``--name value`` pairs; empty strings count as absent."""
    values = {name: value for name, value in raw.items() if value not in (None, "")}
    missing = [name for name in REQUIRED if name not in values]
    if missing:
        raise JobArgumentError(f"missing job argument(s): {', '.join('--' + m for m in missing)}")
    engine = str(values.get("engine") or default_engine()).lower()
    if engine not in ENGINES:
        raise JobArgumentError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    token_secret_id = values.get("token_secret_id")
    token_hex = values.get("token_key")
    if not token_secret_id and not token_hex:
        raise JobArgumentError("give --token_secret_id (Secrets Manager id) or --token_key (hex)")
    token_key = None
    if token_hex:
        try:
            token_key = bytes.fromhex(str(token_hex))
        except ValueError:
            raise JobArgumentError("--token_key must be hexadecimal") from None
        if len(token_key) < 16:
            raise JobArgumentError("--token_key must be at least 16 bytes (32 hex digits)")
    return JobArgs(
        job_name=str(values["JOB_NAME"]),
        raw_bucket=str(values["raw_bucket"]),
        findings_bucket=str(values["findings_bucket"]),
        curated_bucket=str(values["curated_bucket"]),
        data_key_id=str(values["data_key_id"]),
        raw_prefix=_folder(values.get("raw_prefix")),
        findings_prefix=_folder(values.get("findings_prefix", "findings/")),
        token_secret_id=str(token_secret_id) if token_secret_id else None,
        token_key=token_key,
        tables=tuple(t.strip() for t in str(values.get("tables") or "").split(",") if t.strip()),
        masked_database=values.get("masked_database"),
        encrypted_database=values.get("encrypted_database"),
        engine=engine,
        policy=policy_from_json(values["policy"]) if "policy" in values else MaskingPolicy(),
        batch_size=_positive_int("batch_size", values.get("batch_size"), DEFAULT_BATCH_SIZE),
        primary_key=str(values.get("primary_key") or "id"),
        discovery_results=_s3_folder(values.get("discovery_results")),
        custom_identifiers=custom_identifiers_from_json(values["custom_identifiers"])
        if "custom_identifiers" in values
        else (),
        full_rebuild=_flag("full_rebuild", values.get("full_rebuild")),
        buckets=_positive_int("buckets", values.get("buckets"), DEFAULT_BUCKETS),
        output_crawlers=tuple(c.strip() for c in str(values.get("output_crawlers") or "").split(",") if c.strip()),
    )


def _flag(name: str, value: str | None) -> bool:
    text = str(value or "false").strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise JobArgumentError(f"--{name} must be true or false, got {value!r}")
    return text in ("true", "1", "yes")


def policy_to_json(policy: MaskingPolicy) -> str:
    """The ``--policy`` argument for ``policy`` (what the deploy engine passes)."""
    return json.dumps(
        {
            "actions": {key: str(action) for key, action in sorted(policy.actions.items())},
            "default_action": str(policy.default_action),
            "partial_keep": policy.partial_keep,
            "joinable_types": sorted(policy.joinable_types),
            "redact_mask": policy.redact_mask,
        },
        sort_keys=True,
    )


def custom_identifiers_to_json(identifiers: Sequence[CustomIdentifier]) -> str:
    """The ``--custom_identifiers`` argument (what the deploy engine passes)."""
    return json.dumps(
        [
            {
                "name": c.name,
                "regex": c.regex,
                "keywords": list(c.keywords),
                "ignore_words": list(c.ignore_words),
                "maximum_match_distance": c.maximum_match_distance,
            }
            for c in identifiers
        ],
        sort_keys=True,
    )


def custom_identifiers_from_json(text: str) -> tuple[CustomIdentifier, ...]:
    """Parse ``--custom_identifiers``: a JSON list of {name, regex, keywords, ignore_words, ...}."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobArgumentError(f"--custom_identifiers is not valid JSON: {exc.msg} at offset {exc.pos}") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise JobArgumentError("--custom_identifiers must be a JSON list of objects")
    try:
        return tuple(
            CustomIdentifier(
                name=str(item["name"]),
                regex=str(item["regex"]),
                keywords=tuple(item.get("keywords") or ()),
                ignore_words=tuple(item.get("ignore_words") or ()),
                maximum_match_distance=int(item.get("maximum_match_distance", 50)),
            )
            for item in data
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JobArgumentError(f"--custom_identifiers: {exc}") from None


def policy_from_json(text: str) -> MaskingPolicy:
    """Parse ``--policy``: {"actions": {TYPE: action}, "default_action", "partial_keep", ...}."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobArgumentError(f"--policy is not valid JSON: {exc.msg} at offset {exc.pos}") from None
    if not isinstance(data, dict):
        raise JobArgumentError("--policy must be a JSON object")
    unknown = set(data) - {"actions", "default_action", "partial_keep", "joinable_types", "redact_mask"}
    if unknown:
        raise JobArgumentError(f"--policy has unknown key(s): {', '.join(sorted(unknown))}")
    valid = ", ".join(a.value for a in Action)
    try:
        actions = {str(k): Action(v) for k, v in dict(data.get("actions") or {}).items()}
        default = Action(data.get("default_action", Action.REDACT.value))
    except ValueError as exc:
        raise JobArgumentError(f"--policy: {exc}; valid actions: {valid}") from None
    joinable = data.get("joinable_types") or []
    if not isinstance(joinable, list) or not all(isinstance(t, str) for t in joinable):
        raise JobArgumentError("--policy: joinable_types must be a list of type names")
    try:
        return MaskingPolicy(
            actions=actions,
            default_action=default,
            partial_keep=int(data.get("partial_keep", 4)),
            joinable_types=frozenset(joinable),
            redact_mask=str(data.get("redact_mask", "****")),
        )
    except (TypeError, ValueError) as exc:
        raise JobArgumentError(f"--policy: {exc}") from None


def _folder(value: str | None) -> str:
    text = (value or "").strip().lstrip("/")
    return text if not text or text.endswith("/") else text + "/"


def _s3_folder(value: str | None) -> str | None:
    if not value:
        return None
    if not value.startswith("s3://") or not value[len("s3://") :].split("/", 1)[0]:
        raise JobArgumentError(f"--discovery_results must be an s3://bucket/prefix/ URL, got {value!r}")
    return value if value.endswith("/") else value + "/"


def _positive_int(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise JobArgumentError(f"--{name} must be an integer, got {value!r}") from None
    if number <= 0:
        raise JobArgumentError(f"--{name} must be positive, got {number}")
    return number


def _present(argv: Sequence[str], name: str) -> bool:
    flag = f"--{name}"
    return any(arg == flag or arg.startswith(flag + "=") for arg in argv)


def _resolve_with_glue(argv: Sequence[str]) -> dict[str, str | None]:
    from awsglue.utils import getResolvedOptions

    resolve: Callable[[list[str], list[str]], dict[str, str]] = getResolvedOptions
    # getResolvedOptions fails on an absent name, so optional ones are resolved only when given
    names = [*REQUIRED, *(name for name in OPTIONAL if _present(argv, name))]
    missing = [name for name in REQUIRED if not _present(argv, name)]
    if missing:
        raise JobArgumentError(f"missing job argument(s): {', '.join('--' + m for m in missing)}")
    return dict(resolve(list(argv), names))


def _resolve_with_argparse(argv: Sequence[str]) -> dict[str, str | None]:
    parser = argparse.ArgumentParser(prog="mask_pii", add_help=True, allow_abbrev=False)
    for name in (*REQUIRED, *OPTIONAL):
        parser.add_argument(f"--{name}", dest=name, default=None)
    # Glue and spark-submit add their own --flags; those are not ours to reject
    known, _ = parser.parse_known_args(list(argv[1:]))
    return dict(vars(known))
