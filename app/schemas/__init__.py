"""Request and response shapes of the HTTP contract (../shared/API.md), one module per part.
No table models here. Import as `from app.schemas import X`."""

from app.schemas.common import MAX_TAGS, Instant, Lat, LatLng, Lng, Name, Problem, QueryText, Strict
from app.schemas.imports import (
    ImportAccepted,
    ImportFormat,
    ImportJobOut,
    RowError,
    StoreRecord,
)
from app.schemas.merchants import (
    MerchantIn,
    MerchantList,
    MerchantOut,
    MerchantPatch,
    OwnerIn,
    OwnerOut,
)
from app.schemas.operations import Health, Readiness
from app.schemas.search import (
    BBoxPage,
    BBoxQuery,
    BoxQuery,
    Cluster,
    ClusterPage,
    ClusterQuery,
    NearbyHit,
    NearbyPage,
    NearbyQuery,
)

__all__ = [
    "MAX_TAGS",
    "BBoxPage",
    "BBoxQuery",
    "BoxQuery",
    "Cluster",
    "ClusterPage",
    "ClusterQuery",
    "Health",
    "ImportAccepted",
    "ImportFormat",
    "ImportJobOut",
    "Instant",
    "Lat",
    "LatLng",
    "Lng",
    "MerchantIn",
    "MerchantList",
    "MerchantOut",
    "MerchantPatch",
    "Name",
    "NearbyHit",
    "NearbyPage",
    "NearbyQuery",
    "OwnerIn",
    "OwnerOut",
    "Problem",
    "QueryText",
    "Readiness",
    "RowError",
    "StoreRecord",
    "Strict",
]
