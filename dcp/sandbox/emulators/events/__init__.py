"""EventBridge: PutEvents with delivery to Firehose targets (moto stores such rules, never delivers)."""

from dcp.sandbox.emulators.events import responses as responses  # registers the handlers
