"""Masking policy: which action each detected data type gets.

Actions are ranked by how much they protect, strongest first::

    drop > encrypt > token > partial > redact > keep

When a column holds several detected types, the strongest of their actions wins. ``drop``
removes the value entirely; ``encrypt`` keeps it recoverable only with kms:Decrypt; a
``token`` still links equal values but reveals nothing else; ``partial`` leaves a few
characters visible, ``redact`` none (but, unlike a token, cannot be joined on).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from dcp.masking.identifiers import canonical_type, category_of


class Action(StrEnum):
    REDACT = "redact"
    PARTIAL = "partial"
    TOKEN = "token"
    ENCRYPT = "encrypt"
    KEEP = "keep"
    DROP = "drop"

    @property
    def strength(self) -> int:
        return _STRENGTH[self]


_STRENGTH = {
    Action.KEEP: 0,
    Action.REDACT: 1,
    Action.PARTIAL: 2,
    Action.TOKEN: 3,
    Action.ENCRYPT: 4,
    Action.DROP: 5,
}


def strongest(actions: Iterable[Action]) -> Action:
    """The most protective action of ``actions`` (KEEP when there are none)."""
    return max(actions, key=lambda action: action.strength, default=Action.KEEP)


@dataclass(frozen=True)
class MaskingPolicy:
    """Data type -> action.

    Keys are Macie managed identifier IDs (aliases such as ``IBAN`` or
    ``CREDIT_CARD_NUMBER_(NO_KEYWORD)`` count as their identifier), custom identifier names, or
    a category (``FINANCIAL_INFORMATION``, ``PERSONAL_INFORMATION``, ``CREDENTIALS``,
    ``CUSTOM_IDENTIFIER``) as a fallback for every type in it; all case-insensitive.
    """

    actions: Mapping[str, Action] = field(default_factory=dict)
    default_action: Action = Action.REDACT
    partial_keep: int = 4
    joinable_types: frozenset[str] = frozenset()
    redact_mask: str = "****"

    def __post_init__(self) -> None:
        normalised = {canonical_type(key): Action(value) for key, value in self.actions.items()}
        object.__setattr__(self, "actions", MappingProxyType(normalised))
        object.__setattr__(self, "default_action", Action(self.default_action))
        object.__setattr__(self, "joinable_types", frozenset(canonical_type(t) for t in self.joinable_types))
        if self.partial_keep < 0:
            raise ValueError(f"partial_keep must be >= 0, got {self.partial_keep}")

    def action_for(self, data_type: str) -> Action:
        """The action for a detected type: by its ID, else by its category, else the default."""
        canonical = canonical_type(data_type)
        if canonical in self.actions:
            return self.actions[canonical]
        return self.actions.get(str(category_of(canonical)), self.default_action)

    def is_joinable(self, data_type: str) -> bool:
        return canonical_type(data_type) in self.joinable_types
