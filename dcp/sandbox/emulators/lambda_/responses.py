"""Lambda Invoke served by running the function in-process (moto would need Docker)."""

from __future__ import annotations

from typing import Any

from dcp.sandbox.emulators.lambda_.models import get_function, invoke_function
from dcp.sandbox.registry import Call, emulates


@emulates("lambda", "Invoke")
def invoke(call: Call) -> dict[str, Any]:
    params = call.params
    function = get_function(call.account_id, call.region, params["FunctionName"], params.get("Qualifier"))
    payload = params.get("Payload") or b""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    result = invoke_function(
        call.account_id,
        call.region,
        function,
        payload,
        call.sandbox,
        invocation_type=params.get("InvocationType") or "RequestResponse",
    )
    output: dict[str, Any] = {"StatusCode": result.status_code, "ExecutedVersion": result.executed_version}
    if result.payload:
        output["Payload"] = result.payload
    if result.function_error:
        output["FunctionError"] = result.function_error
    if result.log_tail and params.get("LogType") == "Tail":
        output["LogResult"] = result.log_tail
    return output
