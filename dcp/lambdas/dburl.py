"""The SQLAlchemy URL of a database described by an RDS-style secret (pure; shipped in Lambda zips)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

DRIVERS = {
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "aurora-mysql": "mysql+pymysql",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "aurora-postgresql": "postgresql+psycopg",
}


def sqlalchemy_url(secret: Mapping[str, Any]) -> str:
    """engine mysql -> mysql+pymysql, postgres -> postgresql+psycopg; an absolute path host -> SQLite.

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
