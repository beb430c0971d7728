"""What a group rule does to the customer groups it matches (客户群标签, 004 §4.6.3): it puts its group tags
(群标签, models/group_tags.py) on them. Group tags are ours, not WeCom's, so this is a row written in the
caller's transaction, not an outbox call. `tagged_by` is `rule:<name>` (the SmartTagGroupHit row carries the
rule's id), as a manual tagging's is `token:<name>`.

Tags are only ever added: a tag already on the group stays as it is, and a tag of an exclusive (互斥) tag
group is not put on a group that holds another tag of that tag group, as adding it would take that one off.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import GroupTag, GroupTagging, GroupTagGroup, Outbox, SmartTagRule


def tag_groups(session: Session, rule: SmartTagRule, group_ids: Sequence[int], tag_pks: Sequence[int]) -> list[Outbox]:
    """Add `tag_pks` (the corp's group tags that still exist) to `group_ids`; nothing to send afterwards."""
    if not group_ids or not tag_pks:
        return []
    tags = session.execute(select(GroupTag.id, GroupTag.tag_group_id, GroupTagGroup.exclusive)
                           .join(GroupTagGroup, GroupTagGroup.id == GroupTag.tag_group_id)
                           .where(GroupTag.corp_id == rule.corp_id, GroupTag.id.in_(list(tag_pks)))
                           .order_by(GroupTag.id)).all()
    if not tags:
        return []
    exclusive = {tag_group for _, tag_group, only_one in tags if only_one}
    held = session.execute(select(GroupTagging.group_id, GroupTagging.tag_id, GroupTag.tag_group_id)
                           .join(GroupTag, GroupTag.id == GroupTagging.tag_id)
                           .where(GroupTagging.group_id.in_(list(group_ids)),
                                  GroupTag.id.in_([t for t, _, _ in tags]) | GroupTag.tag_group_id.in_(exclusive)))
    have, taken = set(), set()
    for group_id, tag_id, tag_group in held:
        have.add((group_id, tag_id))
        taken.add((group_id, tag_group))
    actor = f"rule:{rule.name}"[:96]
    rows = [{"group_id": gid, "tag_id": tag_id, "tagged_by": actor}
            for gid in sorted(set(group_ids)) for tag_id, tag_group, only_one in tags
            if (gid, tag_id) not in have and not (only_one and (gid, tag_group) in taken)]
    if rows:
        session.execute(insert(GroupTagging), rows)
    return []
