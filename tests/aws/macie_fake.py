"""Macie custom data identifiers for tests: moto 5.2.5 does not implement them.

The issue allows botocore stubbing for exactly these four calls; this is a stateful stub on
botocore's `before-call` event (the mechanism botocore's Stubber uses), with parameters
validated against the botocore model, so create/list/get/delete behave consistently whatever
order the concurrent deployer calls them in. Swap it for `dcp.sandbox.inprocess` once the
sandbox emulates Macie custom data identifiers: only the `macie_identifiers` fixture uses it.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from botocore.validate import validate_parameters

OPERATIONS = (
    "CreateCustomDataIdentifier",
    "GetCustomDataIdentifier",
    "ListCustomDataIdentifiers",
    "DeleteCustomDataIdentifier",
)


class FakeCustomIdentifiers:
    def __init__(self, account_id: str = "123456789012", region: str = "us-east-1") -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.account_id, self.region = account_id, region

    def register(self, events: Any) -> None:
        for op in OPERATIONS:
            events.register(f"before-call.macie2.{op}", self.handle, unique_id=f"fake-macie-{op}")

    def handle(self, model: Any, params: dict[str, Any], **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        raw = params.get("body") or b"{}"
        body = json.loads(raw) if isinstance(raw, bytes | str) else dict(raw)
        url_path = params.get("url_path", "")
        args = dict(body)
        op = model.name
        with self.lock:
            if op == "CreateCustomDataIdentifier":
                validate_parameters(args, model.input_shape)
                if any(i["name"] == args["name"] for i in self.items.values()):
                    return self._error(409, "ConflictException", "name already used")
                cid = str(uuid.uuid4())
                self.items[cid] = {
                    **args,
                    "id": cid,
                    "arn": f"arn:aws:macie2:{self.region}:{self.account_id}:custom-data-identifier/{cid}",
                    "deleted": False,
                }
                return self._ok({"customDataIdentifierId": cid})
            if op == "ListCustomDataIdentifiers":
                items = [{"id": i["id"], "name": i["name"], "arn": i["arn"]} for i in self.items.values()]
                return self._ok({"items": items})
            cid = url_path.rstrip("/").rsplit("/", 1)[-1]
            item = self.items.get(cid)
            if item is None:
                return self._error(404, "ResourceNotFoundException", "no such custom data identifier")
            if op == "GetCustomDataIdentifier":
                return self._ok(dict(item))
            del self.items[cid]
            return self._ok({})

    @staticmethod
    def _ok(parsed: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return _Http(200), {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    @staticmethod
    def _error(status: int, code: str, message: str) -> tuple[Any, dict[str, Any]]:
        return _Http(status), {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
