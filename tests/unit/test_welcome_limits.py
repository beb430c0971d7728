"""send_welcome_msg's 4,000-byte text limit counts the text as the customer gets it, `#nickname#` filled in
(doc 92599), and 41051 means the customer and the member already started chatting (doc 92599: only the first
app's welcome is sent; later calls get 41051 "externaluser has started chatting")."""

from __future__ import annotations

from sqlalchemy import func, select

from contact_support import ADD, TEAM, issue_welcome_code, welcomes
from models import DeadLetter, WelcomeLog, WelcomeMessage
from tests.support import CORP_ID

LONG_NAME = "🌸" * 30  # 120 bytes: longer than any name the API plans for
FILLER = "好" * 1312  # 3,936 bytes: with the longest planned name (64 bytes) exactly 4,000


def welcome_log(runtime) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with runtime.Session() as s:
        return s.execute(select(WelcomeLog.welcome_code, WelcomeLog.status, WelcomeLog.detail)).all()


def test_text_that_fits_only_before_the_nickname_is_filled_in_is_refused(fake_wecom, runtime, client, make_token):
    admin = make_token("super_admin")
    text = "#nickname#" + "好" * 1330  # 4,000 bytes as typed; more once any name of over 10 bytes is in
    r = client.post("/api/v1/welcome-messages", json={"text": text}, headers=admin)
    assert r.status_code == 422 and "text" in r.get_json()["error"]["fields"]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(WelcomeMessage)) == 0
    r = client.post("/api/v1/welcome-messages", json={"text": "#nickname#" + FILLER}, headers=admin)
    assert r.status_code == 201


def test_a_name_longer_than_planned_for_trims_the_text_instead_of_losing_the_welcome(
        fake_wecom, sender, runtime, client, make_token):
    fake_wecom.seed(TEAM)
    fake_wecom.seed({"external_contacts": [{
        "corpid": CORP_ID, "external_contact": {"external_userid": "wmLongName001", "name": LONG_NAME, "type": 1},
        "follow_user": [{"userid": "zhangsan", "remark": "", "createtime": 1732000000, "tags": []}]}]})
    r = client.post("/api/v1/welcome-messages", json={"text": "#nickname#" + FILLER},
                    headers=make_token("super_admin"))
    assert r.status_code == 201
    code = issue_welcome_code(fake_wecom, "zhangsan", "wmLongName001")
    sender.post(ADD, ExternalUserID="wmLongName001", UserID="zhangsan", State="", WelcomeCode=code)

    [sent] = welcomes(fake_wecom)
    content = sent["text"]["content"]
    assert content.startswith(LONG_NAME) and 3997 < len(content.encode("utf-8")) <= 4000  # a whole character cut
    assert [(c, status) for c, status, _ in welcome_log(runtime)] == [(code, "sent")]


def test_41051_is_logged_as_the_chat_having_started_not_as_an_error(fake_wecom, sender, runtime, client,
                                                                    make_token, caplog):
    fake_wecom.seed(TEAM)
    client.post("/api/v1/welcome-messages", json={"text": "欢迎"}, headers=make_token("super_admin"))
    code = issue_welcome_code(fake_wecom, "zhangsan", "wmCustomer0001")
    fake_wecom.fault("externalcontact/send_welcome_msg", 41051)
    sender.post(ADD, ExternalUserID="wmCustomer0001", UserID="zhangsan", State="", WelcomeCode=code)

    [(_, status, detail)] = welcome_log(runtime)
    assert status == "chat_started" and "already started chatting" in detail
    assert not [r for r in caplog.records if r.name == "jobs.welcome" and r.levelname in ("ERROR", "WARNING")]
    with runtime.Session() as s:
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0
