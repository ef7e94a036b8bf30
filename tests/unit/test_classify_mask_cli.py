"""`dcp classify` and `dcp mask` on local files: what a user sees, and that no plaintext survives."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from moto import mock_aws

from dcp.cli import cli
from dcp.masking.runner import reveal_table
from dcp.masking.sample_data import generate_table


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for table in ("customer", "bank", "card"):
        pacsv.write_csv(generate_table(table, 200, seed=3), folder / f"{table}.csv")
    pacsv.write_csv(generate_table(_decoy(), 200, seed=3), folder / "orders.csv")
    return folder


def _decoy() -> str:
    from dcp.masking.sample_data import DECOY_TABLES

    return sorted(DECOY_TABLES)[0]


@pytest.fixture
def aws_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text("endpoint: aws\nproject:\n  prefix: clitest\n")
    return config


def test_classify_table_names_every_flagged_column(sample_dir: Path, aws_config: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(aws_config), "classify", str(sample_dir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for column, kind in [
        ("card_number", "CREDIT_CARD_NUMBER"),
        ("mail", "EMAIL_ADDRESS"),
        ("account_number", "account_number"),
        ("iban", "INTERNATIONAL_BANK_ACCOUNT_NUMBER"),
    ]:
        line = next(ln for ln in result.output.splitlines() if f" {column} " in ln)
        assert kind in line
    assert "orders.csv" not in result.output or "(nothing found)" in result.output


def test_classify_json_is_one_macie_finding_per_flagged_file(sample_dir: Path, aws_config: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--config", str(aws_config), "classify", str(sample_dir / "card.csv"), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    documents = [json.loads(line) for line in result.output.splitlines()]
    assert len(documents) == 1
    finding = documents[0]
    assert finding["resourcesAffected"]["s3Object"]["key"].endswith("card.csv")
    assert finding["category"] == "CLASSIFICATION"
    detections = finding["classificationDetails"]["result"]["sensitiveData"]
    cells = [c for group in detections for d in group["detections"] for c in d["occurrences"]["cells"]]
    assert {c["columnName"] for c in cells} >= {"card_number"}


def test_classify_sample_limits_rows(sample_dir: Path, aws_config: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--config", str(aws_config), "classify", str(sample_dir / "card.csv"), "--format", "json", "--sample", "10"],
    )
    finding = json.loads(result.output.splitlines()[0])
    counts = [d["count"] for g in finding["classificationDetails"]["result"]["sensitiveData"] for d in g["detections"]]
    assert counts and max(counts) <= 10


def test_classify_missing_path_is_one_line(aws_config: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(aws_config), "classify", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "no such file" in result.output


@mock_aws
def test_mask_writes_masked_and_encrypted_parquet_without_plaintext(
    sample_dir: Path, aws_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("DCP_TOKEN_KEY", "11" * 32)
    kms = boto3.client("kms", region_name="us-east-1")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/clitest-data", TargetKeyId=key_id)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(aws_config),
            "mask",
            str(sample_dir / "card.csv"),
            str(sample_dir / "customer.csv"),
            "--out",
            str(out),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    source = generate_table("card", 200, seed=3)
    masked = pq.read_table(out / "card.masked.parquet")
    assert masked.num_rows == 200
    numbers = [str(v) for v in source.column("card_number").to_pylist()]
    assert not set(numbers) & set(masked.column("card_number").to_pylist())
    # partial keeps the last four digits and the length
    first = masked.column("card_number")[0].as_py()
    assert first.endswith(numbers[0][-4:]) and len(first) == len(numbers[0])
    blob = (out / "card.masked.parquet").read_bytes() + (out / "card.encrypted.parquet").read_bytes()
    assert not any(n.encode() in blob for n in numbers)
    revealed = reveal_table(out / "card.encrypted.parquet", kms)
    assert revealed.column("card_number").to_pylist() == numbers


def test_mask_without_key_says_what_to_do(
    sample_dir: Path, aws_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("DCP_TOKEN_KEY", "11" * 32)
    with mock_aws():
        from dcp.cli import main

        with pytest.raises(SystemExit) as info:
            main(["--config", str(aws_config), "mask", str(sample_dir / "card.csv"), "--out", str(tmp_path / "o")])
    assert info.value.code == 1


def test_missing_credentials_are_one_clear_line(aws_config: Path, tmp_path: Path) -> None:
    """No credentials anywhere: one line that says what to do, exit 1, no traceback."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",  # never ask an instance-metadata endpoint from a test
        COLUMNS="200",
    )
    done = subprocess.run(
        [sys.executable, "-m", "dcp", "--config", str(aws_config), "plan"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "no AWS credentials found" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
