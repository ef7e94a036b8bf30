"""The sandbox server process: `python -m dcp.sandbox.server --port N --state-dir DIR`.

Binds 127.0.0.1 only, serves the dispatcher (dcp emulators + moto) on a threaded WSGI server,
answers `GET /_dcp/health`, and writes `DIR/sandbox.json` (pid, port, url) atomically once it
listens, removing it again when it stops (SIGTERM/SIGINT). All state lives in this process.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.dispatcher import Dispatcher
from dcp.sandbox.registry import SandboxConfig

HOST = "127.0.0.1"
STATE_FILE = "sandbox.json"
LOG_FILE = "sandbox.log"
# Exit code when the port cannot be bound: the controller turns it into one clear line.
EXIT_PORT_IN_USE = 3

log = logging.getLogger("dcp.sandbox")

# AWS managed policies (AWSGlueServiceRole, ...) exist in every account, so the stack may attach
# them; moto loads them only when asked.
MOTO_SETTINGS = ("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` so a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def build_app(config: SandboxConfig) -> Dispatcher:
    """The dispatcher with every emulator package loaded."""
    from dcp.sandbox.emulators import load_emulators

    loaded = load_emulators()
    log.info("sandbox: emulators loaded: %s", ", ".join(loaded) or "none")
    return Dispatcher(config)


def serve(port: int, state_dir: Path, source_url: str | None) -> int:
    from werkzeug.serving import make_server

    state_dir.mkdir(parents=True, exist_ok=True)
    holder: dict[str, Dispatcher] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    try:
        server = make_server(HOST, port, app, threaded=True, request_handler=moto_compat.request_handler())
    except OSError as exc:
        log.error("sandbox: cannot listen on %s:%s: %s", HOST, port, exc)
        return EXIT_PORT_IN_USE
    bound_port = int(server.server_address[1])
    url = f"http://{HOST}:{bound_port}"
    config = SandboxConfig(state_dir=state_dir.resolve(), source_url=source_url, endpoint_url=url)
    holder["app"] = build_app(config)

    def stop(signum: int, frame: Any) -> None:
        log.info("sandbox: signal %s, stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    state_path = state_dir / STATE_FILE
    write_json_atomic(
        state_path,
        {
            "pid": os.getpid(),
            "port": bound_port,
            "url": url,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source_url_set": bool(source_url),
        },
    )
    log.info("sandbox: listening on %s (pid %s)", url, os.getpid())
    try:
        server.serve_forever()
    finally:
        try:
            current = json.loads(state_path.read_text(encoding="utf-8"))
            if current.get("pid") == os.getpid():
                state_path.unlink()
        except (OSError, ValueError):
            pass
        log.info("sandbox: stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcp.sandbox.server", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--state-dir", type=Path, required=True, help="folder for sandbox.json and caches")
    parser.add_argument(
        "--source-url",
        default=os.environ.get("DCP_SANDBOX_SOURCE_URL"),
        help="SQLAlchemy URL of the source database behind the RDS emulator",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault(*MOTO_SETTINGS)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return serve(args.port, args.state_dir, args.source_url)


if __name__ == "__main__":
    sys.exit(main())
