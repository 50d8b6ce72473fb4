"""Request and response shapes of the HTTP contract (docs/api.md), one module per part of it.
No table models here. Import from the module, e.g. `from app.schemas.offers import OfferIn`."""
