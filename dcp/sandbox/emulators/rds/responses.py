"""RDS: after moto creates or deletes a DB instance, create or remove its backing database."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.rds.models import (
    BackingError,
    RdsBackings,
    endpoint_hostname,
    patch_endpoint,
    write_endpoints,
)
from dcp.sandbox.registry import AccountRegionStore, Call, active_config, after, emulates, on_reset

log = logging.getLogger("dcp.sandbox")
backings: AccountRegionStore[RdsBackings] = AccountRegionStore(lambda account, region: RdsBackings())
moto_compat.install_rds_address_override()

#: The engine versions the sandbox offers, oldest first; the LAST of each engine is RDS's default
#: version, which CreateDBInstance without EngineVersion gets and DescribeDBEngineVersions
#: DefaultOnly answers (moto would answer 5.6.21 for MySQL and 9.3.3 for PostgreSQL). See
#: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html (EngineVersion).
#: MySQL 8.4 (LTS): RDS for MySQL 8.0's standard support ended on 2026-07-31.
ENGINE_VERSIONS = {
    "mysql": ("8.0.40", "8.4.3"),
    "mariadb": ("10.6.20", "10.11.10", "11.4.4"),
    "postgres": ("15.10", "16.6", "17.2"),
}


def default_engine_version(engine: str) -> str | None:
    versions = ENGINE_VERSIONS.get(engine)
    return versions[-1] if versions else None


def all_endpoints() -> dict[str, dict[str, Any]]:
    """Every account's and region's endpoint names (the names hold both, so they never collide)."""
    out: dict[str, dict[str, Any]] = {}
    for _, store in backings.items():
        out.update(store.endpoints())
    return out


_publish_lock = threading.Lock()


def _publish_endpoints(state_dir: Path) -> None:
    with _publish_lock:  # compute and write together: the last write holds the newest table
        write_endpoints(state_dir, all_endpoints())


@on_reset
def _forget_endpoints() -> None:
    """A reset sandbox has no DB instances: empty its name table (registered after `backings`)."""
    try:
        state_dir = active_config().state_dir
    except RuntimeError:
        return
    _publish_endpoints(state_dir)


def moto_instance(account_id: str, region: str, instance_id: str) -> Any | None:
    rds_backends = moto_compat.backends("rds")
    return rds_backends[account_id][region].databases.get(instance_id)


@after("rds", "CreateDBInstance")
def create_backing(call: Call, status: int) -> None:
    if status >= 300:
        return
    p = call.params
    instance_id = p["DBInstanceIdentifier"]
    db = moto_instance(call.account_id, call.region, instance_id)
    if db is None:
        return
    default_version = default_engine_version(db.engine)
    if not p.get("EngineVersion") and default_version:
        db.engine_version = default_version
    hostname = endpoint_hostname(instance_id, call.account_id, call.region)
    patch_endpoint(db, hostname)
    try:
        backings[(call.account_id, call.region)].provision(
            instance_id=instance_id,
            hostname=hostname,
            db_name=p.get("DBName") or "",
            username=p.get("MasterUsername") or "admin",
            password=p.get("MasterUserPassword") or "",
            state_dir=call.sandbox.state_dir,
            source_url=call.sandbox.source_url,
        )
    except BackingError as exc:
        log.error("sandbox: RDS %s: %s", instance_id, exc)
        db.status = "failed"
        moto_compat.add_rds_failure_event(db, f"DB instance failed: {exc}")
        return
    _publish_endpoints(call.sandbox.state_dir)


@after("rds", "DeleteDBInstance")
def delete_backing(call: Call, status: int) -> None:
    if status < 300:
        backings[(call.account_id, call.region)].remove(call.params["DBInstanceIdentifier"])
        _publish_endpoints(call.sandbox.state_dir)


def _family(engine: str, version: str) -> str:
    """RDS's family naming: mysql<major>.<minor>, mariadb<major>.<minor>, postgres<major>."""
    parts = version.split(".")
    if engine in ("mysql", "mariadb"):
        return f"{engine}{parts[0]}.{parts[1] if len(parts) > 1 else '0'}"
    return f"postgres{parts[0]}"


@emulates("rds", "DescribeDBEngineVersions")
def describe_db_engine_versions(call: Call) -> dict[str, Any]:
    """The versions of ENGINE_VERSIONS (moto lacks the operation); any well-formed version of a
    known engine is offered, since the sandbox's backing database does not depend on it."""
    p = call.params
    engines = [p["Engine"]] if p.get("Engine") else list(ENGINE_VERSIONS)
    out = []
    for engine in engines:
        versions = ENGINE_VERSIONS.get(engine, ())
        if p.get("EngineVersion"):
            wanted = str(p["EngineVersion"])
            chosen = [wanted] if versions and re.fullmatch(r"\d+(\.\d+)*", wanted) else []
        elif p.get("DefaultOnly"):
            chosen = list(versions[-1:])
        else:
            chosen = list(versions)
        out += [
            {
                "Engine": engine,
                "EngineVersion": v,
                "DBParameterGroupFamily": _family(engine, v),
                "DBEngineDescription": engine,
                "DBEngineVersionDescription": f"{engine} {v}",
            }
            for v in chosen
        ]
    return {"DBEngineVersions": out}
