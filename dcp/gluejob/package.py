"""Build the Python library the Glue job imports: ``dcp.masking`` and ``dcp.gluejob`` in one zip.

Glue puts the zip given in ``--extra-py-files`` on the driver's and executors' ``sys.path``.
Nothing else of ``dcp`` is shipped: the zip's ``dcp/__init__.py`` is a stub, so importing the
library on Glue never pulls in the CLI, console or config. The archive is reproducible (sorted
entries, fixed timestamps): the same sources give the same bytes, so the deploy engine can
compare a hash and skip the upload when nothing changed.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

PACKAGES = ("masking", "gluejob")
STUB_INIT = '"""dcp: the part of dcp the Glue job uses (dcp.masking, dcp.gluejob)."""\n'
_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_SUFFIXES = (".pyc", ".pyo")


def _sources(root: Path) -> list[tuple[str, Path]]:
    entries = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix in _SKIP_SUFFIXES:
                continue
            entries.append((f"dcp/{path.relative_to(root).as_posix()}", path))
    return entries


def build_glue_library(dest_zip: str | Path) -> Path:
    """Write the library zip to ``dest_zip`` and return its path."""
    root = Path(__file__).resolve().parents[1]  # the dcp package directory
    dest = Path(dest_zip)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "dcp/__init__.py", STUB_INIT.encode())
        for name, path in _sources(root):
            _add(archive, name, path.read_bytes())
    return dest


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
