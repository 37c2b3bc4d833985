"""One APIRouter per resource, gathered by `oracle.api.app`."""

from . import datasets, deals, info, offers, specs, terms

__all__ = ["datasets", "deals", "info", "offers", "specs", "terms"]
