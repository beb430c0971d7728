"""Conversations written straight into the DB, at chosen times, for the reply-timeout and search tests:
a kf session served by a staff member, and its customer, servicer and bot messages."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models import App, Customer, FollowRelation, KfSession, Message
from models.conversation import MessageOrigin, MessageSource
from support import CORP_ID

SHANGHAI = ZoneInfo("Asia/Shanghai")
_ids = itertools.count(1)


def local(text: str) -> dt.datetime:
    """'2026-11-20 17:55' in Shanghai → aware UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(dt.UTC)


class World:
    def __init__(self, runtime) -> None:  # type: ignore[no-untyped-def]
        self.runtime = runtime

    def session(self, servicer: str | None, external_userid: str = "wmGuest01", open_kfid: str = "wkShop01",
                corp_id: str = CORP_ID) -> KfSession:
        with self.runtime.WriteSession.begin() as s:
            app_pk = s.scalar(select(App.id).order_by(App.id))
            row = KfSession(session_id=uuid.uuid4().hex, corp_id=corp_id, app_pk=app_pk, open_kfid=open_kfid,
                            external_userid=external_userid, state="human" if servicer else "queue",
                            servicer_userid=servicer, started_at=local("2026-11-20 09:00"),
                            last_message_at=local("2026-11-20 09:00"))
            s.add(row)
        return row

    def say(self, session: KfSession, origin: MessageOrigin, at: dt.datetime, content: str = "你好") -> int:
        """A kf message of the session, stored as the sync stores it; returns its id."""
        with self.runtime.WriteSession.begin() as s:
            row = Message(corp_id=session.corp_id, source=MessageSource.kf.value, msgid=f"m{next(_ids)}",
                          open_kfid=session.open_kfid, external_userid=session.external_userid,
                          userid=session.servicer_userid if origin is MessageOrigin.servicer else None,
                          origin=origin.value, msgtype="text", content=content, raw={}, send_time=at,
                          session_pk=session.id)
            s.add(row)
            s.flush()
            return row.id

    def app_message(self, userid: str, at: dt.datetime, content: str, corp_id: str = CORP_ID) -> int:
        with self.runtime.WriteSession.begin() as s:
            row = Message(corp_id=corp_id, source=MessageSource.app.value, msgid=f"app:{next(_ids)}", userid=userid,
                          origin=MessageOrigin.servicer.value, msgtype="text", content=content, raw={}, send_time=at)
            s.add(row)
            s.flush()
            return row.id

    def customer(self, external_userid: str, name: str, follower: str) -> int:
        with self.runtime.WriteSession.begin() as s:
            row = Customer(corp_id=CORP_ID, external_userid=external_userid, name=name)
            s.add(row)
            s.flush()
            s.add(FollowRelation(customer_id=row.id, corp_id=CORP_ID, userid=follower,
                                 added_at=local("2026-11-01 10:00")))
            return row.id
