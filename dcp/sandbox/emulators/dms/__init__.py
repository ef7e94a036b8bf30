"""DMS replication tasks that really copy: full load and snapshot-diff CDC into S3."""

from dcp.sandbox.emulators.dms import responses as responses
