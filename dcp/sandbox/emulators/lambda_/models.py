"""Run a Lambda function's Python handler inside the sandbox process.

The function's zip (from moto's Lambda backend) is extracted once per code SHA under
`<state_dir>/lambda/`, the handler module imported under a fresh module name per function and
SHA, and called with the function's environment variables and credentials for its execution
role (an STS AssumeRole through moto, so the handler's boto3 calls reach the sandbox as that
role; `AWS_ENDPOINT_URL` points at the sandbox in server mode). The process environment is
shared, so invocations run one at a time under a lock and the environment is restored after.
Timeouts are not enforced (a thread cannot be killed): a handler that hangs blocks the others.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from dcp.lambdas.dburl import SANDBOX_ENDPOINTS_ENV
from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.rds.models import endpoints_path
from dcp.sandbox.registry import AwsError, SandboxConfig, on_reset

log = logging.getLogger("dcp.sandbox")

_env_lock = threading.RLock()
_modules: dict[str, ModuleType] = {}
_modules_lock = threading.Lock()
# Imported handler modules are warm containers: module-level clients keep their credentials,
# which belong to one sandbox's STS; a reset sandbox starts cold.
on_reset(_modules.clear)

# Variables a handler must not inherit from the sandbox process (they would redirect boto3).
_SCRUBBED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_SECURITY_TOKEN",
)


@dataclass(frozen=True)
class InvocationResult:
    """What Invoke returns: status, payload, and FunctionError when the handler raised."""

    status_code: int
    payload: bytes
    function_error: str | None = None
    log_tail: str = ""
    executed_version: str = "$LATEST"


class LambdaContext:
    """The `context` argument of a Python handler (the attributes AWS documents)."""

    def __init__(self, function: Any, deadline: float) -> None:
        self.function_name = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.function_arn
        self.memory_limit_in_mb = int(function.memory_size)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def get_function(account_id: str, region: str, name_or_arn: str, qualifier: str | None = None) -> Any:
    lambda_backends = moto_compat.backends("lambda")
    try:
        return lambda_backends[account_id][region].get_function(name_or_arn, qualifier)
    except Exception as exc:
        raise AwsError("ResourceNotFoundException", f"Function not found: {name_or_arn}", 404) from exc


def _code_dir(config: SandboxConfig, function: Any) -> Path:
    """The function's code, extracted once per code SHA."""
    sha = re.sub(r"[^A-Za-z0-9]", "", str(function.code_sha_256))[:24]
    target = config.state_dir / "lambda" / f"{function.function_name}-{sha}"
    if target.is_dir():
        return target
    code = getattr(function, "code_bytes", None)
    if not code:
        raise AwsError(
            "InvalidParameterValueException",
            f"function {function.function_name} has no zip code the sandbox can run",
            400,
        )
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            for member in archive.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise AwsError("InvalidParameterValueException", "the function zip has unsafe paths", 400)
            archive.extractall(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another invocation extracted it first
            shutil.rmtree(tmp, ignore_errors=True)
    except zipfile.BadZipFile as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AwsError("InvalidParameterValueException", "the function code is not a zip file", 400) from exc
    return target


def _load_handler(function: Any, code_dir: Path) -> Any:
    handler = str(function.handler or "")
    if "." not in handler:
        raise AwsError("InvalidParameterValueException", f"bad handler {handler!r}: expected module.function", 400)
    module_path, func_name = handler.rsplit(".", 1)
    relative = module_path.replace(".", "/") + ".py"
    source = code_dir / relative
    if not source.is_file():
        raise AwsError("InvalidParameterValueException", f"handler module {relative} is not in the zip", 400)
    module_name = "_dcp_lambda_" + re.sub(r"\W", "_", f"{code_dir.name}_{module_path}")
    with _modules_lock:
        module = _modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, source)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(code_dir))
            try:
                spec.loader.exec_module(module)
            finally:
                with contextlib.suppress(ValueError):
                    sys.path.remove(str(code_dir))
            _modules[module_name] = module
    target = getattr(module, func_name, None)
    if not callable(target):
        raise AwsError("InvalidParameterValueException", f"handler function {func_name} not found", 400)
    return target


def role_credentials(account_id: str, region: str, role_arn: str, session_name: str) -> dict[str, str]:
    """STS credentials for the function's execution role, issued by moto (so requests map to it)."""
    sts_backends = moto_compat.backends("sts")
    assumed = sts_backends[account_id]["aws"].assume_role(
        region_name=region,
        role_session_name=session_name[:64],
        role_arn=role_arn,
        policy=None,
        duration=3600,
        external_id=None,
    )
    return {
        "AWS_ACCESS_KEY_ID": assumed.access_key_id,
        "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
        "AWS_SESSION_TOKEN": assumed.session_token,
    }


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set exactly `values` on top of a scrubbed environment; restore everything after."""
    import boto3

    touched = set(_SCRUBBED) | set(values)
    saved = {name: os.environ.get(name) for name in touched}
    saved_session = boto3.DEFAULT_SESSION
    for name in _SCRUBBED:
        os.environ.pop(name, None)
    os.environ.update(values)
    boto3.DEFAULT_SESSION = None  # its cached credentials belong to someone else
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = saved_session


def invoke_function(
    account_id: str,
    region: str,
    function: Any,
    payload: bytes,
    config: SandboxConfig,
    *,
    invocation_type: str = "RequestResponse",
) -> InvocationResult:
    """Run the function once. `Event` runs it on a thread and returns 202 at once."""
    if invocation_type == "DryRun":
        return InvocationResult(status_code=204, payload=b"")
    runtime = str(function.run_time or "")
    if not runtime.startswith("python"):
        raise AwsError(
            "InvalidRuntimeException",
            f"the sandbox runs Python functions only, not {runtime or 'this runtime'}",
            502,
        )
    if invocation_type == "Event":
        thread = threading.Thread(
            target=_run_logged,
            args=(account_id, region, function, payload, config),
            name=f"lambda-{function.function_name}",
            daemon=True,
        )
        thread.start()
        return InvocationResult(status_code=202, payload=b"")
    return _run(account_id, region, function, payload, config)


def _run_logged(account_id: str, region: str, function: Any, payload: bytes, config: SandboxConfig) -> None:
    try:
        result = _run(account_id, region, function, payload, config)
        if result.function_error:
            try:  # the type only: an error message may quote the data the function handled
                error_type = json.loads(result.payload).get("errorType", "error")
            except ValueError:
                error_type = "error"
            log.warning("sandbox: lambda %s failed: %s", function.function_name, error_type)
        else:
            log.info("sandbox: lambda %s ran", function.function_name)
    except Exception:
        log.exception("sandbox: lambda %s could not run", function.function_name)


def _run(account_id: str, region: str, function: Any, payload: bytes, config: SandboxConfig) -> InvocationResult:
    code_dir = _code_dir(config, function)
    try:
        event = json.loads(payload) if payload else {}
    except ValueError as exc:
        raise AwsError("InvalidRequestContentException", "Could not parse request body into json", 400) from exc
    env = {str(k): str(v) for k, v in (function.environment_vars or {}).items()}
    env.update(role_credentials(account_id, region, function.role, function.function_name))
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "LAMBDA_TASK_ROOT": str(code_dir),
        }
    )
    if config.endpoint_url:
        env["AWS_ENDPOINT_URL"] = config.endpoint_url
    # The sandbox's RDS endpoint names resolve through its own table (dcp.lambdas.dburl.resolve_host).
    env[SANDBOX_ENDPOINTS_ENV] = str(endpoints_path(config.state_dir))
    with _env_lock, _environment(env):
        handler = None
        try:
            handler = _load_handler(function, code_dir)
            context = LambdaContext(function, time.monotonic() + float(function.timeout or 3))
            result = handler(event, context)
            body = json.dumps(result).encode("utf-8")
            return InvocationResult(status_code=200, payload=body)
        except AwsError:
            raise
        except Exception as exc:
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__)[-5:],
            }
            tail = base64.b64encode(traceback.format_exc()[-4000:].encode()).decode()
            return InvocationResult(
                status_code=200,
                payload=json.dumps(error).encode("utf-8"),
                function_error="Unhandled",
                log_tail=tail,
            )
