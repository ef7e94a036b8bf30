"""Objects in moto's S3 backend as local files: list, mirror to disk, store from disk.

The data-plane emulators (DMS, Glue, Athena) move data in and out of S3 in-process, in
chunks, so a large object never has to sit in memory whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dcp.sandbox import moto_compat

CHUNK = 8 << 20


class S3Missing(Exception):
    """The bucket or key does not exist."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix")."""
    parts = urlsplit(uri)
    if parts.scheme not in ("s3", "s3a", "s3n") or not parts.netloc:
        raise ValueError(f"not an S3 URI: {uri!r}")
    return parts.netloc, parts.path.lstrip("/")


def backend(account_id: str, region: str = "us-east-1") -> Any:
    return moto_compat.backends("s3")[account_id][moto_compat.partition(region)]


def _bucket(account_id: str, bucket: str) -> Any:
    found = moto_compat.s3_bucket(account_id, "us-east-1", bucket)
    if found is None:
        raise S3Missing(f"bucket {bucket} does not exist")
    return found


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    etag: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def list_objects(account_id: str, bucket: str, prefix: str = "") -> list[S3Object]:
    """Current (non-deleted) objects under `prefix`, sorted by key."""
    b = _bucket(account_id, bucket)
    out = []
    for name, key in list(b.keys.items()):
        if not name.startswith(prefix) or not hasattr(key, "contentsize"):
            continue
        out.append(S3Object(bucket, name, int(key.contentsize or 0), key.etag.strip('"')))
    return sorted(out, key=lambda o: o.key)


def _key(account_id: str, bucket: str, key: str) -> Any:
    b = _bucket(account_id, bucket)
    k = b.keys.get(key)
    if k is None or not hasattr(k, "_value_buffer"):
        raise S3Missing(f"s3://{bucket}/{key} does not exist")
    return k


def iter_chunks(account_id: str, bucket: str, key: str, limit: int | None = None) -> Iterator[bytes]:
    """The object's bytes in chunks (at most `limit` bytes)."""
    k = _key(account_id, bucket, key)
    pos, left = 0, limit if limit is not None else float("inf")
    while left > 0:
        with k.lock:
            k._value_buffer.seek(pos)
            chunk = k._value_buffer.read(int(min(CHUNK, left)))
        if not chunk:
            return
        pos += len(chunk)
        left -= len(chunk)
        yield chunk


def download(account_id: str, bucket: str, key: str, dest: Path, limit: int | None = None) -> Path:
    """Copy an object (or its first `limit` bytes) to `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    # per thread: two concurrent queries may mirror the same object (os.replace is atomic)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.part")
    with tmp.open("wb") as f:
        for chunk in iter_chunks(account_id, bucket, key, limit):
            f.write(chunk)
    os.replace(tmp, dest)
    return dest


def mirror(account_id: str, obj: S3Object, cache_dir: Path) -> Path:
    """A local copy of `obj` under `cache_dir`, reused while the object's ETag is unchanged."""
    digest = hashlib.sha1(f"{obj.bucket}/{obj.key}".encode()).hexdigest()[:16]
    suffix = Path(obj.key).suffix
    dest = cache_dir / obj.bucket / f"{digest}-{obj.etag}{suffix}"
    if not dest.exists():
        for stale in dest.parent.glob(f"{digest}-*") if dest.parent.exists() else ():
            stale.unlink(missing_ok=True)
        download(account_id, obj.bucket, obj.key, dest)
    return dest


def upload(
    account_id: str,
    bucket: str,
    key: str,
    source: Path | bytes,
    *,
    content_type: str = "binary/octet-stream",
    encryption: str | None = None,
    kms_key_id: str | None = None,
) -> S3Object:
    """Store a local file (streamed in chunks) or bytes as an object; bucket default encryption applies."""
    s3 = backend(account_id)
    _bucket(account_id, bucket)
    k = s3.put_object(
        bucket,
        key,
        source if isinstance(source, bytes) else b"",
        encryption=encryption,
        kms_key_id=kms_key_id,
        disable_notification=True,
    )
    if not isinstance(source, bytes):
        # moto keeps the value in a spooled temp file; fill it in chunks instead of one bytes blob.
        with k.lock, source.open("rb") as f:
            k._value_buffer.seek(0)
            k._value_buffer.truncate()
            shutil.copyfileobj(f, k._value_buffer, CHUNK)
            k.contentsize = k._value_buffer.tell()
            k._etag = None
    k.set_metadata({"Content-Type": content_type})
    return S3Object(bucket, key, int(k.contentsize), k.etag.strip('"'))
