"""The SQLAlchemy URL of a database described by an RDS-style secret (pure; shipped in Lambda zips).

Both drivers are pure Python, so the seed Lambda's zip carries them (a compiled driver such as
psycopg's C build would be built for this machine, not Lambda's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "aurora-mysql": "mysql+pymysql",
    "postgres": "postgresql+pg8000",
    "postgresql": "postgresql+pg8000",
    "aurora-postgresql": "postgresql+pg8000",
}


def sqlalchemy_url(secret: Mapping[str, Any]) -> str:
    """engine mysql -> mysql+pymysql, postgres -> postgresql+pg8000; an absolute path host -> SQLite.

    The secret has RDS's fields: engine, host, port, username, password, dbname.
    """
    host = str(secret.get("host") or "")
    if host.startswith("/"):
        return f"sqlite:///{host}"
    engine = str(secret.get("engine") or "").lower()
    if engine not in DRIVERS:
        raise ValueError(f"unsupported database engine {engine!r}; expected one of: {', '.join(sorted(DRIVERS))}")
    if not host:
        raise ValueError("the database secret has no host yet (is the instance available?)")
    user = quote(str(secret.get("username") or ""), safe="")
    password = quote(str(secret.get("password") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{int(secret['port'])}" if secret.get("port") else ""
    dbname = quote(str(secret.get("dbname") or ""), safe="")
    return f"{DRIVERS[engine]}://{auth}{host}{port}/{dbname}"


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def connect_args(secret: Mapping[str, Any]) -> dict[str, Any]:
    """Driver arguments: TLS for PostgreSQL beyond loopback.

    RDS for PostgreSQL 15 and later sets rds.force_ssl=1 and refuses unencrypted connections,
    and pg8000 (unlike libpq's sslmode=prefer) connects in plaintext unless given a context.
    The context encrypts without verifying the server certificate (libpq's sslmode=require):
    the RDS CA bundle is not in the zip. A loopback server (the sandbox's) gets no TLS.
    """
    engine = str(secret.get("engine") or "").lower()
    host = str(secret.get("host") or "")
    if DRIVERS.get(engine, "").startswith("postgresql") and host and host not in LOOPBACK and not host.startswith("/"):
        import ssl

        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return {"ssl_context": context}
    return {}
