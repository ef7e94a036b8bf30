"""RDS: after moto creates or deletes a DB instance, create or remove its backing database."""

from __future__ import annotations

import logging
import re
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.rds.models import (
    BackingError,
    RdsBackings,
    patch_endpoint,
)
from dcp.sandbox.registry import AccountRegionStore, Call, after, emulates

log = logging.getLogger("dcp.sandbox")
#: What RDS picks when CreateDBInstance names no EngineVersion (moto answers 5.6.21 for MySQL).
DEFAULT_ENGINE_VERSIONS = {"mysql": "8.0.40", "mariadb": "10.11.10", "postgres": "16.6"}
backings: AccountRegionStore[RdsBackings] = AccountRegionStore(lambda account, region: RdsBackings())
moto_compat.install_rds_address_override()


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
    if not p.get("EngineVersion") and db.engine in DEFAULT_ENGINE_VERSIONS:
        db.engine_version = DEFAULT_ENGINE_VERSIONS[db.engine]
    try:
        store = backings[(call.account_id, call.region)].provision(
            instance_id=instance_id,
            db_name=p.get("DBName") or "",
            username=p.get("MasterUsername") or "admin",
            password=p.get("MasterUserPassword") or "",
            state_dir=call.sandbox.state_dir,
            source_url=call.sandbox.source_url,
        )
    except BackingError as exc:
        log.error("sandbox: RDS %s: %s", instance_id, exc)
        db.status = "failed"
        return
    patch_endpoint(db, store)


@after("rds", "DeleteDBInstance")
def delete_backing(call: Call, status: int) -> None:
    if status < 300:
        backings[(call.account_id, call.region)].remove(call.params["DBInstanceIdentifier"])


#: The engine versions the sandbox offers, newest last; the last of each engine is the default.
ENGINE_VERSIONS = {"mysql": ("8.0.40", "8.4.3"), "postgres": ("15.10", "16.6", "17.2")}


def _family(engine: str, version: str) -> str:
    """RDS's family naming: mysql<major>.<minor>, postgres<major>."""
    parts = version.split(".")
    if engine == "mysql":
        return f"mysql{parts[0]}.{parts[1] if len(parts) > 1 else '0'}"
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
