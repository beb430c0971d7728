"""删好友预警 (manual 9.3.1) and lost customers in the recycle bin (4.5), issue 17: a member deleting a
customer alerts their manager per the corp setting (message/send seen by the fake WeCom); the lost relations
are listed by loss type (员工删除, 客户删除, 员工离职) and loss day, and exported as CSV."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from contact_support import ADD, DEL_BY_STAFF, LEFT, LOST
from models import Outbox
from support import CORP_ID
from test_contact_flow import team  # noqa: F401  (a fixture: the sales team in the fake WeCom)


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_token("super_admin")


def sent(fake) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(c["body"]["touser"], c["body"]["text"]["content"]) for c in fake.calls("message/send")]


@pytest.mark.parametrize("setting, manager_left, source, expected", [
    (True, False, "", ["boss"]),
    (False, False, "", []),  # the corp did not ask for it
    (True, True, "", []),  # the manager has left: nobody to tell
    (True, False, "DELETE_BY_TRANSFER", []),  # a hand-over, not a deletion
])
def test_a_member_deleting_a_customer_alerts_the_manager_if_the_corp_wants_it(
        sender, runtime, team, client, admin, setting, manager_left, source, expected) -> None:  # noqa: F811
    assert client.patch("/api/v1/settings", json={"notify_manager_on_staff_delete": setting},
                        headers=admin).get_json()["notify_manager_on_staff_delete"] is setting
    if manager_left:
        sender.post(LEFT, UserID="boss")
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="")
    team.clear_calls()
    sender.post(DEL_BY_STAFF, ExternalUserID="wmCustomer0001", UserID="zhangsan", Source=source)
    messages = sent(team)
    assert [to for to, _ in messages] == expected
    if expected:
        assert "删好友预警" in messages[0][1] and "张三" in messages[0][1] and "王小明😀" in messages[0][1]
    with runtime.Session() as s:
        jobs = s.scalars(select(Outbox.job).where(Outbox.job == "notify_staff_deleted")).all()
    assert len(jobs) == (1 if setting and not source else 0)


def test_lost_customers_are_listed_by_loss_type_with_the_admins_deletions_apart(
        sender, runtime, team, client, admin) -> None:  # noqa: F811
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", WelcomeCode="")
    sender.post(ADD, ExternalUserID="wmCustomer0002", UserID="lisi", WelcomeCode="")
    team.seed({"external_contacts": [{
        "corpid": CORP_ID, "external_contact": {"external_userid": "wmCustomer0003", "name": "钱七", "type": 1},
        "follow_user": [{"userid": "wangwu", "remark": "", "description": "", "createtime": 1732000200, "tags": [],
                         "remark_mobiles": [], "add_way": 1, "state": ""}]}]})
    sender.post(ADD, ExternalUserID="wmCustomer0003", UserID="wangwu", WelcomeCode="")
    sender.post(DEL_BY_STAFF, ExternalUserID="wmCustomer0001", UserID="zhangsan", Source="")
    sender.post(LOST, ExternalUserID="wmCustomer0002", UserID="lisi")
    sender.post(LEFT, UserID="wangwu")
    listed = client.get("/api/v1/recycle-bin/lost", headers=admin).get_json()
    assert listed["total"] == 3, listed
    rows = {(r["name"], r["userid"]): r["loss_type"] for r in listed["items"]}
    assert rows == {("王小明😀", "zhangsan"): "deleted_by_staff", ("赵六", "lisi"): "deleted_by_customer",
                    ("钱七", "wangwu"): "staff_resigned"}
    assert all(r["lost_at"] for r in listed["items"])
    for loss_type, who in (("deleted_by_staff", "zhangsan"), ("deleted_by_customer", "lisi"),
                           ("staff_resigned", "wangwu")):
        items = client.get("/api/v1/recycle-bin/lost", headers=admin,
                           query_string={"loss_type": loss_type}).get_json()["items"]
        assert [r["userid"] for r in items] == [who]
    assert [r["userid"] for r in client.get("/api/v1/recycle-bin/lost", headers=admin,
                                            query_string={"keyword": "赵"}).get_json()["items"]] == ["lisi"]
    assert client.get("/api/v1/recycle-bin/lost", headers=admin,
                      query_string={"loss_type": "admin"}).status_code == 400
    assert client.get("/api/v1/recycle-bin/lost", headers=admin,
                      query_string={"lost_from": "2000-01-01", "lost_to": "2000-01-02"}).get_json()["total"] == 0
    # the admin's own deletions stay where they were
    assert client.get("/api/v1/recycle-bin", headers=admin).get_json()["total"] == 0

    csv = client.get("/api/v1/recycle-bin/lost/export", headers=admin, query_string={"loss_type": "deleted_by_staff"})
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert csv.status_code == 200 and len(lines) == 2 and "员工删除" in lines[1] and "张三" in lines[1]
