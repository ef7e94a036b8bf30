"""`python -m dcp` runs the CLI."""

from dcp.cli import program

program()
