"""The stack's resources, one module per AWS service; base.py holds the resource model."""
