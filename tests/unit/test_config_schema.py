"""config.schema.json is generated from the models, committed, and checks config.yaml and the examples."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from dcp.cli import main
from dcp.config import config_schema, config_schema_json, load_settings

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "config.schema.json"
CONFIGS = [REPO / "config.yaml", *sorted((REPO / "examples").glob("*.yaml"))]


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == config_schema_json(), (
        "config.schema.json is stale: run `dcp config schema > config.schema.json`"
    )


def test_schema_forbids_unknown_keys_and_documents_defaults() -> None:
    schema = config_schema()
    assert schema["additionalProperties"] is False
    project = schema["$defs"]["ProjectSettings"]
    assert project["additionalProperties"] is False
    assert project["properties"]["prefix"]["default"] == "dcp"
    assert "description" in project["properties"]["prefix"]
    assert schema["$defs"]["SourceSettings"]["properties"]["allocated_storage_gb"]["minimum"] == 20


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_validate_against_the_schema_and_the_models(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(data)]
    assert errors == []
    load_settings(path)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_name_the_schema_for_editors(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == SCHEMA_FILE


@pytest.mark.parametrize(
    "document",
    [
        {"projet": {}},
        {"project": {"prefix": "DCP"}},
        {"source": {"engine": "oracle"}},
        {"source": {"allocated_storage_gb": 5}},
        {"glue": {"worker_type": "G.16X"}},
        {"project": {"tags": {"aws:owner": "me"}}},
        {"masking": {"actions": {"bad key!": "redact"}}},
        {"lakeformation": {"personas": {"Analyst": {}}}},
        {"macie": {"custom_identifiers": [{"name": "a1"}]}},
        {"lakeformation": {"personas": {"analyst": {"grants": [{"expression": {"zone": ["masked"]}, "x": 1}]}}}},
    ],
)
def test_schema_rejects_what_the_loader_rejects(document: dict[str, object]) -> None:
    assert list(validator().iter_errors(document)), document


@pytest.mark.parametrize(
    "args", [["config", "schema"], ["--output", "json", "config", "schema"], ["config", "schema", "--debug"]]
)
def test_dcp_config_schema_prints_the_schema(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == SCHEMA_FILE.read_text(encoding="utf-8")


def test_dcp_config_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("project:\n  prefix: acme\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["config", "check", "--config", str(good), "--output", "json"])
    assert exit_info.value.code == 0
    assert json.loads(capsys.readouterr().out) == {"path": str(good), "valid": True, "prefix": "acme"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("project:\n  prefix: ACME\nsource:\n  engine: oracle\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(bad), "config", "check"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "bad.yaml:2: project.prefix:" in err and "bad.yaml:4: source.engine:" in err
