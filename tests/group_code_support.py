"""Shared by the group-code tests: customer groups written as rows (the group sync is another module's), QR
images, and a code made through the admin API."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from sqlalchemy import select, update

from models import CustomerGroup, GroupCodeEntry
from models.db import utcnow
from support import CORP_ID


def png(tag: str, size: int = 0) -> bytes:
    """A PNG as the landing route serves it (the signature is what is checked); `tag` tells them apart."""
    return b"\x89PNG\r\n\x1a\n" + tag.encode() + b"\0" * size


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def add_group_row(runtime: Any, chat_id: str, members: int = 10, corp: str = CORP_ID) -> int:
    with runtime.WriteSession.begin() as s:
        row = CustomerGroup(corp_id=corp, chat_id=chat_id, name=f"群{chat_id}", owner_userid="zhangsan",
                            staff_count=1, external_count=members - 1)
        s.add(row)
        s.flush()
        return row.id


def set_members(runtime: Any, chat_id: str, members: int) -> None:
    with runtime.WriteSession.begin() as s:
        s.execute(update(CustomerGroup).where(CustomerGroup.chat_id == chat_id)
                  .values(staff_count=1, external_count=members - 1))


def expire(runtime: Any, entry_id: int) -> None:
    with runtime.WriteSession.begin() as s:
        s.execute(update(GroupCodeEntry).where(GroupCodeEntry.id == entry_id)
                  .values(expires_at=utcnow() - dt.timedelta(minutes=1)))


def entry_count(runtime: Any) -> int:
    with runtime.Session() as s:
        return len(s.scalars(select(GroupCodeEntry.id)).all())


def make_code(client: Any, headers: dict[str, str], chats: list[str], **fields: Any) -> dict[str, Any]:
    """A code with `chats` (groups already written) added in that order; the code as the API answers."""
    r = client.post("/api/v1/group-codes", headers=headers,
                    json={"corp_id": CORP_ID, "name": "秋季活动群", "channel": "海报", "owner": "lisi", **fields})
    assert r.status_code == 201, r.get_json()
    code = r.get_json()
    for chat_id in chats:
        r = client.post(f"/api/v1/group-codes/{code['id']}/groups", headers=headers,
                        json={"chat_id": chat_id, "qr_image": b64(png(chat_id))})
        assert r.status_code == 201, r.get_json()
        code = r.get_json()
    return code
