"""The HTTP API: ``create_app(settings)`` builds it, ``giamdinh serve`` runs it.

Startup loads the rule packs and catalogs once (a pack or catalog that does not load
stops the server before it answers anything) and starts the one writer thread
(``api.worker``); shutdown lets the writer finish its job. Every error is answered as
problem details (``api.errors``); bodies are limited (``api.limits``); callers are
known by their API key (``api.deps``). OpenAPI at ``/openapi.json``, Swagger UI at
``/docs``, served from the package (no CDN). TLS is the reverse proxy's job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import errors, ui
from api.deps import RateLimiter, ServerState, StateDep
from api.limits import BodyLimit
from api.routes import claims, finance, reviews, rules, submissions
from api.spool import Spool
from api.worker import Worker
from claims.config import Settings
from claims.ids import engine_version
from claims.pipeline.context import Reference
from claims.store.runs import read_write_only

DESCRIPTION = """
Giám định BHYT: clinics submit claim files (QĐ 130/4750) and follow their receipts,
assessors review flagged claims, finance settles. Every request carries
`Authorization: Bearer <API key>` (`giamdinh users add`). Errors are
`application/problem+json` with a stable `code` and a Vietnamese `detail`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API over the store of ``settings`` (default: from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reference = Reference.load(settings.catalog_dir, settings.pack_id)
        read_write_only(settings.store_path)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        worker = Worker(settings, reference)
        app.state.giamdinh = ServerState(
            settings=settings,
            reference=reference,
            worker=worker,
            spool=worker.spool,
            limiter=RateLimiter(settings.api_rate_per_minute),
        )
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(
        title="giamdinh",
        version=engine_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_upload_bytes)
    app.include_router(submissions.router)
    app.include_router(claims.router)
    app.include_router(reviews.router)
    app.include_router(finance.router)
    app.include_router(rules.router)
    ui.install(app, settings)

    @app.get("/health", tags=["operator"])
    def health(state: StateDep) -> dict[str, Any]:
        """Whether the server answers, and how many submissions wait."""
        return {"status": "ok", "waiting": len(state.spool.pending())}

    return app


__all__ = ["Spool", "create_app"]
