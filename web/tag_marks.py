"""Which WeCom tag ids one mark_tag call adds and removes, for tags named by our ids: the single tagging
(web/api_tags.py, the sidebar) and the bulk tagging (web/api_tag_library.py) both come here, so both keep
the exclusive (互斥) rule of manual 9.2.1: adding a tag of an exclusive group removes its siblings in the same
call (WeCom has no such rule of its own, so the service sends them in `remove_tag`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.tags import is_pending
from models import Tag, TagGroup
from web.errors import ApiError


def _live_tags(s: Session, corp_id: str, pks: list[int], key: str) -> list[Tag]:
    tags = list(s.scalars(select(Tag).where(Tag.corp_id == corp_id, Tag.id.in_(pks), Tag.deleted_at.is_(None))))
    if len(tags) != len(set(pks)) or any(is_pending(t.tag_id) for t in tags):
        raise ApiError(422, "invalid", "unknown tag", {key: "every tag must exist in WeCom"})
    return tags


def tag_marks(s: Session, corp_id: str, add: list[int], remove: list[int],
              fields: tuple[str, str] = ("add", "remove")) -> tuple[list[str], list[str]]:
    """(add_tag, remove_tag) in WeCom ids. Two tags of one exclusive group in `add` are a 422; a tag added
    from an exclusive group puts its live siblings in remove_tag. `fields`: the request's names of `add` and
    `remove`, which a 422 names."""
    added = _live_tags(s, corp_id, add, fields[0])
    removed = [t.tag_id for t in _live_tags(s, corp_id, remove, fields[1])]
    exclusive = set(s.scalars(select(TagGroup.id).where(TagGroup.id.in_({t.group_pk for t in added}),
                                                        TagGroup.exclusive.is_(True))))
    chosen: dict[int, Tag] = {}
    for tag in added:
        if tag.group_pk in exclusive:
            if tag.group_pk in chosen:
                raise ApiError(422, "invalid", "the tagging has errors",
                               {fields[0]: f"{chosen[tag.group_pk].name} and {tag.name} are in one exclusive group"})
            chosen[tag.group_pk] = tag
    if chosen:
        siblings = s.scalars(select(Tag.tag_id).where(Tag.group_pk.in_(chosen), Tag.deleted_at.is_(None),
                                                      Tag.id.not_in([t.id for t in chosen.values()])))
        removed += [tag_id for tag_id in siblings if not is_pending(tag_id) and tag_id not in removed]
    add_ids = [t.tag_id for t in added]
    if set(add_ids) & set(removed):
        raise ApiError(422, "invalid", "the tagging has errors", {fields[1]: "a tag is both added and removed"})
    return add_ids, removed
