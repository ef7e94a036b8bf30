"""Config validation: every malformed file stops with one line naming file, line and key, exit 2, no AWS call."""

from __future__ import annotations

import textwrap
from pathlib import Path

import botocore.endpoint
import pytest

from dcp.cli import main
from dcp.config import ConfigError, default_settings, load_settings, parse_settings
from dcp.masking.policy import Action

REPO = Path(__file__).resolve().parents[2]

# (name, yaml text, key path the error must name, line it must name)
MALFORMED: list[tuple[str, str, str, int | None]] = [
    ("unknown top-level key", "projet:\n  prefix: dcp\n", "projet", 1),
    ("unknown nested key", "project:\n  prefx: dcp\n", "project.prefx", 2),
    ("uppercase prefix", "project:\n  prefix: DCP\n", "project.prefix", 2),
    ("short prefix", "project:\n  prefix: ab\n", "project.prefix", 2),
    ("underscore prefix", "project:\n  region: us-east-1\n  prefix: my_stack\n", "project.prefix", 3),
    ("prefix ends with hyphen", "project:\n  prefix: dcp-\n", "project.prefix", 2),
    ("prefix a number", "project:\n  prefix: 123\n", "project.prefix", 2),
    ("bad region", "project:\n  region: mars-1\n", "project.region", 2),
    ("reserved tag key", "project:\n  tags:\n    aws:owner: me\n", "project.tags.aws:owner", 3),
    ("bad endpoint", "endpoint: ftp://example\n", "endpoint", 1),
    ("unknown engine", "source:\n  engine: oracle\n", "source.engine", 2),
    ("bad engine version", "source:\n  version: latest\n", "source.version", 2),
    ("tables not a list", "source:\n  tables: customer\n", "source.tables", 2),
    ("bad table name", "source:\n  tables: [customer, Bank!]\n", "source.tables[1]", 2),
    ("storage not an int", "source:\n  allocated_storage_gb: twenty\n", "source.allocated_storage_gb", 2),
    ("storage out of range", "source:\n  allocated_storage_gb: 5\n", "source.allocated_storage_gb", 2),
    ("bad instance class", "source:\n  instance_class: t3.micro\n", "source.instance_class", 2),
    ("reserved username", "source:\n  username: admin\n", "source.username", 2),
    ("bad sandbox url", "source:\n  sandbox_url: oracle://u:secret@h/db\n", "source.sandbox_url", 2),
    ("bad migration type", "dms:\n  migration_type: cdc\n", "dms.migration_type", 2),
    ("mappings without rules", "dms:\n  table_mappings:\n    foo: 1\n", "dms.table_mappings", 2),
    (
        "bad managed selection",
        "macie:\n  managed_identifier_selection: SOME\n",
        "macie.managed_identifier_selection",
        2,
    ),
    (
        "exclude without ids",
        "macie:\n  managed_identifier_selection: EXCLUDE\n",
        "macie.managed_identifier_selection",
        2,
    ),
    (
        "invalid regex",
        "macie:\n  custom_identifiers:\n    - name: acct\n      regex: 'XYZ-(\\d+'\n",
        "macie.custom_identifiers[0].regex",
        4,
    ),
    (
        "identifier without regex",
        "macie:\n  custom_identifiers:\n    - name: acct\n",
        "macie.custom_identifiers[0]",
        3,
    ),
    (
        "match distance out of range",
        "macie:\n  custom_identifiers:\n    - name: a1\n      regex: x\n      maximum_match_distance: 1000\n",
        "macie.custom_identifiers[0].maximum_match_distance",
        5,
    ),
    (
        "keyword too short",
        "macie:\n  custom_identifiers:\n    - name: a1\n      regex: x\n      keywords: [ab]\n",
        "macie.custom_identifiers[0].keywords",
        5,
    ),
    (
        "duplicate identifier names",
        "macie:\n  custom_identifiers:\n    - {name: a1, regex: x}\n    - {name: a1, regex: y}\n",
        "macie.custom_identifiers",
        2,
    ),
    (
        "unknown action",
        "masking:\n  actions:\n    EMAIL_ADDRESS: scramble\n",
        "masking.actions.EMAIL_ADDRESS",
        3,
    ),
    ("action not a string", "masking:\n  default_action: 3\n", "masking.default_action", 2),
    ("negative partial_keep", "masking:\n  partial_keep: -1\n", "masking.partial_keep", 2),
    ("bool where int", "masking:\n  partial_keep: true\n", "masking.partial_keep", 2),
    ("alias without alias/", "kms:\n  data_key_alias: my-key\n", "kms.data_key_alias", 2),
    ("reserved aws alias", "kms:\n  bucket_key_alias: alias/aws/s3\n", "kms.bucket_key_alias", 2),
    ("bad worker type", "glue:\n  worker_type: G.16X\n", "glue.worker_type", 2),
    ("bad glue database name", "glue:\n  masked_database: Masked-DB\n", "glue.masked_database", 2),
    ("same database twice", "glue:\n  raw_database: same\n  masked_database: same\n", "glue.masked_database", 3),
    (
        "grant on unknown tag",
        "lakeformation:\n  personas:\n    analyst:\n      grants:\n        - expression: {team: [a]}\n",
        "lakeformation.personas.analyst.grants[0].expression.team",
        5,
    ),
    (
        "grant on unknown tag value",
        "lakeformation:\n  personas:\n    analyst:\n      grants:\n        - expression:\n            zone: [secret]\n",
        "lakeformation.personas.analyst.grants[0].expression.zone",
        6,
    ),
    (
        "bad persona name",
        "lakeformation:\n  personas:\n    Analyst: {}\n",
        "lakeformation.personas.Analyst",
        3,
    ),
    (
        "unknown permission",
        "lakeformation:\n  personas:\n    analyst:\n      grants:\n        - expression: {zone: [masked]}\n"
        "          permissions: [READ]\n",
        "lakeformation.personas.analyst.grants[0].permissions[0]",
        6,
    ),
    (
        "admin not a bool",
        "lakeformation:\n  personas:\n    boss:\n      admin: maybe\n",
        "lakeformation.personas.boss.admin",
        4,
    ),
    ("zone tag missing", "lakeformation:\n  tags:\n    sensitivity: [public]\n", "lakeformation.tags", 2),
    ("bad workgroup", "athena:\n  workgroup: 'bad name!'\n", "athena.workgroup", 2),
    ("not yaml", "project:\n  prefix: [unclosed\n", "", None),
    ("document is a list", "- project\n- dcp\n", "", 1),
    ("duplicate key", "project:\n  prefix: abc\n  prefix: abd\n", "project.prefix", 3),
    ("section is a string", "masking: everything\n", "masking", 1),
]


@pytest.fixture
def no_aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records any request botocore would send; the tests assert it stays empty."""
    calls: list[str] = []

    def refuse(self: object, operation_model: object, request_dict: object) -> None:
        calls.append(str(getattr(operation_model, "name", "?")))
        raise AssertionError("an AWS call was made before config validation finished")

    monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", refuse)
    return calls


@pytest.mark.parametrize(("name", "text", "key_path", "line"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_config_fails_with_one_line_and_exit_2(
    name: str,
    text: str,
    key_path: str,
    line: int | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_aws_calls: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config), "plan"])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    message = lines[0]
    assert "Traceback" not in err
    assert "bad.yaml" in message
    if line is not None:
        assert f"bad.yaml:{line}:" in message, message
    if key_path:
        assert f" {key_path}: " in message, message
    assert no_aws_calls == []
    assert not (tmp_path / ".dcp").exists(), "the sandbox must not start for a bad config"


def test_messages_say_what_is_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("source:\n  engine: oracle\n", "c.yaml")
    assert "mysql, postgres" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_settings("projet: {}\n", "c.yaml")
    assert "allowed keys here: project, endpoint" in str(info.value)


def test_password_in_sandbox_url_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("source:\n  sandbox_url: oracle://user:hunter2@db/x\n", "c.yaml")
    assert "hunter2" not in str(info.value)


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(tmp_path / "nope.yaml"), "plan"])
    assert exit_info.value.code == 2
    assert "file not found" in capsys.readouterr().err


def test_shipped_config_equals_the_built_in_defaults() -> None:
    """config.yaml documents the defaults: loading it must give exactly what an empty file gives."""
    shipped = load_settings(REPO / "config.yaml")
    defaults = default_settings()
    for section in ("project", "source", "dms", "macie", "masking", "kms", "glue", "athena"):
        assert getattr(shipped, section) == getattr(defaults, section), section
    assert shipped.lakeformation.tags == defaults.lakeformation.tags
    for name, persona in defaults.lakeformation.personas.items():
        mine = shipped.lakeformation.personas[name]
        assert (mine.admin, mine.decrypt, mine.grants) == (persona.admin, persona.decrypt, persona.grants)


def test_shipped_config_values() -> None:
    settings = load_settings(REPO / "config.yaml")
    assert settings.prefix == "dcp"
    assert settings.kms.data_key_alias == "alias/dcp-data"
    assert settings.macie.custom_identifiers[0].name == "account_number"
    assert settings.macie.custom_identifiers[0].regex == r"XYZ-\d+"
    assert settings.masking.actions["CREDIT_CARD_NUMBER"] is Action.PARTIAL
    assert set(settings.lakeformation.personas) == {"lf-admin", "analyst", "data-scientist", "ml-training"}
    assert [p for p, v in settings.lakeformation.personas.items() if v.decrypt] == ["ml-training"]
    assert settings.glue.findings_database == "dcp"
    assert settings.athena.workgroup == "dcp-wg"


def test_derived_names_follow_the_prefix() -> None:
    settings = parse_settings(
        textwrap.dedent("""
        project:
          prefix: acme-pii
    """)
    )
    assert settings.kms.data_key_alias == "alias/acme-pii-data"
    assert settings.glue.findings_database == "acme_pii"
    assert settings.athena.workgroup == "acme-pii-wg"


def test_unknown_persona_lists_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    from dcp.config import UnknownPersonaError

    with pytest.raises(UnknownPersonaError) as info:
        default_settings().persona("auditor")
    assert "analyst, data-scientist, lf-admin, ml-training" in str(info.value)


EVERY_MISTAKE = """\
project:
  prefix: My_Stack
  prefx: x
source:
  engine: oracle
  allocated_storage_gb: 5
  tables: [customer, Bank!]
glue:
  raw_database: same
  masked_database: same
masking:
  partial_keep: -1
  partial_keep: 2
lakeformation:
  personas:
    analyst:
      admin: maybe
"""


def test_every_problem_is_reported_at_once_in_file_order() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(EVERY_MISTAKE, "c.yaml")
    found = [(i.line, i.key_path) for i in info.value.issues]
    assert found == [
        (2, "project.prefix"),
        (3, "project.prefx"),
        (5, "source.engine"),
        (6, "source.allocated_storage_gb"),
        (7, "source.tables[1]"),
        (10, "glue.masked_database"),
        (13, "masking.partial_keep"),
        (17, "lakeformation.personas.analyst.admin"),
    ]
    assert (info.value.line, info.value.key_path) == (2, "project.prefix")  # the first one, as before
    lines = str(info.value).splitlines()
    assert lines[0] == "c.yaml: 8 problems"
    assert all(line.startswith(f"  c.yaml:{ln}: {path}: ") for line, (ln, path) in zip(lines[1:], found, strict=True))


def test_cross_field_rules_are_reported_with_the_field_errors_of_other_sections() -> None:
    text = "source:\n  engine: oracle\nglue:\n  raw_database: same\n  masked_database: same\n"
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "c.yaml")
    assert [(i.line, i.key_path) for i in info.value.issues] == [(2, "source.engine"), (5, "glue.masked_database")]


def test_cli_prints_every_problem_and_makes_no_aws_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_aws_calls: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "bad.yaml"
    config.write_text(EVERY_MISTAKE)
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--config", str(config)])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 9 and "8 problems" in lines[0]
    assert "bad.yaml:17: lakeformation.personas.analyst.admin: must be true or false" in lines[-1]
    assert no_aws_calls == []
    assert not (tmp_path / ".dcp").exists()


def test_numbers_where_text_is_expected_read_as_their_text() -> None:
    settings = parse_settings("glue:\n  glue_version: 5.0\nsource:\n  version: 16\nproject:\n  tags:\n    cost: 4711\n")
    assert (settings.glue.glue_version, settings.source.version) == ("5.0", "16")
    assert settings.project.tags == {"cost": "4711"}


def test_empty_sections_mean_their_defaults() -> None:
    settings = parse_settings("project:\nsource:\nlakeformation:\n  personas:\n    analyst:\n")
    defaults = default_settings()
    assert (settings.project, settings.source) == (defaults.project, defaults.source)
    assert list(settings.lakeformation.personas) == ["analyst"]
    assert settings.persona("analyst").name == "analyst" and settings.persona("analyst").grants == ()


def test_a_derived_findings_database_that_clashes_says_why() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("project:\n  prefix: dataset\n", "c.yaml")
    assert info.value.key_path == "glue"
    assert "an empty findings_database means the prefix" in str(info.value)


def test_unknown_key_in_a_list_item_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("macie:\n  custom_identifiers:\n    - {name: a1, regex: x, arn: y}\n", "c.yaml")
    assert (info.value.line, info.value.key_path) == (3, "macie.custom_identifiers[0].arn")
    assert "allowed keys here: name, regex, keywords, ignore_words, maximum_match_distance, description" in str(
        info.value
    )


def test_every_undetectable_type_is_reported() -> None:
    text = "macie:\n  managed_identifier_selection: RECOMMENDED\n"
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "c.yaml")
    named = {i.message.split()[2] for i in info.value.issues}
    assert {"NAME", "DATE_OF_BIRTH", "BANK_ACCOUNT_NUMBER", "CREDIT_CARD_SECURITY_CODE"} <= named
    assert {(i.line, i.key_path) for i in info.value.issues} == {(1, "macie")}


def test_config_error_keeps_its_one_problem_form() -> None:
    error = ConfigError("c.yaml", 3, "a.b", "bad")
    assert str(error) == "c.yaml:3: a.b: bad"
    assert (error.path, error.line, error.key_path, error.message) == ("c.yaml", 3, "a.b", "bad")
    assert len(error.issues) == 1


def test_settings_are_frozen() -> None:
    settings = default_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.project.prefix = "other"  # type: ignore[misc]
