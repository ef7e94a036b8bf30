"""Firehose PutRecord/PutRecordBatch delivered by dcp's S3 delivery rules."""

from __future__ import annotations

from typing import Any

from dcp.sandbox.emulators.firehose.models import deliver_records
from dcp.sandbox.registry import Call, emulates


def _data(record: dict[str, Any]) -> bytes:
    data = record.get("Data", b"")
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


@emulates("firehose", "PutRecord")
def put_record(call: Call) -> dict[str, Any]:
    ids = deliver_records(
        call.account_id, call.region, call.params["DeliveryStreamName"], [_data(call.params["Record"])]
    )
    return {"RecordId": ids[0], "Encrypted": False}


@emulates("firehose", "PutRecordBatch")
def put_record_batch(call: Call) -> dict[str, Any]:
    records = [_data(r) for r in call.params.get("Records") or []]
    ids = deliver_records(call.account_id, call.region, call.params["DeliveryStreamName"], records)
    return {
        "FailedPutCount": 0,
        "Encrypted": False,
        "RequestResponses": [{"RecordId": record_id} for record_id in ids],
    }
