"""create_app(settings) -> FastAPI: the engine's lifespan, routes, error handlers, metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from app import errors, migrate, openapi, replicas, routes
from app.apps import Directory, box_of
from app.db import DriverConnections, make_engine
from app.delivery import Deliverer
from app.headers import SecurityHeaders
from app.imports.jobs import ImportRunner
from app.logs import RequestIds
from app.metrics import Metrics, MetricsMiddleware
from app.ratelimit import Limits
from app.replicas import Replicas
from app.routes import console, reference
from app.settings import Settings
from app.stats import ViewCache

log = logging.getLogger("nearby")


class NearbyAPI(FastAPI):
    """FastAPI, with every error of its own outer layers turned into problem details too, and
    every response, those included, carrying app.headers.HEADERS and a request id (app/logs.py,
    outermost, so even the framework's own 500 is logged and answered under its id)."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = SecurityHeaders(errors.PlainTextErrorsAsProblems(super().build_middleware_stack()))
        return RequestIds(stack, access_log=self.state.settings.access_log)

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, with credentials, tag texts and a description (app/openapi.py)."""
        if self.openapi_schema is None:
            self.openapi_schema = openapi.secure(super().openapi(), routes.ROUTERS)
        return self.openapi_schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # /readyz compares the database with the newest migration script: read the scripts once,
        # here, and not in a probe (blocking file reads and imports in the event loop).
        await asyncio.to_thread(migrate.head_revision)
        engine = make_engine(settings)
        app.state.engine = engine
        connections = DriverConnections(engine, keep=settings.pool_size)
        app.state.driver_connector = connections
        app.state.core_connector = engine.connect
        if settings.replicas:
            app.state.replicas = Replicas(settings, app.state.metrics)
        app.state.imports = ImportRunner(engine)
        try:
            await app.state.imports.sweep()
        except Exception as exc:  # the service may start before its database
            if not errors.database_unreachable(exc):
                raise
            log.warning("could not check for interrupted imports: %s", errors.one_line(exc))
        deliverer = Deliverer(connections, settings) if settings.delivery else None
        if deliverer is not None:
            deliverer.start()
        # Everything loaded so far lives as long as the process: keep it out of the cyclic
        # collector's full passes, which would otherwise walk it again and again while
        # requests wait (a pause that grows with the number of objects loaded at startup).
        gc.freeze()
        try:
            async with replicas.started(app.state.replicas):
                yield
        finally:
            if deliverer is not None:
                await deliverer.close()
            await app.state.imports.close()
            await app.state.stats_cache.close()
            await connections.close()
            await engine.dispose()

    app = NearbyAPI(
        title="Nearby",
        version="0.1.0",
        summary="Nearby merchants and geofenced offers, over PostGIS and H3.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        generate_unique_id_function=openapi.operation_id,
        docs_url=None,  # routes/reference.py serves /docs and /redoc from /vendor/
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.replicas = None  # the lifespan makes them, when NEARBY_REPLICA_URLS names any
    app.state.apps = Directory(box_of(settings))
    app.state.limits = Limits.of(settings)
    # Statistics refresh ahead on connections of their own (the engine's, once it exists).
    app.state.stats_cache = ViewCache(
        settings.stats_cache_s, connect=lambda: app.state.core_connector()
    )
    errors.install(app)
    for router in routes.ROUTERS:
        app.include_router(router)
    console.mount(app)
    reference.mount(app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if settings.cors_origins:
        # Outside the metrics, so a preflight is answered here and not counted as a route.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "Idempotent-Replayed"],
            max_age=600,
        )
    return app
