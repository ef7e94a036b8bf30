"""Build each Lambda's deployment zip, byte-for-byte reproducible (so its sha256 says if code changed)."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import io
import zipfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)

#: Pure-Python libraries the seed handler needs beyond the Lambda runtime (boto3 is built in):
#: SQLAlchemy, the MySQL driver, and the PostgreSQL driver pg8000 with its dependencies
#: (scramp, asn1crypto; dateutil and six come with botocore but are shipped so the zip is whole).
SEED_LIBRARIES = (
    "sqlalchemy",
    "typing_extensions",
    "pymysql",
    "pg8000",
    "scramp",
    "asn1crypto",
    "dateutil",
    "six",
)
#: dcp modules the seed handler imports under a flat name (it cannot import the dcp package).
SEED_MODULES = {"dcp_errors.py": HERE.parent / "errors.py"}


class PackagingError(Exception):
    """A library a Lambda zip needs is not installed where dcp runs."""


def _add(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=FIXED_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def _library_files(name: str) -> list[tuple[str, Path]]:
    """(arcname, path) of an installed package's Python files; compiled extensions are skipped
    (they are built for this interpreter, and the libraries above fall back to pure Python)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        # A zip without its driver deploys fine and fails at the first seed: refuse to build it.
        raise PackagingError(f"the Python package {name!r} is not installed; `pip install dcp` installs it")
    origin = Path(spec.origin)
    if origin.name != "__init__.py":
        return [(origin.name, origin)]
    root = origin.parent
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".typed", ".pyi") and "__pycache__" not in path.parts:
            out.append((f"{name}/{path.relative_to(root).as_posix()}", path))
    return out


def _metadata_files(name: str) -> list[tuple[str, Path]]:
    """(arcname, path) of the METADATA of the distribution that provides `name`: libraries such
    as scramp read their own version through importlib.metadata at import time."""
    out = []
    for dist_name in importlib.metadata.packages_distributions().get(name, []):
        dist = importlib.metadata.distribution(dist_name)
        for file in dist.files or []:
            if file.parts[0].endswith(".dist-info") and file.name == "METADATA":
                out.append((file.as_posix(), Path(str(dist.locate_file(file)))))
    return out


def build_zip(handler_module: str, libraries: tuple[str, ...] = (), modules: Mapping[str, Path] | None = None) -> bytes:
    """The zip of `handler_module` with dburl.py, `modules` (arcname -> file) and `libraries`."""
    modules = modules or {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _add(zf, f"{handler_module}.py", (HERE / f"{handler_module}.py").read_bytes())
        _add(zf, "dburl.py", (HERE / "dburl.py").read_bytes())
        for arcname, path in modules.items():
            _add(zf, arcname, path.read_bytes())
        for library in libraries:
            for arcname, path in [*_library_files(library), *_metadata_files(library)]:
                _add(zf, arcname, path.read_bytes())
    return buf.getvalue()


@cache
def workflow_zip() -> bytes:
    return build_zip("start_workflow")


@cache
def seed_zip() -> bytes:
    return build_zip("seed", SEED_LIBRARIES, SEED_MODULES)


def code_sha256(data: bytes) -> str:
    """Lambda's CodeSha256: base64 of the zip's SHA-256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
