"""`nearby simulate-walk` end to end: the real service (`nearby serve --demo`, its own database,
webhooks to 127.0.0.1 allowed) and the command walking a demo user through it with its local
webhook receiver; every fence event is printed, delivered and verified, and in the outbox."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import demo
from tests.conftest import (
    own_database,
)
from tests.service import free_port, nearby_serve

PORTS = range(27000, 27100)


@pytest.fixture
def walk_database() -> Iterator[str]:
    with own_database("nearby_test_walk") as database_url:
        yield database_url


def test_a_walk_past_the_demo_fences_is_entered_dwelled_exited_and_delivered(
    walk_database: str, tmp_path: Path
) -> None:
    port = free_port(PORTS)
    env = {"NEARBY_STATE_DIR": str(tmp_path), "NEARBY_WEBHOOK_ALLOW_PRIVATE": "true"}
    with nearby_serve(
        database_url=walk_database, port=port, log=tmp_path / "serve.log", env=env, demo=True
    ):
        app_key = tmp_path / demo.APP_KEY_FILE
        assert stat.S_IMODE(app_key.stat().st_mode) == 0o600
        url = f"http://127.0.0.1:{port}"
        receiver_port = free_port(range(port + 1, PORTS.stop))
        walk = subprocess.run(
            [
                str(Path(sys.executable).with_name("nearby")),
                "simulate-walk",
                "--url",
                url,
                "--state-dir",
                str(tmp_path),
                "--webhook",
                "--receiver-port",
                str(receiver_port),
                "--pace",
                "0.05",
                "--wait",
                "60",
            ],
            env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},  # a client only
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert walk.returncode == 0, walk.stdout + walk.stderr
        out = walk.stdout
        printed = re.findall(r"(fence\.\w+)\s+(\w+): 10% off today  \(event (\d+)\)", out)
        assert [(t, where) for t, where, _ in printed] == [
            ("fence.entered", "Forum"),
            ("fence.dwelled", "Forum"),
            ("fence.exited", "Forum"),
            ("fence.entered", "Stockmann"),
            ("fence.dwelled", "Stockmann"),
            ("fence.exited", "Stockmann"),
        ]
        delivered = re.findall(r"webhook got (fence\.\w+) .* \(event (\d+)\): signature ok", out)
        assert sorted(e for _, e in delivered) == sorted(e for _, _, e in printed)
        assert "BAD SIGNATURE" not in out
        owner = {"Authorization": f"Bearer {(tmp_path / demo.KEY_FILE).read_text().strip()}"}
        replay = httpx.get(f"{url}/v1/events", headers=owner, timeout=30).json()["results"]
        assert [e["id"] for e in replay] == [e for _, _, e in printed]
        assert httpx.get(f"{url}/v1/webhooks", headers=owner, timeout=30).json() == {
            "results": []
        }  # the walk removed its webhook


def test_the_walk_says_how_to_allow_its_receiver_and_where_the_keys_are(
    walk_database: str, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "app.cli"]
    keyless = subprocess.run(
        [*command, "simulate-walk", "--state-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert keyless.returncode == 2 and "--app-key" in keyless.stderr
    port = free_port(PORTS)
    with nearby_serve(database_url=walk_database, port=port, log=tmp_path / "serve.log"):
        created = subprocess.run(
            [*command, "create-owner", "Walk owner"],
            env=dict(os.environ, DATABASE_URL=walk_database),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        owner_key = created.split("api key: ")[1].split()[0]
        refused = subprocess.run(
            [
                *command,
                "simulate-walk",
                "--url",
                f"http://127.0.0.1:{port}",
                "--app-key",
                "unused",
                "--owner-key",
                owner_key,
                "--webhook",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert refused.returncode == 2
    assert "NEARBY_WEBHOOK_ALLOW_PRIVATE=true" in refused.stderr
