"""STS: GetCallerIdentity answers with the identity the sandbox's gates evaluate."""

from dcp.sandbox.emulators.sts import responses as responses  # registers the handlers
