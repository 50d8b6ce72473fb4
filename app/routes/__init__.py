"""The HTTP routes of ../shared/API.md, one module per part of the contract.

Each handler: parameters -> a use case -> a response shape. No SQL, loops or branching on data.
"""

from fastapi import APIRouter

from app.routes import console, imports, merchants, offers, operations, search

router = APIRouter()
router.include_router(merchants.router)
router.include_router(search.router)
router.include_router(offers.router)
router.include_router(imports.router)
router.include_router(operations.router)
router.include_router(console.router)
