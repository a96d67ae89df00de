"""/openapi.json: generated from the served routes and pydantic models, valid OpenAPI 3.1."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from ff_api import ApiSettings, create_app, openapi
from tests.api.conftest import Seeded


async def test_openapi__valid__covers_every_served_route(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    response = await http.get("/openapi.json")

    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    app = create_app(seeded.settings)
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert documented == set(openapi.served(app.routes))
    assert len(documented) >= 30


async def test_openapi__schemas_are_the_models(http: httpx.AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    create_flag = spec["paths"]["/api/v1/projects/{project}/flags"]["post"]

    assert create_flag["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Flag"
    }
    assert "variants" in schemas["Flag"]["properties"]
    assert schemas["Flag"]["additionalProperties"] is False
    assert "hash" not in schemas["KeyView"]["properties"]
    assert {"project", "key"} <= {
        p["name"]
        for p in spec["paths"]["/api/v1/projects/{project}/flags/{key}"]["get"]["parameters"]
    }


def test_openapi__a_route_without_an_entry_is_refused() -> None:
    async def handler(request: object) -> None:
        raise AssertionError

    with pytest.raises(LookupError, match="/undocumented"):
        openapi.build([Route("/undocumented", handler)], "0")
    assert openapi.served(create_app(ApiSettings()).routes)
