"""Athena operations the sandbox runs: queries on DuckDB with Lake Formation enforcement."""

from __future__ import annotations

from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.emulators.athena import gates, sql
from dcp.sandbox.emulators.athena.models import AthenaQueries, Caller, PreparedStatement, QueryExecution
from dcp.sandbox.emulators.athena.workgroups import updated_configuration
from dcp.sandbox.registry import AccountRegionStore, AwsError, Call, emulates

queries: AccountRegionStore[AthenaQueries] = AccountRegionStore(AthenaQueries)
MAX_RESULTS = 1000


def _queries(call: Call) -> AthenaQueries:
    return queries[(call.account_id, call.region)]


def _workgroup(call: Call, name: str) -> Any:
    athena_backends = moto_compat.backends("athena")
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


def result_configuration(config: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """The effective ResultConfiguration: the workgroup's alone when it enforces its settings
    (https://docs.aws.amazon.com/athena/latest/ug/workgroups-settings-override.html), else the
    request's settings over the workgroup's."""
    wg_result = dict(config.get("ResultConfiguration") or {})
    if bool(config.get("EnforceWorkGroupConfiguration", True)):
        return wg_result
    return {**wg_result, **requested}


@emulates("athena", "StartQueryExecution")
def start_query_execution(call: Call) -> dict[str, Any]:
    p = call.params
    text = p.get("QueryString") or ""
    if not text.strip():
        raise AwsError("InvalidRequestException", "QueryString must not be empty")
    name = p.get("WorkGroup") or "primary"
    wg = _workgroup(call, name)
    chosen = result_configuration(wg.configuration or {}, p.get("ResultConfiguration") or {})
    location = chosen.get("OutputLocation")
    if not location:
        raise AwsError(
            "InvalidRequestException",
            "No output location provided. An output location is required either through the Workgroup "
            "result configuration setting or as an API input.",
        )
    holder = gates.table_folder_holding(_queries(call), location)
    if holder is not None:
        raise AwsError(
            "InvalidRequestException",
            f"The output location {location} is inside the data location of table {holder}; "
            "query results must not be written into a table's folder",
        )
    context = p.get("QueryExecutionContext") or {}
    database = (context.get("Database") or "default").strip('`"').lower()
    try:
        statement = sql.parse(text, database)
    except sql.TooManyStatements as exc:
        raise AwsError("InvalidRequestException", str(exc)) from None
    except sql.SqlError:
        statement = sql.Statement("invalid", text)  # fails when it runs, as Athena's syntax errors do
    q = _queries(call).start(
        statement,
        database=database,
        catalog=context.get("Catalog") or "AwsDataCatalog",
        workgroup=name,
        output_location=location,
        encryption=chosen.get("EncryptionConfiguration"),
        caller=Caller.of(call.principal),
        state_dir=call.sandbox.state_dir,
        parameters=list(p.get("ExecutionParameters") or []),
        principal=call.principal,
    )
    return {"QueryExecutionId": q.query_id}


def _authorize(call: Call, action: str, workgroup: str) -> None:
    arn = gates.workgroup_arn(call.region, call.account_id, workgroup)
    if not gates.allowed(call.principal, f"athena:{action}", arn):
        raise AwsError(
            "AccessDeniedException",
            f"User: {call.principal.arn} is not authorized to perform: athena:{action} on resource: {arn}",
        )


def _execution(call: Call, query_id: str, action: str) -> QueryExecution:
    q = _queries(call).get(query_id)
    if q is None:
        raise AwsError("InvalidRequestException", f"QueryExecution {query_id} was not found")
    _authorize(call, action, q.workgroup)
    return q


@emulates("athena", "GetQueryExecution")
def get_query_execution(call: Call) -> dict[str, Any]:
    return {"QueryExecution": _execution(call, call.params["QueryExecutionId"], "GetQueryExecution").to_dict()}


@emulates("athena", "BatchGetQueryExecution")
def batch_get_query_execution(call: Call) -> dict[str, Any]:
    found, missing = [], []
    for query_id in call.params.get("QueryExecutionIds", []):
        q = _queries(call).get(query_id)
        if q is None or not gates.allowed(
            call.principal,
            "athena:BatchGetQueryExecution",
            gates.workgroup_arn(call.region, call.account_id, q.workgroup),
        ):
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
    _execution(call, call.params["QueryExecutionId"], "StopQueryExecution")
    _queries(call).stop(call.params["QueryExecutionId"])
    return {}


@emulates("athena", "ListQueryExecutions")
def list_query_executions(call: Call) -> dict[str, Any]:
    workgroup = call.params.get("WorkGroup") or "primary"
    _authorize(call, "ListQueryExecutions", workgroup)
    ids = [q.query_id for q in _queries(call).in_workgroup(workgroup)]
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
    q = _execution(call, call.params["QueryExecutionId"], "GetQueryResults")
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
    skip = 1 if q.header else 0
    if offset == 0 and q.header:
        # Page 1 of a DML result starts with the header row, which counts against MaxResults.
        rows_out.append({"Data": [_cell(c.name) for c in q.columns]})
        rows, nxt = _queries(call).page(q, 0, size - 1)
    else:
        rows, nxt = _queries(call).page(q, max(0, offset - skip), size)
    rows_out += [{"Data": [_cell(v) for v in row]} for row in rows]
    info = [c.column_info() for c in q.columns]
    out: dict[str, Any] = {
        "UpdateCount": q.update_count,
        "ResultSet": {"Rows": rows_out, "ResultSetMetadata": {"ColumnInfo": info}},
    }
    if nxt is not None:
        out["NextToken"] = str(nxt + skip)
    return out


# --------------------------------------------------------------------------- prepared statements


def _prepared_key(call: Call) -> tuple[str, str]:
    workgroup = call.params["WorkGroup"]
    _workgroup(call, workgroup)
    return workgroup, str(call.params["StatementName"]).lower()


def _put_prepared(call: Call, *, replace: bool) -> dict[str, Any]:
    """Create (`replace` False: the name must be new) or update (it must exist) a prepared statement."""
    key = _prepared_key(call)
    _authorize(call, "UpdatePreparedStatement" if replace else "CreatePreparedStatement", key[0])
    store = _queries(call)
    with store.lock:
        if replace and key not in store.prepared:
            raise AwsError("ResourceNotFoundException", f"Prepared statement {key[1]} was not found")
        if not replace and key in store.prepared:
            raise AwsError("InvalidRequestException", f"Prepared statement {key[1]} already exists")
        store.prepared[key] = PreparedStatement(
            key[1], key[0], call.params["QueryStatement"], call.params.get("Description")
        )
    return {}


@emulates("athena", "CreatePreparedStatement")
def create_prepared_statement(call: Call) -> dict[str, Any]:
    return _put_prepared(call, replace=False)


@emulates("athena", "UpdatePreparedStatement")
def update_prepared_statement(call: Call) -> dict[str, Any]:
    return _put_prepared(call, replace=True)


@emulates("athena", "GetPreparedStatement")
def get_prepared_statement(call: Call) -> dict[str, Any]:
    key = _prepared_key(call)
    _authorize(call, "GetPreparedStatement", key[0])
    found = _queries(call).prepared.get(key)
    if found is None:
        raise AwsError("ResourceNotFoundException", f"Prepared statement {key[1]} was not found")
    return {"PreparedStatement": found.to_dict()}


@emulates("athena", "DeletePreparedStatement")
def delete_prepared_statement(call: Call) -> dict[str, Any]:
    key = _prepared_key(call)
    _authorize(call, "DeletePreparedStatement", key[0])
    store = _queries(call)
    with store.lock:
        if store.prepared.pop(key, None) is None:
            raise AwsError("ResourceNotFoundException", f"Prepared statement {key[1]} was not found")
    return {}


@emulates("athena", "ListPreparedStatements")
def list_prepared_statements(call: Call) -> dict[str, Any]:
    workgroup = call.params["WorkGroup"]
    _workgroup(call, workgroup)
    _authorize(call, "ListPreparedStatements", workgroup)
    store = _queries(call)
    with store.lock:
        names = sorted((v for (wg, _), v in store.prepared.items() if wg == workgroup), key=lambda v: v.name)
    found = [{"StatementName": p.name, "LastModifiedTime": p.modified} for p in names]
    start = int(call.params.get("NextToken") or 0)
    size = int(call.params.get("MaxResults") or 50)
    out: dict[str, Any] = {"PreparedStatements": found[start : start + size]}
    if start + size < len(found):
        out["NextToken"] = str(start + size)
    return out
