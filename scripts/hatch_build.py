"""Hatch build hook: no wheel without the console's npm libraries.

The wheel's `artifacts` (pyproject.toml) are paths under app/web/node_modules, which `npm ci`
fills (`make setup`) and git does not hold; a wheel built before it would lack them and its
console would answer 503. Editable installs read the checkout itself and are not checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        artifacts = self.build_config.target_config.get("artifacts", [])
        missing = [path for path in artifacts if not (Path(self.root) / path).exists()]
        if missing:
            raise FileNotFoundError(
                f"the wheel needs {', '.join(missing)}: run `make setup` (npm ci in app/web) first"
            )
