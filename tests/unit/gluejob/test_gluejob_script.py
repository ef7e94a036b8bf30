"""glue_jobs/mask_pii.py run as a plain Python subprocess, the way the sandbox's Glue emulator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from tests.unit.gluejob.gluejob_lake import CREDENTIALS, Lake, finding_for

pytestmark = pytest.mark.slow

TOKEN_HEX = bytes(range(32)).hex()
SCRIPT = Path(__file__).resolve().parents[3] / "glue_jobs" / "mask_pii.py"


def run_script(lake: Lake, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": lake.endpoint}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_script_masks_the_lake_and_prints_a_json_summary(lake: Lake) -> None:
    key = lake.put_raw(
        "people",
        "LOAD00000001.csv",
        pa.table({"id": ["1", "2"], "mail": ["ann@example.com", "bob@example.org"]}),
    )
    lake.put_findings([finding_for(lake.raw_bucket, key, {"mail": "EMAIL_ADDRESS"})])

    result = run_script(lake, *lake.cli_args(engine="arrow", tables="people"))

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["engine"] == "arrow"
    assert summary["tables"][0]["flagged"] == {"mail": "token"}
    tokens = lake.read("masked", "people").column("mail").to_pylist()
    assert len(set(tokens)) == 2 and not {"ann@example.com", "bob@example.org"} & set(tokens)
    assert "ann@example.com" not in result.stderr + result.stdout
    assert TOKEN_HEX not in result.stderr + result.stdout


def test_a_usage_mistake_exits_2_with_one_line_naming_the_argument(lake: Lake) -> None:
    result = run_script(lake, "--JOB_NAME", "x", "--raw_bucket", lake.raw_bucket)
    assert result.returncode == 2
    assert "missing job argument(s): --findings_bucket, --curated_bucket, --data_key_id" in result.stderr
    assert "Traceback" not in result.stderr
