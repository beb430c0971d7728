"""Customer custom fields over HTTP: admins define them, members and admins set values on customers they
may see; every bad definition or value is a 4xx naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from customer_world import build, rejected
from models import AuditLog, CustomerFieldValue, CustomField
from support import CORP_ID

FIELDS = [
    {"key": "budget", "label": "预算", "type": "number", "order": 1},
    {"key": "birthday", "label": "生日", "type": "date", "order": 2},
    {"key": "level", "label": "等级", "type": "select", "options": ["A", "B", "C"], "order": 3},
    {"key": "hobbies", "label": "爱好", "type": "multi_select", "options": ["读书", "跑步"], "order": 4},
    {"key": "id_no", "label": "证件号", "type": "text", "unique": True, "order": 5},
    {"key": "alt_phone", "label": "备用电话", "type": "phone", "order": 6},
    {"key": "credit", "label": "内部评级", "type": "text", "visible": False, "order": 7},
]


@pytest.fixture
def world(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return build(runtime)


def define(client, admin, bodies: list[dict[str, Any]]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The fields `bodies` define, through the API: key → id."""
    out = {}
    for body in bodies:
        r = client.post("/api/v1/custom-fields", json=body | {"corp_id": CORP_ID}, headers=admin)
        assert r.status_code == 201, r.get_data(as_text=True)
        out[body["key"]] = r.get_json()["id"]
    return out


@pytest.fixture
def fields(client, make_token, world) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return define(client, make_token("admin"), FIELDS)


def put(client, headers, customer_id: int, body: Any):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/customers/{customer_id}/fields", json=body, headers=headers)


def stored(runtime, customer_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return dict(s.execute(select(CustomField.key, CustomerFieldValue.value).join(CustomField).where(
            CustomerFieldValue.customer_id == customer_id)).all())


# -- definitions -----------------------------------------------------------------------------------------
def test_definitions_are_listed_in_order_and_members_see_only_visible_ones(client, make_token, fields) -> None:
    admin = client.get("/api/v1/custom-fields", headers=make_token("admin")).get_json()["items"]
    assert [f["key"] for f in admin] == [f["key"] for f in FIELDS]
    assert admin[2] | {"id": 0} == {"id": 0, "corp_id": CORP_ID, "subject": "customer", "key": "level", "label": "等级", "type": "select",
                                    "options": ["A", "B", "C"], "required": False, "unique": False,
                                    "visible": True, "order": 3, "enabled": True, "default": None,
                                    "decimals": None, "with_time": False}
    member = client.get("/api/v1/custom-fields", headers=make_token("member", userid="zhangsan")).get_json()["items"]
    assert "credit" not in {f["key"] for f in member} and len(member) == len(FIELDS) - 1


@pytest.mark.parametrize("body,named", [
    ({"key": "Bad Key", "label": "x", "type": "text"}, "key"),
    ({"key": "x", "label": "", "type": "text"}, "label"),
    ({"key": "x", "label": "x", "type": "money"}, "type"),
    ({"key": "x", "label": "x", "type": "select", "options": []}, "options"),
    ({"key": "x", "label": "x", "type": "multi_select", "options": ["a"], "unique": True}, "unique"),
])
def test_bad_definitions_get_422_naming_the_property(client, runtime, make_token, world, body, named) -> None:
    headers = make_token("admin")
    error = rejected(runtime, lambda: client.post("/api/v1/custom-fields", json=body, headers=headers), 422, "invalid")
    assert named in error["fields"]


def test_a_key_is_taken_for_good(client, runtime, make_token, fields) -> None:
    admin = make_token("admin")
    body = {"key": "level", "label": "x", "type": "text", "corp_id": CORP_ID}
    assert rejected(runtime, lambda: client.post("/api/v1/custom-fields", json=body, headers=admin),
                    409, "conflict")["fields"] == {"key": "it exists"}
    assert client.delete(f"/api/v1/custom-fields/{fields['level']}", headers=admin).status_code == 200
    error = rejected(runtime, lambda: client.post("/api/v1/custom-fields", json=body, headers=admin), 409, "conflict")
    assert "deleted" in error["fields"]["key"]


def test_members_cannot_define_fields(client, runtime, make_token, fields) -> None:
    member = make_token("member", userid="zhangsan")
    body = {"key": "x", "label": "x", "type": "text", "corp_id": CORP_ID}
    rejected(runtime, lambda: client.post("/api/v1/custom-fields", json=body, headers=member), 403, "forbidden")
    rejected(runtime, lambda: client.patch(f"/api/v1/custom-fields/{fields['level']}", json={"label": "y"},
                                           headers=member), 403, "forbidden")
    rejected(runtime, lambda: client.delete(f"/api/v1/custom-fields/{fields['level']}", headers=member),
             403, "forbidden")


def test_change_a_definition(client, runtime, make_token, fields, world) -> None:
    admin = make_token("admin")
    r = client.patch(f"/api/v1/custom-fields/{fields['level']}", json={"label": "客户等级", "options": ["A", "B", "D"],
                                                                       "order": 0}, headers=admin)
    assert r.status_code == 200 and (r.get_json()["label"], r.get_json()["options"]) == ("客户等级", ["A", "B", "D"])
    assert put(client, admin, world["王小明"], {"level": "D"}).status_code == 200
    with runtime.Session() as s:
        assert s.scalar(select(AuditLog.action).order_by(AuditLog.id.desc())) == "customer.fields"


@pytest.mark.parametrize("change,named", [({"type": "text"}, "type"), ({"key": "grade"}, "key"),
                                          ({"options": "A,B"}, "options"), ({"visible": "no"}, "visible")])
def test_bad_changes_get_422(client, runtime, make_token, fields, change, named) -> None:
    headers = make_token("admin")
    error = rejected(runtime, lambda: client.patch(f"/api/v1/custom-fields/{fields['level']}", json=change,
                                                   headers=headers), 422, "invalid")
    assert named in error["fields"]


def test_a_choice_in_use_cannot_be_removed(client, runtime, make_token, fields, world) -> None:
    admin = make_token("admin")
    assert put(client, admin, world["王小明"], {"level": "C", "hobbies": ["跑步"]}).status_code == 200
    for key, options in (("level", ["A", "B"]), ("hobbies", ["读书"])):
        error = rejected(runtime, lambda k=key, o=options: client.patch(
            f"/api/v1/custom-fields/{fields[k]}", json={"options": o}, headers=admin), 409, "conflict")
        assert error["fields"] == {"options": "1 customer(s) hold a choice this removes"}
    assert client.patch(f"/api/v1/custom-fields/{fields['level']}", json={"options": ["C", "B"]},
                        headers=admin).status_code == 200


def test_making_a_field_unique_needs_distinct_values(client, runtime, make_token, fields, world) -> None:
    admin = make_token("admin")
    for name in ("王小明", "赵六"):
        assert put(client, admin, world[name], {"level": "A"}).status_code == 200
    path = f"/api/v1/custom-fields/{fields['level']}"
    error = rejected(runtime, lambda: client.patch(path, json={"unique": True}, headers=admin), 409, "conflict")
    assert "unique" in error["fields"]
    assert put(client, admin, world["赵六"], {"level": "B"}).status_code == 200
    assert client.patch(path, json={"unique": True}, headers=admin).status_code == 200
    error = rejected(runtime, lambda: put(client, admin, world["孙七"], {"level": "A"}), 409, "conflict")
    assert error["fields"] == {"level": "already used by another customer"}
    assert client.patch(path, json={"unique": False}, headers=admin).status_code == 200
    assert put(client, admin, world["孙七"], {"level": "A"}).status_code == 200


def test_a_deleted_field_disappears_from_customers(client, runtime, make_token, fields, world) -> None:
    admin = make_token("admin")
    put(client, admin, world["王小明"], {"level": "A", "budget": 5})
    assert client.delete(f"/api/v1/custom-fields/{fields['level']}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/customers/{world['王小明']}", headers=admin).get_json()["fields"] == {"budget": 5}
    assert "level" not in [f["key"] for f in client.get("/api/v1/custom-fields", headers=admin).get_json()["items"]]
    rejected(runtime, lambda: client.patch(f"/api/v1/custom-fields/{fields['level']}", json={"label": "x"},
                                           headers=admin), 404, "not_found")
    error = rejected(runtime, lambda: put(client, admin, world["王小明"], {"level": "A"}), 422, "invalid")
    assert error["fields"] == {"level": "unknown field"}


# -- values ------------------------------------------------------------------------------------------------
def test_set_and_clear_values_of_every_type(client, runtime, make_token, fields, world) -> None:
    admin, cid = make_token("admin"), world["王小明"]
    body = {"budget": "1200.50", "birthday": "1990-05-04", "level": "B", "hobbies": ["跑步", "读书"],
            "id_no": " 110101199005041234 ", "alt_phone": "+86 139-1234-5678", "credit": "好"}
    r = put(client, admin, cid, body)
    assert r.status_code == 200, r.get_data(as_text=True)
    expected = {"budget": 1200.5, "birthday": "1990-05-04", "level": "B", "hobbies": ["读书", "跑步"],
                "id_no": "110101199005041234", "alt_phone": "13912345678", "credit": "好"}
    assert r.get_json()["fields"] == expected == stored(runtime, cid)
    assert r.get_json()["timeline"][0]["kind"] == "fields_changed"
    assert put(client, admin, cid, {"budget": None, "hobbies": [], "id_no": ""}).status_code == 200
    assert stored(runtime, cid) == {k: v for k, v in expected.items() if k not in ("budget", "hobbies", "id_no")}


@pytest.mark.parametrize("body,named", [
    ({"budget": "lots"}, "budget"),
    ({"birthday": "1990-02-30"}, "birthday"),
    ({"level": "Z"}, "level"),
    ({"hobbies": ["读书", "打牌"]}, "hobbies"),
    ({"alt_phone": "12345"}, "alt_phone"),
    ({"id_no": 12}, "id_no"),
    ({"nope": 1}, "nope"),
    ({"level": "A", "budget": "lots"}, "budget"),  # all or nothing: level is not set either
])
def test_bad_values_get_422_naming_the_field_and_change_nothing(client, runtime, make_token, fields, world, body,
                                                                named) -> None:
    admin = make_token("admin")
    assert put(client, admin, world["王小明"], {"level": "C", "budget": 1}).status_code == 200
    error = rejected(runtime, lambda: put(client, admin, world["王小明"], body), 422, "invalid")
    assert named in error["fields"]
    assert stored(runtime, world["王小明"]) == {"level": "C", "budget": 1}


@pytest.mark.parametrize("body", [[1], "x", {}])
def test_a_body_that_is_not_an_object_of_fields_gets_400(client, runtime, make_token, fields, world, body) -> None:
    admin = make_token("admin")
    rejected(runtime, lambda: put(client, admin, world["王小明"], body), 400, "bad_request")


def test_required_fields_must_hold_a_value(client, runtime, make_token, fields, world) -> None:
    admin = make_token("admin")
    assert client.patch(f"/api/v1/custom-fields/{fields['budget']}", json={"required": True},
                        headers=admin).status_code == 200
    error = rejected(runtime, lambda: put(client, admin, world["王小明"], {"level": "A"}), 422, "invalid")
    assert error["fields"] == {"budget": "required"}
    assert put(client, admin, world["王小明"], {"level": "A", "budget": 3}).status_code == 200
    error = rejected(runtime, lambda: put(client, admin, world["王小明"], {"budget": None}), 422, "invalid")
    assert error["fields"] == {"budget": "required"}


def test_unique_values_are_unique_across_the_corp_including_the_recycle_bin(client, runtime, make_token, fields,
                                                                            world) -> None:
    admin = make_token("admin")
    assert put(client, admin, world["王小明"], {"id_no": "A1"}).status_code == 200
    assert put(client, admin, world["王小明"], {"id_no": "A1"}).status_code == 200  # its own value again
    error = rejected(runtime, lambda: put(client, admin, world["赵六"], {"id_no": "A1"}), 409, "conflict")
    assert error["fields"] == {"id_no": "already used by another customer"}
    client.delete(f"/api/v1/customers/{world['王小明']}", headers=make_token("super_admin"))
    rejected(runtime, lambda: put(client, admin, world["赵六"], {"id_no": "A1"}), 409, "conflict")  # kept for restore
    assert client.post(f"/api/v1/recycle-bin/{world['王小明']}/restore", headers=admin).status_code == 200
    assert stored(runtime, world["王小明"]) == {"id_no": "A1"}


def test_members_edit_visible_fields_of_customers_they_follow(client, runtime, make_token, fields, world) -> None:
    zhangsan = make_token("member", userid="zhangsan")
    assert put(client, make_token("admin"), world["王小明"], {"credit": "差"}).status_code == 200
    r = put(client, zhangsan, world["王小明"], {"level": "A", "alt_phone": "13912345678"})
    assert r.status_code == 200
    assert r.get_json()["fields"] == {"level": "A", "alt_phone": "139****5678"}  # masked; credit hidden
    assert stored(runtime, world["王小明"]) == {"credit": "差", "level": "A", "alt_phone": "13912345678"}
    error = rejected(runtime, lambda: put(client, zhangsan, world["王小明"], {"credit": "好"}), 422, "invalid")
    assert error["fields"] == {"credit": "unknown field"}  # an invisible field is not theirs to see or set
    rejected(runtime, lambda: put(client, zhangsan, world["赵六"], {"level": "A"}), 404, "not_found")


def test_the_database_itself_refuses_a_second_customer_with_a_unique_value(runtime, client, make_token, fields,
                                                                          world) -> None:
    """The API checks first, for a clear 409; the index is what holds when two writers race past that check."""
    from sqlalchemy.exc import IntegrityError

    assert put(client, make_token("admin"), world["王小明"], {"id_no": "A1"}).status_code == 200
    with pytest.raises(IntegrityError), runtime.WriteSession.begin() as s:
        s.add(CustomerFieldValue(customer_id=world["赵六"], field_id=fields["id_no"], value="A1", text="A1",
                                 unique_text="A1"))
    with runtime.WriteSession.begin() as s:  # a field that is not unique takes the same text any number of times
        s.add(CustomerFieldValue(customer_id=world["赵六"], field_id=fields["level"], value="A", text="A"))
        s.add(CustomerFieldValue(customer_id=world["孙七"], field_id=fields["level"], value="A", text="A"))


def test_changes_are_audited_and_a_corp_limited_token_sees_only_its_corps_fields(client, runtime, make_token,
                                                                                fields) -> None:
    from web.auth import create_token

    admin = make_token("admin")
    client.patch(f"/api/v1/custom-fields/{fields['level']}", json={"label": "级别"}, headers=admin)
    client.delete(f"/api/v1/custom-fields/{fields['budget']}", headers=admin)
    with runtime.Session() as s:
        actions = s.execute(select(AuditLog.action, AuditLog.target).order_by(AuditLog.id)).all()
    assert actions[-2:] == [("custom_field.update", f"custom_field:{fields['level']}"),
                            ("custom_field.delete", f"custom_field:{fields['budget']}")]
    assert [a for a, _ in actions].count("custom_field.create") == len(FIELDS)
    with runtime.WriteSession.begin() as s:
        other = {"Authorization": "Bearer " + create_token(s, "other", "admin", corp_id="wwothercorp00001")}
    assert client.get("/api/v1/custom-fields", headers=other).get_json()["items"] == []
    rejected(runtime, lambda: client.patch(f"/api/v1/custom-fields/{fields['level']}", json={"label": "x"},
                                           headers=other), 404, "not_found")
