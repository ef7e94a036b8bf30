"""Lake Formation's tag rules as dcp's sandbox evaluates them."""

from __future__ import annotations

from dcp.sandbox.lf_eval import (
    Grant,
    LfTagExpression,
    LfTags,
    Requester,
    can_describe_database,
    readable_columns,
)

ROLE = "arn:aws:iam::123456789012:role/dcp-persona-analyst"
SESSION = "arn:aws:sts::123456789012:assumed-role/dcp-persona-analyst/s1"
COLUMNS = ("id", "name", "email", "city")


def tag(key: str, *values: str) -> dict[str, object]:
    return {"TagKey": key, "TagValues": list(values)}


def tags() -> LfTags:
    # database masked, table inherits zone; email and name are pii columns.
    return LfTags.from_assignments(
        databases={"dataset_masked": [tag("zone", "masked")]},
        tables={("dataset_masked", "customer"): [tag("sensitivity", "public")]},
        columns={
            ("dataset_masked", "customer", "email"): [tag("sensitivity", "pii")],
            ("dataset_masked", "customer", "name"): [tag("sensitivity", "pii")],
        },
    )


def analyst() -> Requester:
    return Requester.of(arn=SESSION, kind="assumed-role", role_arn=ROLE)


def policy(expression: list[dict[str, object]], resource_type: str = "TABLE", perms=("SELECT",)) -> Grant:
    return Grant.from_json(
        {"DataLakePrincipalIdentifier": ROLE},
        {"LFTagPolicy": {"ResourceType": resource_type, "Expression": expression}},
        perms,
    )


def test_column_inherits_table_then_database_tags() -> None:
    t = tags()
    assert t.column_tags("dataset_masked", "customer", "id") == {
        "zone": frozenset({"masked"}),
        "sensitivity": frozenset({"public"}),
    }
    assert t.column_tags("dataset_masked", "customer", "email")["sensitivity"] == {"pii"}
    assert t.column_tags("dataset_masked", "customer", "email")["zone"] == {"masked"}


def test_expression_ands_keys_and_ors_values() -> None:
    expr = LfTagExpression.from_json([tag("zone", "masked", "raw"), tag("sensitivity", "public")])
    assert expr.matches({"zone": frozenset({"raw"}), "sensitivity": frozenset({"public"})})
    assert not expr.matches({"zone": frozenset({"raw"}), "sensitivity": frozenset({"pii"})})
    assert not expr.matches({"zone": frozenset({"raw"})})
    assert not LfTagExpression.from_json([]).matches({})


def test_tag_policy_grants_only_matching_columns() -> None:
    access = readable_columns(
        analyst(),
        [policy([tag("zone", "masked"), tag("sensitivity", "public")])],
        tags(),
        "dataset_masked",
        "customer",
        COLUMNS,
    )
    assert access.allowed == ("id", "city")
    assert access.denied == ("name", "email")


def test_zone_only_policy_reads_every_column_of_the_zone() -> None:
    access = readable_columns(
        analyst(), [policy([tag("zone", "masked")])], tags(), "dataset_masked", "customer", COLUMNS
    )
    assert access.allowed == COLUMNS


def test_database_policy_and_describe_only_give_no_data() -> None:
    grants = [
        policy([tag("zone", "masked")], resource_type="DATABASE", perms=("DESCRIBE",)),
        policy([tag("zone", "masked")], perms=("DESCRIBE",)),
    ]
    access = readable_columns(analyst(), grants, tags(), "dataset_masked", "customer", COLUMNS)
    assert not access.any
    assert can_describe_database(analyst(), grants, tags(), "dataset_masked")
    assert not can_describe_database(analyst(), grants, tags(), "dataset")


def test_any_permission_shows_the_columns_the_catalog_lists() -> None:
    """DESCRIBE gives no data but shows the table (its matching columns) in the Data Catalog;
    a DATABASE policy shows no table."""
    describe = policy([tag("zone", "masked"), tag("sensitivity", "public")], perms=("DESCRIBE",))
    shown = readable_columns(analyst(), [describe], tags(), "dataset_masked", "customer", COLUMNS, any_permission=True)
    assert shown.allowed == ("id", "city")
    database = policy([tag("zone", "masked")], resource_type="DATABASE", perms=("DESCRIBE",))
    none = readable_columns(analyst(), [database], tags(), "dataset_masked", "customer", COLUMNS, any_permission=True)
    assert not none.any


def test_grant_to_another_role_does_not_apply() -> None:
    other = Grant.from_json(
        {"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/other"},
        {"LFTagPolicy": {"ResourceType": "TABLE", "Expression": [tag("zone", "masked")]}},
        ["SELECT"],
    )
    assert not readable_columns(analyst(), [other], tags(), "dataset_masked", "customer", COLUMNS).any


def test_named_table_and_column_grants() -> None:
    table = Grant.from_json(
        {"DataLakePrincipalIdentifier": ROLE},
        {"Table": {"DatabaseName": "dataset_masked", "Name": "customer"}},
        ["ALL"],
    )
    cols = Grant.from_json(
        {"DataLakePrincipalIdentifier": ROLE},
        {"TableWithColumns": {"DatabaseName": "dataset_masked", "Name": "customer", "ColumnNames": ["city"]}},
        ["SELECT"],
    )
    wildcard = Grant.from_json(
        {"DataLakePrincipalIdentifier": ROLE},
        {
            "TableWithColumns": {
                "DatabaseName": "dataset_masked",
                "Name": "customer",
                "ColumnWildcard": {"ExcludedColumnNames": ["email"]},
            }
        },
        ["SELECT"],
    )
    t = LfTags()
    assert readable_columns(analyst(), [table], t, "dataset_masked", "customer", COLUMNS).allowed == COLUMNS
    assert readable_columns(analyst(), [cols], t, "dataset_masked", "customer", COLUMNS).allowed == ("city",)
    assert readable_columns(analyst(), [wildcard], t, "dataset_masked", "customer", COLUMNS).denied == ("email",)
    assert not readable_columns(analyst(), [table], t, "dataset_masked", "bank", COLUMNS).any


def test_admins_and_root_read_everything_and_everyone_grant_opens() -> None:
    admin = Requester.of(arn=SESSION, kind="assumed-role", role_arn=ROLE, admins=[ROLE])
    root = Requester.of(arn="arn:aws:iam::123456789012:root", kind="root")
    for who in (admin, root):
        assert readable_columns(who, [], LfTags(), "d", "t", COLUMNS).allowed == COLUMNS
    everyone = Grant.from_json(
        {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
        {"Table": {"DatabaseName": "d", "TableWildcard": {}}},
        ["ALL"],
    )
    assert readable_columns(analyst(), [everyone], LfTags(), "d", "t", COLUMNS).allowed == COLUMNS
