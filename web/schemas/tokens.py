"""Models of web/api_tokens.py: admin API tokens."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from web.schemas.common import Body, CorpId, Instant, Out


class TokenIn(Body):
    name: str = Field(max_length=64)
    role: str = Field(max_length=16, description="super_admin, admin or member")
    userid: str | None = Field(None, max_length=64, description="a member token's staff member")
    corp_id: CorpId | None = Field(None, description="the corp the token is bound to")
    expires_in: str | None = Field(None, max_length=6, description="90d, 12h, 30m or never; default 90d")
    expires_at: Instant | None = None


class TokenOut(Out):
    id: int
    name: str
    role: str
    corp_id: str | None
    userid: str | None
    created_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    status: str


class NewToken(TokenOut):
    token: str = Field(description="shown this once; only its SHA-256 is stored")
