"""Lambda: zip-packaged Python functions run in-process (no Docker) with their env and role."""

from dcp.sandbox.emulators.lambda_ import responses as responses  # registers the handlers
