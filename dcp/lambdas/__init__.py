"""The stack's Lambda handlers (each packaged alone with dburl.py; they import nothing else of dcp)."""
