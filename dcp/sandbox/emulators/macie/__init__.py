"""Macie: custom data identifiers, classification jobs that really scan S3, findings and events."""

from dcp.sandbox.emulators.macie import responses as responses  # registers the handlers
