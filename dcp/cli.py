"""The `dcp` command group: global options, lazy subcommands, error handling and exit codes."""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dcp.config import ConfigError, Settings, UnknownPersonaError, load_settings
from dcp.console import OUTPUT_FORMATS, Console, get_console, set_output

if TYPE_CHECKING:
    from dcp.aws.session import AwsContext

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


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it is invoked or listed in --help."""

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
        return command


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


def describe_aws_error(exc: BaseException) -> str | None:
    """One line for an AWS failure a user can act on, or None if `exc` is not one."""
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
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = error.get("Message", "")
        op = getattr(exc, "operation_name", "")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return "your AWS credentials have expired: refresh them (e.g. `aws sso login`) and retry"
        if code in ("InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId"):
            return "AWS does not recognise these credentials: check --profile / AWS_ACCESS_KEY_ID"
        if "AccessDenied" in code:
            return f"access denied for {op}: {message}"
        return f"{op} failed: {code}: {message}"
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group and turn expected failures into one line and an exit code."""
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
    except (ConfigError, UnknownPersonaError) as exc:
        get_console().error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        get_console().error("interrupted")
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        line = describe_aws_error(exc)
        if line is None:
            line = f"{type(exc).__name__}: {exc} (run with --debug for the traceback)"
        get_console().error(line)
        sys.exit(1)
    sys.exit(0)
