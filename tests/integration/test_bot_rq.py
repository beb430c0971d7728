"""Bot commands with real parts: gunicorn answers the command passively while the rq worker does the WeCom
work the command queued (mark_tag), and a retried MsgId is answered the same without running twice."""

from __future__ import annotations

import requests
from sqlalchemy import func, select

from bot_support import ADD, next_msg_id, passive_text
from handlers.tags import apply_corp_tag_groups
from integration.realparts import wait_for
from models import FollowTag, FollowUp, Outbox
from models.db import make_engine, make_session_factory
from support import AGENT_ID, CORP_ID, SECRET
from wecom.client import WeComClient
from wecom.fake.sender import build_callback, render_sample


def post(service: str, crypto, plaintext: str) -> requests.Response:  # type: ignore[no-untyped-def]
    params, body = build_callback(crypto, plaintext, AGENT_ID)
    return requests.post(f"{service}/wecom/callback/default", params=params, data=body, timeout=10)


def command(text: str, msg_id: int | None = None) -> str:
    return render_sample("message/text", corp_id=CORP_ID, Content=text, FromUserName="zhangsan",
                         MsgId=msg_id or next_msg_id())


def test_commands_are_answered_passively_under_gunicorn_with_rq(service, start_worker, crypto, fake_wecom,
                                                                 clean_db) -> None:
    Session = make_session_factory(make_engine(clean_db))
    start_worker()
    post(service, crypto, render_sample(ADD, corp_id=CORP_ID, ExternalUserID="wmCustomer0001", UserID="zhangsan"))
    wait_for(lambda: passive_text(crypto, post(service, crypto, command("/客户 王小明")), "zhangsan").startswith("找到"),
             30, "the customer synced by the worker")

    note = command("/跟进 王小明 电话沟通")
    answers = {passive_text(crypto, post(service, crypto, note), "zhangsan") for _ in range(3)}  # two retries
    assert len(answers) == 1 and answers.pop().endswith("的跟进：电话沟通")
    with Session() as s:
        assert s.scalar(select(func.count()).select_from(FollowUp)) == 1

    group = WeComClient(CORP_ID, SECRET, fake_wecom.api_base).post(
        "externalcontact/add_corp_tag", data={"group_name": "意向", "tag": [{"name": "高"}]})["tag_group"]
    with Session.begin() as s:  # the tag library as a tag sync would leave it
        apply_corp_tag_groups(s, CORP_ID, [group], full=True)
    assert passive_text(crypto, post(service, crypto, command("/标签 王小明 高")), "zhangsan").startswith("已提交")
    wait_for(lambda: Session().scalar(select(func.count()).select_from(FollowTag)) == 1, 30, "mark_tag by the worker")
    [call] = fake_wecom.calls("externalcontact/mark_tag")
    assert call["body"]["add_tag"] == [group["tag"][0]["id"]]
    with Session() as s:
        assert s.scalar(select(Outbox.status).where(Outbox.job == "mark_tag")) == "done"
    assert fake_wecom.calls("message/send") == []
