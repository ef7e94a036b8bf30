"""`python -m dcp` runs the CLI."""

from dcp.cli import main

main()
