"""The HTTP routes of docs/api.md, one module per part of the contract.

Each handler: parameters -> a use case -> a response shape. No SQL, loops or branching on data.

`ROUTERS` is included into the app one by one, not through a parent router: FastAPI matches an
included router's routes in turn, once to select and once to handle, and again at every level
of nesting, so a nested tree cost a sparse nearby search about a fifth of its time. The searches
come first: they are the most frequent calls, and no other route's path overlaps theirs.
"""

from fastapi import APIRouter

from app.routes import (
    apps,
    claims,
    console,
    events,
    imports,
    merchants,
    offers,
    operations,
    reference,
    search,
    shares,
    stats,
    tracking,
    webhooks,
)

ROUTERS: tuple[APIRouter, ...] = (
    search.router,
    offers.router,
    claims.router,
    shares.router,
    tracking.router,
    merchants.router,
    apps.router,
    imports.router,
    webhooks.router,
    events.router,
    stats.router,
    operations.router,
    console.router,
    reference.router,
)
