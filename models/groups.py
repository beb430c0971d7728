"""Customer groups (客户群, 004 §4.2) as WeCom reports them (groupchat/list + groupchat/get and the
change_external_chat events), with every join and quit kept.

Membership is kept as stints: one `GroupMember` row per time a member was in the group (joined_at, and
quit_at once they left). A re-join is a new row, so the history is never rewritten and the group's size at
any instant T is one indexed count: rows with joined_at <= T and (quit_at is null or quit_at > T).
`open_key` is the member's id while the stint is open and NULL after: the unique (group_id, open_key)
makes "at most one open stint per member" a DB rule (NULLs never collide on SQLite or MariaDB), which is
what lets a replayed add_member or a racing refetch be a no-op instead of a second row.

The group row carries its current staff and external counts (kept by the same code that opens and closes
stints) so the list's size filters and sort never count members per group."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class MemberType(enum.IntEnum):
    """groupchat/get member_list[].type."""

    staff = 1
    external = 2


class JoinScene(enum.IntEnum):
    """How a member came in (groupchat/get join_scene; the update event's JoinScene)."""

    direct_invite = 1
    invite_link = 2
    scanned_code = 3


class GroupStatus(enum.IntEnum):
    """groupchat/list status: the owner's resignation and inheritance of the group."""

    normal = 0
    owner_resigned = 1  # 跟进人离职
    inheriting = 2  # 离职继承中
    inherited = 3  # 离职继承完成


class CustomerGroup(Base):
    """One customer group (external chat) of a corp."""

    __tablename__ = "customer_groups"
    __table_args__ = (
        UniqueConstraint("corp_id", "chat_id"),
        Index("ix_customer_groups_corp_id_owner_userid", "corp_id", "owner_userid"),
        Index("ix_customer_groups_corp_id_group_created_at", "corp_id", "group_created_at"),
    )

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    owner_userid: Mapped[str] = mapped_column(String(64), default="")
    notice: Mapped[str] = mapped_column(Text, default="")
    admins: Mapped[list[Any]] = mapped_column(default=list)  # userids of the group's admins (admin_list)
    status: Mapped[int] = mapped_column(default=GroupStatus.normal.value)
    group_created_at: Mapped[dt.datetime | None]  # WeCom's create_time
    member_version: Mapped[str] = mapped_column(String(64), default="")  # the CurMemVer we are at
    staff_count: Mapped[int] = mapped_column(default=0)
    external_count: Mapped[int] = mapped_column(default=0)
    dismissed_at: Mapped[dt.datetime | None]
    synced_at: Mapped[dt.datetime | None]  # last full read (groupchat/get)
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GroupMember(Base):
    """One stint of one member (staff userid or external_userid) in one group."""

    __tablename__ = "group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "open_key"),
        Index("ix_group_members_group_id_joined_at", "group_id", "joined_at"),
        Index("ix_group_members_group_id_quit_at", "group_id", "quit_at"),
        Index("ix_group_members_corp_id_member_id", "corp_id", "member_id"),
        Index("ix_group_members_customer_id", "customer_id"),
    )

    id: Mapped[intpk]
    group_id: Mapped[int] = mapped_column(ForeignKey("customer_groups.id"))
    corp_id: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(64))  # userid (staff) or external_userid
    member_type: Mapped[int]  # MemberType
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))  # when external and known
    unionid: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(128), default="")
    group_nickname: Mapped[str] = mapped_column(String(128), default="")
    inviter_userid: Mapped[str] = mapped_column(String(64), default="")
    join_scene: Mapped[int | None]  # JoinScene
    join_state: Mapped[str] = mapped_column(String(64), default="")  # the join_way `state` it came through
    joined_at: Mapped[dt.datetime]
    quit_at: Mapped[dt.datetime | None]
    quit_scene: Mapped[int | None]  # QuitScene: 0 left by themself (自己退群), 1 removed by the owner or an admin
    open_key: Mapped[str | None] = mapped_column(String(64))  # member_id while open, NULL once quit
    created_at: Mapped[created_at]
