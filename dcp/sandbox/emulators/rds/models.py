"""The real database behind a sandbox RDS instance: a SQLite file, or a database on a server.

Without a source URL each DB instance is an embedded SQLite file `<state_dir>/rds/<id>.sqlite`
and DescribeDBInstances reports its absolute path as Endpoint.Address (Port 0). With a
SQLAlchemy URL of a MySQL/MariaDB or PostgreSQL server, the instance is the database DBName on
that server, reached by the MasterUsername/MasterUserPassword login the sandbox creates; the
endpoint is the server's host and port. Either way `dcp.lambdas.dburl.sqlalchemy_url` turns
the RDS-style secret into the URL the seeding Lambda and DMS connect with.
"""

from __future__ import annotations

import logging
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
    address: str
    port: int
    database: str
    created_database: bool = False
    source_url: str | None = None  # the admin URL (PG/MySQL), never shown


def _safe_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise BackingError(f"{what} {name!r} is not a name the sandbox can create on the server")
    return name


def _quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


class RdsBackings:
    """Backing stores of every DB instance of one account/region."""

    def __init__(self) -> None:
        self.stores: dict[str, BackingStore] = {}
        self.lock = threading.Lock()

    def provision(
        self,
        *,
        instance_id: str,
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

    def by_address(self, address: str) -> BackingStore | None:
        with self.lock:
            for store in self.stores.values():
                if address in (store.address, store.instance_id):
                    return store
        return None


def _provision_server(instance_id: str, db_name: str, username: str, password: str, source_url: str) -> BackingStore:
    url = make_url(source_url)
    backend = url.get_backend_name()
    db = _safe_name(db_name, "DBName")
    user = _safe_name(username, "MasterUsername")
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    created = False
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                kind = "postgres"
                if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :u"), {"u": user}).first():
                    conn.execute(text(f'CREATE ROLE "{user}" LOGIN PASSWORD {_quote_literal(password)}'))
                else:
                    conn.execute(text(f'ALTER ROLE "{user}" LOGIN PASSWORD {_quote_literal(password)}'))
                if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": db}).first():
                    conn.execute(text(f'CREATE DATABASE "{db}" OWNER "{user}"'))
                    created = True
            elif backend in ("mysql", "mariadb"):
                kind = "mysql"
                exists = conn.execute(
                    text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :d"), {"d": db}
                ).first()
                if not exists:
                    conn.execute(text(f"CREATE DATABASE `{db}`"))
                    created = True
                for host in ("%", "localhost"):
                    login = f"'{user}'@'{host}'"
                    identified = f"IDENTIFIED BY {_quote_literal(password)}"
                    # IF NOT EXISTS keeps an existing login's old password: set this instance's.
                    conn.execute(text(f"CREATE USER IF NOT EXISTS {login} {identified}"))
                    conn.execute(text(f"ALTER USER {login} {identified}"))
                    conn.execute(text(f"GRANT ALL ON `{db}`.* TO {login}"))
            else:
                raise BackingError(f"source URL dialect {backend!r} is not supported; use mysql or postgresql")
    except BackingError:
        raise
    except Exception as exc:
        raise BackingError(f"cannot prepare database {db} on {url.host}:{url.port}: {type(exc).__name__}") from None
    finally:
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
                conn.execute(text(f'DROP DATABASE IF EXISTS "{store.database}" WITH (FORCE)'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{store.database}`"))
    except Exception as exc:  # the instance is gone either way; say why the data stayed
        log.warning("sandbox: could not drop database %s: %s", store.database, type(exc).__name__)
    finally:
        engine.dispose()


def patch_endpoint(db_instance: Any, store: BackingStore) -> None:
    """Make moto's DB instance report the backing store as its Endpoint."""
    db_instance.__dict__["_dcp_address"] = store.address
    db_instance.port = store.port
