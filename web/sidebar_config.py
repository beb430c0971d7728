"""The sidebar's configuration (侧边栏配置, 004 §9.11.1): which pages show, which sections of the customer
profile and which rows of its 客户信息 in which order. A corp that set nothing gets every page, section and
row in the default order; what an admin leaves out of a list is hidden."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.sidebar import SidebarConfig

PAGES = {"customer": "客户详情", "group": "群详情", "quick_replies": "快捷回复", "materials": "素材库",
         "components": "辅助组件"}
SECTIONS = {"tags": "我的标签", "info": "客户信息", "followers": "跟进成员", "opportunities": "商机",
            "follow_up": "添加跟进记录", "timeline": "客户动态", "components": "辅助组件"}
FIELDS = {"type": "客户类型", "mobile": "电话", "added_at": "添加时间", "description": "描述",
          "custom": "自定义字段（按字段设置的顺序）"}


@dataclass(frozen=True)
class Layout:
    pages: tuple[str, ...]
    sections: tuple[str, ...]
    fields: tuple[str, ...]


DEFAULT = Layout(tuple(PAGES), tuple(SECTIONS), tuple(FIELDS))


def layout(s: Session, corp_id: str) -> Layout:
    row = s.scalar(select(SidebarConfig).where(SidebarConfig.corp_id == corp_id))
    if row is None:
        return DEFAULT
    return Layout(tuple(row.pages), tuple(row.sections), tuple(row.fields))
