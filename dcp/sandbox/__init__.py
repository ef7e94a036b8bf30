"""The embedded local AWS: moto's server behind dcp's dispatcher and emulators (see docs/CONTRACTS.md).

Kept import-free: `dcp.cli` imports `dcp.sandbox.control` on every `--local` run, and moto loads
only in the server process (or inside `dcp.sandbox.inprocess`).
"""
