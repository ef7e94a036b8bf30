"""LF-tags on the lake's databases, tables and columns from the findings, and LF-tag grants per persona.

Tag assignment: each database gets `zone` (raw, masked or encrypted); each table its zone and
`sensitivity=public`; columns that a finding flagged get `sensitivity=pii`, every other column
`sensitivity=public` (columns also carry their zone, so the tag a column resolves to never depends
on inheritance). Grants: each of a persona's LF-tag expressions from config becomes one
`GrantPermissions` on an `LFTagPolicy` of type TABLE (the configured permissions) plus DESCRIBE on
the same expression of type DATABASE. Both steps read first and only write what differs, so a
second `dcp grant` makes no mutating call.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from dcp.aws.errors import is_code
from dcp.aws.session import AwsContext
from dcp.config import Persona
from dcp.names import StackNames

PII, PUBLIC = "pii", "public"

# --------------------------------------------------------------------------- pure: tag assignment


@dataclass(frozen=True)
class TagAssignment:
    """LF-tags (one value per key) for one Lake Formation resource."""

    resource: Mapping[str, Any]
    tags: Mapping[str, str]

    def lf_tags(self) -> list[dict[str, Any]]:
        return [{"TagKey": key, "TagValues": [value]} for key, value in sorted(self.tags.items())]

    @property
    def label(self) -> str:
        if "Database" in self.resource:
            return self.resource["Database"]["Name"]
        if "Table" in self.resource:
            t = self.resource["Table"]
            return f"{t['DatabaseName']}.{t['Name']}"
        t = self.resource["TableWithColumns"]
        return f"{t['DatabaseName']}.{t['Name']} ({', '.join(t['ColumnNames'])})"


def pii_columns(findings: Iterable[Any]) -> dict[str, set[str]]:
    """table -> lower-cased column names flagged by any finding (dcp.masking Finding objects)."""
    out: dict[str, set[str]] = {}
    for finding in findings:
        if not finding.table:
            continue
        columns = out.setdefault(finding.table.lower(), set())
        for detection in finding.detections:
            columns.update(c.lower() for c in detection.columns)
    return out


def plan_tag_assignments(
    schemas: Mapping[str, Mapping[str, Sequence[str]]],
    zones: Mapping[str, str],
    pii: Mapping[str, Collection[str]],
) -> list[TagAssignment]:
    """The tags every database, table and column of `schemas` (db -> table -> columns) should carry."""
    out: list[TagAssignment] = []
    for database in sorted(schemas):
        zone = zones[database]
        out.append(TagAssignment({"Database": {"Name": database}}, {"zone": zone}))
        for table in sorted(schemas[database]):
            columns = list(schemas[database][table])
            out.append(
                TagAssignment(
                    {"Table": {"DatabaseName": database, "Name": table}},
                    {"zone": zone, "sensitivity": PUBLIC},
                )
            )
            flagged = {c.lower() for c in pii.get(table.lower(), ())}
            groups = (
                ([c for c in columns if c.lower() in flagged], PII),
                ([c for c in columns if c.lower() not in flagged], PUBLIC),
            )
            for group, sensitivity in groups:
                if group:
                    out.append(
                        TagAssignment(
                            {
                                "TableWithColumns": {
                                    "DatabaseName": database,
                                    "Name": table,
                                    "ColumnNames": group,
                                }
                            },
                            {"zone": zone, "sensitivity": sensitivity},
                        )
                    )
    return out


def column_tags_from_response(response: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """column -> {tag key: value} from a GetResourceLFTags response (first value of each key)."""
    out: dict[str, dict[str, str]] = {}
    for column in response.get("LFTagsOnColumns", []) or []:
        out[column["Name"].lower()] = {
            t["TagKey"]: t["TagValues"][0] for t in column.get("LFTags", []) if t.get("TagValues")
        }
    return out


def table_is_tagged(assignments: Sequence[TagAssignment], current_columns: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether every column assignment of one table is already in place."""
    column_assignments = [a for a in assignments if "TableWithColumns" in a.resource]
    if not column_assignments:
        return False
    for a in column_assignments:
        for column in a.resource["TableWithColumns"]["ColumnNames"]:
            have = current_columns.get(column.lower(), {})
            if any(have.get(k) != v for k, v in a.tags.items()):
                return False
    return True


# --------------------------------------------------------------------------- pure: grants


Expression = tuple[tuple[str, tuple[str, ...]], ...]


def _expression(raw: Mapping[str, Sequence[str]] | Iterable[Mapping[str, Any]]) -> Expression:
    if isinstance(raw, Mapping):
        pairs = [(k, tuple(v)) for k, v in raw.items()]
    else:
        pairs = [(t["TagKey"], tuple(t["TagValues"])) for t in raw]
    return tuple(sorted((k, tuple(sorted(v))) for k, v in pairs))


@dataclass(frozen=True)
class LfTagGrant:
    """Permissions for one principal on one LF-tag policy (resource type + expression)."""

    principal: str
    resource_type: str  # DATABASE | TABLE
    expression: Expression
    permissions: frozenset[str] = field(default_factory=frozenset)

    @property
    def key(self) -> tuple[str, str, Expression]:
        return (self.principal, self.resource_type, self.expression)

    def request(self) -> dict[str, Any]:
        """Keyword arguments of GrantPermissions / RevokePermissions."""
        return {
            "Principal": {"DataLakePrincipalIdentifier": self.principal},
            "Resource": {
                "LFTagPolicy": {
                    "ResourceType": self.resource_type,
                    "Expression": [{"TagKey": k, "TagValues": list(v)} for k, v in self.expression],
                }
            },
            "Permissions": sorted(self.permissions),
        }

    def describe(self) -> str:
        expr = " AND ".join(f"{k} IN ({', '.join(v)})" for k, v in self.expression)
        return f"{', '.join(sorted(self.permissions))} on {self.resource_type.lower()}s where {expr}"


def desired_grants(persona: Persona, principal: str) -> list[LfTagGrant]:
    """The grants config gives `persona`: each expression on tables, and DESCRIBE on its databases."""
    merged: dict[tuple[str, str, Expression], set[str]] = {}
    for grant in persona.grants:
        expression = _expression(grant.expression)
        merged.setdefault((principal, "TABLE", expression), set()).update(grant.permissions)
        merged.setdefault((principal, "DATABASE", expression), set()).add("DESCRIBE")
    return [LfTagGrant(p, rt, ex, frozenset(perms)) for (p, rt, ex), perms in merged.items()]


def existing_grants(entries: Iterable[Mapping[str, Any]], principal: str) -> list[LfTagGrant]:
    """LF-tag policy grants of `principal` among ListPermissions' PrincipalResourcePermissions."""
    merged: dict[tuple[str, str, Expression], set[str]] = {}
    for entry in entries:
        if entry.get("Principal", {}).get("DataLakePrincipalIdentifier") != principal:
            continue
        policy = entry.get("Resource", {}).get("LFTagPolicy")
        if not policy or "Expression" not in policy:
            continue
        key = (principal, policy["ResourceType"], _expression(policy["Expression"]))
        merged.setdefault(key, set()).update(entry.get("Permissions", []))
    return [LfTagGrant(p, rt, ex, frozenset(perms)) for (p, rt, ex), perms in merged.items()]


def diff_grants(
    desired: Sequence[LfTagGrant], existing: Sequence[LfTagGrant], *, revoke: bool = False
) -> list[LfTagGrant]:
    """What to grant (the desired permissions missing) or, with `revoke`, what to revoke (present)."""
    have = {g.key: g.permissions for g in existing}
    out = []
    for grant in desired:
        current = have.get(grant.key, frozenset())
        delta = grant.permissions & current if revoke else grant.permissions - current
        if delta:
            out.append(LfTagGrant(grant.principal, grant.resource_type, grant.expression, frozenset(delta)))
    return out


def grants_table(grants: Iterable[LfTagGrant]) -> list[dict[str, Any]]:
    """Rows for printing: expression, resource type, permissions."""
    return [
        {
            "on": g.resource_type.lower() + "s",
            "expression": " AND ".join(f"{k}={'|'.join(v)}" for k, v in g.expression),
            "permissions": ", ".join(sorted(g.permissions)),
        }
        for g in sorted(grants, key=lambda g: (g.expression, g.resource_type))
    ]


# --------------------------------------------------------------------------- AWS


def zones(names: StackNames) -> dict[str, str]:
    return {
        names.raw_database: "raw",
        names.masked_database: "masked",
        names.encrypted_database: "encrypted",
    }


def catalog_schemas(aws: AwsContext, databases: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """db -> table -> column names (partition keys last) from the Glue Data Catalog."""
    glue = aws.client("glue")
    out: dict[str, dict[str, list[str]]] = {}
    for database in databases:
        tables: dict[str, list[str]] = {}
        try:
            for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
                for table in page.get("TableList", []):
                    sd = table.get("StorageDescriptor", {})
                    cols = [c["Name"] for c in sd.get("Columns", [])]
                    cols += [c["Name"] for c in table.get("PartitionKeys", [])]
                    tables[table["Name"]] = cols
        except ClientError as exc:
            if not is_code(exc, "EntityNotFoundException"):
                raise
        out[database] = tables
    return out


@dataclass
class TaggingResult:
    applied: list[TagAssignment] = field(default_factory=list)
    unchanged_tables: list[str] = field(default_factory=list)


def apply_tags(aws: AwsContext, assignments: Sequence[TagAssignment]) -> TaggingResult:
    """AddLFTagsToResource for each assignment not already in place (read per table first)."""
    lf = aws.client("lakeformation")
    result = TaggingResult()
    by_table: dict[tuple[str, str], list[TagAssignment]] = {}
    databases: dict[str, TagAssignment] = {}
    for a in assignments:
        if "Database" in a.resource:
            databases[a.resource["Database"]["Name"]] = a
            continue
        spec = a.resource.get("Table") or a.resource["TableWithColumns"]
        by_table.setdefault((spec["DatabaseName"], spec["Name"]), []).append(a)
    pending_dbs = {db for db, a in databases.items() if _database_tags(lf, db) != dict(a.tags)}
    todo: list[TagAssignment] = []
    for (database, table), table_assignments in sorted(by_table.items()):
        columns = [
            c
            for a in table_assignments
            if "TableWithColumns" in a.resource
            for c in a.resource["TableWithColumns"]["ColumnNames"]
        ]
        current = lf.get_resource_lf_tags(
            Resource={"TableWithColumns": {"DatabaseName": database, "Name": table, "ColumnNames": columns}}
        )
        if table_is_tagged(table_assignments, column_tags_from_response(current)):
            result.unchanged_tables.append(f"{database}.{table}")
            continue
        todo.extend(table_assignments)
    ordered = [databases[db] for db in sorted(pending_dbs) if db in databases] + todo
    for a in ordered:
        response = lf.add_lf_tags_to_resource(Resource=dict(a.resource), LFTags=a.lf_tags())
        failures = response.get("Failures") or []
        if failures:
            error = failures[0].get("Error", {})
            from dcp.pipeline.errors import PipelineError

            raise PipelineError(
                f"Lake Formation refused the LF-tags on {a.label}: {error.get('ErrorCode', '')} "
                f"{error.get('ErrorMessage', '')}".strip()
                + " (does `dcp up` create the LF-tags zone and sensitivity?)"
            )
        result.applied.append(a)
    return result


def _database_tags(lf: Any, database: str) -> dict[str, str]:
    """A database's LF-tags; {} when it has none (some endpoints answer that with an error)."""
    try:
        response = lf.get_resource_lf_tags(Resource={"Database": {"Name": database}})
    except (ClientError, KeyError):  # moto in-process raises KeyError for an untagged database
        return {}
    return {t["TagKey"]: t["TagValues"][0] for t in response.get("LFTagOnDatabase", []) or [] if t.get("TagValues")}


def list_principal_permissions(aws: AwsContext, principal: str) -> list[dict[str, Any]]:
    """Every permission entry of `principal` (ListPermissions, all pages, filtered here).

    Lake Formation only filters by principal together with one named resource, and LF-tag
    policy grants are not named resources, so the catalog's entries are read and filtered.
    """
    lf = aws.client("lakeformation")
    entries: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"MaxResults": 1000}
    while True:
        page = lf.list_permissions(**kwargs)
        entries.extend(
            e
            for e in page.get("PrincipalResourcePermissions", [])
            if e.get("Principal", {}).get("DataLakePrincipalIdentifier") == principal
        )
        token = page.get("NextToken")
        if not token:
            return entries
        kwargs["NextToken"] = token


@dataclass
class GrantResult:
    persona: str
    principal: str
    changed: list[LfTagGrant]
    current: list[LfTagGrant]


def grant_persona(aws: AwsContext, names: StackNames, persona: Persona, *, revoke: bool = False) -> GrantResult:
    """Grant (or revoke) the persona's LF-tag expressions; only the difference is sent."""
    principal = names.persona_role_arn(persona.name)
    lf = aws.client("lakeformation")
    desired = desired_grants(persona, principal)
    existing = existing_grants(list_principal_permissions(aws, principal), principal)
    changes = diff_grants(desired, existing, revoke=revoke)
    for change in changes:
        if revoke:
            lf.revoke_permissions(**change.request())
        else:
            lf.grant_permissions(**change.request())
    current = existing_grants(list_principal_permissions(aws, principal), principal) if changes else existing
    return GrantResult(persona.name, principal, changes, current)


def load_findings(aws: AwsContext, names: StackNames) -> list[Any]:
    """Every finding the pipeline delivered (the Firehose objects in the findings bucket)."""
    from dcp.masking.findings import Finding

    s3 = aws.client("s3")
    findings: list[Any] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=names.findings_bucket, Prefix=names.FINDINGS_PREFIX
    ):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=names.findings_bucket, Key=obj["Key"])["Body"].read()
            if obj["Key"].endswith(".gz"):
                import gzip

                body = gzip.decompress(body)
            findings.extend(Finding.from_json(body.decode("utf-8")).findings)
    return findings


def tag_catalog(aws: AwsContext, names: StackNames, findings: Sequence[Any]) -> TaggingResult:
    """Tag the raw, masked and encrypted databases from the findings."""
    zone_of = zones(names)
    schemas = catalog_schemas(aws, zone_of)
    return apply_tags(aws, plan_tag_assignments(schemas, zone_of, pii_columns(findings)))
