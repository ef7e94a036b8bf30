"""Athena operations the sandbox runs: queries on DuckDB with Lake Formation enforcement."""

from __future__ import annotations

from typing import Any

from dcp.sandbox.dispatch import AccountRegionStore, AwsError, Call, emulates
from dcp.sandbox.emulators.athena.models import AthenaQueries, Caller, QueryExecution
from dcp.sandbox.emulators.athena.workgroups import updated_configuration

queries: AccountRegionStore[AthenaQueries] = AccountRegionStore(AthenaQueries)
MAX_RESULTS = 1000


def _queries(call: Call) -> AthenaQueries:
    return queries[(call.account_id, call.region)]


def _workgroup(call: Call, name: str) -> Any:
    from moto.athena.models import athena_backends

    wg = athena_backends[call.account_id][call.region].work_groups.get(name)
    if wg is None:
        raise AwsError("InvalidRequestException", f"WorkGroup {name} is not found.")
    return wg


@emulates("athena", "UpdateWorkGroup")
def update_work_group(call: Call) -> dict[str, Any]:
    p = call.params
    wg = _workgroup(call, p["WorkGroup"])
    if "ConfigurationUpdates" in p:
        wg.configuration = updated_configuration(wg.configuration or {}, p["ConfigurationUpdates"])
    if "Description" in p:
        wg.description = p["Description"]
    if "State" in p:
        wg.state = p["State"]
    return {}


@emulates("athena", "StartQueryExecution")
def start_query_execution(call: Call) -> dict[str, Any]:
    p = call.params
    sql = p.get("QueryString") or ""
    if not sql.strip():
        raise AwsError("InvalidRequestException", "QueryString must not be empty")
    name = p.get("WorkGroup") or "primary"
    wg = _workgroup(call, name)
    config = wg.configuration or {}
    wg_result = config.get("ResultConfiguration") or {}
    req_result = p.get("ResultConfiguration") or {}
    enforce = bool(config.get("EnforceWorkGroupConfiguration", True))
    chosen = {**req_result, **wg_result} if enforce else {**wg_result, **req_result}
    location = chosen.get("OutputLocation")
    if not location:
        raise AwsError(
            "InvalidRequestException",
            "No output location provided. An output location is required either through the Workgroup "
            "result configuration setting or as an API input.",
        )
    context = p.get("QueryExecutionContext") or {}
    principal = call.principal
    q = _queries(call).start(
        sql,
        database=(context.get("Database") or "default").lower(),
        catalog=context.get("Catalog") or "AwsDataCatalog",
        workgroup=name,
        output_location=location,
        encryption=chosen.get("EncryptionConfiguration"),
        caller=Caller(principal.arn, principal.kind, principal.role_arn, principal.account),
        state_dir=call.sandbox.state_dir,
    )
    return {"QueryExecutionId": q.query_id}


def _execution(call: Call, query_id: str) -> QueryExecution:
    q = _queries(call).get(query_id)
    if q is None:
        raise AwsError("InvalidRequestException", f"QueryExecution {query_id} was not found")
    return q


@emulates("athena", "GetQueryExecution")
def get_query_execution(call: Call) -> dict[str, Any]:
    return {"QueryExecution": _execution(call, call.params["QueryExecutionId"]).to_dict()}


@emulates("athena", "BatchGetQueryExecution")
def batch_get_query_execution(call: Call) -> dict[str, Any]:
    found, missing = [], []
    for query_id in call.params.get("QueryExecutionIds", []):
        q = _queries(call).get(query_id)
        if q is None:
            missing.append(
                {
                    "QueryExecutionId": query_id,
                    "ErrorCode": "INVALID_INPUT",
                    "ErrorMessage": "QueryExecution was not found",
                }
            )
        else:
            found.append(q.to_dict())
    return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}


@emulates("athena", "StopQueryExecution")
def stop_query_execution(call: Call) -> dict[str, Any]:
    _execution(call, call.params["QueryExecutionId"])
    _queries(call).stop(call.params["QueryExecutionId"])
    return {}


@emulates("athena", "ListQueryExecutions")
def list_query_executions(call: Call) -> dict[str, Any]:
    ids = [q.query_id for q in _queries(call).in_workgroup(call.params.get("WorkGroup") or "primary")]
    start = int(call.params.get("NextToken") or 0)
    size = int(call.params.get("MaxResults") or 50)
    out: dict[str, Any] = {"QueryExecutionIds": ids[start : start + size]}
    if start + size < len(ids):
        out["NextToken"] = str(start + size)
    return out


def _cell(value: str | None) -> dict[str, str]:
    return {} if value is None else {"VarCharValue": value}


@emulates("athena", "GetQueryResults")
def get_query_results(call: Call) -> dict[str, Any]:
    q = _execution(call, call.params["QueryExecutionId"])
    if q.state != "SUCCEEDED":
        reason = f": {q.reason}" if q.reason else ""
        raise AwsError("InvalidRequestException", f"Query has not yet finished. Current state: {q.state}{reason}")
    size = int(call.params.get("MaxResults") or MAX_RESULTS)
    if not 1 <= size <= MAX_RESULTS:
        raise AwsError("InvalidRequestException", f"MaxResults must be between 1 and {MAX_RESULTS}")
    token = call.params.get("NextToken")
    try:
        offset = int(token) if token else 0
    except ValueError:
        raise AwsError("InvalidRequestException", "NextToken is not valid") from None
    rows_out: list[dict[str, Any]] = []
    if offset == 0:
        # Page 1 starts with the header row, which counts against MaxResults as on Athena.
        rows_out.append({"Data": [_cell(name) for name, _ in q.columns]})
        rows, nxt = _queries(call).page(q, 0, size - 1)
    else:
        rows, nxt = _queries(call).page(q, offset - 1, size)
    rows_out += [{"Data": [_cell(v) for v in row]} for row in rows]
    info = [
        {
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Name": name,
            "Label": name,
            "Type": typ,
            "Precision": 0,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": typ == "varchar",
        }
        for name, typ in q.columns
    ]
    out: dict[str, Any] = {
        "UpdateCount": 0,
        "ResultSet": {"Rows": rows_out, "ResultSetMetadata": {"ColumnInfo": info}},
    }
    if nxt is not None:
        out["NextToken"] = str(nxt + 1)
    return out
