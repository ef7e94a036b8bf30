"""UpdateWorkGroup's configuration merge (moto 5.2.5 lacks the operation); pure.

As Athena defines it: each member of `ConfigurationUpdates` given replaces the setting of the
same name, `Remove*` members drop one, and `ResultConfigurationUpdates` is merged into the
workgroup's `ResultConfiguration` the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _apply(current: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `updates` applied: `RemoveX: true` drops X, any other member is set."""
    out = dict(current)
    for member, value in updates.items():
        if member.startswith("Remove"):
            if value:
                out.pop(member.removeprefix("Remove"), None)
        elif member.endswith("Updates") and isinstance(value, Mapping):
            name = member.removesuffix("Updates")
            out[name] = _apply(out.get(name) or {}, value)
        else:
            out[member] = value
    return out


def updated_configuration(configuration: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """A workgroup's Configuration after UpdateWorkGroup's `ConfigurationUpdates`."""
    return _apply(configuration, updates)
