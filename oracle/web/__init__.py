"""The owner's page: server-rendered HTML (Jinja2, no JavaScript, no CDN) served by the hub beside its
API under /owner, behind the owner's login (docs/hub-page.md)."""

from .routes import PREFIX, router
from .security import check_secret_strength, hash_secret, verify_secret

__all__ = ["router", "PREFIX", "hash_secret", "verify_secret", "check_secret_strength"]
