"""The admin API's typed edges, over every route of the url map (new routes are covered by construction):
the OpenAPI document is valid and describes every body; ids past 64 bits, dates at the calendar's edges
and wrongly typed body fields are a 400/404/422 that names the parameter or field, never a 5xx (issue 19,
item 4). Each test derives its cases from the url map and the document, not from a hand-written list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from customer_world import all_rows, build
from models import Channel

HUGE_IDS = ["99999999999999999999", "9223372036854775808"]
EDGE_DAYS = ["0001-01-01", "9999-12-31"]
EDGE_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z",
              "9999-12-31T23:59:59Z"]
# One value of each JSON type; a field is sent the first one its schema does not allow.
WRONG = [("integer", 12345), ("string", "x"), ("boolean", True), ("array", [1]), ("object", {"a": 1})]
PARAM = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")


@pytest.fixture
def doc(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    return r.get_json()


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("super_admin")


def api_routes(app) -> list[tuple[str, str, Any]]:  # type: ignore[no-untyped-def]
    """(method, url rule, rule) of every /api/v1 route."""
    return [(method, rule.rule, rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]


def url(rule: str, value: str = "1") -> str:
    return PARAM.sub(lambda m: value if m.group(1) == "id" else "x", rule)


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def kinds(doc: dict[str, Any], schema: dict[str, Any]) -> set[tuple[str, str]]:
    """(JSON type, format) pairs a schema allows, through $ref and anyOf/oneOf; empty for "anything"."""
    schema = resolve(doc, schema)
    if "anyOf" in schema or "oneOf" in schema:
        return {k for sub in schema.get("anyOf", schema.get("oneOf", [])) for k in kinds(doc, sub)}
    if "type" not in schema:
        return set()
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {(t, schema.get("format", "")) for t in types}


def operation(doc: dict[str, Any], method: str, rule: str) -> dict[str, Any]:
    return doc["paths"][PARAM.sub(r"{\2}", rule.removeprefix("/api/v1"))][method.lower()]


def named(body: dict[str, Any], name: str) -> bool:
    error = body["error"]
    return name in (error.get("fields") or {}) or name in error["message"]


# -- the document ----------------------------------------------------------------------------------------------
def test_the_document_is_valid_openapi_and_describes_every_body(doc) -> None:  # type: ignore[no-untyped-def]
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert "Error" in schemas
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert len(ok) == 1 and op["responses"][ok[0]]["content"], (method, path)
            assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}
            if "requestBody" in op:
                [(kind, content)] = op["requestBody"]["content"].items()
                if kind == "multipart/form-data":  # a file upload: each field named, the file as binary
                    fields = content["schema"]["properties"]
                    assert set(content["schema"]["required"]) <= set(fields), (method, path)
                    assert {"type": "string", "format": "binary"} in fields.values(), (method, path)
                    continue
                assert kind == "application/json", (method, path)
                assert content["schema"]["$ref"].rsplit("/", 1)[1] in schemas, (method, path)


def test_the_document_and_the_url_map_agree(app, doc) -> None:  # type: ignore[no-untyped-def]
    routes = {(method.lower(), PARAM.sub(r"{\2}", rule.removeprefix("/api/v1"))) for method, rule, _ in api_routes(app)}
    assert {(method, path) for path, ops in doc["paths"].items() for method in ops} == routes


def test_the_sidebars_json_routes_are_typed_but_not_in_the_admin_document(app, doc) -> None:  # type: ignore[no-untyped-def]
    """The sidebar pages' JSON routes (session cookie + CSRF header, tests/unit/test_sidebar_signin.py) are the
    pages' private API: validated by @endpoint like the admin API, kept out of its bearer-token document."""
    sidebar = [r for r in app.url_map.iter_rules() if r.rule.startswith("/sidebar/api/")]
    assert sidebar and all(getattr(app.view_functions[r.endpoint], "spec", None) for r in sidebar)
    assert not [path for path in doc["paths"] if path.startswith("/sidebar/api/")]  # /sidebar/* here: the admin's


# -- ids past 64 bits --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", HUGE_IDS)
def test_an_id_past_64_bits_is_a_404_on_every_id_route(app, client, runtime, admin, value) -> None:  # type: ignore[no-untyped-def]
    id_routes = [(m, r) for m, r, rule in api_routes(app) if "id" in {c for c, _ in PARAM.findall(r)}]
    assert len(id_routes) > 20
    assert not [r for _, r, _ in api_routes(app) if "<int:" in r]  # ids use <id:…>, which bounds them
    before = all_rows(runtime)
    for method, rule in id_routes:
        r = client.open(url(rule, value), method=method, json={}, headers=admin)
        assert r.status_code == 404, (method, rule, r.get_data(as_text=True))
        assert r.get_json()["error"] == {"code": "not_found", "message": f"no row has id {value}: ids go up to "
                                                                         f"{2**63 - 1}"}
    assert all_rows(runtime) == before


def test_an_integer_filter_past_64_bits_is_a_400_naming_it(app, client, runtime, admin, doc) -> None:  # type: ignore[no-untyped-def]
    world = build(runtime)
    cases = [(rule, p["name"]) for method, rule, _ in api_routes(app) if method == "GET"
             for p in operation(doc, method, rule)["parameters"]
             if p["in"] == "query" and {t for t, _ in kinds(doc, p["schema"])} & {"integer", "array"}]
    assert {name for _, name in cases} >= {"page", "page_size", "tag", "department", "rule_id"}
    for rule, name in cases:
        for value in HUGE_IDS:
            r = client.get(url(rule, str(world["王小明"])), query_string={name: value}, headers=admin)
            assert r.status_code == 400 and named(r.get_json(), name), (rule, name, r.get_data(as_text=True))
    for rule in ("/api/v1/customers", "/api/v1/messages"):  # ids inside text filters match nothing
        for name in ("channel", "customer"):
            r = client.get(rule, query_string={name: HUGE_IDS[0]}, headers=admin)
            assert r.status_code in (200, 400), (rule, name, r.get_data(as_text=True))


# -- dates and times at the calendar's edges -----------------------------------------------------------------------
RANGE_PARTNER = {"from": {"to": "2026-11-30"}, "to": {"from": "2026-11-01"}}  # the reports' from/to go together


def test_dates_and_times_at_the_calendars_edges_are_a_400_naming_the_filter(app, client, runtime, admin,  # type: ignore[no-untyped-def]
                                                                              doc) -> None:
    build(runtime)
    with runtime.WriteSession.begin() as s:  # a channel, for its report's from/to (its id: MariaDB's may not be 1)
        channel = Channel(corp_id="wwtestcorp000001", name="门店", scene="海报")
        s.add(channel)
        s.flush()
        channel_id = str(channel.id)
    cases = [(rule, p["name"], fmt) for method, rule, _ in api_routes(app) if method == "GET"
             for p in operation(doc, method, rule)["parameters"] if p["in"] == "query"
             for t, fmt in kinds(doc, p["schema"]) if fmt in ("date", "date-time")]
    assert {name for _, name, _ in cases} >= {"added_from", "added_to", "deleted_from", "since", "until"}
    for rule, name, fmt in cases:
        path = url(rule, channel_id if "channel_id" in rule else "1")
        for value in EDGE_DAYS if fmt == "date" else EDGE_TIMES:
            # the export and the sales reports act on one corp (build adds a second); a range's other end
            extra = {"corp_id": "wwtestcorp000001", **RANGE_PARTNER.get(name, {})}
            r = client.get(path, query_string={name: value, **extra}, headers=admin)
            assert r.status_code == 400 and named(r.get_json(), name), (rule, name, value, r.get_data(as_text=True))
        near_edge = "2026-11-23" if fmt == "date" else "2026-11-23T00:00:00+14:00"
        r = client.get(path, query_string={name: near_edge, **extra}, headers=admin)
        assert r.status_code == 200, (rule, name, r.get_data(as_text=True))


def test_dates_at_the_calendars_edges_in_a_body_are_a_422(client, runtime, admin) -> None:  # type: ignore[no-untyped-def]
    before = all_rows(runtime)
    for day in EDGE_DAYS:
        r = client.put("/api/v1/working-hours", json={"week": {}, "holidays": [day]}, headers=admin)
        assert r.status_code == 422 and named(r.get_json(), "holidays"), r.get_data(as_text=True)
    assert all_rows(runtime) == before


# -- bodies with a wrong type ------------------------------------------------------------------------------------
def body_fields(app, doc) -> list[tuple[str, str, str, Any]]:  # type: ignore[no-untyped-def]
    """(method, rule, field, wrong value) for every top-level field of every request body."""
    cases = []
    for method, rule, r in api_routes(app):
        op = operation(doc, method, rule)
        if "application/json" not in op.get("requestBody", {}).get("content", {}):
            continue  # no body, or a file upload (its field: tests/unit/test_follow_up_files.py)
        if getattr(app.view_functions[r.endpoint], "required_role", None) is None:
            continue  # signed, not a token: 401 before its body is read (tests/unit/test_lead_inbound.py)
        schema = resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])
        for name, prop in schema.get("properties", {}).items():
            allowed = {t for t, _ in kinds(doc, prop)}
            if "number" in allowed:
                allowed.add("integer")
            wrong = [value for kind, value in WRONG if allowed and kind not in allowed]
            if wrong:
                cases.append((method, rule, name, wrong[0]))
            if "integer" in allowed:
                cases.append((method, rule, name, 2**64))
    return cases


def test_a_body_field_of_the_wrong_type_is_a_422_naming_it_on_every_route(app, client, runtime, admin,  # type: ignore[no-untyped-def]
                                                                            doc) -> None:
    world = build(runtime)
    cases = body_fields(app, doc)
    fields = {name for _, _, name, _ in cases}
    assert fields >= {"corp_id", "order", "type", "kind", "slug", "recycle_retention_days"}  # issue 19's list
    before = all_rows(runtime)
    for method, rule, name, value in cases:
        r = client.open(url(rule, str(world["王小明"])), method=method, json={name: value}, headers=admin)
        assert r.status_code == 422 and named(r.get_json(), name), (method, rule, name, value,
                                                                      r.get_data(as_text=True))
    assert all_rows(runtime) == before
