"""Athena queries on DuckDB over Glue tables, enforcing Lake Formation column permissions."""

from dcp.sandbox.emulators.athena import catalog_api as catalog_api
from dcp.sandbox.emulators.athena import responses as responses
