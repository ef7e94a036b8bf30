"""Everything the sandbox takes from moto, in one place: its server, protocol machinery, backends, patches.

dcp pins one moto release (see pyproject.toml); when moto changes, this is the module to read.
moto is imported inside each function, never at module import: loading it takes seconds, and
`dcp --help` or a command against AWS must not pay for it (nor need the `sandbox` extra).

* Server and protocol: :func:`wsgi_app`, :func:`request_handler`, :func:`service_model`,
  :func:`request_protocol`, :func:`route`, :func:`parse_params`, :func:`serialize`.
* State: :func:`backends` (moto's per account/region stores), :func:`reset_backends`.
* Patches into moto's own code, each installed by the emulator that needs it:
  :func:`install_bucket_permission`, :func:`install_s3_lambda_delivery`,
  :func:`install_rds_address_override`.
"""

from __future__ import annotations

import importlib
import inspect
import io
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

# moto warns when an error code is not modelled (KMS has no AccessDeniedException shape);
# AWS itself returns such codes, so the warning is noise here.
warnings.filterwarnings("ignore", message=r".*does not match an error shape.*", category=UserWarning)

#: botocore service name -> moto package, where they differ.
_MOTO_PACKAGES = {"lambda": "awslambda"}


class NoRoute(Exception):
    """moto's router knows no operation of the service for this request."""


# ---- server and protocol


def wsgi_app() -> Any:
    """moto's own WSGI application (every service, routed by host and path)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def request_handler() -> Any:
    """The werkzeug request handler moto's server uses."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


def service_model(service: str) -> Any:
    """botocore's service model as moto loads it; raises for an unknown service."""
    from moto.core.utils import get_service_model

    return get_service_model(service)


def request_protocol(model: Any, content_type: str | None) -> str:
    """The wire protocol of a request (services that speak two pick by Content-Type)."""
    from moto.core.request import determine_request_protocol

    try:
        return str(determine_request_protocol(model, content_type))
    except NotImplementedError:
        return str(model.protocol)


def route(service: str, environ: dict[str, Any], body: bytes) -> tuple[Any, Any, dict[str, Any]]:
    """(request, operation model, URI parameters) of the request, by moto's botocore-model router."""
    from moto.core.request import Request
    from moto.core.routing import get_service_router
    from werkzeug.exceptions import NotFound

    request = Request(dict(environ, **{"wsgi.input": io.BytesIO(body)}))
    try:
        operation_model, uri_params = get_service_router(service).match(request)
    except (NotFound, NotImplementedError):
        raise NoRoute(service) from None
    return request, operation_model, dict(uri_params)


def parse_params(
    protocol: str, operation_model: Any, request: Any, body: bytes, uri_params: dict[str, Any]
) -> dict[str, Any]:
    """The operation's parameters, parsed per its input shape."""
    from moto.core.parse import PROTOCOL_PARSERS

    parser = PROTOCOL_PARSERS[protocol](operation_model)
    return dict(
        parser.parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": request.headers,
                "body": body,
                "url_path": request.path,
                "url_params": uri_params,
            }
        )
    )


def serialize(model: Any, operation_model: Any, protocol: str, result: Any) -> dict[str, Any]:
    """moto's serialisation of `result` (an output dict or an error) for the operation."""
    from moto.core.serialize import get_serializer_class

    return dict(get_serializer_class(model.service_name, protocol)(operation_model).serialize(result))


def empty_operation_model(model: Any) -> Any:
    """An operation model with no shapes, to serialise an error no operation was named for."""
    from moto.core.model import OperationModel

    return OperationModel({}, model)


def response_methods(service: str) -> frozenset[str] | None:
    """The method names of moto's response classes for `service` (None: moto has no such service)."""
    from moto.core.responses import BaseResponse

    try:
        module = importlib.import_module(f"moto.{_MOTO_PACKAGES.get(service, service)}.responses")
    except ImportError:
        return None
    names: set[str] = set()
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if issubclass(cls, BaseResponse) and cls is not BaseResponse:
            names.update(name for name in dir(cls) if not name.startswith("_"))
    return frozenset(names)


def method_name(operation: str) -> str:
    """moto's response-method name of an API operation (`CreateBucket` -> `create_bucket`)."""
    from moto.core.utils import camelcase_to_underscores

    return str(camelcase_to_underscores(operation))


# ---- state


def backends(service: str) -> Any:
    """moto's BackendDict of `service` (botocore's name: `s3`, `lambda`, `iam`...): `[account][region]`."""
    from moto.backends import get_backend

    getter: Any = get_backend
    return getter(service)


def reset_backends() -> None:
    """Forget every moto backend's state."""
    from moto.backends import get_backend  # noqa: F401  (imports moto's backends index)
    from moto.core.base_backend import BackendDict

    BackendDict.reset()


def partition(region: str) -> str:
    from moto.utilities.utils import get_partition

    return str(get_partition(region))


def utcnow() -> datetime:
    from moto.core.utils import utcnow as moto_utcnow

    return moto_utcnow()


def s3_bucket(account_id: str, region: str, bucket: str) -> Any | None:
    """moto's S3 bucket `bucket`, or None when it does not exist."""
    from moto.s3.exceptions import MissingBucket

    try:
        return backends("s3")[account_id][partition(region)].get_bucket(bucket)
    except MissingBucket:
        return None


def glue_trigger_parts(update: Mapping[str, Any]) -> tuple[list[Any] | None, Any | None]:
    """moto's (actions, predicate) of a Glue TriggerUpdate; ValueError with Glue's message if invalid."""
    from moto.glue.exceptions import GlueClientError
    from moto.glue.utils import Action, Predicate

    try:
        actions = [Action(a) for a in update["Actions"]] if "Actions" in update else None
        # Glue's Logical defaults to AND; moto's Predicate needs it spelt out.
        predicate = Predicate({"Logical": "AND", **update["Predicate"]}) if update.get("Predicate") else None
    except GlueClientError as exc:
        raise ValueError(str(exc.message)) from None
    return actions, predicate


def render_input_template(template: Any, paths_map: dict[str, Any], event: Any) -> Any:
    """An EventBridge InputTransformer applied to `event`, by moto's parser."""
    from moto.events.utils import EventTemplateParser

    return EventTemplateParser.parse(input_template=template, input_paths_map=paths_map, event=event)


# ---- patches into moto


def install_bucket_permission(decide: Callable[[Any, str, str], bool | None]) -> None:
    """S3 bucket policies judged by `decide(bucket, action, resource)`: True allows, False denies,
    None leaves the decision to identity policies (replacing moto's `FakeBucket.get_permission`)."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(bucket: Any, action: str, resource: str) -> Any:
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        decision = decide(bucket, action, resource)
        if decision is None:
            return PermissionResult.NEUTRAL
        return PermissionResult.PERMITTED if decision else PermissionResult.DENIED

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign,assignment]


def install_s3_lambda_delivery(deliver: Callable[..., None]) -> None:
    """S3 event notifications to Lambda delivered by `deliver` (moto's `_invoke_awslambda` signature)."""
    import moto.s3.notifications as notifications

    notifications._invoke_awslambda = deliver


def install_rds_address_override() -> None:
    """moto's DBInstance.address is a computed property; let a backing store's address
    (`_dcp_address` on the instance) win."""
    from moto.rds.models import DBInstance

    original: Any = DBInstance.__dict__["address"]
    if getattr(original.fget, "_dcp", False):
        return

    def address(self: Any) -> str:
        return str(self.__dict__.get("_dcp_address") or original.fget(self))

    address._dcp = True  # type: ignore[attr-defined]
    DBInstance.address = property(address)  # type: ignore[method-assign,assignment]


def add_rds_failure_event(db_instance: Any, message: str) -> None:
    """Record an RDS event of category "failure" for `db_instance` (DescribeEvents returns it), as
    RDS reports why an instance entered status failed. moto's Event knows only its own event types:
    take one and replace its message and categories."""
    from moto.rds.models import Event

    event = Event("DB_INSTANCE_CREATE", db_instance)
    event.message = message
    event.event_categories = ["failure"]
    db_instance.backend.events.append(event)
