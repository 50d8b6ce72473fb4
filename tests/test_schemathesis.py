"""Schemathesis over /openapi.json: generated requests to every operation of a live server, once
with the admin key and once without, and not one answer may be a 5xx or stray from the document
(status codes, content types and bodies, problem details included).

The server is `nearby serve --demo` (real uvicorn, the Helsinki stores, so searches return
merchants to check) on a database of its own, on a port in 26200-26299. The run is bounded by
MAX_EXAMPLES per operation and pass: about a minute and a half on a two-core machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.settings import Settings
from tests.conftest import ADMIN_KEY, create_database, database_url_for, drop_database, server_url
from tests.service import free_port, wait_answering

PORTS = range(26200, 26300)
MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
LOG = ARTIFACTS / "schemathesis-server.log"
METRICS = ARTIFACTS / "schemathesis-metrics.txt"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """`nearby serve --demo` on a new database; its base URL. Database dropped afterwards."""
    postgres = server_url()
    name = f"nearby_test_schemathesis_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(postgres, name))
    port = free_port(PORTS)
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(postgres, name),
        "NEARBY_ADMIN_KEY": ADMIN_KEY,
        "NEARBY_PORT": str(port),
    }
    LOG.parent.mkdir(parents=True, exist_ok=True)
    nearby = Path(sys.executable).with_name("nearby")
    with LOG.open("w") as log:
        process = subprocess.Popen(
            [str(nearby), "serve", "--demo"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_answering(url, process, log=LOG)
            assert httpx.get(f"{url}/openapi.json").json() == DOCUMENT
            yield url
            # What was asked and answered, by route and status, to see what the run reached.
            METRICS.write_text(httpx.get(f"{url}/metrics").text)
        finally:
            process.terminate()
            process.wait(timeout=30)
            asyncio.run(drop_database(postgres, name))


# The document the tests are generated from, built by the app itself (the `server` fixture
# checks that the live server serves this very document). schemathesis's lazy loader, which
# would read it from the server, relies on a pytest internal that pytest 9 no longer has.
DOCUMENT = create_app(Settings(database_url="postgresql://unused/openapi")).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: schemathesis.SerializationContext, value: object) -> bytes:
    """POST /v1/imports takes NDJSON as it is: the generated text, as UTF-8."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_answers_as_documented_to_the_admin(
    case: schemathesis.Case[Any], server: str
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    case.call_and_validate(base_url=server, headers=admin, checks=CHECKS, timeout=30)


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_answers_as_documented_to_anyone(
    case: schemathesis.Case[Any], server: str
) -> None:
    case.call_and_validate(base_url=server, checks=CHECKS, timeout=30)
