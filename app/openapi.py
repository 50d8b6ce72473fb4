"""The OpenAPI document at /openapi.json, read by /docs, /redoc and the TypeScript client.

FastAPI builds it from the routes and schemas (their docstrings and `description=`s); this module
adds what FastAPI cannot know: the bearer credentials (schemes declared once here, attached per
operation from the auth dependency each route depends on: routes/callers.py SECURITY), readable
operation ids (the handler's name in camelCase: `search_nearby` -> `searchNearby`), and the tags'
descriptions. tests/test_openapi.py fails on anything undescribed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.routes.callers import ADMIN, APP, OWNER, SECURITY, USER

DESCRIPTION = """\
Find merchants near a point, offer geofenced deals, claim and redeem codes, and follow it all as
events. The contract is docs/api.md in the repository; docs/api-extensions.md lists what the
service adds.

**Credentials** are sent as `Authorization: Bearer <credential>`:
an **owner key** (from `POST /v1/owners`) manages that owner's stores, offers, imports and
webhooks; the **admin key** (`NEARBY_ADMIN_KEY`) can do all of that for any owner and creates
owners and apps; an **app key** (from `POST /v1/apps`) acts for the app's users, naming a
`user_id`; a **user token** is an HS256 JWT the app signs for one user (`iss` = the app's id,
`sub` = the user). Searches and reading stores and offers need no credential.

**Errors** are `application/problem+json` (RFC 9457) with a `type`, `title`, `status` and `detail`;
validation errors also list `errors`. **Positions** are WGS-84 unless `coord=gcj02` is given.
"""

SCHEMES: dict[str, dict[str, Any]] = {
    OWNER: {
        "type": "http",
        "scheme": "bearer",
        "description": "An owner's API key, from POST /v1/owners (shown once).",
    },
    ADMIN: {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin key (NEARBY_ADMIN_KEY): any owner's data, owners and apps.",
    },
    APP: {
        "type": "http",
        "scheme": "bearer",
        "description": "An app's key, from POST /v1/apps (shown once): acts for the app's users.",
    },
    USER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": (
            "A user token: an HS256 JWT signed with the app's signing secret,"
            " iss = the app's id, sub = the user's id, exp required."
        ),
    },
}

TAGS: list[dict[str, str]] = [
    {"name": name, "description": description}
    for name, description in (
        ("search", "Merchants near a point, in a viewport, or counted per H3 cell."),
        ("offers", "Geofenced offers of a store, and those that apply where a user stands."),
        ("claims", "A user claims a code inside an offer's fence; the store redeems it."),
        ("owners", "Owners hold stores and offers; the admin creates them and their keys."),
        ("merchants", "Stores: a point with a name, category, hours and attributes."),
        ("apps", "Client programs (mini programs, H5 pages, bots) that have end users."),
        ("imports", "Bulk store lists (CSV, NDJSON), loaded in the background."),
        ("webhooks", "Signed HTTP POSTs of an owner's events to their URL, retried."),
        ("events", "Everything that happened to an owner's stores and offers, in order."),
        (
            "tracking",
            "An app's users report where they are; Nearby says when they enter, stay"
            " in and leave offers' fences.",
        ),
        (
            "shares",
            "Users share offers with friends; QR codes and links lead to a store or an"
            " offer, and claims through a share credit its whole chain.",
        ),
        (
            "statistics",
            "Claims and redemptions of an offer, a store or an owner over time, where"
            " codes were claimed, and who brought the customers.",
        ),
        ("operations", "Liveness, readiness and Prometheus metrics, for operators."),
    )
]


def operation_id(route: APIRoute) -> str:
    """`generate_unique_id_function`: the handler's name in camelCase (`claim_offer` ->
    `claimOffer`); a route may still set `operation_id=` itself."""
    head, *rest = route.name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def secure(document: dict[str, Any], routers: Iterable[APIRouter]) -> dict[str, Any]:
    """The document with its security schemes, each operation's requirement and tag texts.

    `routers` are the app's (routes.ROUTERS): their own routes, as the app includes them
    without a prefix (the app's route list holds FastAPI's private wrappers instead)."""
    document.setdefault("components", {})["securitySchemes"] = SCHEMES
    document["tags"] = TAGS
    document["info"]["description"] = DESCRIPTION
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        security = _security(route.dependant)
        if security is None:
            continue
        item = document["paths"][route.path_format]
        for method in route.methods or ():
            item[method.lower()].setdefault("security", security)
    return document


def _security(dependant: Dependant) -> list[dict[str, list[str]]] | None:
    """The requirement of the first auth dependency found in the dependency tree, if any."""
    if dependant.call in SECURITY:
        return SECURITY[dependant.call]
    for sub in dependant.dependencies:
        found = _security(sub)
        if found is not None:
            return found
    return None
