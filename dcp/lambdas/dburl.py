"""The SQLAlchemy URL of a database described by an RDS-style secret (pure; shipped in Lambda zips).

Both drivers are pure Python, so the seed Lambda's zip carries them (a compiled driver such as
psycopg's C build would be built for this machine, not Lambda's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

#: Set by the dcp sandbox only (never on AWS, where an RDS endpoint is a real DNS name): the path of
#: the sandbox's own name table for its DB instances' endpoints, a JSON object
#: {"<id>.<token>.<region>.rds.amazonaws.com": {"host": ..., "port": ..., "dbname": ...}} giving
#: where each instance's data really lives (a SQLite file's absolute path, or a server's host/port).
SANDBOX_ENDPOINTS_ENV = "DCP_SANDBOX_RDS_ENDPOINTS"
RDS_DOMAIN = ".rds.amazonaws.com"


def resolve_host(secret: Mapping[str, Any], endpoints: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The secret with its RDS endpoint replaced by where the sandbox keeps that instance's data.

    `endpoints` defaults to the table named by $DCP_SANDBOX_RDS_ENDPOINTS; without either (on AWS)
    the secret comes back unchanged. On the sandbox, an RDS hostname it does not know is an error
    rather than a DNS lookup that would hang or reach something else.
    """
    out = dict(secret)
    if endpoints is None:
        path = os.environ.get(SANDBOX_ENDPOINTS_ENV)
        if not path:
            return out
        try:
            with open(path, encoding="utf-8") as f:
                endpoints = dict(json.load(f))
        except FileNotFoundError:
            endpoints = {}
    host = str(out.get("host") or "").lower().rstrip(".")
    found = endpoints.get(host)
    if found is None:
        if host.endswith(RDS_DOMAIN):
            raise ValueError(f"the sandbox has no DB instance with the endpoint {host} (deleted, or another sandbox's)")
        return out
    out["host"], out["port"] = found["host"], found["port"]
    if found.get("dbname"):
        out.setdefault("dbname", found["dbname"])
    return out


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
