"""Read config.yaml into :class:`Settings`, reporting every problem at its line before any AWS call."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dcp.config.errors import ConfigError, ConfigIssue
from dcp.config.models import PROBLEM, CustomIdentifierSpec, Loc, Settings
from dcp.masking.identifiers import CustomIdentifier


class _Document:
    """A YAML document as Python values, with the line of every key path (a key's line, where a
    person looks; a list item's own line) and the problems pydantic cannot see (duplicate keys)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[Loc, int] = {}
        self.issues: list[ConfigIssue] = []
        self._scalars = yaml.SafeLoader("")

    def value(self, node: yaml.Node, loc: Loc, line: int) -> Any:
        self.lines[loc] = line
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key, key_line = str(key_node.value), key_node.start_mark.line + 1
                if key in out:
                    self.issues.append(ConfigIssue(self.path, key_line, key_path((*loc, key)), "duplicate key"))
                out[key] = self.value(value_node, (*loc, key), key_line)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*loc, i), item.start_mark.line + 1) for i, item in enumerate(node.value)]
        return self._scalars.construct_object(node, deep=True)

    def issue(self, loc: Loc, message: str) -> ConfigIssue:
        """A problem at `loc`, on the line of the nearest key path the file has (a missing key: its parent)."""
        loc = tuple(part for part in loc if part != "[key]")
        line = next((self.lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in self.lines), None)
        return ConfigIssue(self.path, line, key_path(loc), message)


def key_path(loc: Loc) -> str:
    """("macie", "custom_identifiers", 0, "regex") -> macie.custom_identifiers[0].regex"""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_settings(text: str, path: str = "config.yaml") -> Settings:
    """Validate YAML text into Settings; raise ConfigError listing every problem (in file order)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, line, "", f"not valid YAML: {problem}") from None
    document = _Document(path)
    data = document.value(node, (), node.start_mark.line + 1) if node is not None else {}
    issues = document.issues
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        issues += [issue for error in exc.errors() for issue in _issues(error, document)]
    if issues:
        raise ConfigError.of(sorted(issues, key=lambda i: i.line or 0)) from None
    settings._path = path
    return settings


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate the config file; without one, the built-in defaults apply."""
    if path is None:
        candidate = Path("config.yaml")
        if not candidate.exists():
            return default_settings()
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


# --------------------------------------------------------------------------- pydantic errors -> messages


def _issues(error: ErrorDetails, document: _Document) -> list[ConfigIssue]:
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == PROBLEM:
        return [document.issue((*loc, *at), message) for at, message in error.get("ctx", {})["problems"]]
    if kind == "missing":
        return [document.issue(loc[:-1], f"missing required key `{loc[-1]}`")]
    return [document.issue(loc, _message(error, loc))]


_WANTS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "mapping_type": "must be a mapping",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
}


def _message(error: ErrorDetails, loc: Loc) -> str:
    """What is allowed, in the words of config.yaml's comments rather than pydantic's."""
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    if kind in _WANTS:
        return f"{_WANTS[kind]}, got {_kind(value)}"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model is not None else ""
        return f"unknown key; allowed keys here: {allowed}" if allowed else "unknown key"
    if kind in ("literal_error", "enum"):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"{value!r} is not allowed; choose one of: {', '.join(choices)}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, got {value}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, got {value}"
    if kind == "too_short":
        return f"needs at least {ctx['min_length']} {'entry' if ctx['min_length'] == 1 else 'entries'}"
    if kind == "too_long":
        return f"allows at most {ctx['max_length']} entries, got {ctx['actual_length']}"
    if kind == "string_too_short":
        return "must not be empty" if ctx["min_length"] == 1 else f"needs at least {ctx['min_length']} characters"
    if kind == "string_too_long":
        return f"allows at most {ctx['max_length']} characters"
    return str(error["msg"])


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    kinds = {bool: "a boolean", int: "an integer", float: "a number", type(None): "null"}
    return kinds.get(type(value), f"the string {value!r}" if isinstance(value, str) else f"a {type(value).__name__}")


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model whose keys `loc` holds (for "allowed keys here"), following Settings' field types."""
    current: Any = Settings
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            current = field.annotation if field is not None else None
        elif get_origin(current) is tuple and isinstance(part, int):
            current = get_args(current)[0]
        elif get_origin(current) in (dict, Mapping) and isinstance(part, str):
            current = get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Annotated[X, ...] -> X; the engine's CustomIdentifier -> the model it is validated as."""
    while hasattr(annotation, "__metadata__"):
        annotation = get_args(annotation)[0]
    return CustomIdentifierSpec if annotation is CustomIdentifier else annotation
