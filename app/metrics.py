"""Prometheus metrics: request counts and latency per route template and status.

A plain ASGI middleware (no BaseHTTPMiddleware: it would cost a task per request). Routes are
labelled by their template (`/v1/merchants/{merchant_id}`), unknown paths as `unmatched`, so the
label set stays small whatever clients send. Each app has its own registry.

Several processes (`nearby serve --workers N`): prometheus_client's multiprocess mode, switched on
by PROMETHEUS_MULTIPROC_DIR (the CLI makes a fresh directory per run). Every process writes its
series to its own files there, and a scrape, whichever process answers it, sums them all, those
of processes that have ended included (counters and histograms only, so there are no live gauges
of dead processes to drop). Without the variable the values stay in memory, as cheap as before.
"""

from __future__ import annotations

import os
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        # prometheus_client chose where values live by the same variable, when it was imported.
        self.shared_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.registry = CollectorRegistry()
        labels = ["method", "route", "status"]
        self.requests = Counter(
            "http_requests_total", "HTTP requests served.", labels, registry=self.registry
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from receiving a request to handing over the last part of its response.",
            labels,
            buckets=_BUCKETS,
            registry=self.registry,
        )

        # (method, route, status) -> its two series. prometheus_client's labels() validates and
        # locks on every call; the label set is small and fixed once seen, so look it up once.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            labels = (method, route, str(status))
            series = self.requests.labels(*labels), self.duration.labels(*labels)
            self._series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    def render(self) -> bytes:
        """The text exposition: this process's series, or the sum over every process's files."""
        if self.shared_dir is None:
            return generate_latest(self.registry)
        every_process = CollectorRegistry()
        MultiProcessCollector(every_process, path=self.shared_dir)  # type: ignore[no-untyped-call]
        return generate_latest(every_process)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500
        noted = False

        def note() -> None:
            nonlocal noted
            noted = True
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, status, perf_counter() - started)

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Counted before the client has all of it: a scrape sent after a response has
                # arrived counts it, even when another worker answers the scrape.
                note()
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if not noted:  # no complete response: an error, or the client went away
                note()
