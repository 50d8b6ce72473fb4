"""Request and response shapes of the HTTP contract (../shared/API.md), one module per part of it.
No table models here. Import from the module, e.g. `from app.schemas.offers import OfferIn`."""
