"""Lake Formation: AddLFTagsToResource assigns per key, as Lake Formation does (moto replaces)."""

from __future__ import annotations

from typing import Any

from dcp.sandbox.emulators.lakeformation.models import add_lf_tags, resource_lf_tags
from dcp.sandbox.registry import Call, emulates


@emulates("lakeformation", "AddLFTagsToResource")
def add_lf_tags_to_resource(call: Call) -> dict[str, Any]:
    catalog = call.params.get("CatalogId") or call.account_id
    failures = add_lf_tags(call.account_id, call.region, catalog, call.params["Resource"], call.params["LFTags"])
    return {"Failures": failures}


@emulates("lakeformation", "GetResourceLFTags")
def get_resource_lf_tags(call: Call) -> dict[str, Any]:
    """moto fails on a resource without tags and reports no inheritance; Lake Formation does both."""
    catalog = call.params.get("CatalogId") or call.account_id
    return resource_lf_tags(
        call.account_id,
        call.region,
        catalog,
        call.params["Resource"],
        bool(call.params.get("ShowAssignedLFTags")),
    )
