"""One parser reads Macie findings from Macie, EventBridge and Firehose, and survives bad input."""

from __future__ import annotations

import json

from dcp.masking.findings import Cell, Detection, Finding, Record, column_from_json_path, table_from_key


def sample_finding() -> Finding:
    return Finding(
        bucket="raw-bucket",
        key="dms/sales/customer/LOAD00000001.csv",
        detections=(
            Detection(
                type="CREDIT_CARD_NUMBER",
                count=20,
                columns=("card_number",),
                cells=tuple(Cell(row=r, column=3, column_name="card_number") for r in range(2, 22)),
            ),
            Detection(type="NAME", count=2, columns=("name",), cells=(Cell(row=2, column=2, column_name="name"),)),
            Detection(
                type="account_number",
                count=5,
                columns=("account_number",),
                custom=True,
                arn="arn:aws:macie2:us-east-1:111122223333:custom-data-identifier/abc",
                cells=(Cell(row=2, column=4, column_name="account_number"),),
            ),
        ),
        account_id="111122223333",
        region="eu-west-1",
    )


def test_to_json_is_macie_shaped() -> None:
    data = sample_finding().to_json()
    assert data["type"] == "SensitiveData:S3Object/Multiple"
    assert data["category"] == "CLASSIFICATION"
    assert data["severity"] == {"score": 3, "description": "High"}
    assert data["resourcesAffected"]["s3Bucket"]["name"] == "raw-bucket"
    assert data["resourcesAffected"]["s3Object"]["key"] == "dms/sales/customer/LOAD00000001.csv"
    result = data["classificationDetails"]["result"]
    categories = {group["category"]: group for group in result["sensitiveData"]}
    assert set(categories) == {"FINANCIAL_INFORMATION", "PERSONAL_INFORMATION"}
    card = categories["FINANCIAL_INFORMATION"]["detections"][0]
    assert card["type"] == "CREDIT_CARD_NUMBER" and card["count"] == 20
    # Macie reports at most 15 occurrences per type; count stays the full count
    assert len(card["occurrences"]["cells"]) == 15
    assert card["occurrences"]["cells"][0] == {
        "row": 2,
        "column": 3,
        "columnName": "card_number",
        "cellReference": None,
    }
    custom = result["customDataIdentifiers"]
    assert custom["totalCount"] == 5
    assert custom["detections"][0]["name"] == "account_number"
    assert custom["detections"][0]["arn"].endswith("/abc")
    assert json.loads(json.dumps(data)) == data


def test_finding_type_by_category() -> None:
    personal = Finding(bucket="b", key="s/t/f.csv", detections=(Detection("NAME", 1, ("n",)),))
    assert personal.to_json()["type"] == "SensitiveData:S3Object/Personal"
    custom = Finding(bucket="b", key="s/t/f.csv", detections=(Detection("acct", 1, ("a",), custom=True),))
    assert custom.to_json()["type"] == "SensitiveData:S3Object/CustomIdentifier"
    creds = Finding(bucket="b", key="s/t/f.csv", detections=(Detection("AWS_CREDENTIALS", 1, ("k",)),))
    assert creds.to_json()["type"] == "SensitiveData:S3Object/Credentials"


def test_round_trip() -> None:
    original = sample_finding()
    parse = Finding.from_json(json.dumps(original.to_json()))
    assert parse.errors == []
    (finding,) = parse.findings
    assert finding.table == "customer"
    assert finding.bucket == original.bucket and finding.key == original.key and finding.id == original.id
    assert finding.account_id == "111122223333" and finding.region == "eu-west-1"
    by_type = {d.type: d for d in finding.detections}
    assert by_type["CREDIT_CARD_NUMBER"].count == 20
    assert by_type["CREDIT_CARD_NUMBER"].columns == ("card_number",)
    assert by_type["account_number"].custom and by_type["account_number"].arn == original.detections[2].arn
    assert by_type["NAME"].category == "PERSONAL_INFORMATION"
    assert finding.to_json()["classificationDetails"] == original.to_json()["classificationDetails"]


def test_eventbridge_envelope() -> None:
    event = {
        "version": "0",
        "id": "event-1",
        "detail-type": "Macie Finding",
        "source": "aws.macie",
        "account": "111122223333",
        "region": "eu-west-1",
        "detail": sample_finding().to_json(),
    }
    parse = Finding.from_json(json.dumps(event).encode())
    assert parse.errors == []
    assert [f.table for f in parse.findings] == ["customer"]


def test_firehose_concatenated_and_newline_delimited() -> None:
    events = [
        {"detail-type": "Macie Finding", "source": "aws.macie", "detail": sample_finding().to_json()} for _ in range(3)
    ]
    concatenated = "".join(json.dumps(e) for e in events)  # Firehose: no separator at all
    assert len(Finding.from_json(concatenated).findings) == 3
    newline = "\n".join(json.dumps(e) for e in events) + "\n"
    assert len(Finding.from_json(newline).findings) == 3


def test_get_findings_response_and_records_occurrences() -> None:
    data = sample_finding().to_json()
    detection = data["classificationDetails"]["result"]["sensitiveData"][0]["detections"][0]
    detection["occurrences"] = {"records": [{"recordIndex": 0, "jsonPath": "$.card.number"}]}
    parse = Finding.from_json({"findings": [data]})
    card = next(d for d in parse.findings[0].detections if d.type == "CREDIT_CARD_NUMBER")
    assert card.columns == ("card.number",)
    assert card.records == (Record(record_index=0, json_path="$.card.number"),)


def test_malformed_findings_are_reported_and_skipped() -> None:
    good = json.dumps(sample_finding().to_json())
    no_key = sample_finding().to_json()
    del no_key["resourcesAffected"]["s3Object"]["key"]
    bad_count = sample_finding().to_json()
    bad_count["classificationDetails"]["result"]["sensitiveData"][0]["detections"][0]["count"] = "many"
    text = "\n".join([good, '{"type": "SensitiveData:S3Object/Personal", "broken": ', json.dumps(no_key), "[1, 2]"])
    text += json.dumps(bad_count) + good
    parse = Finding.from_json(text)
    assert len(parse.findings) == 2
    assert len(parse.errors) == 5, parse.errors
    assert any("invalid JSON" in e for e in parse.errors)
    assert any("'key'" in e for e in parse.errors)
    # the bad value itself is never quoted: a malformed field may hold data
    assert any("number field" in e for e in parse.errors) and not any("many" in e for e in parse.errors)


def test_non_sensitive_findings_are_ignored_not_errors() -> None:
    policy = {"type": "Policy:IAMUser/S3BucketPublic", "id": "p"}
    parse = Finding.from_json(json.dumps(policy))
    assert parse.findings == [] and parse.errors == [] and parse.ignored == 1


def test_garbage_never_raises() -> None:
    for text in ["", "   ", "null", "42", "{", b"\xff\xfe", "}{", '{"detail-type": "x", "detail": 5}']:
        parse = Finding.from_json(text)
        assert parse.findings == []


def test_table_and_json_path_helpers() -> None:
    assert table_from_key("sales/customer/LOAD0001.csv") == "customer"
    assert table_from_key("customer.csv") == "customer"
    assert column_from_json_path("$.mail") == "mail"
    assert column_from_json_path("$['card number']") == "card number"
    assert column_from_json_path("$.items[*].sku") == "items.sku"
