"""dcp: build and drive a PII-protecting data lake on AWS or on a local sandbox."""

__version__ = "0.1.0"
