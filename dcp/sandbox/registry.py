"""The emulator registry: which dcp function serves or follows which AWS (service, operation).

Emulators register here when their package is imported (see :mod:`dcp.sandbox.emulators`);
the dispatcher in :mod:`dcp.sandbox.dispatcher` looks operations up here and falls back to moto.

* ``@emulates(service, operation)`` — the function *replaces* moto for that operation. It
  receives a :class:`Call` and returns the output as a dict shaped like the operation's
  botocore output shape (the dispatcher serialises it per the service's protocol), or raises
  :class:`AwsError`.
* ``@after(service, operation)`` — the function runs *after* moto (or an emulator) answered
  the operation, with the :class:`Call` and the HTTP status; it cannot change the response.
  Hooks run synchronously; one that is slow should hand its work to a thread.
* A handler returning :data:`FORWARD` hands the call to moto (an authorisation guard).

Service names are botocore's (``macie2``, ``events``, ``firehose``, ``s3``, ``lambda``,
``kms``, ``glue``, ``dms``, ``rds``, ``athena``, ``lakeformation``), operations are the API
names (``CreateClassificationJob``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from dcp.sandbox.identity import Principal

T = TypeVar("T")


@dataclass(frozen=True)
class SandboxConfig:
    """What an emulator may know about the sandbox it runs in."""

    state_dir: Path
    source_url: str | None = None
    # The sandbox's own URL (http://127.0.0.1:PORT); None in in-process mode, where boto3
    # clients reach the sandbox through the botocore hook instead of the network.
    endpoint_url: str | None = None


@dataclass(frozen=True)
class RawRequest:
    """The HTTP request as received, for emulators that need more than the parsed params."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Call:
    """One AWS API call as an emulator sees it."""

    service: str
    operation: str
    params: dict[str, Any]
    account_id: str
    region: str
    principal: Principal
    sandbox: SandboxConfig
    request: RawRequest | None = field(default=None, repr=False)


class AwsError(Exception):
    """An AWS error response: serialised per protocol (json `__type`, query ErrorResponse XML).

    `status` None means the status modelled for `code` in the service's model, else 400.
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class _Forward(dict[str, Any]):
    """The sentinel type of :data:`FORWARD`."""


#: Return this from an ``@emulates`` handler to let moto serve the call after all (e.g. after an
#: authorisation check passed).
FORWARD: dict[str, Any] = _Forward()

#: The call moto is serving on this thread (set by the dispatcher while moto runs), for code
#: patched into moto that needs the caller, e.g. bucket-policy evaluation.
current_call: ContextVar[Call | None] = ContextVar("dcp_sandbox_current_call", default=None)

Handler = Callable[[Call], dict[str, Any]]
AfterHook = Callable[[Call, int], None]

_handlers: dict[tuple[str, str], Handler] = {}
_after_hooks: dict[tuple[str, str], list[AfterHook]] = {}
_resetters: list[Callable[[], None]] = []


def emulates(service: str, operation: str) -> Callable[[Handler], Handler]:
    """Register `fn(call) -> output dict` as the handler of (service, operation), replacing moto."""

    def register(fn: Handler) -> Handler:
        _handlers[(service, operation)] = fn
        return fn

    return register


def after(service: str, operation: str) -> Callable[[AfterHook], AfterHook]:
    """Register `fn(call, status)` to run after (service, operation) was answered."""

    def register(fn: AfterHook) -> AfterHook:
        hooks = _after_hooks.setdefault((service, operation), [])
        if fn not in hooks:
            hooks.append(fn)
        return fn

    return register


def unregister(service: str, operation: str, fn: Handler | AfterHook) -> None:
    """Remove a handler or after-hook (tests that register their own)."""
    if _handlers.get((service, operation)) is fn:
        del _handlers[(service, operation)]
    hooks = _after_hooks.get((service, operation), [])
    if fn in hooks:
        hooks.remove(fn)


def handler_for(service: str, operation: str) -> Handler | None:
    return _handlers.get((service, operation))


def after_hooks_for(service: str, operation: str) -> list[AfterHook]:
    return list(_after_hooks.get((service, operation), ()))


def has_emulation(service: str, operation: str) -> bool:
    key = (service, operation)
    return key in _handlers or key in _after_hooks


def registered_operations() -> list[tuple[str, str]]:
    """Every (service, operation) a dcp emulator serves (not hooks), sorted."""
    return sorted(_handlers)


class AccountRegionStore(Generic[T]):
    """Per (account, region) state of one emulator; emptied by :func:`reset_emulator_state`."""

    def __init__(self, factory: Callable[[str, str], T]) -> None:
        self._factory = factory
        self._items: dict[tuple[str, str], T] = {}
        self._lock = threading.Lock()
        _resetters.append(self.reset)

    def __getitem__(self, key: tuple[str, str]) -> T:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = self._factory(*key)
                self._items[key] = item
            return item

    def items(self) -> list[tuple[tuple[str, str], T]]:
        with self._lock:
            return list(self._items.items())

    def reset(self) -> None:
        with self._lock:
            self._items.clear()


def on_reset(fn: Callable[[], None]) -> Callable[[], None]:
    """Register `fn()` to clear emulator state kept outside an :class:`AccountRegionStore`."""
    _resetters.append(fn)
    return fn


_active_config: list[SandboxConfig] = []


def set_active_config(config: SandboxConfig) -> None:
    """Called by the dispatcher: the config code outside a Call (moto callbacks, threads) sees."""
    _active_config[:] = [config]


def active_config() -> SandboxConfig:
    """The running sandbox's config (for code that has no :class:`Call`, e.g. moto callbacks)."""
    if not _active_config:
        raise RuntimeError("no sandbox is running in this process")
    return _active_config[0]


def reset_emulator_state() -> None:
    """Forget every emulator's state (moto's backends are reset separately)."""
    for reset in list(_resetters):
        reset()
