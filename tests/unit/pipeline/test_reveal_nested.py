"""`dcp reveal` decrypts what the masking engine encrypted inside nested columns too."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from dcp.aws.session import AwsContext
from dcp.config import default_settings
from dcp.masking.apply import META_ENCRYPTED_COLUMNS, mask_batch
from dcp.masking.crypto import TableCrypto
from dcp.masking.plan import ColumnRule, TablePlan
from dcp.masking.policy import Action
from dcp.names import StackNames
from dcp.pipeline.reveal import reveal_table

PEOPLE = pa.table(
    {
        "id": [1, 2, 3],
        "mail": ["ann.lee@example.com", None, "cy.doe@example.net"],
        "person": [{"name": "Ann Lee", "email": "ann.lee@example.com"}, None, {"name": "Zoë", "email": None}],
        "cards": [["4111111111111111"], ["5500005555555559", None], None],
        "wallet": [[{"number": "060414234710", "bank": "x"}], [], None],
    }
)
PLAN = TablePlan(
    name="people",
    columns={
        "mail": ColumnRule(frozenset({"EMAIL_ADDRESS"}), Action.ENCRYPT),
        "person.email": ColumnRule(frozenset({"EMAIL_ADDRESS"}), Action.TOKEN),
        "person.name": ColumnRule(frozenset({"NAME"}), Action.REDACT),
        "cards": ColumnRule(frozenset({"CREDIT_CARD_NUMBER"}), Action.PARTIAL),
        "wallet.number": ColumnRule(frozenset({"CREDIT_CARD_NUMBER"}), Action.ENCRYPT),
    },
)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsContext]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        yield AwsContext.create(region="us-east-1")


def test_reveal_decrypts_struct_members_and_list_elements(aws: AwsContext) -> None:
    names = StackNames.of(default_settings(), aws.account_id, aws.region)
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    crypto = TableCrypto.create(kms, key, "people")
    encrypted = mask_batch(PEOPLE.to_batches()[0], PLAN, crypto, b"token").encrypted
    # what the job writes: the wrapped key, and the top-level flagged columns listed
    metadata = crypto.metadata() | {META_ENCRYPTED_COLUMNS: json.dumps(["mail"]).encode()}
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_batches([encrypted]).replace_schema_metadata(metadata), sink)
    blob = sink.getvalue()
    assert b"4111111111111111" not in blob and b"060414234710" not in blob and b"ann.lee" not in blob
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=names.curated_bucket)
    s3.put_object(Bucket=names.curated_bucket, Key=names.encrypted_prefix("people") + "part-0.parquet", Body=blob)

    revealed = reveal_table(aws, names, "people")

    assert revealed.data.to_pylist() == PEOPLE.to_pylist()
    assert set(revealed.decrypted_columns) == {"mail", "person.name", "person.email", "cards", "wallet.number"}
