"""One corp's customer tag library (企业客户标签, docs 92117/96320) with WeCom's rules, as plain data.

These are customer tags (``externalcontact/*_corp_tag``), not address-book member tags (``tag/*``). Not
thread-safe on its own: :class:`wecom.fake.state.FakeState` keeps one library per corp and calls it under its
lock. It lives apart because the rules (name limits, group/tag cascades) need no locking to reason about.

Deletion is a hard delete: the fake never returns ``"deleted": true`` entries (WeCom only does when asked for
a deleted id explicitly).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from wecom.fake.errors import WeComError

MAX_CORP_TAGS = 3000
"""Doc 92117: 每个企业最多可配置3000个企业标签. Going over answers 40126 (global errcode table:
企业标签个数达到上限)."""

MAX_NAME_CHARS = 30
"""Doc 92117: tag and group names are at most 30 characters. The errcode is not documented: 40058 is a guess."""


@dataclass
class CorpTag:
    """One tag inside a group."""

    id: str
    name: str
    order: int
    create_time: int

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "create_time": self.create_time, "order": self.order,
                "deleted": False}


@dataclass
class TagGroup:
    """A tag group; WeCom has no empty groups, so the library drops a group with its last tag."""

    group_id: str
    group_name: str
    order: int
    create_time: int
    tags: list[CorpTag] = field(default_factory=list)

    def as_json(self, tags: Iterable[CorpTag] | None = None) -> dict[str, Any]:
        """The group as get_corp_tag_list shows it, with all its tags or only ``tags``."""
        shown = self.tags if tags is None else tags
        return {"group_id": self.group_id, "group_name": self.group_name, "create_time": self.create_time,
                "order": self.order, "deleted": False, "tag": [tag.as_json() for tag in shown]}

    def tag_named(self, name: str) -> CorpTag | None:
        return next((tag for tag in self.tags if tag.name == name), None)


@dataclass(frozen=True)
class NewTag:
    """A tag add_corp_tag was asked to create."""

    name: str
    order: int = 0


class CorpTagLibrary:
    """The tag groups of one corp, in creation order."""

    def __init__(self) -> None:
        self._groups: dict[str, TagGroup] = {}

    def tag_count(self) -> int:
        return sum(len(group.tags) for group in self._groups.values())

    def find_tag(self, tag_id: str) -> tuple[TagGroup, CorpTag] | None:
        """The group and tag for ``tag_id``, or None if no such tag exists (any more)."""
        for group in self._groups.values():
            for tag in group.tags:
                if tag.id == tag_id:
                    return group, tag
        return None

    def list(self, tag_ids: list[str], group_ids: list[str]) -> list[dict[str, Any]]:
        """get_corp_tag_list: all groups; or the given groups whole (``tag_id`` is then ignored, as documented);
        or only the given tags inside their groups. Unknown ids are skipped (WeCom's answer is undocumented)."""
        if group_ids:
            wanted_groups = set(group_ids)
            return [group.as_json() for group in self._groups.values() if group.group_id in wanted_groups]
        if not tag_ids:
            return [group.as_json() for group in self._groups.values()]
        wanted = set(tag_ids)
        return [group.as_json([tag for tag in group.tags if tag.id in wanted])
                for group in self._groups.values() if any(tag.id in wanted for tag in group.tags)]

    def add(self, group_id: str | None, group_name: str | None, group_order: int, new_tags: list[NewTag],
            now: int) -> dict[str, Any]:
        """add_corp_tag: add tags to the group ``group_id``, or to the group named ``group_name`` (created if
        new). Returns that group with only the new tags. Same-name tags within one request collapse into
        one, as documented; a name already in the group is 40071."""
        if not new_tags:
            raise WeComError(40058, "invalid parameter: tag list is empty (WeCom has no empty tag groups)")
        for tag in new_tags:
            _check_name(tag.name)
        group = self._target_group(group_id, group_name, group_order, now)
        unique: dict[str, NewTag] = {}
        for tag in new_tags:
            unique.setdefault(tag.name, tag)  # the first of same-name tags wins
        if any(group.tag_named(name) for name in unique):
            raise WeComError(40071)
        if self.tag_count() + len(unique) > MAX_CORP_TAGS:
            raise WeComError(40126)
        self._groups.setdefault(group.group_id, group)  # stored first, so no new tag can take its id
        for tag in unique.values():
            group.tags.append(CorpTag(id=self._new_id(), name=tag.name, order=tag.order, create_time=now))
        return group.as_json(group.tags[-len(unique):])

    def edit(self, item_id: str, name: str | None, order: int | None) -> None:
        """edit_corp_tag: rename and/or reorder a group or a tag. Names stay unique among groups, and among
        the tags of one group (40071)."""
        if name is not None:
            _check_name(name)
        group = self._groups.get(item_id)
        if group is not None:
            self._edit_group(group, name, order)
            return
        owner, tag = _found_tag(self.find_tag(item_id))
        if name is not None and name != tag.name and owner.tag_named(name):
            raise WeComError(40071)
        tag.name = tag.name if name is None else name
        tag.order = tag.order if order is None else order

    def delete(self, tag_ids: list[str], group_ids: list[str]) -> set[str]:
        """del_corp_tag: delete whole groups and single tags; a group left without tags goes too (documented).
        Every id is checked before anything changes. Returns the ids of all tags that went."""
        if not tag_ids and not group_ids:
            raise WeComError(40058, "invalid parameter: tag_id and group_id are both empty")
        if any(group_id not in self._groups for group_id in group_ids):
            raise WeComError(40068)
        for tag_id in tag_ids:
            _found_tag(self.find_tag(tag_id))
        removed = {tag.id for group_id in set(group_ids) for tag in self._groups.pop(group_id).tags}
        removed |= set(tag_ids)
        for group in list(self._groups.values()):
            group.tags = [tag for tag in group.tags if tag.id not in removed]
            if not group.tags:
                del self._groups[group.group_id]
        return removed

    def _edit_group(self, group: TagGroup, name: str | None, order: int | None) -> None:
        if name is not None and name != group.group_name and self._group_named(name):
            raise WeComError(40071)
        group.group_name = group.group_name if name is None else name
        group.order = group.order if order is None else order

    def _target_group(self, group_id: str | None, group_name: str | None, order: int, now: int) -> TagGroup:
        """The group add_corp_tag adds to; a new group is only stored once its tags are accepted."""
        if group_id:
            group = self._groups.get(group_id)
            if group is None:
                raise WeComError(40068)
            return group
        if not group_name:
            raise WeComError(40058, "invalid parameter: group_id or group_name is required")
        _check_name(group_name)
        existing = self._group_named(group_name)
        if existing is not None:
            return existing
        return TagGroup(group_id=self._new_id(), group_name=group_name, order=order, create_time=now)

    def _group_named(self, name: str) -> TagGroup | None:
        return next((group for group in self._groups.values() if group.group_name == name), None)

    def _new_id(self) -> str:
        """A fresh id shaped like WeCom's (``et`` + 30 url-safe characters), distinct from every group and tag."""
        taken = set(self._groups) | {tag.id for group in self._groups.values() for tag in group.tags}
        while True:
            candidate = "et" + secrets.token_urlsafe(24)[:30]
            if candidate not in taken:
                return candidate


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME_CHARS:
        raise WeComError(40058, f"invalid parameter: tag/group names are 1-{MAX_NAME_CHARS} characters")


def _found_tag(hit: tuple[TagGroup, CorpTag] | None) -> tuple[TagGroup, CorpTag]:
    if hit is None:
        raise WeComError(40068)
    return hit


class StrategyTagLibraries:
    """Rule-group tags (规则组标签, doc 99544): one library per (corp, strategy_id), apart from the corp's own
    library, so get_corp_tag_list never shows them and get_strategy_tag_list shows only them. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._libraries: dict[tuple[str, int], CorpTagLibrary] = {}

    def reset(self) -> None:
        with self._lock:
            self._libraries.clear()

    def list(self, corpid: str, strategy_id: int, tag_ids: list[str], group_ids: list[str]) -> list[dict[str, Any]]:
        """get_strategy_tag_list: like get_corp_tag_list, each group carrying its ``strategy_id``."""
        with self._lock:
            groups = self._libraries.setdefault((corpid, strategy_id), CorpTagLibrary()).list(tag_ids, group_ids)
        return [{**group, "strategy_id": strategy_id} for group in groups]

    def add(self, corpid: str, strategy_id: int, group_name: str | None, group_order: int,
            tags: list[NewTag]) -> dict[str, Any]:
        """add_strategy_tag: tags into the rule group's group named ``group_name`` (created if new)."""
        with self._lock:
            library = self._libraries.setdefault((corpid, strategy_id), CorpTagLibrary())
            group = library.add(None, group_name, group_order, tags, int(time.time()))
        return {**group, "strategy_id": strategy_id}
