"""All SQL of the service, one module per aggregate. `async def f(conn, *, ...) -> rows`;
callers own the transaction. Import as `from app import queries` and call `queries.f`."""

from app.queries.merchants import (
    DuplicateExternalId,
    MerchantRow,
    MerchantValues,
    RawJson,
    delete_merchant,
    insert_merchant,
    merchant_by_id,
    merchants_of_owner,
    update_merchant,
    upsert_merchants,
)
from app.queries.operations import schema_revision
from app.queries.owners import (
    OwnerRow,
    insert_owner,
    owner_by_key_hash,
    owner_by_name,
    owner_exists,
    set_owner_key,
)
from app.queries.search import (
    ClusterRow,
    Filters,
    MerchantHit,
    cluster_statement,
    clusters,
    merchants_near,
    near_statement,
)

__all__ = [
    "ClusterRow",
    "DuplicateExternalId",
    "Filters",
    "MerchantHit",
    "MerchantRow",
    "MerchantValues",
    "OwnerRow",
    "RawJson",
    "cluster_statement",
    "clusters",
    "delete_merchant",
    "insert_merchant",
    "insert_owner",
    "merchant_by_id",
    "merchants_near",
    "merchants_of_owner",
    "near_statement",
    "owner_by_key_hash",
    "owner_by_name",
    "owner_exists",
    "schema_revision",
    "set_owner_key",
    "update_merchant",
    "upsert_merchants",
]
