"""The one error path: any exception -> one line naming its subject and what to do, never data.

Library messages quote what they choke on: pyarrow prints the CSV row it could not split,
SQLAlchemy appends ``[SQL: ...] [parameters: ...]`` (the row values), MySQL's "Duplicate entry
'<value>'" names the value, PostgreSQL's ``DETAIL: Key (id)=(1)`` too. So a library message is
never echoed as is: :func:`describe_error` keeps only the parts known to carry no content (error
class, counts, positions, type names, identifiers) and adds what to do. dcp's own exceptions
(any class defined under ``dcp.``) are written to be safe and keep their message.

Commands name the subject with :func:`about` (``with about(f"file {path}"): ...``): a library
error inside becomes a :class:`Failure` whose message is the described line; ``dcp.cli.main``
prints it (exit 1) and every other uncaught exception through :func:`describe_error` too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\([^()]*\)=\([^()]*\)")


class Failure(Exception):
    """A runtime failure already described in one safe line (exit code 1)."""

    exit_code = 1


class UsageError(Failure):
    """A usage or configuration problem described in one safe line (exit code 2)."""

    exit_code = 2


@contextmanager
def about(subject: str) -> Iterator[None]:
    """Re-raise a library error raised inside as a :class:`Failure` naming ``subject``.

    Exceptions that already carry a safe, user-facing message (click's, dcp's own) pass.
    """
    try:
        yield
    except Exception as exc:
        if isinstance(exc, Failure) or hasattr(exc, "exit_code") or _is_ours(exc):
            raise
        raise Failure(describe_error(exc, subject=subject)) from None


def _is_ours(exc: BaseException) -> bool:
    return type(exc).__module__.split(".", 1)[0] == "dcp"


def scrub(text: str) -> str:
    """The first line of ``text`` with quoted values and ``(col)=(value)`` pairs removed."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return _QUOTED.sub("…", first)[:200]


def _arrow(message: str) -> tuple[str, str]:
    """(what is wrong, what to do) from a pyarrow message, keeping no cell content."""
    fix = "fix the file or leave it out of the input"
    m = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if m:
        row = re.search(r"[Rr]ow #?(\d+)", message)
        where = f" (row {row.group(1)})" if row else ""
        return f"a row has {m.group(2)} fields where the header has {m.group(1)}{where}", fix
    m = re.search(r"column #(\d+).*?[Rr]ow #(\d+).*?conversion error to (\w+)", message)
    if m:
        return f"column {m.group(1)} row {m.group(2)} is not a valid {m.group(3)}", fix
    m = re.match(r"JSON parse error: ([A-Za-z ,.]+?)\.?(?: in row (\d+))?$", message.strip())
    if m:
        where = f" in row {m.group(2)}" if m.group(2) else ""
        return f"invalid JSON{where} ({m.group(1).strip()})", fix
    if "magic bytes" in message or ("Parquet" in message and "footer" in message):
        return "is not a Parquet file (no Parquet footer)", fix
    if "Empty CSV file" in message:
        return "is empty (no header row)", fix
    return "cannot be parsed (pyarrow rejected its content)", fix


def _database(exc: BaseException) -> tuple[str, str]:
    """SQLAlchemy / DB-API errors: the driver's class and first line, quoted values removed."""
    orig = getattr(exc, "orig", None) or exc
    kind = type(orig).__name__
    args: tuple[object, ...] = tuple(getattr(orig, "args", ()))
    # pymysql: (1062, "Duplicate entry '...' for key 'email'")
    text = str(args[1]) if len(args) >= 2 and isinstance(args[0], int) else (str(args[0]) if args else "")
    detail = scrub(text)
    name = type(exc).__name__
    if "Integrity" in name or "Integrity" in kind:
        hint = "a row breaks a key or constraint: remove the duplicate or conflicting rows and retry"
    elif "Operational" in name or "Operational" in kind:
        hint = "check the database is reachable, its tables exist and the credentials are right"
    else:
        hint = "check the database and retry (run with --debug for the traceback)"
    return f"database error {kind}{': ' + detail if detail else ''}", hint


def describe_aws_error(exc: BaseException) -> str | None:
    """One line for an AWS failure a user can act on, or None if ``exc`` is not one."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
        TokenRetrievalError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE / --profile, run `aws configure`, or use the "
            "sandbox with --local"
        )
    if isinstance(exc, ProfileNotFound | TokenRetrievalError):
        return f"{exc}; check --profile or run `aws sso login`"
    if isinstance(exc, NoRegionError):
        return "no AWS region: set project.region in config, --region or AWS_REGION"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}: check the network or --endpoint-url"
    if isinstance(exc, ClientError):
        # Parsed here, not with dcp.aws.errors: the seed Lambda ships this file alone (lambdas/package.py).
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = scrub(str(error.get("Message", "")))
        op = getattr(exc, "operation_name", "")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return "your AWS credentials have expired: refresh them (e.g. `aws sso login`) and retry"
        if code in ("InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId"):
            return "AWS does not recognise these credentials: check --profile / AWS_ACCESS_KEY_ID"
        if "AccessDenied" in code:
            return f"access denied for {op}: {message}"
        return f"{op} failed: {code}: {message}"
    return None


def describe_error(exc: BaseException, *, subject: str | None = None) -> str:
    """One line for ``exc``: ``<subject>: <what is wrong>; <what to do>``, free of data values."""
    prefix = f"{subject}: " if subject else ""
    aws = describe_aws_error(exc)
    if aws is not None:
        return prefix + aws
    if _is_ours(exc):
        return prefix + str(exc)
    what, fix = _library(exc)
    return f"{prefix}{what}; {fix}"


def _library(exc: BaseException) -> tuple[str, str]:
    import json

    module = type(exc).__module__
    if module.startswith("pyarrow"):
        return _arrow(str(exc))
    if module.startswith("sqlalchemy") or hasattr(exc, "orig") or "Integrity" in type(exc).__name__:
        return _database(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})", "fix the JSON and retry"
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"is not valid {exc.encoding} text (byte offset {exc.start})",
            "save it as UTF-8 or leave it out of the input",
        )
    if isinstance(exc, FileNotFoundError):
        return f"no such file {exc.filename}", "check the path"
    if isinstance(exc, PermissionError):
        return f"permission denied on {exc.filename}", "check the file's permissions"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}{' ' + str(exc.filename) if exc.filename else ''}", "check the path and retry"
    return f"unexpected {type(exc).__name__}", "run with --debug for the traceback"
