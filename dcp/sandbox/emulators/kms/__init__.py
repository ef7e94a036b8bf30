"""KMS: moto keeps keys and does the cryptography; :mod:`.models` answers who may use a key."""
