"""The sandbox without a server: the same dispatcher and emulators, called from botocore directly.

    with sandbox_in_process() as sandbox:
        boto3.client("macie2", region_name="us-east-1").create_classification_job(...)

Like moto's `mock_aws`, a botocore `before-send` handler (registered for every client created
while the context is active, and for the ones created before it) hands each prepared request
to the dispatcher as a WSGI call and returns its answer as an `AWSResponse`; nothing listens on
a port. Leaving the context resets moto's backends and every emulator's state.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

from dcp.sandbox import moto_compat
from dcp.sandbox.dispatcher import Dispatcher
from dcp.sandbox.registry import SandboxConfig, reset_emulator_state

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class _RawBody(io.BytesIO):
    """What AWSResponse expects of `raw`: a readable with `stream()`."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        while True:
            chunk = self.read(65536)
            if not chunk:
                return
            yield chunk


class _Interceptor:
    """The before-send handler; answers only while a sandbox_in_process() context is active."""

    def __init__(self) -> None:
        self.dispatcher: Dispatcher | None = None
        self.lock = threading.Lock()

    def __call__(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
        dispatcher = self.dispatcher
        if dispatcher is None:
            return None
        return call_wsgi(dispatcher, request)


_interceptor = _Interceptor()
BUILTIN_HANDLERS.append(("before-send", _interceptor))


def call_wsgi(app: Any, request: AWSPreparedRequest) -> AWSResponse:
    """Run one botocore request through a WSGI app and wrap the answer for botocore."""
    parts = urlsplit(request.url)
    body = request.body
    if body is None:
        data = b""
    elif isinstance(body, bytes | bytearray):
        data = bytes(body)
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        raw = body.read()
        data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _unquote_path(parts.path or "/"),
        "RAW_URI": parts.path + (f"?{parts.query}" if parts.query else ""),
        "QUERY_STRING": parts.query,
        "SERVER_NAME": parts.hostname or "localhost",
        "SERVER_PORT": str(parts.port or (443 if parts.scheme == "https" else 80)),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "https",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(data)),
        "HTTP_HOST": parts.netloc,
    }
    for name, value in request.headers.items():
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = text
        elif key == "CONTENT_LENGTH" or key == "TRANSFER_ENCODING":
            continue
        else:
            environ[f"HTTP_{key}"] = text
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"] = int(status.split(" ", 1)[0])
        captured["headers"] = headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        payload = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    from botocore.compat import HTTPHeaders

    headers = HTTPHeaders()
    for name, value in captured.get("headers", []):
        headers[name] = value
    return AWSResponse(request.url, captured.get("status", 500), headers, _RawBody(payload))


def _unquote_path(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


@dataclass
class InProcessSandbox:
    """What the context manager yields: the dispatcher and its config."""

    dispatcher: Dispatcher
    config: SandboxConfig


@contextmanager
def sandbox_in_process(
    state_dir: Path | None = None, source_url: str | None = None, *, set_credentials: bool = True
) -> Iterator[InProcessSandbox]:
    """Serve every boto3/botocore call made inside the block from the sandbox, in this process.

    `set_credentials` puts the sandbox admin's fake credentials (and a default region) into the
    environment for the block, as moto's mock_aws does, so no real AWS key is ever used.
    """
    from dcp.sandbox.server import build_app

    with _interceptor.lock:
        if _interceptor.dispatcher is not None:
            raise RuntimeError("sandbox_in_process() is already active")
        tmp = None
        if state_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="dcp-sandbox-")
            state_dir = Path(tmp.name)
        config = SandboxConfig(state_dir=state_dir, source_url=source_url, endpoint_url=None)
        dispatcher = build_app(config)
        _interceptor.dispatcher = dispatcher
    from dcp.sandbox.server import MOTO_SETTINGS

    saved = {key: os.environ.get(key) for key in (*_FAKE_CREDENTIALS, "AWS_DEFAULT_REGION", MOTO_SETTINGS[0])}
    os.environ.setdefault(*MOTO_SETTINGS)
    if set_credentials:
        os.environ.update(_FAKE_CREDENTIALS)
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield InProcessSandbox(dispatcher=dispatcher, config=config)
    finally:
        _interceptor.dispatcher = None
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        moto_compat.reset_backends()
        reset_emulator_state()
        if tmp is not None:
            tmp.cleanup()
