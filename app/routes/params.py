"""Query strings of the search routes, validated in one pass against a pydantic model.

FastAPI re-inspects each declared parameter's annotation on every request: measured at about
125 us for the ten parameters of a nearby search, a tenth of the whole request. The search
routes therefore take their query string as one model, read in the handler (`read`, not a
dependency: see db.driver_connection) and validated in a single call, with errors raised as
FastAPI's own RequestValidationError (the same 422 body) and the parameters documented from the
same model (`openapi`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import cache
from typing import Annotated, Any, TypeVar, get_args, get_origin
from uuid import UUID

from fastapi import Path, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from app.schemas.common import COORD_HELP, CURSOR_HELP
from spatial import CoordSystem

M = TypeVar("M", bound=BaseModel)

# The paging and coordinate parameters of the routes that declare theirs one by one.
Limit = Annotated[int, Query(ge=1, le=100, description="At most this many results (1-100).")]
Cursor = Annotated[str | None, Query(max_length=512, description=CURSOR_HELP)]
Coord = Annotated[CoordSystem, Query(description=COORD_HELP)]
# The ids in paths.
MerchantId = Annotated[UUID, Path(description="The store's id.")]
OfferId = Annotated[UUID, Path(description="The offer's id.")]
AppId = Annotated[UUID, Path(description="The app's id.")]
ImportId = Annotated[UUID, Path(description="The import job's id.")]
WebhookId = Annotated[UUID, Path(description="The webhook's id.")]


def read(model: type[M], request: Request) -> M:
    """`model` read from the request's query string (list fields may repeat)."""
    repeatable = _repeatable(model)
    values: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in repeatable:
            values.setdefault(key, []).append(value)
        else:
            values[key] = value
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ("query", *e["loc"]), "msg": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from None


class KnownQueryRoute(APIRoute):
    """A route that answers 422 to a query parameter it does not take (API.md: a misspelt
    filter must not silently return everything). What it takes is what the OpenAPI document
    lists: its declared query parameters and those `openapi` describes from a model.

    Every API router is built with `route_class=KnownQueryRoute`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        known = frozenset(_declared(self.dependant)) | frozenset(
            p["name"]
            for p in (self.openapi_extra or {}).get("parameters", [])
            if p.get("in") == "query"
        )

        async def known_only(request: Request) -> Response:
            unknown = [name for name in request.query_params if name not in known]
            if unknown:
                takes = ", ".join(sorted(known)) or "none"
                msg = f"is not a parameter of this route (it takes: {takes})"
                raise RequestValidationError(
                    [{"type": "extra_forbidden", "loc": ("query", n), "msg": msg} for n in unknown]
                )
            return await handler(request)

        return known_only


def openapi(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` describing the model's fields as query parameters."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        parameter["schema"] = prop
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return {"parameters": parameters}


def _declared(dependant: Dependant) -> list[str]:
    """The query parameter names of a route and of all its dependencies."""
    names = [field.alias for field in dependant.query_params]
    for sub in dependant.dependencies:
        names += _declared(sub)
    return names


@cache
def _repeatable(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name for name, field in model.model_fields.items() if _is_list(field.annotation)
    )


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in get_args(annotation))
