"""Athena queries on DuckDB over Glue tables, enforcing Lake Formation column permissions."""

from dcp.sandbox.emulators.athena import catalog as catalog
from dcp.sandbox.emulators.athena import responses as responses
