"""dcp's emulators: one package per AWS service, each registering its operations on import.

Layout like moto's: ``models.py`` holds state and behaviour in plain classes, ``responses.py``
the ``@emulates``/``@after`` functions that translate a :class:`~dcp.sandbox.registry.Call`
into model calls. A package's ``__init__`` imports its ``responses`` so importing the package
registers it.
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger("dcp.sandbox")

#: Every emulator package, imported by :func:`load_emulators`. A package not (yet) present is
#: skipped, so the sandbox runs with whatever emulators exist.
EMULATOR_PACKAGES = (
    "kms",
    "macie",
    "events",
    "firehose",
    "s3_notifications",
    "lambda_",
    "rds",
    "dms",
    "glue",
    "athena",
    "lakeformation",
    "sts",
)


#: Packages that exist but failed to import, with the error (logged; shown by /_dcp/health).
FAILED: dict[str, str] = {}


def load_emulators() -> list[str]:
    """Import (and so register) every emulator package present; the names loaded.

    A package that fails to import is logged and skipped: the rest of the sandbox still serves.
    """
    loaded = []
    for name in EMULATOR_PACKAGES:
        module_name = f"{__name__}.{name}"
        try:
            importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            log.exception("sandbox: emulator %s failed to import", name)
            FAILED[name] = f"{type(exc).__name__}: {exc}"
            continue
        except Exception as exc:
            log.exception("sandbox: emulator %s failed to import", name)
            FAILED[name] = f"{type(exc).__name__}: {exc}"
            continue
        loaded.append(name)
    return loaded
