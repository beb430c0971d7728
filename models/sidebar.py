"""The sidebar's configuration (侧边栏配置, 004 §9.11): which pages show and which customer-profile sections
in which order, and the auxiliary components (辅助组件): external pages opened with signed customer ids."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.db import Base, created_at, intpk, utcnow


class SidebarConfig(Base):
    """A corp's sidebar: `pages` shown (in order), `sections` of the customer profile shown (in order), and
    `fields`: the rows of its 客户信息 section (in order). See web/sidebar_config.py for the names."""

    __tablename__ = "sidebar_configs"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64), unique=True)
    pages: Mapped[list[Any]] = mapped_column(default=list)
    sections: Mapped[list[Any]] = mapped_column(default=list)
    fields: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SidebarComponent(Base):
    """An admin-configured external page. `secret` signs the parameters it is opened with (HMAC-SHA256);
    it is shown once, at creation, like an API token."""

    __tablename__ = "sidebar_components"

    id: Mapped[intpk]
    corp_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(30))
    url: Mapped[str] = mapped_column(String(512))
    secret: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[dt.datetime | None]
    created_at: Mapped[created_at]
