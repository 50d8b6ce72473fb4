"""The TypeScript client (clients/typescript) against the live service: its types, generated
from the running service's /openapi.json by openapi-typescript, are the committed ones (so any
change to the document shows in review as a change to src/schema.d.ts), they type-check with
tsc, and the compiled loop (owner -> store -> offer -> app -> claim -> redeem -> events) runs
with node against a real `nearby serve`.

`make test` installs the project's npm packages (npm ci in clients/typescript) first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    ADMIN_KEY,
    own_database,
)
from tests.service import free_port, nearby_serve

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "clients" / "typescript"
BIN = CLIENT / "node_modules" / ".bin"
PORTS = range(27700, 27800)
ARTIFACTS = ROOT / "test-artifacts" / "typescript-client"


def _run(args: list[str], env: dict[str, str] | None = None, timeout: float = 180) -> str:
    done = subprocess.run(
        args,
        cwd=CLIENT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def tools() -> None:
    if not (BIN / "tsc").exists() or not (BIN / "openapi-typescript").exists():
        pytest.fail(
            "clients/typescript has no node_modules: `make test` runs `npm ci` there",
            pytrace=False,
        )
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("No node/npm: install Node.js 20", pytrace=False)


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    """`nearby serve` on a database of its own; its base URL."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with own_database("nearby_test_tsclient") as database_url:
        port = free_port(PORTS)
        with nearby_serve(
            database_url=database_url,
            port=port,
            log=ARTIFACTS / "server.log",
            env={"NEARBY_ADMIN_KEY": ADMIN_KEY},
        ):
            yield f"http://127.0.0.1:{port}"


def test_the_committed_types_are_those_of_the_live_document(
    tools: None, service: str, tmp_path: Path
) -> None:
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{service}/openapi.json", timeout=30).content)
    generated = tmp_path / "schema.d.ts"
    _run(
        ["npm", "run", "--silent", "types"],
        env={"NEARBY_OPENAPI": str(document), "NEARBY_TYPES": str(generated)},
    )
    committed = CLIENT / "src" / "schema.d.ts"
    assert generated.read_text() == committed.read_text(), (
        "clients/typescript/src/schema.d.ts differs from the service's document: "
        "run `make client-types` and commit the result"
    )


def test_the_client_type_checks_and_runs_the_whole_loop(tools: None, service: str) -> None:
    # tsc type-checks (strict, noEmitOnError) and compiles in one pass, into clients/typescript/
    # dist/ (git-ignored), where node finds openapi-fetch in the project's node_modules.
    shutil.rmtree(CLIENT / "dist", ignore_errors=True)
    _run([str(BIN / "tsc"), "-p", "."])
    said = _run(
        ["node", "dist/loop.js"],
        env={"NEARBY_URL": service, "NEARBY_ADMIN_KEY": ADMIN_KEY},
        timeout=60,
    )
    result = json.loads(said.strip().splitlines()[-1])
    assert {"offer.claimed", "claim.redeemed"} <= set(result["events"]), result
    # What the client did is what the service holds.
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    claim = httpx.get(f"{service}/v1/claims/{result['code']}", headers=admin, timeout=30)
    assert claim.status_code == 200, claim.text
    assert claim.json()["offer_id"] == result["offer"]
    assert claim.json()["redeemed_at"] == result["redeemed_at"]
