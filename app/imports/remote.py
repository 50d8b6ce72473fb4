"""`nearby import FILE --url URL --key KEY`: the import through a running service, as any client
would do it (POST /v1/imports, then GET /v1/imports/{id}), for an operator who has an owner key
but no database connection. The file streams up in chunks (never read whole), the job's progress
drives the same bar as a local import, and the same summary, rejected rows and exit status
follow (0 all landed, 1 rows rejected, 2 failed or could not start).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from app.imports import cli, load
from app.imports.load import ImportFile
from app.queries.imports import Rejected

CHUNK_BYTES = 1024 * 1024
POLL_EVERY_S = 0.5
_CONTENT_TYPES = {
    "csv": "text/csv",
    "geojson": "application/geo+json",
    "ndjson": "application/x-ndjson",
}


class Refused(Exception):
    """The service said no (or could not be reached): what to tell the operator."""


def run(args: argparse.Namespace) -> int:
    out, err = Console(), Console(stderr=True)
    source = cli.source_of(args, err)
    if source is None:
        return 2
    key = args.key or os.environ.get("NEARBY_OWNER_KEY")
    if not key:
        err.print("nearby import: --url needs an owner key: --key or NEARBY_OWNER_KEY")
        return 2
    headers = {"Authorization": f"Bearer {key}", "User-Agent": "nearby-import"}
    started = time.monotonic()
    try:
        with httpx.Client(base_url=args.url, headers=headers, timeout=60.0) as client:
            bar = cli.Bar(err, source.size_bytes)
            with bar.progress:
                job_id = _upload(client, source, args.owner, bar)
                job = _follow(client, job_id, bar)
            seconds = time.monotonic() - started
            if args.errors is not None and job["rows_failed"]:
                _download(client, job["errors_csv"], args.errors)
    except Refused as exc:
        err.print(f"nearby import: {exc}")
        return 2
    first = [
        Rejected(e["row"], e["field"], e["msg"], e.get("external_id"))
        for e in job["errors"][: cli.ERRORS_PRINTED]
    ]
    where = args.errors or f"{args.url.rstrip('/')}{job['errors_csv']}"
    cli.summary(out, job, seconds, first, where)
    return cli.exit_status(job["status"], job["rows_failed"])


def _upload(client: httpx.Client, source: ImportFile, owner: str | None, bar: cli.Bar) -> str:
    params: list[tuple[str, str]] = [
        ("format", source.format.value),
        ("coord", source.coord.value),
        ("filename", source.filename or source.path.name),
    ]
    params += [("map", f"{field}={column}") for field, column in source.columns.items()]
    for field, value in source.constants.items():
        params.append(("set", f"{field}={';'.join(value) if isinstance(value, list) else value}"))
    if owner is not None:
        params.append(("owner_id", owner))
    headers = {
        "Content-Type": _CONTENT_TYPES[source.format.value],
        "Content-Length": str(source.size_bytes),
    }
    response = _call(
        client,
        "POST",
        "/v1/imports",
        params=params,
        headers=headers,
        content=_chunks(source.path, source.size_bytes, bar),
    )
    job_id: str = response.json()["id"]
    return job_id


def _chunks(path: Path, size: int, bar: cli.Bar) -> Iterator[bytes]:
    """The file a chunk at a time, the bar showing the upload."""
    sent = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            sent += len(chunk)
            bar.show(load.Progress(0, 0, sent, size, "uploading"))
            yield chunk


def _follow(client: httpx.Client, job_id: str, bar: cli.Bar) -> dict[str, Any]:
    """Poll the job until it ends; the bar follows its bytes read and rows."""
    while True:
        job: dict[str, Any] = _call(client, "GET", f"/v1/imports/{job_id}").json()
        done = job["status"] in ("done", "failed")
        phase = "reading" if job["bytes_read"] < job["size_bytes"] or done else "writing"
        bar.show(
            load.Progress(
                job["rows_total"], job["rows_failed"], job["bytes_read"], job["size_bytes"], phase
            )
        )
        if done:
            return job
        time.sleep(POLL_EVERY_S)


def _download(client: httpx.Client, path: str, target: Path) -> None:
    with client.stream("GET", path) as response:
        if response.status_code != 200:
            raise Refused(f"errors.csv: HTTP {response.status_code}")
        with target.open("wb") as f:
            for chunk in response.iter_bytes():
                f.write(chunk)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise Refused(f"the service at {client.base_url} cannot be reached ({exc})") from None
    if response.status_code >= 400:
        raise Refused(_problem(response))
    return response


def _problem(response: httpx.Response) -> str:
    """A problem+json answer in one line: status, title, detail."""
    try:
        body = response.json()
        return f"HTTP {response.status_code} {body.get('title', '')}: {body.get('detail', '')}"
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
