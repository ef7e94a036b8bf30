"""`dcp plan / up / status / down` end to end through the CLI entry point, against moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dcp.cli import main
from tests.aws.aws_account import Env

pytestmark = pytest.mark.slow

CONFIG = """\
endpoint: aws
project: {prefix: clitest}
macie: {custom_identifiers: []}
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return str(path)


def test_plan_up_status_down_through_the_cli(
    aws_env: Env, config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "--config", config, "--output", "json", "plan")
    assert code == 0
    plan = json.loads(out)
    # moto's account has Macie enabled already: adopted, not created
    assert {s["resource"] for s in plan["steps"] if s["action"] != "create"} == {"macie-session"}
    assert all(s["reason"] for s in plan["steps"])

    code, out, err = run(capsys, "--config", config, "up")
    assert code == 0, err
    assert "clitest is up" in err

    code, out, _ = run(capsys, "--config", config, "--output", "json", "plan")
    assert {s["action"] for s in json.loads(out)["steps"]} == {"no-op"}

    # What `dcp status` shows per resource (the command adds pipeline sections moto cannot serve).
    from dcp.config import load_settings
    from dcp.stack.build import build_stack
    from dcp.stack.planner import read_stack

    stack = build_stack(load_settings(config), aws_env.ctx)
    current = read_stack(stack.resources, aws_env.ctx)
    assert all(current[r.logical] for r in stack.resources if not r.retired)
    states = {r.logical: r.state(current[r.logical]) for r in stack.resources}
    assert states["db-instance"] == "available"
    assert states["crawler-raw"] == "READY"
    assert stack.resource("bucket-raw").where(current["bucket-raw"]).startswith("arn:aws:s3:::clitest-raw-")

    # not a terminal and no --yes: refuse, exit 2, one line, nothing deleted
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, out, err = run(capsys, "--config", config, "down")
    assert code == 2
    assert err.strip().startswith("error:") and "--yes" in err and len(err.strip().splitlines()) == 1

    code, out, err = run(capsys, "--config", config, "--output", "json", "down", "--yes")
    assert code == 0, err
    result = json.loads(out)
    assert result["result"]["ok"] is True
    code, out, _ = run(capsys, "--config", config, "--output", "json", "plan")
    steps = json.loads(out)["steps"]
    assert {s["resource"] for s in steps if s["action"] != "create"} == {"macie-session"}


def test_config_error_stops_before_any_aws_call(
    aws_env: Env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("endpoint: aws\nglue: {number_of_workers: 1}\n")
    code, _, err = run(capsys, "--config", str(bad), "up")
    assert code == 2
    assert "glue.number_of_workers" in err and len(err.strip().splitlines()) == 1


def test_a_failed_up_is_one_line_and_exit_1_and_a_rerun_after_the_fix_converges(
    aws_env: Env, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Someone made a parameter group with our name for another engine family: dcp will not
    # silently repurpose it.
    rds = aws_env.ctx.client("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName="clitest-source-params", DBParameterGroupFamily="postgres16", Description="not ours"
    )
    code, out, err = run(capsys, "--config", config, "up")
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert "db-parameter-group" in lines[0] and "postgres16" in lines[0] and "delete it" in lines[0]
    rds.delete_db_parameter_group(DBParameterGroupName="clitest-source-params")
    code, out, err = run(capsys, "--config", config, "--output", "json", "up")
    assert code == 0, err
    assert json.loads(out)["result"]["ok"] is True
    code, out, _ = run(capsys, "--config", config, "--output", "json", "plan")
    assert {s["action"] for s in json.loads(out)["steps"]} == {"no-op"}
