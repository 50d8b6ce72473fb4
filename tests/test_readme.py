"""The README stays true: its curl quick start runs, as written, against a live `nearby serve
--demo` (the way `make run` starts it), and its configuration table names every setting.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import Settings
from tests.conftest import (
    ADMIN_KEY,
    own_database,
)
from tests.service import free_port, nearby_serve

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PORTS = range(27700, 27800)
ARTIFACTS = ROOT / "test-artifacts" / "readme"


def quick_start() -> str:
    """The first shell block under the README's "Quick start" heading."""
    section = README.split("\n## Quick start", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "the README's Quick start has no ```sh block"
    return found.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`nearby serve --demo` on a database of its own: its URL and the demo owner's key, read
    from what it printed, as a reader of the README does."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "server.log"
    with own_database("nearby_test_readme") as database_url:
        port = free_port(PORTS)
        with nearby_serve(
            database_url=database_url,
            port=port,
            log=log,
            demo=True,
            env={
                "NEARBY_ADMIN_KEY": ADMIN_KEY,
                "NEARBY_STATE_DIR": str(tmp_path_factory.mktemp("state")),
            },
        ):
            key = re.search(r"demo owner key: (\S+)", log.read_text())
            assert key, log.read_text()
            yield f"http://127.0.0.1:{port}", key.group(1)


def test_the_quick_start_runs_as_written(demo: tuple[str, str]) -> None:
    url, owner_key = demo
    for tool in ("bash", "curl", "jq"):
        if shutil.which(tool) is None:
            pytest.fail(f"no {tool}: `make test` installs jq; bash and curl come with Debian")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", quick_start()],
        env={
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "NEARBY": url,
            "ADMIN_KEY": ADMIN_KEY,
            "OWNER_KEY": owner_key,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    (ARTIFACTS / "quick-start.out").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout
    assert "Quick Start Cafe" in said  # found by the nearby search
    assert "Coffee -50% at Quick Start Cafe" in said  # and its offer, here
    code = re.search(r"alice's code: ([A-Z2-7]{26})\n", said)
    assert code, said
    assert f'"code": "{code.group(1)}"' in said and '"redeemed_at": "' in said
    events = re.findall(r"^\S+ (offer\.claimed|claim\.redeemed)$", said, re.M)
    assert events == ["offer.claimed", "claim.redeemed"], said


def test_the_quick_start_stops_at_once_without_the_owner_key() -> None:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", quick_start()],
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "NEARBY": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "set OWNER_KEY to the demo owner key" in done.stderr


def test_the_configuration_table_names_every_setting() -> None:
    table = README.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`((?:NEARBY_)?[A-Z_]+)`", table))
    missing = [
        f"NEARBY_{name.upper()}"
        for name in Settings.model_fields
        if name != "database_url" and f"NEARBY_{name.upper()}" not in named
    ]
    assert "DATABASE_URL" in named
    assert missing == []
