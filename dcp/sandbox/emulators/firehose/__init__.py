"""Firehose: records delivered to the stream's S3 destination with its prefix and delimiter rules."""

from dcp.sandbox.emulators.firehose import responses as responses  # registers the handlers
