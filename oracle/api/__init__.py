"""The hub's HTTP API: `create_app(ctx)` builds the FastAPI app the `hub serve` command runs."""

from .app import create_app

__all__ = ["create_app"]
