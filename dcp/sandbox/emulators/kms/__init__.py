"""KMS: key policies and grants enforced for the calling principal on cryptographic operations."""

from dcp.sandbox.emulators.kms import responses as responses  # registers the handlers
