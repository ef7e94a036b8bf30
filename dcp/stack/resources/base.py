"""The resource model: one remote thing `up` creates, with read / create / update / delete.

A resource compares a *desired* spec (a plain dict built from settings and names) with the
*current* one `read` returns (the same keys, normalised the same way). Keys starting with `_`
in `read`'s result are facts for display (ARN, state, ownership), never compared.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import unquote

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from dcp.aws.session import AwsContext
    from dcp.names import StackNames
    from dcp.stack.refs import Refs

T = TypeVar("T")

#: Tag key marking that this stack (not someone before it) created an account-level thing.
OWNER_TAG = "dcp:created-by"

#: How long a create may keep retrying while IAM/KMS changes propagate (AWS is eventually consistent).
PROPAGATION_SECONDS = 90.0


class Resource:
    """A stack resource. Subclasses set `kind` and implement the four operations."""

    kind: ClassVar[str] = "resource"
    #: Fields that cannot be changed in place: a difference there means delete + create.
    replace_fields: ClassVar[frozenset[str]] = frozenset()
    #: A thing earlier versions of the stack created and this one no longer wants: `up` deletes it
    #: when it exists (a DELETE step) and plans nothing when it does not; `status` lists it only
    #: while it exists.
    retired: ClassVar[bool] = False

    def __init__(self, logical: str, physical: str, refs: Refs, depends_on: Iterable[Resource | str] = ()) -> None:
        """`depends_on`: the resources this one needs first (the engine's own tests name them by
        logical name); kept as logical names, which the planner orders by."""
        self.logical = logical
        self.physical = physical
        self.refs = refs
        self.depends_on = tuple(d if isinstance(d, str) else d.logical for d in depends_on)

    @property
    def names(self) -> StackNames:
        return self.refs.names

    @property
    def tags(self) -> dict[str, str]:
        return self.refs.names.tags()

    # ---- the four operations
    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        raise NotImplementedError

    def desired(self) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, ctx: AwsContext) -> None:
        raise NotImplementedError

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        """Change only `changed`; the default replaces the resource."""
        self.delete(ctx)
        self.create(ctx)

    def delete(self, ctx: AwsContext) -> None:
        raise NotImplementedError

    # ---- display
    def owned(self, current: Mapping[str, Any]) -> bool:
        """False for things that existed before the stack; `down` leaves them in place."""
        return bool(current.get("_owned", True))

    def where(self, current: Mapping[str, Any] | None) -> str:
        if current and current.get("_arn"):
            return str(current["_arn"])
        return self.physical

    def state(self, current: Mapping[str, Any] | None) -> str:
        if current is None:
            return "absent"
        return str(current.get("_state", "present"))

    def __repr__(self) -> str:
        return f"<{self.kind} {self.logical} {self.physical}>"


# --------------------------------------------------------------------------- helpers


def retry_while(
    fn: Callable[[], T],
    retry: Callable[[ClientError], bool],
    *,
    deadline_seconds: float = PROPAGATION_SECONDS,
    delay: float = 3.0,
) -> T:
    """Call `fn`, retrying the errors `retry` accepts until the deadline (IAM propagation)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            return fn()
        except ClientError as exc:
            if not retry(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)


def policy_doc(value: Any) -> Any:
    """A policy document as a dict, whether AWS returned a dict, JSON or URL-encoded JSON."""
    if value is None or isinstance(value, dict):
        return value
    text = str(value)
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    return json.loads(text)


def canonical(value: Any) -> Any:
    """Normalise a policy-like document: one-element lists and scalars compare equal, keys sorted."""
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        items = [canonical(v) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def tag_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def tag_dict(tags: Iterable[Mapping[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags or ()}


def tags_match(desired: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """The desired tags as they are in `current` (extra tags others put there are ignored)."""
    return {k: current[k] for k in desired if k in current}


def wait_until(check: Callable[[], bool], *, what: str, deadline_seconds: float, delay: float = 5.0) -> None:
    """Poll `check` until it is true; TimeoutError naming `what` after the deadline.

    For conditions boto3 has no waiter for (or whose waiter treats "gone" as a failure).
    """
    deadline = time.monotonic() + deadline_seconds
    while not check():
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"gave up after {deadline_seconds:.0f}s waiting for {what}")
        time.sleep(delay)
