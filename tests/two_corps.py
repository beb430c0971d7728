"""Two corps with the same staff userids, each with a row of every kind the admin API serves, for the
route × role × corp matrix (tests/unit/test_corp_matrix.py).

Corp A is the test corp (the environment app `default`), corp B has its own app `corpb`. In both, zhangsan
follows a customer, is a kf servicer, wrote an app message and received a kf session; the customer has
a follow-up record of the corp's own type with an uploaded file, an opportunity at the corp's first stage
and a plan; it belongs to a company (of the corp's own industry) that has a contact (the customer) and a
follow-up, as have the contact and the corp's customer group CHAT[corp] (zhangsan its owner and member), which
also has a group tag, a group field value and the corp's activity rule, and is behind a group channel code
with a join way; the corp's pool (公海, for department 1) holds a customer zhangsan returned with the corp's
return reason. Every text a row of corp X holds carries MARK[X] (so does its file), so an answer that shows
corp A's data is found by looking for MARK[A].
Rows the API can create are created through it (as an operator would, with an all-corps token naming the
corp); the others (customers, callbacks, kf sessions and messages, alerts, reply timeouts) are written.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from sqlalchemy import select

from models import (ApiToken, App, Corp, Customer, CustomerGroup, DeadLetter, FollowRelation, GroupMember, Inbox, JobRun,
                    KfSession, Lead, Message, Staff, Transfer, TransferItem)
from models.conversation import MessageOrigin, MessageSource
from models.access import AccessRole
from models.corp import save_app
from models.db import utcnow
from models.directory import Department
from models.moderation import ReplyTimeout, SensitiveAlert
from models.radar import RadarLink, RadarOpen
from models.sop import SopEnrolment, SopPlan, SopStep
from models.task_rounds import issue_round
from models.tasks import Task
from models.operations import BulkAction, BulkItem, Download, NotificationLog
from support import AGENT_ID, CORP_ID

CORP_A, CORP_B = CORP_ID, "wwcorpb000000001"
MARK = {CORP_A: "AAMARKAA", CORP_B: "BBMARKBB"}
CHAT = {CORP_A: "wrchata", CORP_B: "wrchatb"}  # no MARK: a 404 names the chat id the request gave
B_APP = {"slug": "corpb", "corp_id": CORP_B, "kind": "agent", "token": "CorpBToken1",
         "aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut", "secret": "corp-b-secret", "agent_id": AGENT_ID}


def fake_seed() -> dict[str, Any]:
    """Corp B for the fake WeCom (corp A is in support.SEED), with zhangsan and lisi in both."""
    return {"corps": [{"corpid": CORP_B, "secrets": {B_APP["secret"]: AGENT_ID}}],
            "users": [{"corpid": CORP_B, "userid": u, "name": u, "department": [1], "status": 1}
                      for u in ("zhangsan", "lisi")]}


def _written(runtime: Any, corp: str) -> dict[str, int | str]:
    mark, now = MARK[corp], utcnow()
    with runtime.WriteSession.begin() as s:
        app_pk = s.scalar(select(App.id).join(App.corp).where(App.corp.has(corp_id=corp)).order_by(App.id))
        s.add_all([Staff(corp_id=corp, userid="zhangsan", name=f"{mark}张三", department=[1]),
                   Department(corp_id=corp, dept_id=1, name=f"{mark}部门")])
        live = Customer(corp_id=corp, external_userid=f"wm{mark}", name=f"{mark}客户", mobile="13800001111")
        binned = Customer(corp_id=corp, external_userid=f"wm{mark}bin", name=f"{mark}回收", deleted_at=now,
                          deleted_by="test")
        s.add_all([live, binned])
        s.flush()
        for c in (live, binned):
            s.add(FollowRelation(customer_id=c.id, corp_id=corp, userid="zhangsan", remark=f"{mark}备注",
                                 added_at=now))
        inbox = Inbox(app_pk=app_pk, corp_id=corp, dedup_key=f"{mark}-1", routing_key="event/test",
                      raw_xml=f"<xml>{mark}</xml>", status="processed")
        session = KfSession(session_id=uuid.uuid4().hex, corp_id=corp, app_pk=app_pk, open_kfid=f"wk{mark}",
                            external_userid=f"wm{mark}", state="human", servicer_userid="zhangsan", started_at=now,
                            last_message_at=now)
        s.add_all([inbox, session])
        s.flush()
        said = Message(corp_id=corp, source=MessageSource.kf.value, msgid=f"{mark}m1", open_kfid=session.open_kfid,
                       external_userid=f"wm{mark}", origin=MessageOrigin.customer.value, msgtype="text",
                       content=f"{mark}你好", raw={}, send_time=now, session_pk=session.id)
        wrote = Message(corp_id=corp, source=MessageSource.app.value, msgid=f"{mark}m2", userid="zhangsan",
                        origin=MessageOrigin.servicer.value, msgtype="text", content=f"{mark}/今日", raw={},
                        send_time=now)
        s.add_all([said, wrote])
        s.flush()
        s.add(ReplyTimeout(corp_id=corp, message_pk=said.id, userid="zhangsan", external_userid=f"wm{mark}",
                           limit_minutes=5, message_at=now, due_at=now))
        token = ApiToken(name=f"{mark}token", role="admin", token_hash=f"{mark}hash", corp_id=corp)
        export = JobRun(kind="customers_export", corp_id=corp, state="done", done=1, total=1,
                        result={"path": __file__, "filename": f"{mark}.csv"}, requested_by=f"token:{mark}")
        group = CustomerGroup(corp_id=corp, chat_id=CHAT[corp], name=f"{mark}群", owner_userid="zhangsan",
                              notice=mark, group_created_at=now, staff_count=1)
        transfer = Transfer(corp_id=corp, app_pk=app_pk, kind="serving", handover_userid="zhangsan",
                            takeover_userid="lisi", message=f"{mark}转接")
        s.add_all([token, export, group, transfer])
        s.flush()
        s.add(TransferItem(transfer_id=transfer.id, corp_id=corp, external_userid=live.external_userid,
                           reason=mark))
        s.add(GroupMember(group_id=group.id, corp_id=corp, member_id="zhangsan", member_type=1, name=mark,
                          joined_at=now, open_key="zhangsan"))
        return {"chat_id": group.chat_id, "customer_id": live.id, "binned_id": binned.id, "inbox_id": inbox.id, "session_id": session.session_id,
                "message_pk": said.id, "token_id": token.id, "job_id": export.id, "transfer_id": transfer.id}


QR_IMAGE = "iVBORw0KGgpRUg=="  # a PNG's signature and "QR", base64


def _post(client: Any, ops: dict[str, str], path: str, body: dict[str, Any], method: str = "post") -> dict[str, Any]:
    r = getattr(client, method)(f"/api/v1{path}", headers=ops, json=body)
    assert r.status_code < 300, (path, r.get_json())
    return r.get_json()


def _through_the_api(client: Any, ops: dict[str, str], corp: str, customer_id: Any) -> dict[str, int | str]:
    mark, c = MARK[corp], {"corp_id": corp}
    field = _post(client, ops, "/custom-fields", {**c, "key": f"k{mark.lower()}", "label": mark, "type": "text"})
    group = _post(client, ops, "/tag-groups", {**c, "name": mark, "tags": [{"name": f"{mark}t"}]})
    code = _post(client, ops, "/channel-codes", {**c, "kind": "single", "name": mark, "channel": mark,
                                                 "members": ["zhangsan"], "backups": ["lisi"]})["items"][0]
    welcome = _post(client, ops, "/welcome-messages", {**c, "text": mark})
    category = _post(client, ops, "/library-categories", {**c, "section": "qa", "name": mark})
    r = client.post("/api/v1/materials/upload", headers=ops, query_string={**c, "kind": "file", "title": mark},
                    content_type="multipart/form-data", data={"file": (io.BytesIO(mark.encode()), f"{mark}.txt", "text/plain")})
    assert r.status_code == 201, r.get_json()
    material_id = r.get_json()["id"]
    link = _post(client, ops, "/materials", {**c, "kind": "link", "title": mark, "payload": {"url": f"https://{mark}"}})
    account = _post(client, ops, "/kf/accounts", {**c, "name": mark[:8], "media_id": mark})
    _post(client, ops, f"/kf/accounts/{account['id']}/servicers", {"userids": ["zhangsan"]})
    item = _post(client, ops, "/kf/knowledge", {**c, "question": mark, "answer": mark, "category_id": category["id"]})
    _post(client, ops, "/kf/settings", {**c, "end_message": mark}, method="put")
    _post(client, ops, "/moderation/settings", {**c, "alert_userids": [mark]}, method="put")
    rule = _post(client, ops, "/sensitive-rules", {**c, "name": mark[:8], "words": mark})
    template = _post(client, ops, "/message-templates", {**c, "name": mark, "category": "broadcast",
                                                         "msgtype": "text", "body": {"content": mark}})
    broadcast = _post(client, ops, "/broadcasts", {**c, "name": mark, "userids": ["zhangsan"], "msgtype": "text",
                                                   "body": {"content": mark}})
    kind = _post(client, ops, "/follow-up-types", {**c, "name": mark})
    r = client.post("/api/v1/follow-ups/attachments", headers=ops, query_string=c, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(mark.encode()), f"{mark}.txt", "text/plain")})
    assert r.status_code == 201, r.get_json()
    follow_up = _post(client, ops, "/follow-ups", {"customer_id": customer_id, "text": mark, "userid": "zhangsan",
                                                   "type_id": kind["id"], "attachment_id": r.get_json()["id"]})
    stage = _post(client, ops, "/opportunity-stages", {**c, "name": mark, "probability": 10})
    deal = _post(client, ops, "/opportunities", {"customer_id": customer_id, "name": mark, "stage_id": stage["id"],
                                                 "amount_cents": 100, "expected_close": "2026-12-31",
                                                 "owner": "zhangsan"})
    plan = _post(client, ops, "/plans", {**c, "text": mark, "userid": "zhangsan", "starts_at": "2026-12-01T01:00:00Z",
                                         "remind_at": "2026-12-01T00:30:00Z", "customer_id": customer_id})
    group_field = _post(client, ops, "/custom-fields", {**c, "key": f"g{mark.lower()}", "label": mark, "type": "text",
                                                        "subject": "group"})
    _post(client, ops, f"/groups/{CHAT[corp]}/fields", {group_field["key"]: mark}, method="put")
    group_tags = _post(client, ops, "/group-tag-groups", {**c, "name": mark, "tags": [{"name": f"{mark}t"}]})
    _post(client, ops, "/groups/tags", {**c, "chat_ids": [CHAT[corp]], "add": [group_tags["tags"][0]["id"]]})
    _post(client, ops, "/group-activity-rule", {**c, "window_days": 3}, method="put")
    industry = _post(client, ops, "/industries", {**c, "name": mark})
    company = _post(client, ops, "/companies", {**c, "name": mark, "industry_id": industry["id"], "owner": "zhangsan"})
    _post(client, ops, f"/companies/{company['id']}/customers", {"customer_ids": [customer_id]})
    contact = _post(client, ops, "/contacts", {**c, "name": mark, "company_id": company["id"],
                                               "customer_id": customer_id, "owner": "zhangsan"})
    for subject in ({"company_id": company["id"]}, {"contact_id": contact["id"]}, {**c, "group_chat_id": CHAT[corp]}):
        _post(client, ops, "/follow-ups", {**subject, "text": mark, "userid": "zhangsan", "type_id": kind["id"]})
    group_code = _post(client, ops, "/group-codes", {**c, "name": mark, "channel": mark, "owner": "zhangsan"})
    entry = _post(client, ops, f"/group-codes/{group_code['id']}/groups", {"chat_id": CHAT[corp],
                                                                          "qr_image": QR_IMAGE})["groups"][0]
    _post(client, ops, f"/group-codes/{group_code['id']}/join-way", {"chat_ids": [CHAT[corp]], "remark": mark,
                                                                    "room_base_name": mark}, method="put")
    group_welcome = _post(client, ops, "/group-welcome-templates", {**c, "text": mark})
    lead = _post(client, ops, "/leads", {**c, "name": mark, "company": mark, "owner": "zhangsan",
                                         "tags": [group["tags"][0]["id"]]})
    _post(client, ops, f"/leads/{lead['id']}", {"position": mark}, method="patch")
    lead_rule = _post(client, ops, "/lead-rules", {**c, "name": mark, "targets": ["zhangsan"]})
    lead_source = _post(client, ops, "/lead-sources", {**c, "name": mark})
    reason = _post(client, ops, "/lost-reasons", {**c, "name": mark})
    target = _post(client, ops, "/targets", {**c, "userid": "zhangsan", "period": "month", "date": "2026-11-01",
                                             "amount_cents": 100})
    _post(client, ops, "/radar/settings", {**c, "notify": "batched", "batch_minutes": 15}, method="put")
    _post(client, ops, f"/radar/materials/{link['id']}/auto-tag", {"tag_id": group["tags"][0]["id"]}, method="put")
    component = _post(client, ops, "/sidebar/components", {**c, "name": mark, "url": f"https://{mark}.example.com"})
    _post(client, ops, "/sidebar/config", {**c, "pages": ["customer"], "sections": ["tags"], "fields": ["type"]},
          method="put")
    pool = _post(client, ops, "/pools", {**c, "name": mark, "departments": [1], "claim_lock_days": 1})
    return_reason = _post(client, ops, "/pool-return-reasons", {**c, "name": mark})
    smart_rule = _post(client, ops, "/smart-tag-rules", {**c, "name": mark, "tag_pks": [group["tags"][0]["id"]],
                                                         "conditions": {"conditions": [{"kind": "gender", "genders": [1]}]}})
    segment = _post(client, ops, "/segments", {**c, "name": mark, "kind": "static",
                                               "filters": {"tags_any": [group["tags"][0]["id"]]}})
    channel = _post(client, ops, "/channels", {**c, "name": mark, "scene": mark, "code_ids": [code["id"]]})
    return {"pool_id": pool["id"], "return_reason_id": return_reason["id"], "link_material_id": link["id"], "component_id": component["id"], "lead_id": lead["id"],
            "lead_rule_id": lead_rule["id"], "lead_source_id": lead_source["id"],
            "tag_group_id": group_tags["id"], "group_tag_id": group_tags["tags"][0]["id"],
            "industry_id": industry["id"], "company_id": company["id"], "contact_id": contact["id"],
            "group_code_id": group_code["id"], "entry_id": entry["id"], "group_welcome_id": group_welcome["id"],
            "field_id": field["id"], "field_key": field["key"], "group_pk": group["id"],
            "tag_pk": group["tags"][0]["id"], "code_id": code["id"], "welcome_id": welcome["id"],
            "account_pk": account["id"], "item_pk": item["id"], "rule_pk": rule["id"], "template_pk": template["id"],
            "broadcast_pk": broadcast["id"], "follow_up_id": follow_up["id"], "type_id": kind["id"], "stage_id": stage["id"],
            "opportunity_id": deal["id"], "plan_id": plan["id"], "reason_id": reason["id"],
            "target_id": target["id"], "category_id": category["id"], "material_id": material_id,
            "smart_tag_rule_id": smart_rule["id"], "segment_id": segment["id"], "channel_id": channel["id"]}


def _automation(s: Any, corp: str, customer_id: int) -> dict[str, int]:
    """An SOP plan (off, so its step may be edited and the plan deleted) with one step and a customer enrolled,
    and a task issued to zhangsan (issue 16)."""
    app_pk = s.scalar(select(App.id).join(Corp).where(Corp.corp_id == corp).order_by(App.id))
    plan = SopPlan(corp_id=corp, app_pk=app_pk, name=f"{MARK[corp]}SOP", trigger="customer_added", enabled=False)
    s.add(plan)
    s.flush()
    step = SopStep(plan_id=plan.id, name=MARK[corp], day=0, at_minute=540,
                   messages=[{"type": "text", "text": MARK[corp]}])
    task = Task(corp_id=corp, kind="once", name=MARK[corp], content=MARK[corp], userids=["zhangsan"],
                starts_at=utcnow())
    s.add_all([step, task])
    s.flush()
    s.add(SopEnrolment(plan_id=plan.id, corp_id=corp, customer_id=customer_id, userid="zhangsan", anchor_at=utcnow()))
    round_ = issue_round(s, task, utcnow(), ["zhangsan"])
    return {"sop_id": plan.id, "step_id": step.id, "task_id": task.id, "task_round_id": round_.id}


def build(client: Any, runtime: Any, fake_wecom: Any, ops: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Both corps' rows; corp → name → id (the path parameters of the admin API's routes)."""
    fake_wecom.seed(fake_seed())
    with runtime.WriteSession.begin() as s:
        save_app(s, B_APP)
    ids: dict[str, dict[str, Any]] = {}
    for corp in (CORP_A, CORP_B):
        written = _written(runtime, corp)
        ids[corp] = {**written, **_through_the_api(client, ops, corp, written["customer_id"])}
        with runtime.WriteSession.begin() as s:
            pooled = Customer(corp_id=corp, external_userid=f"wm{MARK[corp]}pool", name=f"{MARK[corp]}公海",
                              pool_id=ids[corp]["pool_id"], pooled_at=utcnow(), pool_left_by="zhangsan",
                              pool_reason=MARK[corp])
            s.add(pooled)
            s.flush()
            ids[corp]["pooled_id"] = pooled.id
            pool_lead = Lead(corp_id=corp, name=f"{MARK[corp]}公海线索")  # no owner: the default pool's
            s.add(pool_lead)
            s.flush()
            ids[corp]["pooled_lead_id"] = pool_lead.id
            alert = SensitiveAlert(corp_id=corp, message_pk=ids[corp]["message_pk"], rule_pk=ids[corp]["rule_pk"],
                                   word=MARK[corp], category="negative", userid="zhangsan", at=utcnow())
            s.add(alert)
            link = RadarLink(corp_id=corp, code=f"{MARK[corp]}{corp}"[:24], material_id=ids[corp]["link_material_id"],
                             userid="zhangsan", customer_id=ids[corp]["customer_id"])
            s.add(link)
            s.flush()
            s.add(RadarOpen(link_id=link.id, corp_id=corp, reader=MARK[corp], agent="wxwork"))
            ids[corp]["alert_pk"] = alert.id
            ids[corp].update(_automation(s, corp, ids[corp]["customer_id"]))
            role = AccessRole(corp_id=corp, name=f"{MARK[corp]}角色", permissions={}, data_scope="self")
            s.add(role)
            s.flush()
            ids[corp]["role_id"] = role.id
            ids[corp] |= _operations(s, corp, ids[corp]["customer_id"])
    with runtime.WriteSession.begin() as s:
        for corp in (CORP_A, CORP_B):  # a dead letter per corp (its corp_id from the inbox row, as jobs/dead_corp.py)
            dead = DeadLetter(job="process_event", args=[ids[corp]["inbox_id"]], queue="events", error=MARK[corp],
                              corp_id=corp)
            s.add(dead)
            s.flush()
            ids[corp]["dead_letter_id"] = dead.id
    for corp in (CORP_A, CORP_B):  # issue 16: a draft mass message (群发) per corp
        ids[corp]["message_id"] = _post(client, ops, "/mass-messages",
                                        {"corp_id": corp, "text": MARK[corp], "draft": True})["id"]
    return ids


def _operations(s: Any, corp: str, customer_id: int) -> dict[str, int]:
    """A download (owned by corp's own token name), a bulk action with its item, a logged notification."""
    mark = MARK[corp]
    run = JobRun(kind="bulk_tag", corp_id=corp, state="done", done=1, total=1, requested_by=f"token:{mark}")
    s.add(run)
    s.flush()
    download = Download(corp_id=corp, owner=f"token:{mark}", kind="export", what="customers",
                        filename=f"{mark}.csv", job_id=run.id, file_key=None, rows=1)
    bulk = BulkAction(corp_id=corp, kind="tag", target="customers", params={"note": mark}, actor=f"token:{mark}",
                      job_id=run.id)
    s.add_all([download, bulk, NotificationLog(corp_id=corp, category="notice", recipients="|zhangsan|",
                                               msgtype="text", status="sent", errmsg=mark)])
    s.flush()
    s.add(BulkItem(bulk_id=bulk.id, position=0, target_id=customer_id, ok=False, error=mark))
    return {"download_id": download.id, "bulk_id": bulk.id}
