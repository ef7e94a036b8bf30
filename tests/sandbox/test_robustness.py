"""Bad requests get AWS-shaped errors and the sandbox keeps serving."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from tests.sandbox_fixture import SandboxServer

pytestmark = pytest.mark.slow


def auth(service: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0000"
    )


def send(
    url: str, body: bytes, headers: dict[str, str], method: str = "POST", path: str = "/"
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url + path, data=body if method != "GET" else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def json_call(url: str, service: str, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    return send(
        url,
        body,
        {
            "Authorization": auth(service),
            "X-Amz-Target": target,
            "Content-Type": "application/x-amz-json-1.1",
        },
    )


def assert_alive(sb: SandboxServer) -> None:
    status, _, body = send(sb.url, b"", {}, method="GET", path="/_dcp/health")
    assert status == 200 and json.loads(body)["pid"] == sb.pid
    assert sb.client("sts").get_caller_identity()["Account"] == "123456789012"


@pytest.mark.parametrize(
    ("body", "target", "code"),
    [
        (b"{not json", "TrentService.Encrypt", "SerializationException"),
        (b"{}", "TrentService.NoSuchOperation", "UnknownOperationException"),
        (b"{}", "TrentService.CreateAlias", "ValidationException"),  # AliasName, TargetKeyId missing
        (b'{"KeyId": 42, "Plaintext": "not base64!"}', "TrentService.Encrypt", None),
    ],
)
def test_json_protocol_errors(sandbox_server: SandboxServer, body: bytes, target: str, code: str | None) -> None:
    status, headers, payload = json_call(sandbox_server.url, "kms", target, body)
    assert 400 <= status < 600
    error = json.loads(payload)
    if code is not None:
        assert error["__type"] == code
        assert headers.get("X-Amzn-Errortype", headers.get("x-amzn-ErrorType", "")).startswith(code)
    else:
        assert error["__type"]
    assert_alive(sandbox_server)


def test_rest_json_errors(sandbox_server: SandboxServer) -> None:
    url = sandbox_server.url
    headers = {"Authorization": auth("macie2"), "Content-Type": "application/json"}
    status, _, payload = send(url, b"{broken", headers, path="/jobs")
    assert status == 400 and json.loads(payload)["__type"] == "SerializationException"
    status, _, payload = send(url, b"{}", headers, path="/jobs")  # name, jobType, s3JobDefinition... missing
    assert status == 400 and json.loads(payload)["__type"] == "ValidationException"
    assert "s3JobDefinition" in json.loads(payload)["Message"]
    status, _, payload = send(url, b"", headers, method="GET", path="/jobs/does-not-exist")
    assert status == 404 and json.loads(payload)["__type"] == "ResourceNotFoundException"
    status, _, payload = send(url, b"{}", headers, method="PUT", path="/no/such/route")
    assert status == 400 and json.loads(payload)["__type"] == "UnknownOperationException"
    assert_alive(sandbox_server)


def test_query_protocol_errors(sandbox_server: SandboxServer) -> None:
    headers = {"Authorization": auth("iam"), "Content-Type": "application/x-www-form-urlencoded"}
    status, _, payload = send(sandbox_server.url, b"Action=NoSuchAction&Version=2010-05-08", headers)
    assert status == 400
    assert ET.fromstring(payload).find(".//{*}Code").text == "InvalidAction"  # type: ignore[union-attr]
    status, _, payload = send(sandbox_server.url, b"Action=CreateRole&Version=2010-05-08", headers)
    assert status == 400
    root = ET.fromstring(payload)
    assert root.find(".//{*}Code").text == "ValidationException"  # type: ignore[union-attr]
    assert "RoleName" in (root.find(".//{*}Message").text or "")  # type: ignore[union-attr]
    assert_alive(sandbox_server)


def test_unsigned_and_garbage_requests(sandbox_server: SandboxServer) -> None:
    for body, headers in [
        (b"\x00\xff garbage", {"Content-Type": "application/octet-stream"}),
        (b"Action=Nope", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b"{}", {"Authorization": "AWS4-HMAC-SHA256 Credential=broken", "X-Amz-Target": "x.y"}),
        (b"{}", {"Authorization": auth("no-such-service"), "X-Amz-Target": "x.y"}),
    ]:
        status, _, _ = send(sandbox_server.url, body, headers)
        assert 200 <= status < 600
    assert_alive(sandbox_server)


def test_boto3_sees_modelled_errors(sandbox_server: SandboxServer) -> None:
    macie = sandbox_server.client("macie2")
    with pytest.raises(ClientError) as error:
        macie.describe_classification_job(jobId="missing")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as invalid:
        macie.create_custom_data_identifier(name="bad", regex="([unclosed")
    assert invalid.value.response["Error"]["Code"] == "ValidationException"
    assert_alive(sandbox_server)
