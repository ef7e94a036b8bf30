"""`dcp sandbox start|stop|status|logs`: the embedded local AWS of this folder's `.dcp/`."""

from __future__ import annotations

from types import ModuleType

import click

from dcp.cli import App, RuntimeFailure, UsageFailure, pass_app


def _control() -> ModuleType:
    """The control module, imported only when a sandbox command runs."""
    from dcp.sandbox import control

    return control


@click.group()
def sandbox() -> None:
    """The local AWS endpoint (moto + dcp's emulators) on 127.0.0.1; state lives under .dcp/."""


@sandbox.command()
@click.option("--port", type=int, default=0, show_default="a free port", help="TCP port on 127.0.0.1.")
@click.option(
    "--source-url",
    envvar="DCP_SANDBOX_SOURCE_URL",
    help="SQLAlchemy URL of the source database behind the sandbox's RDS "
    "(default: source.sandbox_url in config, else an SQLite file under .dcp/).",
)
@pass_app
def start(app: App, port: int, source_url: str | None) -> None:
    """Start the sandbox in the background and print its URL."""
    if port < 0 or port > 65535:
        raise UsageFailure(f"--port {port} is not a TCP port (0-65535)")
    control = _control()
    try:
        started = control.start(
            app.workdir / ".dcp", port=port, source_url=source_url or app.settings.source.sandbox_url or None
        )
    except control.SandboxError as exc:
        raise RuntimeFailure(str(exc)) from None
    if app.console.machine:
        app.console.data(started.to_dict())
        return
    app.console.text(started.url or "")
    app.console.success(
        f"sandbox running (pid {started.pid}); use --local or --endpoint-url {started.url}; `dcp sandbox stop` ends it"
    )


@sandbox.command()
@pass_app
def stop(app: App) -> None:
    """Stop this folder's sandbox (its state is discarded)."""
    control = _control()
    try:
        stopped = control.stop(app.workdir / ".dcp")
    except control.SandboxError as exc:
        raise RuntimeFailure(str(exc)) from None
    if app.console.machine:
        app.console.data(stopped.to_dict())
        return
    app.console.success(f"sandbox stopped (pid {stopped.pid}, {stopped.url})")


@sandbox.command()
@click.option(
    "--unsupported",
    is_flag=True,
    help="List, per AWS service dcp uses, the operations the sandbox does not serve "
    "(they answer UnsupportedOperation, HTTP 400).",
)
@pass_app
def status(app: App, unsupported: bool) -> None:
    """Whether the sandbox runs, and where. Exit code 1 if it does not."""
    control = _control()
    if unsupported:
        from dcp.sandbox.coverage import unsupported_operations

        try:
            control.require_extra()
        except control.SandboxError as exc:
            raise RuntimeFailure(str(exc)) from None
        missing = unsupported_operations()
        if app.console.machine:
            app.console.data({"unsupported_operations": missing})
        else:
            rows = [{"service": s, "count": len(ops), "operations": ", ".join(ops)} for s, ops in missing.items()]
            app.console.table("operations the sandbox does not serve", ["service", "count", "operations"], rows)
        return
    current = control.status(app.workdir / ".dcp")
    if app.console.machine:
        app.console.data(current.to_dict())
    elif current.running:
        app.console.table(
            "sandbox",
            ["url", "pid", "started_at", "log"],
            [
                {
                    "url": current.url,
                    "pid": current.pid,
                    "started_at": current.started_at,
                    "log": str(current.log_path),
                }
            ],
        )
        app.console.info(
            "operations the sandbox does not serve answer UnsupportedOperation (HTTP 400): "
            "`dcp sandbox status --unsupported` lists them"
        )
    if not current.running:
        raise RuntimeFailure(
            f"the sandbox is not running in {current.state_dir}: start it with "
            "`dcp sandbox start` or pass --local to any command"
        )


@sandbox.command()
@click.option("--lines", "-n", type=int, default=50, show_default=True, help="How many lines.")
@pass_app
def logs(app: App, lines: int) -> None:
    """The last lines of the sandbox log."""
    control = _control()
    try:
        content = control.read_log(app.workdir / ".dcp", lines)
    except control.SandboxError as exc:
        raise RuntimeFailure(str(exc)) from None
    if app.console.machine:
        app.console.data({"lines": content})
        return
    for line in content:
        app.console.out.print(line, highlight=False, markup=False)
