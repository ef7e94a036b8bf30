"""RDS instances backed by a real database (SQLite file or a MySQL/PostgreSQL server)."""

from dcp.sandbox.emulators.rds import responses as responses
