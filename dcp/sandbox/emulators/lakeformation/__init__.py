"""Lake Formation: per-key LF-tag assignment and the state Athena enforces."""

from dcp.sandbox.emulators.lakeformation import responses as responses
from dcp.sandbox.emulators.lakeformation import search as search
