"""dcp.aws.errors: the one reader of botocore's service errors, on errors boto3 itself raises."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from dcp.aws.errors import (
    absent_on,
    error_code,
    error_message,
    ignore_codes,
    is_access_denied,
    is_code,
    is_not_found,
    is_throttling,
)


def _raised(code: str, message: str = "no", status: int = 400) -> ClientError:
    """The ClientError boto3 raises when the service answers `code` (botocore's Stubber)."""
    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(iam) as stub:
        stub.add_client_error("get_role", service_error_code=code, service_message=message, http_status_code=status)
        with pytest.raises(ClientError) as info:
            iam.get_role(RoleName="r")
    return info.value


def test_code_and_message() -> None:
    exc = _raised("NoSuchEntity", "The role cannot be found")
    assert error_code(exc) == "NoSuchEntity"
    assert error_message(exc) == "The role cannot be found"
    assert is_code(exc, "Other", "NoSuchEntity")
    assert not is_code(exc, "Other")
    assert error_code(ValueError("x")) == "" and error_message(ValueError("x")) == ""


def test_not_found_denied_throttled() -> None:
    assert is_not_found(_raised("NoSuchEntity")) and is_not_found(_raised("InvalidVpcID.NotFound"))
    assert not is_not_found(_raised("AccessDenied"))
    assert is_access_denied(_raised("AccessDeniedException")) and is_access_denied(_raised("Forbidden", status=403))
    assert not is_access_denied(_raised("NoSuchEntity"))
    assert is_throttling(_raised("ThrottlingException")) and is_throttling(_raised("SlowDown", status=503))
    assert not is_throttling(_raised("NoSuchEntity")) and not is_throttling(ValueError("x"))


def test_absent_on_and_ignore_codes() -> None:
    def missing() -> str:
        raise _raised("NoSuchEntity")

    assert absent_on("NoSuchEntity")(missing) is None
    assert absent_on("NoSuchEntity")(lambda: "here") == "here"
    with pytest.raises(ClientError):
        absent_on("Other")(missing)
    ignore_codes(missing, "NoSuchEntity")
    with pytest.raises(ClientError):
        ignore_codes(missing, "Other")
