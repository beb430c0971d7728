"""The category trees of the two sidebar libraries (004 §6.1 知识库, §6.2 企业文件夹).

Each tree belongs to one corp, one section and one owner: the corp's (owner None, 公共知识库 / 企业文件夹)
or one member's (个人知识库). Sections: `qa` 话术库, `phrase` 常用语, `link` 常用链接 (KnowledgeItem kinds)
and `material` (Material rows). The root 全部问题 and the first-level 未分类 are not rows: an item with no
category is 未分类, and a category with no parent hangs under the root. At most MAX_DEPTH levels, names
at most MAX_NAME characters (web/library_tree.py keeps both rules)."""

from __future__ import annotations

import enum

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk

MAX_DEPTH = 4
"""§6.1.1.1.1 C: 最多支持到 4 级节点."""
MAX_NAME = 30
"""§6.1.1.1.1 D: 分类名称不得超过 30 个汉字."""


class Section(enum.StrEnum):
    qa = "qa"
    phrase = "phrase"
    link = "link"
    material = "material"


class LibraryCategory(Base):
    __tablename__ = "library_categories"
    __table_args__ = (Index("ix_library_categories_tree", "corp_id", "section", "owner_userid"),)

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    section: Mapped[str] = mapped_column(String(16))
    owner_userid: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[int | None]
    """No foreign key: a category with children is never deleted (web/library_tree.py), and a self-reference
    would stop a plain DELETE of the table on MariaDB, which checks it row by row."""
    depth: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    sort: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]
