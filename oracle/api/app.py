"""The hub's HTTP API as one FastAPI app (protocol.md "Hub HTTP API"; OpenAPI page at /docs)."""

from __future__ import annotations

from fastapi import FastAPI

from oracle.context import HubContext
from oracle.web import router as owner_pages

from .handlers import install_handlers
from .routes import datasets, deals, info, offers, specs, terms

__all__ = ["create_app"]


def create_app(ctx: HubContext) -> FastAPI:
    """An app serving `ctx`'s hub: catalogue, spec and terms uploads, deal status and downloads."""
    app = FastAPI(
        title="Spartacus hub", version="1",
        description="A data owner's hub: offers, pricing specs and terms, and the paying buyer's "
                    "encrypted release (shared/protocol.md, \"Hub HTTP API\").",
    )
    app.state.hub = ctx
    for module in (info, datasets, offers, specs, terms, deals):
        app.include_router(module.router)
    app.include_router(owner_pages)  # the owner's page under /owner (docs/hub-page.md)
    install_handlers(app)
    return app
