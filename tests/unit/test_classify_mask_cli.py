"""`dcp classify` and `dcp mask` on local files: what a user sees, and that no plaintext survives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from moto import mock_aws

from dcp.cli import cli
from dcp.masking.apply import reveal_table
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


# ---- fail closed: findings input, matching, nested fields (issue 11) ---------------------------


@pytest.fixture
def kms_alias(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("DCP_TOKEN_KEY", "11" * 32)
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/clitest-data", TargetKeyId=key_id)
        yield kms


def _invoke(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(config), *args], env={"COLUMNS": "200"})


def _plaintext(table: str, columns: tuple[str, ...]) -> set[str]:
    source = generate_table(table, 200, seed=3)
    return {str(v) for c in columns for v in source.column(c).to_pylist() if v not in (None, "")}


def test_classify_json_then_mask_with_those_findings_masks_every_pii_column(
    sample_dir: Path, aws_config: Path, tmp_path: Path, kms_alias: Any
) -> None:
    """The documented two-step: findings name `data/customer.csv`, and still match table customer."""
    classified = _invoke(aws_config, "classify", str(sample_dir), "--format", "json")
    assert classified.exit_code == 0, classified.output
    findings = tmp_path / "f.jsonl"
    findings.write_text(classified.output)
    out = tmp_path / "m"
    result = _invoke(aws_config, "mask", str(sample_dir), "--findings", str(findings), "--out", str(out))
    assert result.exit_code == 0, result.output
    blob = (out / "customer.masked.parquet").read_bytes()
    secrets = _plaintext("customer", ("name", "mail"))
    assert secrets and not any(value.encode() in blob for value in secrets)
    card = (out / "card.masked.parquet").read_bytes()
    assert not any(value.encode() in card for value in _plaintext("card", ("card_number",)))


def test_findings_about_other_tables_fail_closed_with_nothing_written(
    sample_dir: Path, aws_config: Path, tmp_path: Path, kms_alias: Any
) -> None:
    classified = _invoke(aws_config, "classify", str(sample_dir / "card.csv"), "--format", "json")
    document = json.loads(classified.output.splitlines()[0])
    document["resourcesAffected"]["s3Object"]["key"] = "dataset/invoices/LOAD00000001.csv"
    findings = tmp_path / "f.jsonl"
    findings.write_text(json.dumps(document) + "\n")
    out = tmp_path / "m"
    result = _invoke(
        aws_config, "mask", str(sample_dir / "customer.csv"), "--findings", str(findings), "--out", str(out)
    )
    assert result.exit_code == 2, result.output
    assert "invoices" in result.output and "customer" in result.output
    assert not out.exists()


@pytest.mark.parametrize("content", [b"\x8f\x00\xffrandom\x13bytes", b"{broken json", b"", b"[1, 2, 3]"])
def test_unreadable_findings_are_a_usage_error_naming_the_file(
    content: bytes, sample_dir: Path, aws_config: Path, tmp_path: Path, kms_alias: Any
) -> None:
    findings = tmp_path / "findings.jsonl"
    findings.write_bytes(content)
    out = tmp_path / "m"
    result = _invoke(
        aws_config, "mask", str(sample_dir / "customer.csv"), "--findings", str(findings), "--out", str(out)
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "findings.jsonl" in lines[0], result.output
    assert not out.exists()


def test_a_table_without_findings_is_located_by_dcps_detector(
    sample_dir: Path, aws_config: Path, tmp_path: Path, kms_alias: Any
) -> None:
    """Findings for card only (as Macie would give when customer's objects were not scanned)."""
    classified = _invoke(aws_config, "classify", str(sample_dir / "card.csv"), "--format", "json")
    findings = tmp_path / "f.jsonl"
    findings.write_text(classified.output)
    out = tmp_path / "m"
    result = _invoke(
        aws_config, "mask", str(sample_dir / "card.csv"), str(sample_dir / "customer.csv"),
        "--findings", str(findings), "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "dcp's detector located" in result.output
    blob = (out / "customer.masked.parquet").read_bytes()
    assert not any(value.encode() in blob for value in _plaintext("customer", ("mail",)))


def test_occurrences_beyond_the_listed_fifteen_are_located(aws_config: Path, tmp_path: Path, kms_alias: Any) -> None:
    """A wide table: 20 e-mail columns, the finding lists 15 occurrences and counts 40."""
    data = tmp_path / "wide"
    data.mkdir()
    header = ",".join(f"mail_{i}" for i in range(20))
    rows = [",".join(f"user{r}.{i}@example.com" for i in range(20)) for r in range(2)]
    (data / "contacts.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    classified = _invoke(aws_config, "classify", str(data), "--format", "json")
    document = json.loads(classified.output.splitlines()[0])
    detection = document["classificationDetails"]["result"]["sensitiveData"][0]["detections"][0]
    assert detection["count"] == 40 and len(detection["occurrences"]["cells"]) == 15
    for cell in detection["occurrences"]["cells"]:
        cell["columnName"] = None  # Macie leaves it out without a header: mapped by index
    findings = tmp_path / "f.jsonl"
    findings.write_text(json.dumps(document) + "\n")
    out = tmp_path / "m"
    result = _invoke(aws_config, "mask", str(data), "--findings", str(findings), "--out", str(out))
    assert result.exit_code == 0, result.output
    masked = pq.read_table(out / "contacts.masked.parquet")
    assert all("@example.com" not in str(v) for column in masked.columns for v in column.to_pylist())


def test_nested_parquet_fields_are_detected_and_masked_in_place(
    aws_config: Path, tmp_path: Path, kms_alias: Any
) -> None:
    data = tmp_path / "nested"
    data.mkdir()
    table = pa.table(
        {
            "id": [1, 2, 3],
            "person": [
                {"name": "John Smith", "email": "john.smith@example.com"},
                {"name": "Mary Jones", "email": "mary.jones@example.org"},
                None,
            ],
            "cards": [["4111111111111111", "5500005555555559"], [], None],
        }
    )
    pq.write_table(table, data / "customer.parquet")
    classified = _invoke(aws_config, "classify", str(data), "--format", "json")
    paths = {
        record["jsonPath"]
        for group in json.loads(classified.output)["classificationDetails"]["result"]["sensitiveData"]
        for detection in group["detections"]
        for record in detection["occurrences"]["records"]
    }
    assert {"$.person.email", "$.cards[*]"} <= paths
    findings = tmp_path / "f.jsonl"
    findings.write_text(classified.output)
    out = tmp_path / "m"
    result = _invoke(aws_config, "mask", str(data), "--findings", str(findings), "--out", str(out))
    assert result.exit_code == 0, result.output
    masked = pq.read_table(out / "customer.masked.parquet")
    assert masked.schema.field("person").type.num_fields == 2  # the struct keeps its shape
    rows = masked.to_pylist()
    assert rows[2]["person"] is None and rows[2]["cards"] is None and rows[1]["cards"] == []
    blob = (out / "customer.masked.parquet").read_bytes()
    for secret in ("john.smith@example.com", "4111111111111111", "5500005555555559"):
        assert secret.encode() not in blob
    assert [len(c) for c in rows[0]["cards"]] == [16, 16]
