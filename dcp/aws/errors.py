"""Reading AWS service errors: the error code and message, "not found", throttling.

The one place botocore's ``ClientError.response["Error"]`` is parsed; every other module asks
these helpers. Callers that expect a not-found pass the codes their operation documents
(``absent_on("NoSuchEntity")``); NOT_FOUND_CODES is the union for callers that delete
anything the stack may have left (the sweeper).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

T = TypeVar("T")

#: Codes meaning "the thing is already gone", across the services the stack uses.
NOT_FOUND_CODES = (
    "NoSuchEntity",
    "ResourceNotFoundException",
    "ResourceNotFoundFault",
    "EntityNotFoundException",
    "NoSuchBucket",
    "NotFoundException",
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidGroup.NotFound",
    "DBInstanceNotFound",
)

# botocore's own list of throttling codes (the standard retry mode retries them).
_THROTTLING = ThrottledRetryableChecker()


def error_code(exc: BaseException) -> str:
    """The service's error code ("" when `exc` is not a service error)."""
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    """The service's error message ("" when `exc` is not a service error or has none)."""
    if not isinstance(exc, ClientError):
        return ""
    return str(exc.response.get("Error", {}).get("Message", ""))


def is_code(exc: BaseException, *codes: str) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in codes


def is_not_found(exc: BaseException) -> bool:
    """Whether `exc` says the resource does not exist (any of NOT_FOUND_CODES)."""
    return is_code(exc, *NOT_FOUND_CODES)


def is_access_denied(exc: BaseException) -> bool:
    """Whether `exc` is a service's refusal (AccessDenied, AccessDeniedException, S3's Forbidden)."""
    code = error_code(exc)
    return "AccessDenied" in code or code == "Forbidden"


def is_throttling(exc: BaseException) -> bool:
    """Whether `exc` is a throttling error, by botocore's standard retry mode's list of codes."""
    if not isinstance(exc, ClientError):
        return False
    return bool(_THROTTLING.is_retryable(RetryContext(attempt_number=1, parsed_response=exc.response)))


def absent_on(*codes: str) -> Callable[[Callable[[], T]], T | None]:
    """Call `fn`; None if it fails with one of `codes` (a not-found error)."""

    def run(fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except ClientError as exc:
            if error_code(exc) in codes:
                return None
            raise

    return run


def ignore_codes(fn: Callable[[], Any], *codes: str) -> None:
    try:
        fn()
    except ClientError as exc:
        if error_code(exc) not in codes:
            raise
