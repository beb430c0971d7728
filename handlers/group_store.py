"""Writing customer groups and their members' stints: the one place that opens and closes stints, links
external members to our customer rows, and keeps each group's cached counts equal to its open stints.

Both doors in use it: the change_external_chat handlers (`handlers.groups`) for what an event says, and
the groupchat/get reconciliation (`apply_groups`) that a create, a missed event or a full sync ends in.
Work is set-based (one query loads a batch's groups, one their open stints, one the customers to link; an
executemany writes each kind of change), so a full sync costs a few statements per hundred groups, and a
group whose data did not change costs no write at all: values are compared before they are set. The groups
a reconciliation changed are then shown to the group smart-tag rules (the `group` event).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from handlers.smart_tags import on_groups
from models import Customer, Staff
from models.groups import CustomerGroup, GroupMember, MemberType
from rules.group_members import DETAIL_FIELDS, OpenStint, SeenMember, plan, seen_member

IN_CHUNK = 2000
"""Ids per IN (…) list: well inside SQLite's bound-parameter limit."""


@dataclass
class Changes:
    """What a write changed: groups touched (chat ids), rows written, and its parts."""

    groups: set[str] = field(default_factory=set)
    created: int = 0
    opened: int = 0
    closed: int = 0
    corrected: int = 0
    stubs: int = 0
    group_rows: int = 0

    @property
    def rows(self) -> int:
        return self.created + self.opened + self.closed + self.corrected + self.stubs + self.group_rows

    def add(self, other: Changes) -> None:
        self.groups |= other.groups
        for name in ("created", "opened", "closed", "corrected", "stubs", "group_rows"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> dict[str, int]:
        return {"groups_changed": len(self.groups), "rows_written": self.rows, "groups_created": self.created,
                "joined": self.opened, "quit": self.closed, "members_corrected": self.corrected,
                "customer_stubs": self.stubs}


def set_changed(row: Any, **values: Any) -> bool:
    """Set only the attributes whose value differs (no UPDATE for an unchanged row); True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start:start + IN_CHUNK]


def open_stints(s: Session, group_ids: list[int]) -> dict[int, dict[str, OpenStint]]:
    """group id → member id → open stint, for every group in `group_ids` (one query per chunk)."""
    found: dict[int, dict[str, OpenStint]] = {gid: {} for gid in group_ids}
    detail_cols = [getattr(GroupMember, name) for name in DETAIL_FIELDS]
    for chunk in _chunks(group_ids):
        rows = s.execute(select(GroupMember.id, GroupMember.group_id, GroupMember.member_id, GroupMember.joined_at,
                                GroupMember.customer_id, *detail_cols)
                         .where(GroupMember.group_id.in_(chunk), GroupMember.open_key.is_not(None)))
        for stint_id, group_id, member_id, joined_at, customer_id, *details in rows:
            found[group_id][member_id] = OpenStint(stint_id, member_id, joined_at, dict(zip(DETAIL_FIELDS, details,
                                                                                            strict=True)), customer_id)
    return found


def customer_ids(s: Session, corp_id: str, members: list[SeenMember], changes: Changes) -> dict[str, int]:
    """external_userid → our customer id for the external `members`; an unknown one gets a stub: a customer
    row with the name and unionid the group showed, `synced_at` NULL and no follow relation (not anyone's
    contact, never fetched with externalcontact/get; a later add_external_contact fills the same row in)."""
    wanted = {m.member_id: m for m in members if m.member_type == MemberType.external.value}
    known: dict[str, int] = {}
    for chunk in _chunks(sorted(wanted)):
        known.update(s.execute(select(Customer.external_userid, Customer.id).where(
            Customer.corp_id == corp_id, Customer.external_userid.in_(chunk))).all())
    missing = [wanted[key] for key in sorted(wanted) if key not in known]
    if missing:
        s.execute(insert(Customer), [{"corp_id": corp_id, "external_userid": m.member_id, "name": m.name,
                                      "unionid": m.unionid or None} for m in missing])
        changes.stubs += len(missing)
        for chunk in _chunks([m.member_id for m in missing]):
            known.update(s.execute(select(Customer.external_userid, Customer.id).where(
                Customer.corp_id == corp_id, Customer.external_userid.in_(chunk))).all())
    return known


def fill_stubs(s: Session, named: list[tuple[int, SeenMember]]) -> None:
    """Customer stubs (never fetched, still nameless) take the name and unionid groupchat/get showed for
    them: a stub made from an event's bare member id gets them with the fetch that follows."""
    ids = {customer_id: m for customer_id, m in named if m.name or m.unionid}
    if not ids:
        return
    for customer in s.scalars(select(Customer).where(Customer.id.in_(list(ids)), Customer.synced_at.is_(None),
                                                     Customer.name == "")):
        member = ids[customer.id]
        set_changed(customer, name=member.name, unionid=member.unionid or customer.unionid)


def stint_rows(group: CustomerGroup, members: list[SeenMember], linked: dict[str, int]) -> list[dict[str, Any]]:
    """New open stints of `members` in `group`, as rows for one executemany (`insert_stints`)."""
    return [{"group_id": group.id, "corp_id": group.corp_id, "customer_id": linked.get(m.member_id),
             "member_id": m.member_id, "open_key": m.member_id, "joined_at": m.joined_at, "quit_at": None,
             "quit_scene": None, **m.details()} for m in members]


def insert_stints(s: Session, rows: list[dict[str, Any]]) -> None:
    """Core's executemany, not the ORM's bulk insert: a full sync inserts millions, and the ORM's per-row
    bookkeeping was most of its time."""
    if rows:
        s.execute(insert(GroupMember), rows)


def close_stints(s: Session, closes: list[tuple[int, dt.datetime, int | None]]) -> None:
    """End stints: (stint id, quit_at, quit_scene) each."""
    if closes:
        s.execute(update(GroupMember), [{"id": stint_id, "quit_at": at, "quit_scene": scene, "open_key": None}
                                        for stint_id, at, scene in closes])


def recount(group: CustomerGroup, members: Iterable[int]) -> bool:
    """Set the cached counts from the member types of the group's open stints; True if they changed."""
    types = list(members)
    staff = sum(1 for t in types if t == MemberType.staff.value)
    return set_changed(group, staff_count=staff, external_count=len(types) - staff)


def staff_ids(s: Session, corp_id: str, ids: list[str]) -> set[str]:
    """Which of `ids` are staff userids we know (an event's MemChangeList does not say)."""
    return set(s.scalars(select(Staff.userid).where(Staff.corp_id == corp_id, Staff.userid.in_(ids)))) if ids else set()


def dismiss(s: Session, group: CustomerGroup, at: dt.datetime) -> int:
    """The group dismissed at `at`: every open stint closed then (no quit scene: nobody left on their own),
    counts zero. Returns the stints closed; a group dismissed already is left as it is (0)."""
    if group.dismissed_at is not None:
        return 0
    stints = open_stints(s, [group.id])[group.id]
    close_stints(s, [(stint.id, at, None) for stint in stints.values()])
    group.dismissed_at = at
    recount(group, [])
    return len(stints)


def group_fields(detail: dict[str, Any]) -> dict[str, Any]:
    """CustomerGroup columns from a groupchat/get `group_chat`."""
    created = detail.get("create_time")
    admins = [a.get("userid") for a in detail.get("admin_list") or [] if isinstance(a, dict) and a.get("userid")]
    fields: dict[str, Any] = {
        "name": str(detail.get("name", ""))[:128], "owner_userid": str(detail.get("owner", ""))[:64],
        "notice": str(detail.get("notice", "")), "admins": admins,
        "member_version": str(detail.get("member_version", ""))[:64],
    }
    if isinstance(created, int) and created > 0:
        fields["group_created_at"] = dt.datetime.fromtimestamp(created, dt.UTC)
    return fields


def _unlink(values: dict[str, Any]) -> dict[str, Any]:
    """A stint an event took for a customer's that groupchat/get says is staff loses its customer link."""
    return {"customer_id": None} if values.get("member_type") == MemberType.staff.value else {}


def apply_groups(s: Session, corp_id: str, details: list[dict[str, Any]], at: dt.datetime,
                 statuses: dict[str, int] | None = None) -> Changes:
    """Make our rows match groupchat/get answers (`group_chat` objects): each group's fields, and its open
    stints exactly the member_list (new members opened with their join time, gone ones closed at `at`, the
    time we learnt it). `statuses` (chat id → groupchat/list status) sets the groups' follow status; a
    group listed there is alive even if we had marked it dismissed. A dismissed group is otherwise left
    alone: a fetch an older event planned must not bring its members back."""
    changes = Changes()
    chat_ids = [d["chat_id"] for d in details]
    groups: dict[str, CustomerGroup] = {}
    for chunk in _chunks(chat_ids):
        groups.update((g.chat_id, g) for g in s.scalars(select(CustomerGroup).where(
            CustomerGroup.corp_id == corp_id, CustomerGroup.chat_id.in_(chunk))))
    listed = statuses or {}
    seen_in = {d["chat_id"]: [seen_member(item, at) for item in d.get("member_list") or []] for d in details}
    new = []
    for detail in details:
        if detail["chat_id"] not in groups:  # created whole (no UPDATE after), all in one executemany
            types = [m.member_type for m in seen_in[detail["chat_id"]]]
            staff = types.count(MemberType.staff.value)
            new.append({"corp_id": corp_id, "chat_id": detail["chat_id"], "status": listed.get(detail["chat_id"], 0),
                        "staff_count": staff, "external_count": len(types) - staff, "synced_at": at,
                        "group_created_at": None, "dismissed_at": None, **group_fields(detail)})
    if new:
        s.execute(insert(CustomerGroup), new)
        created = [row["chat_id"] for row in new]
        for chunk in _chunks(created):
            groups.update((g.chat_id, g) for g in s.scalars(select(CustomerGroup).where(
                CustomerGroup.corp_id == corp_id, CustomerGroup.chat_id.in_(chunk))))
        changes.created += len(new)
        changes.groups.update(created)
    details = [d for d in details if groups[d["chat_id"]].dismissed_at is None or d["chat_id"] in listed]
    stints = open_stints(s, [groups[d["chat_id"]].id for d in details])
    plans = {}
    for detail in details:
        group, seen = groups[detail["chat_id"]], seen_in[detail["chat_id"]]
        plans[group.chat_id] = (group, seen, plan(list(stints[group.id].values()), seen))
    linked = customer_ids(s, corp_id, [m for _, _, p in plans.values() for m in p.opens], changes)
    closes: list[tuple[int, dt.datetime, int | None]] = []
    corrections: list[dict[str, Any]] = []
    named: list[tuple[int, SeenMember]] = []
    for detail in details:
        group, seen, todo = plans[detail["chat_id"]]
        if todo.updates:
            by_id = {stint.id: stint for stint in stints[group.id].values()}
            members = {m.member_id: m for m in seen}
            named += [(int(by_id[i].customer_id or 0), members[by_id[i].member_id])
                      for i, changed in todo.updates.items()
                      if by_id[i].customer_id and ("name" in changed or "unionid" in changed)]
        closes += [(stint_id, todo.rejoined.get(stint_id, at), None) for stint_id in todo.closes]
        corrections += [{"id": stint_id, **values, **_unlink(values)} for stint_id, values in todo.updates.items()]
        fields = group_fields(detail)
        if group.chat_id in listed:
            fields.update(status=listed[group.chat_id], dismissed_at=None)
        touched = set_changed(group, **fields)
        touched = recount(group, (m.member_type for m in seen)) or touched
        if touched and group.id is not None and group.chat_id not in changes.groups:
            changes.group_rows += 1
        if touched or todo.rows:
            changes.groups.add(group.chat_id)
            group.synced_at = at
        changes.opened += len(todo.opens)
        changes.closed += len(todo.closes)
        changes.corrected += len(todo.updates)
    close_stints(s, closes)  # before the inserts: a re-joined member's new stint takes the same open_key
    insert_stints(s, [row for group, _, todo in plans.values() for row in stint_rows(group, todo.opens, linked)])
    if corrections:
        s.execute(update(GroupMember), corrections)
    fill_stubs(s, named)
    on_groups(s, corp_id, "group", [groups[chat_id].id for chat_id in sorted(changes.groups)])  # 智能标签
    return changes
