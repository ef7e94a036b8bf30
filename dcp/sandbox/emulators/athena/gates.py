"""Athena's access gates: who may write a query's output, and who may read an execution.

Each check goes to the sandbox's one evaluator (:func:`dcp.sandbox.gates.decide`):

* the caller needs `s3:PutObject` on the output objects (Athena writes results as the caller:
  https://docs.aws.amazon.com/athena/latest/ug/security-iam-athena.html);
* no output goes inside a Glue table's data location (a result file there would become rows of
  that table for everyone);
* GetQueryExecution/GetQueryResults/StopQueryExecution/ListQueryExecutions need the athena
  action on the execution's workgroup ARN
  (https://docs.aws.amazon.com/athena/latest/ug/workgroups-access.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcp.sandbox.emulators.glue import s3io
from dcp.sandbox.identity import Principal
from dcp.sandbox.policy_eval import Decision

if TYPE_CHECKING:
    from dcp.sandbox.emulators.athena.models import AthenaQueries, QueryExecution


def allowed(principal: Principal, action: str, resource: str) -> bool:
    """Whether `principal` may perform `action` on `resource`, by the sandbox's one evaluator."""
    from dcp.sandbox.gates import Check, decide

    return decide(principal, Check(action, resource))[0] is Decision.ALLOW


def workgroup_arn(region: str, account: str, workgroup: str) -> str:
    return f"arn:aws:athena:{region}:{account}:workgroup/{workgroup}"


def s3_object_arn(uri: str) -> str:
    bucket, key = s3io.parse_s3_uri(uri)
    return f"arn:aws:s3:::{bucket}/{key}"


def table_folder_holding(queries: AthenaQueries, uri: str) -> str | None:
    """The `db.table` whose data location contains `uri`, if any."""
    target = uri.rstrip("/") + "/"
    for db_name, db in list(queries.glue().databases.items()):
        for name, table in list(db.tables.items()):
            version = table.get_version(str(table._current_version))
            location = str((version.get("StorageDescriptor") or {}).get("Location") or "")
            if location and target.startswith(location.rstrip("/") + "/"):
                return f"{db_name}.{name}"
    return None


def check_write_location(queries: AthenaQueries, q: QueryExecution, uri: str) -> None:
    """Refuse an output written into a table's folder or without the caller's s3:PutObject."""
    from dcp.sandbox.emulators.athena.models import QueryFailed

    holder = table_folder_holding(queries, uri)
    if holder is not None:
        raise QueryFailed(
            f"The output location {uri} is inside the data location of table {holder}; "
            "choose a location outside every table's folder",
            2,
            1001,
        )
    if q.principal is not None and not allowed(q.principal, "s3:PutObject", s3_object_arn(uri)):
        raise QueryFailed(
            f"Access denied when writing output to url: {uri} . Please ensure you are allowed to access the S3 "
            f"bucket. If you are encrypting query results with KMS key, please ensure you are allowed to access "
            f"your KMS key (User: {q.principal.arn} is not authorized to perform: s3:PutObject)",
            2,
            1001,
        )
