"""The dispatcher: WSGI middleware that names each request's AWS operation and serves it.

Three steps per request: :meth:`Dispatcher._identify` (which service, operation and principal),
:meth:`Dispatcher._parse` (the parameters, as a :class:`Call`), :meth:`Dispatcher._invoke`
(authorise, then the emulator or moto). A step that answers early raises :class:`_Answered`.

For every request it finds the service (the SigV4 credential scope), the operation (moto's
botocore-model routers: `Action` for query, `X-Amz-Target` for json, method + requestUri for
rest-json/rest-xml), parses the parameters per the operation's input shape, checks required
members, and then either calls the dcp emulator registered for that operation
(:mod:`dcp.sandbox.registry`) and serialises its result per the service's protocol, or hands
the untouched request to moto's WSGI application. After-hooks run once the response is known.

Every failure becomes an AWS-shaped error in the request's protocol; the server keeps serving.
"""

from __future__ import annotations

import io
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dcp.sandbox import catalog_filter, moto_compat
from dcp.sandbox.coverage import UNSUPPORTED_CODE, moto_serves, unsupported_message
from dcp.sandbox.gates import authorize_call
from dcp.sandbox.identity import Credential, Principal, parse_authorization, resolve_principal
from dcp.sandbox.registry import (
    FORWARD,
    AfterHook,
    AwsError,
    Call,
    Handler,
    RawRequest,
    SandboxConfig,
    after_hooks_for,
    current_call,
    handler_for,
    set_active_config,
)

log = logging.getLogger("dcp.sandbox")

HEALTH_PATH = "/_dcp/health"
SERVER_NAME = "dcp-sandbox"

# SigV4 signing names that differ from botocore's service names.
SIGNING_ALIASES = {"eventbridge": "events", "execute-api": "apigateway"}

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Requests the dispatcher cannot name an operation for reach moto only from the root: the gate
# cannot judge them.
UNJUDGED = "the sandbox cannot authorise this request for a non-root identity"


class _Answered(Exception):
    """A dispatch step answered the request already (an error, a denial, moto): `body` is the response."""

    def __init__(self, body: Iterable[bytes]) -> None:
        super().__init__("answered")
        self.body = body


@dataclass(frozen=True)
class Operation:
    """What :meth:`Dispatcher._identify` found: the service, the operation and who calls it."""

    service: str
    principal: Principal
    region: str
    service_model: Any
    protocol: str
    request: Any  # moto's werkzeug Request over the body read once
    operation_model: Any
    uri_params: dict[str, Any]
    handler: Handler | None
    hooks: list[AfterHook]


class _ServiceError(Exception):
    """An AwsError in the form moto's serializers understand (`code`, `message`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def default_moto_app() -> WsgiApp:
    app: WsgiApp = moto_compat.wsgi_app()
    return app


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the whole body once and put it back so moto can read it again."""
    from werkzeug.wsgi import get_input_stream

    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return body


def _credential_from_query(query_string: str) -> Credential | None:
    """The credential of a presigned URL (`X-Amz-Credential=AK/DATE/REGION/SERVICE/aws4_request`)."""
    from urllib.parse import parse_qs

    values = parse_qs(query_string).get("X-Amz-Credential")
    if not values:
        return None
    parts = values[0].split("/")
    if len(parts) != 5:
        return None
    return Credential(access_key=parts[0], region=parts[2], service=parts[3])


def _body_is_json(protocol: str, operation_model: Any) -> bool:
    """Whether the request body must be a JSON document (not a raw blob/string payload)."""
    if protocol == "json":
        return True
    if protocol != "rest-json":
        return False
    shape = operation_model.input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    if payload is None:
        return True
    return bool(shape.members[payload].type_name == "structure")


def missing_required(params: Any, shape: Any, path: str = "") -> list[str]:
    """Required members absent from `params` (recursively through structures).

    Lists and maps count as present when absent: the query protocol omits empty lists on
    the wire, so their absence cannot be told from an empty value.
    """
    if shape is None or getattr(shape, "type_name", None) != "structure" or not isinstance(params, dict):
        return []
    missing: list[str] = []
    for name in shape.required_members:
        member = shape.members.get(name)
        if member is None:
            continue
        if params.get(name) is None and member.type_name not in ("list", "map"):
            missing.append(f"{path}{name}")
    for name, member in shape.members.items():
        value = params.get(name)
        if isinstance(value, dict) and member.type_name == "structure":
            missing.extend(missing_required(value, member, f"{path}{name}."))
        elif isinstance(value, list) and member.type_name == "list":
            for index, item in enumerate(value):
                missing.extend(missing_required(item, member.member, f"{path}{name}[{index}]."))
    return missing


class Dispatcher:
    """WSGI app: dcp emulators first, moto otherwise."""

    def __init__(self, config: SandboxConfig, moto_app: WsgiApp | None = None) -> None:
        self.config = config
        self.moto_app = moto_app or default_moto_app()
        set_active_config(config)

    def health(self) -> dict[str, Any]:
        """The `/_dcp/health` document: who answers, and which emulators serve what."""
        from dcp.sandbox.emulators import FAILED
        from dcp.sandbox.registry import registered_operations

        services = sorted({service for service, _ in registered_operations()})
        return {
            "server": SERVER_NAME,
            "pid": os.getpid(),
            "status": "ok",
            "emulated_services": services,
            "failed_emulators": dict(FAILED),
        }

    # ---- WSGI entry
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._dispatch(environ, start_response)
        except Exception:  # the server must survive anything a request does
            log.exception("sandbox: unhandled error in dispatcher")
            return self._respond(
                start_response,
                500,
                {"Content-Type": "application/json"},
                json.dumps({"__type": "InternalFailure", "message": "internal error in the dcp sandbox"}),
            )

    def _dispatch(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            return self._respond(
                start_response,
                200,
                {"Content-Type": "application/json"},
                json.dumps(self.health()),
            )
        body = _read_body(environ)
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        try:
            op = self._identify(environ, body, start_response)
            call = self._parse(op, environ, body, start_response)
            return self._invoke(op, call, environ, start_response)
        except _Answered as answered:
            return answered.body

    # ---- step 1: which service, operation and principal
    def _identify(self, environ: dict[str, Any], body: bytes, start_response: StartResponse) -> Operation:
        credential = parse_authorization(environ.get("HTTP_AUTHORIZATION")) or _credential_from_query(
            environ.get("QUERY_STRING", "")
        )
        if credential is None:
            # AWS serves anonymous requests only for public resources; the sandbox has none.
            raise _Answered(self._denied(start_response, "Anonymous access is not allowed: sign the request (SigV4)"))
        service = SIGNING_ALIASES.get(credential.service, credential.service)
        principal = resolve_principal(credential.access_key)
        try:
            service_model = moto_compat.service_model(service)
        except Exception:
            raise _Answered(self._unjudged(principal, environ, start_response)) from None
        protocol = moto_compat.request_protocol(service_model, environ.get("CONTENT_TYPE"))
        try:
            request, operation_model, uri_params = moto_compat.route(service, environ, body)
        except moto_compat.NoRoute:
            if service == "s3":
                raise _Answered(self._unjudged(principal, environ, start_response)) from None
            code = "InvalidAction" if protocol in ("query", "ec2") else "UnknownOperationException"
            error = AwsError(code, f"the {service} API has no such operation", 400)
            raise _Answered(self._error(start_response, service_model, None, protocol, error)) from None
        operation = operation_model.name
        handler = handler_for(service, operation)
        if handler is None and not moto_serves(service, operation):
            error = AwsError(UNSUPPORTED_CODE, unsupported_message(service, operation), 400)
            raise _Answered(self._error(start_response, service_model, operation_model, protocol, error))
        return Operation(
            service=service,
            principal=principal,
            region=credential.region,
            service_model=service_model,
            protocol=protocol,
            request=request,
            operation_model=operation_model,
            uri_params=uri_params,
            handler=handler,
            hooks=after_hooks_for(service, operation),
        )

    def _unjudged(self, principal: Principal, environ: dict[str, Any], start_response: StartResponse) -> Any:
        if not principal.is_root:
            return self._denied(start_response, UNJUDGED)
        return self._to_moto(environ, start_response, None, None)

    # ---- step 2: the parameters, checked against the input shape
    def _parse(self, op: Operation, environ: dict[str, Any], body: bytes, start_response: StartResponse) -> Call:
        params: dict[str, Any] = {}
        if op.handler is not None or op.hooks or op.service != "s3":
            params = self._parse_params(op, body, start_response)
        request = op.request
        return Call(
            service=op.service,
            operation=op.operation_model.name,
            params=params,
            account_id=op.principal.account,
            region=op.region,
            principal=op.principal,
            sandbox=self.config,
            request=RawRequest(
                method=request.method,
                path=request.path,
                query_string=environ.get("QUERY_STRING", ""),
                headers={k: v for k, v in request.headers.items()},
                body=body,
            ),
        )

    def _parse_params(self, op: Operation, body: bytes, start_response: StartResponse) -> dict[str, Any]:
        protocol, operation_model = op.protocol, op.operation_model
        try:
            if body.strip() and _body_is_json(protocol, operation_model):
                json.loads(body)
            params = moto_compat.parse_params(protocol, operation_model, op.request, body, op.uri_params)
        except Exception as exc:
            log.info("sandbox: cannot parse %s.%s: %s", op.service, operation_model.name, exc)
            code = "MalformedQueryString" if protocol in ("query", "ec2") else "SerializationException"
            error = AwsError(code, f"the {operation_model.name} request body could not be parsed", 400)
            raise _Answered(self._error(start_response, op.service_model, operation_model, protocol, error)) from None
        missing = missing_required(params, operation_model.input_shape)
        if missing:
            error = AwsError(
                "ValidationException",
                f"{len(missing)} validation error(s) detected: missing required parameter(s) " + ", ".join(missing),
                400,
            )
            raise _Answered(self._error(start_response, op.service_model, operation_model, protocol, error))
        return params

    # ---- step 3: authorise, then the emulator or moto; after-hooks once the status is known
    def _invoke(
        self, op: Operation, call: Call, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        model, operation_model, protocol, hooks = op.service_model, op.operation_model, op.protocol, op.hooks
        try:
            authorize_call(call, protocol)
        except AwsError as exc:
            return self._error(start_response, model, operation_model, protocol, exc, call, hooks)
        if op.handler is None:
            return self._to_moto(environ, start_response, call, hooks, operation_model, protocol)
        try:
            output = op.handler(call)
            if output is not FORWARD and catalog_filter.applies(call):  # Lake Formation filters Glue reads
                output = catalog_filter.filter_output(call, output or {})
        except AwsError as exc:
            return self._error(start_response, model, operation_model, protocol, exc, call, hooks)
        except Exception:
            log.exception("sandbox: emulator %s.%s failed", call.service, call.operation)
            error = AwsError("InternalFailure", f"the sandbox's {call.operation} emulator failed", 500)
            return self._error(start_response, model, operation_model, protocol, error, call, hooks)
        if output is FORWARD:
            return self._to_moto(environ, start_response, call, hooks, operation_model, protocol)
        status, headers, payload = self._serialize(model, operation_model, protocol, output or {})
        self._run_hooks(call, hooks, status)
        return self._respond(start_response, status, headers, payload)

    def _denied(self, start_response: StartResponse, message: str) -> Iterable[bytes]:
        return self._respond(
            start_response,
            403,
            {"Content-Type": "application/xml"},
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{message}</Message></Error>",
        )

    # ---- moto
    def _to_moto(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        call: Call | None,
        hooks: list[Any] | None,
        operation_model: Any = None,
        protocol: str | None = None,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"] = status
            captured["headers"] = headers

            def write(data: bytes) -> None:  # pragma: no cover - moto's Flask apps never write()
                raise RuntimeError("write() is not supported")

            return write

        token = current_call.set(call)
        try:
            result = self.moto_app(environ, capture)
        except NotImplementedError as exc:
            if call is None or operation_model is None:
                raise
            log.info("sandbox: moto does not implement %s.%s: %s", call.service, call.operation, exc)
            return self._unsupported(start_response, call, operation_model, protocol, " with these parameters")
        except Exception as exc:
            log.exception("sandbox: moto failed on %s", call.operation if call else environ.get("PATH_INFO"))
            if call is None or operation_model is None:
                raise
            # moto cannot serve these parameters; retrying would fail the same way.
            detail = f" with these parameters (moto failed: {type(exc).__name__})"
            return self._unsupported(start_response, call, operation_model, protocol, detail)
        finally:
            current_call.reset(token)
        status_line = captured.get("status", "500 INTERNAL SERVER ERROR")
        headers = captured.get("headers", [])
        status = int(status_line.split(" ", 1)[0])
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        moto_page = "html" in content_type and environ.get("REQUEST_METHOD") != "HEAD"
        if (
            status in (404, 405, 500, 501)
            and moto_page
            and call is not None
            and call.service != "s3"
            and operation_model
        ):
            # moto has no route for the operation, or crashed on it: an AWS-shaped 400 that
            # botocore does not retry, naming the operation, instead of an HTML page.
            if hasattr(result, "close"):
                result.close()
            return self._unsupported(start_response, call, operation_model, protocol)
        if call is not None and catalog_filter.applies(call):  # Lake Formation filters Glue reads
            status, filtered = catalog_filter.filter_moto_body(call, status, headers, b"".join(result))
            self._run_hooks(call, hooks or [], status)
            return self._respond(start_response, status, dict(headers), filtered)
        start_response(status_line, headers)
        if call is not None and hooks:
            self._run_hooks(call, hooks, status)
        return result

    # ---- serialisation
    @staticmethod
    def _serialize(
        service_model: Any, operation_model: Any, protocol: str, result: Any
    ) -> tuple[int, dict[str, str], str | bytes]:
        response = moto_compat.serialize(service_model, operation_model, protocol, result)
        headers = {str(k): str(v) for k, v in response["headers"].items()}
        headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        status = int(response["status_code"])
        output_shape = getattr(operation_model, "output_shape", None)
        if isinstance(result, dict) and output_shape is not None:
            for name, member in output_shape.members.items():
                if member.serialization.get("location") == "statusCode" and result.get(name) is not None:
                    status = int(result[name])  # e.g. Lambda Invoke's 202 for Event invocations
        return status, headers, response["body"]

    def _unsupported(
        self, start_response: Any, call: Call, operation_model: Any, protocol: str | None, detail: str = ""
    ) -> Any:
        return self._error(
            start_response,
            moto_compat.service_model(call.service),
            operation_model,
            protocol or "json",
            AwsError(UNSUPPORTED_CODE, unsupported_message(call.service, call.operation, detail), 400),
        )

    def _error(
        self,
        start_response: StartResponse,
        service_model: Any,
        operation_model: Any,
        protocol: str,
        error: AwsError,
        call: Call | None = None,
        hooks: list[Any] | None = None,
    ) -> Iterable[bytes]:
        if operation_model is None:
            operation_model = moto_compat.empty_operation_model(service_model)
        status, headers, payload = self._serialize(
            service_model, operation_model, protocol, _ServiceError(error.code, error.message)
        )
        if error.status is not None:
            status = error.status
        if call is not None and hooks:
            self._run_hooks(call, hooks, status)
        return self._respond(start_response, status, headers, payload)

    @staticmethod
    def _run_hooks(call: Call, hooks: list[Any], status: int) -> None:
        for hook in hooks:
            try:
                hook(call, status)
            except Exception:
                log.exception(
                    "sandbox: after-hook %s for %s.%s failed",
                    getattr(hook, "__name__", hook),
                    call.service,
                    call.operation,
                )

    @staticmethod
    def _respond(
        start_response: StartResponse, status: int, headers: dict[str, str], body: str | bytes | None
    ) -> list[bytes]:
        from http import HTTPStatus

        payload = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        header_list = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
        header_list.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {reason}", header_list)
        return [payload]
