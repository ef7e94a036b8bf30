"""The `dcp` command group: global options, lazy subcommands, error handling and exit codes."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dcp.config import ConfigError, Settings, UnknownPersonaError, load_settings
from dcp.console import OUTPUT_FORMATS, Console, get_console, set_output
from dcp.errors import Failure, describe_error

if TYPE_CHECKING:
    from dcp.aws.session import AwsContext
    from dcp.names import StackNames

# name -> "module:function"; modules import only when their command runs (fast `--help`).
COMMANDS: dict[str, str] = {
    "plan": "dcp.commands.stack:plan",
    "up": "dcp.commands.stack:up",
    "down": "dcp.commands.stack:down",
    "status": "dcp.commands.status:status",
    "classify": "dcp.commands.classify:classify",
    "mask": "dcp.commands.mask:mask",
    "sandbox": "dcp.commands.sandbox:sandbox",
    "seed": "dcp.commands.seed:seed",
    "scan": "dcp.commands.scan:scan",
    "grant": "dcp.commands.grant:grant",
    "query": "dcp.commands.query:query",
    "reveal": "dcp.commands.reveal:reveal",
    "demo": "dcp.commands.demo:demo",
    "audit": "dcp.commands.audit:audit",
    "config": "dcp.commands.config:config",
}


class RuntimeFailure(click.ClickException):
    """A failure at run time (exit code 1) with a one-line, actionable message."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        get_console().error(self.format_message())


class UsageFailure(click.ClickException):
    """A usage or configuration error (exit code 2)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        get_console().error(self.format_message())


@dataclass
class App:
    """What every command receives: options, settings (loaded once) and the AWS context."""

    config_path: str | None
    profile: str | None
    region: str | None
    endpoint_url: str | None
    output: str
    yes: bool
    debug: bool
    local: bool
    _settings: Settings | None = field(default=None, repr=False)
    _aws: AwsContext | None = field(default=None, repr=False)

    @property
    def console(self) -> Console:
        return get_console()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def workdir(self) -> Path:
        """The folder whose `.dcp/` holds sandbox state: the config file's folder."""
        if self.config_path:
            return Path(self.config_path).resolve().parent
        return Path.cwd()

    def resolve_endpoint(self) -> str | None:
        """--endpoint-url, then AWS_ENDPOINT_URL, then --local/DCP_LOCAL, then config `endpoint`."""
        explicit = self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        if explicit:
            return explicit
        if self.is_local:
            from dcp.sandbox.control import ensure_running

            return ensure_running(
                self.workdir / ".dcp", console=self.console, source_url=self.settings.source.sandbox_url or None
            )
        endpoint = self.settings.endpoint
        return None if endpoint == "aws" else endpoint

    @property
    def is_local(self) -> bool:
        """Whether calls go to this folder's sandbox (no explicit endpoint, and local asked for)."""
        return bool(
            not self.endpoint_url
            and not os.environ.get("AWS_ENDPOINT_URL")
            and (self.local or os.environ.get("DCP_LOCAL") == "1" or self.settings.endpoint == "local")
        )

    @property
    def names(self) -> StackNames:
        """Physical names for this config, account and region (no state file)."""
        from dcp.names import StackNames

        return StackNames.of(self.settings, self.aws.account_id, self.aws.region)

    @property
    def aws(self) -> AwsContext:
        if self._aws is None:
            from dcp.aws.session import AwsContext

            endpoint = self.resolve_endpoint()
            if endpoint is not None and self.is_local:
                from dcp.sandbox.control import sandbox_credentials

                for key, value in sandbox_credentials().items():
                    os.environ.setdefault(key, value)
            region = self.region or os.environ.get("AWS_REGION") or self.settings.project.region
            self._aws = AwsContext.create(region=region, profile=self.profile, endpoint_url=endpoint)
        return self._aws


def as_click_failure(exc: BaseException) -> click.ClickException | None:
    """The one mapping of dcp's domain errors to exit codes: configuration and usage errors 2,
    every other :class:`Failure` (pipeline stages, files, AWS described in one line) its own, 1."""
    if isinstance(exc, ConfigError | UnknownPersonaError):
        return UsageFailure(str(exc))
    if isinstance(exc, Failure):
        return UsageFailure(str(exc)) if exc.exit_code == 2 else RuntimeFailure(str(exc))
    return None


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it is invoked or listed in --help."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a domain error ends it as one line and its exit code."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            failure = as_click_failure(exc)
            if failure is None:
                raise
            raise failure from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return accept_global_options(command)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="DCP_CONFIG",
    help="Settings file (default: ./config.yaml, else built-in defaults).",
)
@click.option("--profile", envvar="AWS_PROFILE", help="AWS named profile.")
@click.option("--region", help="AWS region (default: project.region in config).")
@click.option("--endpoint-url", help="Send every AWS call here (also AWS_ENDPOINT_URL).")
@click.option("--local", is_flag=True, help="Use the embedded sandbox (also DCP_LOCAL=1).")
@click.option(
    "--output", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True, help="How results are printed."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--debug", is_flag=True, help="Show tracebacks and AWS request details.")
@click.version_option(package_name="dcp")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    profile: str | None,
    region: str | None,
    endpoint_url: str | None,
    local: bool,
    output: str,
    yes: bool,
    debug: bool,
) -> None:
    """dcp: build and drive a PII-protecting data lake on AWS, or on a local sandbox."""
    set_output(output)
    ctx.obj = App(
        config_path=config_path,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        output=output,
        yes=yes,
        debug=debug,
        local=local,
    )
    if debug:
        import logging

        logging.basicConfig(level=logging.INFO)


pass_app = click.make_pass_decorator(App)

#: App attributes the global options set, by option name (as `cli` declares them).
_GLOBAL_TARGETS = ("config_path", "profile", "region", "endpoint_url", "local", "output", "yes", "debug")


def _apply_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after the command: it wins over the one before it, as users expect."""
    if value is None or value is False or ctx.resilient_parsing:
        return
    app = ctx.find_object(App)
    if app is None or param.name is None:
        return
    setattr(app, param.name, value)
    if param.name == "config_path":
        app._settings = None
    elif param.name == "output":
        set_output(value)
    elif param.name == "debug":
        import logging

        logging.basicConfig(level=logging.INFO)


def accept_global_options(command: click.Command) -> click.Command:
    """Give `command` (and a group's subcommands) every global option, so `dcp plan --output json` works.

    The copies take no environment variables or defaults (the group's own options do) and only
    set what was typed. An option the command declares itself (query's --output, down's --yes)
    is left to the command.
    """
    if getattr(command, "_dcp_globals", False):
        return command
    taken = {opt for param in command.params for opt in param.opts + param.secondary_opts}
    for param in cli.params:
        if not isinstance(param, click.Option) or param.name not in _GLOBAL_TARGETS:
            continue
        if set(param.opts) & taken:
            continue
        command.params.append(
            click.Option(
                param.opts,
                type=None if param.is_flag else param.type,
                is_flag=param.is_flag,
                default=None if not param.is_flag else False,
                expose_value=False,
                callback=_apply_global,
                help=param.help,
                hidden=True,
            )
        )
        command.params[-1].name = param.name
    command._dcp_globals = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_global_options(sub)
    return command


def program() -> None:
    """The `dcp` program (console script, `python -m dcp`): `main()`, then `os._exit` once stdout,
    stderr and the log handlers are flushed. Python's own shutdown would run native libraries'
    static destructors, and pyarrow's thread pools have aborted `dcp reveal` there after it had
    printed everything ("terminate called without an active exception", exit -6). dcp registers
    no atexit work."""
    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int):
            get_console().error(str(code))
            code = 1
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code or 0)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group and turn expected failures into one line and an exit code."""
    _main(argv)


def _main(argv: list[str] | None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="dcp", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        get_console().error("aborted")
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        get_console().error("interrupted")
        sys.exit(130)
    except Exception as exc:
        failure = as_click_failure(exc)  # raised outside a subcommand (e.g. by the group's options)
        if failure is not None:
            failure.show()
            sys.exit(failure.exit_code)
        if debug:
            raise
        get_console().error(describe_error(exc))
        sys.exit(1)
    sys.exit(0)
