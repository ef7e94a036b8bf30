"""Glue crawlers, job runs and workflows that run (moto only stores their definitions)."""

from dcp.sandbox.emulators.glue import catalog as catalog
from dcp.sandbox.emulators.glue import responses as responses
