"""The OpenAPI document is complete: every operation, parameter and schema property described,
request bodies with examples, readable operation ids, described tags, and bearer security on
exactly the operations that need a credential (asked of the real app, not taken on trust).

A route or field added without its description fails here, by name.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import create_app
from app.settings import Settings

DOCUMENT = create_app(Settings(database_url="postgresql://unused/openapi")).openapi()
OPERATION_ID = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")  # camelCase: searchNearby, claimOffer
METHODS = ("get", "put", "post", "patch", "delete")


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _schemas_in(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema nested in `schema` (properties, items, anyOf/oneOf/allOf arms)."""
    if isinstance(schema, dict):
        if "properties" in schema:
            yield where, schema
        for key, value in schema.items():
            if key == "properties":
                for name, sub in value.items():
                    yield from _schemas_in(sub, f"{where}.{name}")
            elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
                yield from _schemas_in(value, where)
    elif isinstance(schema, list):
        for item in schema:
            yield from _schemas_in(item, where)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return dict(DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[1]])


def test_every_operation_is_described_with_a_readable_unique_id_and_described_tags() -> None:
    tags = {tag["name"]: tag.get("description") for tag in DOCUMENT.get("tags", [])}
    ids: list[str] = []
    undescribed, ugly, untagged = [], [], []
    for path, method, operation in operations():
        name = f"{method.upper()} {path}"
        if not operation.get("summary") or not operation.get("description", "").strip():
            undescribed.append(name)
        if not OPERATION_ID.match(operation["operationId"]):
            ugly.append(f"{name}: {operation['operationId']}")
        ids.append(operation["operationId"])
        if not operation.get("tags") or any(not tags.get(tag) for tag in operation["tags"]):
            untagged.append(f"{name}: {operation.get('tags')}")
    assert undescribed == [], "operations without a docstring (their description)"
    assert ugly == [], "operation ids that are not camelCase"
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    assert untagged == [], "operations without a tag, or with a tag missing from openapi.TAGS"


def test_every_parameter_is_described() -> None:
    undescribed = [
        f"{method.upper()} {path}: {parameter['in']} {parameter['name']}"
        for path, method, operation in operations()
        for parameter in operation.get("parameters", [])
        if not parameter.get("description", "").strip()
    ]
    assert undescribed == []


def test_every_schema_property_is_described() -> None:
    undescribed = [
        f"{where}.{name}"
        for schema_name, schema in DOCUMENT["components"]["schemas"].items()
        for where, found in _schemas_in(schema, schema_name)
        for name, prop in found["properties"].items()
        if not prop.get("description", "").strip()
    ]
    assert undescribed == []


def test_every_json_request_body_has_an_example() -> None:
    without = []
    for path, method, operation in operations():
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            schema = _resolve(content["application/json"]["schema"])
            if not schema.get("examples") and not content["application/json"].get("example"):
                without.append(f"{method.upper()} {path}")
    assert without == []


def test_the_credentials_are_declared_as_bearer_schemes() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert set(schemes) == {"ownerKey", "adminKey", "appKey", "userToken"}
    for scheme in schemes.values():
        assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
        assert scheme["description"]
    for path, method, operation in operations():
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(schemes), f"{method.upper()} {path}"
        # An operation that declares a credential documents what happens without one.
        if operation.get("security"):
            assert "401" in operation["responses"], f"{method.upper()} {path}"


def _path_of(path: str) -> str:
    values = {"code": "A" * 26, "user_id": "someone"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), str(uuid.UUID(int=0))), path)


def _body_of(operation: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    examples = _resolve(content["application/json"]["schema"]).get("examples") or [{}]
    return examples[0]


@pytest.mark.parametrize(
    ("path", "method", "operation"),
    list(operations()),
    ids=[f"{m.upper()} {p}" for p, m, _ in operations()],
)
@pytest.mark.parametrize("credential", [None, "not-a-key"])
async def test_declared_security_is_what_the_service_asks_for(
    client: httpx.AsyncClient,
    path: str,
    method: str,
    operation: dict[str, Any],
    credential: str | None,
) -> None:
    """Without a valid credential, an operation that declares security answers 401, and one
    that declares none never does (nor 403): the document and the service agree."""
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    response = await client.request(
        method, _path_of(path), headers=headers, json=_body_of(operation)
    )
    if operation.get("security"):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
    else:
        assert response.status_code not in (401, 403), response.text


def test_every_operation_is_in_the_written_contract() -> None:
    """docs/api.md (the contract) or docs/api-extensions.md (what the service adds) names every
    operation the service serves as `METHOD /path`: the written API keeps in step with it."""
    docs = Path(__file__).resolve().parents[1] / "docs"
    text = (docs / "api.md").read_text() + (docs / "api-extensions.md").read_text()
    written = {
        (method, _template(path))
        for method, path in re.findall(r"\b(GET|POST|PATCH|PUT|DELETE) (/[^\s`)\"',;?]*)", text)
    }
    unwritten = [
        f"{method.upper()} {path}"
        for path, method, _ in operations()
        if (method.upper(), _template(path)) not in written
    ]
    assert unwritten == []


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)
