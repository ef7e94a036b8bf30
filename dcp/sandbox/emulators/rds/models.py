"""The real database behind a sandbox RDS instance: a SQLite file, or a database on a server.

Without a source URL each DB instance is an embedded SQLite file `<state_dir>/rds/<id>.sqlite`.
With a SQLAlchemy URL of a MySQL/MariaDB or PostgreSQL server, the instance is the database DBName
on that server, reached by the MasterUsername/MasterUserPassword login the sandbox creates.

Either way DescribeDBInstances reports what RDS reports: Endpoint.Address
`<db-instance-id>.<token>.<region>.rds.amazonaws.com` (the token fixed per account and region, as
on AWS) and the instance's Port (the engine's default unless CreateDBInstance named one). That name
resolves nowhere: the sandbox keeps its own name table, `<state_dir>/rds/endpoints.json`, mapping
each hostname to where the data lives; its Lambdas get the table's path in
$DCP_SANDBOX_RDS_ENDPOINTS and `dcp.lambdas.dburl.resolve_host` applies it (the seed Lambda), and
its DMS reads the same table in-process. `dcp.lambdas.dburl.sqlalchemy_url` then turns the
resolved RDS-style secret into the URL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger("dcp.sandbox")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


class BackingError(Exception):
    """The backing database could not be created or reached."""


@dataclass
class BackingStore:
    """Where one DB instance's data lives."""

    instance_id: str
    kind: str  # sqlite | mysql | postgres
    address: str  # the SQLite file's absolute path, or the server's host
    port: int  # 0 for SQLite
    database: str
    created_database: bool = False
    source_url: str | None = None  # the admin URL (PG/MySQL), never shown
    hostname: str = ""  # the RDS endpoint DescribeDBInstances reports


def endpoint_hostname(instance_id: str, account_id: str, region: str) -> str:
    """RDS's endpoint name: `<db-instance-id>.<token>.<region>.rds.amazonaws.com`, lower case, where
    the 12-character token is the same for every instance of one account and region
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ConnectToInstance.html)."""
    digest = int.from_bytes(hashlib.sha256(f"{account_id}:{region}".encode()).digest()[:10], "big")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    token = ""
    for _ in range(12):
        digest, n = divmod(digest, len(alphabet))
        token += alphabet[n]
    return f"{instance_id.lower()}.{token}.{region}.rds.amazonaws.com"


def _safe_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise BackingError(f"{what} {name!r} is not a name the sandbox can create on the server")
    return name


def _quote_literal(value: str, backend: str) -> str:
    """A SQL string literal. MySQL/MariaDB treat a backslash as an escape inside quotes (unless
    NO_BACKSLASH_ESCAPES); PostgreSQL, with standard_conforming_strings on (its default), does not."""
    if backend != "postgresql":
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"


def _ddl(conn: Any, statement: str) -> None:
    """Run a statement as written. A master password is any printable ASCII but / " @ and space
    (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html), so it
    may hold `:name` (a bind parameter to SQLAlchemy's text()) or `%` (a format to pyformat
    drivers): no_parameters hands the statement to the driver's cursor.execute untouched."""
    conn.exec_driver_sql(statement, execution_options={"no_parameters": True})


class RdsBackings:
    """Backing stores of every DB instance of one account/region."""

    def __init__(self) -> None:
        self.stores: dict[str, BackingStore] = {}
        self.lock = threading.Lock()

    def provision(
        self,
        *,
        instance_id: str,
        hostname: str,
        db_name: str,
        username: str,
        password: str,
        state_dir: Path,
        source_url: str | None,
    ) -> BackingStore:
        if not source_url:
            path = (state_dir / "rds" / f"{instance_id}.sqlite").resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            sqlite3.connect(path).close()
            store = BackingStore(instance_id, "sqlite", str(path), 0, db_name or instance_id)
        else:
            store = _provision_server(instance_id, db_name or instance_id, username, password, source_url)
        store.hostname = hostname
        with self.lock:
            self.stores[instance_id] = store
        return store

    def remove(self, instance_id: str) -> BackingStore | None:
        with self.lock:
            store = self.stores.pop(instance_id, None)
        if store is None:
            return None
        if store.kind == "sqlite":
            Path(store.address).unlink(missing_ok=True)
        elif store.created_database and store.source_url:
            _drop_server_database(store)
        return store

    def endpoints(self) -> dict[str, dict[str, Any]]:
        """hostname -> where the data lives, as `dcp.lambdas.dburl.resolve_host` reads it."""
        with self.lock:
            return {
                s.hostname: {"host": s.address, "port": s.port, "dbname": s.database}
                for s in self.stores.values()
                if s.hostname
            }


def endpoints_path(state_dir: Path) -> Path:
    """The sandbox's name table of RDS endpoints (see the module's docstring)."""
    return state_dir / "rds" / "endpoints.json"


def write_endpoints(state_dir: Path, endpoints: dict[str, dict[str, Any]]) -> None:
    """Replace the name table atomically (a Lambda may be reading it)."""
    path = endpoints_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(endpoints, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _provision_server(instance_id: str, db_name: str, username: str, password: str, source_url: str) -> BackingStore:
    url = make_url(source_url)
    backend = url.get_backend_name()
    db = _safe_name(db_name, "DBName")
    user = _safe_name(username, "MasterUsername")
    engine = None
    created = False
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with engine.connect() as conn:
            if backend == "postgresql":
                kind = "postgres"
                if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :u"), {"u": user}).first():
                    _ddl(conn, f'CREATE ROLE "{user}" LOGIN PASSWORD {_quote_literal(password, backend)}')
                else:
                    _ddl(conn, f'ALTER ROLE "{user}" LOGIN PASSWORD {_quote_literal(password, backend)}')
                if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": db}).first():
                    _ddl(conn, f'CREATE DATABASE "{db}" OWNER "{user}"')
                    created = True
            elif backend in ("mysql", "mariadb"):
                kind = "mysql"
                exists = conn.execute(
                    text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :d"), {"d": db}
                ).first()
                if not exists:
                    _ddl(conn, f"CREATE DATABASE `{db}`")
                    created = True
                for host in ("%", "localhost"):
                    login = f"'{user}'@'{host}'"
                    identified = f"IDENTIFIED BY {_quote_literal(password, backend)}"
                    # IF NOT EXISTS keeps an existing login's old password: set this instance's.
                    _ddl(conn, f"CREATE USER IF NOT EXISTS {login} {identified}")
                    _ddl(conn, f"ALTER USER {login} {identified}")
                    _ddl(conn, f"GRANT ALL ON `{db}`.* TO {login}")
            else:
                raise BackingError(f"source URL dialect {backend!r} is not supported; use mysql or postgresql")
    except BackingError:
        raise
    except Exception as exc:
        raise BackingError(f"cannot prepare database {db} on {url.host}:{url.port}: {type(exc).__name__}") from None
    finally:
        if engine is not None:
            engine.dispose()
    default_port = 5432 if kind == "postgres" else 3306
    return BackingStore(
        instance_id,
        kind,
        url.host or "127.0.0.1",
        int(url.port or default_port),
        db,
        created_database=created,
        source_url=source_url,
    )


def _drop_server_database(store: BackingStore) -> None:
    assert store.source_url
    engine = create_engine(store.source_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if store.kind == "postgres":
                _ddl(conn, f'DROP DATABASE IF EXISTS "{store.database}" WITH (FORCE)')
            else:
                _ddl(conn, f"DROP DATABASE IF EXISTS `{store.database}`")
    except Exception as exc:  # the instance is gone either way; say why the data stayed
        log.warning("sandbox: could not drop database %s: %s", store.database, type(exc).__name__)
    finally:
        engine.dispose()


def patch_endpoint(db_instance: Any, hostname: str) -> None:
    """Make moto's DB instance report RDS's endpoint name (moto's port is already RDS's: the
    requested Port or the engine's default)."""
    db_instance.__dict__["_dcp_address"] = hostname
