"""A group channel code under gunicorn with a real RQ worker: scans of its public page move to the second
group when the first is full, and when every group is full or expired the code turns abnormal and its owner
and creator get one 活码失效通知 (message/send seen once on the fake WeCom, however often it is scanned).
Member counts are written as the group sync would leave them (the sync and its callbacks are another
module's)."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import update

from group_code_support import b64, png
from integration.realparts import wait_for
from integration.test_pipeline import db
from models import CustomerGroup, GroupCodeEntry
from models.db import utcnow
from support import CORP_ID
from web.auth import create_token

pytestmark = pytest.mark.integration


def test_a_full_group_hands_over_and_an_abnormal_code_is_told_once(service, start_worker, clean_db,
                                                                   fake_wecom) -> None:  # type: ignore[no-untyped-def]
    start_worker(worker_class="jobs.worker.Worker")
    Session = db(clean_db)
    with Session.begin() as s:
        headers = {"Authorization": "Bearer " + create_token(s, "it", "admin", userid="zhangsan", corp_id=CORP_ID)}
        s.add_all([CustomerGroup(corp_id=CORP_ID, chat_id=chat, name=chat, owner_userid="zhangsan", staff_count=1,
                                 external_count=9) for chat in ("wrA", "wrB")])
    api = f"{service}/api/v1/group-codes"
    r = requests.post(api, headers=headers, json={"name": "秋季活动群", "channel": "海报", "owner": "lisi"}, timeout=10)
    assert r.status_code == 201, r.text
    code = r.json()
    for chat in ("wrA", "wrB"):
        r = requests.post(f"{api}/{code['id']}/groups", headers=headers, timeout=10,
                          json={"chat_id": chat, "qr_image": b64(png(chat))})
        assert r.status_code == 201, r.text
    page = service + code["landing_path"]

    def shown() -> str:
        r = requests.get(page, timeout=10, allow_redirects=False)
        assert r.status_code == 200, r.text
        return r.content.removeprefix(png("")).decode()

    assert shown() == "wrA"
    with Session.begin() as s:
        s.execute(update(CustomerGroup).where(CustomerGroup.chat_id == "wrA").values(external_count=199))
    assert shown() == "wrB"
    with Session.begin() as s:
        s.execute(update(GroupCodeEntry).values(expires_at=utcnow()))
    for _ in range(3):
        assert requests.get(page, timeout=10, allow_redirects=False).status_code == 410

    def notices() -> list[dict]:
        return [c for c in fake_wecom.calls("message/send") if "活码失效通知" in c["body"]["text"]["content"]]

    wait_for(lambda: notices(), 30, "the 活码失效通知")
    time.sleep(2)  # a second notice would have been queued by now
    [notice] = notices()
    assert notice["errcode"] == 0 and notice["body"]["touser"] == "lisi|zhangsan"
    assert requests.get(f"{api}/{code['id']}", headers=headers, timeout=10).json()["status"] == "abnormal"
