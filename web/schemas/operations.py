"""Models of the download centre (web/api_downloads.py), bulk actions (web/api_bulk_actions.py) and the
notifications log (web/api_notifications.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, model_validator

from models.operations import MAX_BULK_ITEMS
from rules.templates import LOGGED_CATEGORIES
from web.schemas.admin import TimeRange
from web.schemas.common import CorpBody, Id, Out, PageQuery
from web.schemas.jobs import JobOut, JobStateName

# -- download centre ------------------------------------------------------------------------------------------


class DownloadQuery(PageQuery):
    kind: Literal["import", "export"] | None = Field(None, description="导入文件 or 下载文件")


class DownloadOut(Out):
    id: int
    corp_id: str
    kind: Literal["import", "export"]
    what: str = Field(description="where it came from (任务来源): customers, leads, …")
    filename: str
    owner: str
    state: JobStateName
    done: int
    total: int | None
    rows: int | None = Field(description="rows in the file, once it is made")
    result: dict[str, Any] | None = Field(description="the job's result: an import's 共N条记录, 成功X, 失败Y")
    errors: list[Any]
    created_at: dt.datetime
    expires_at: dt.datetime | None = Field(description="the file is removed then (7 days after it was made)")
    file: str | None = Field(description="the file's URL while it is kept")
    job: str


class DownloadStarted(Out):
    """202 for an export started into the download centre."""

    download: DownloadOut
    job: JobOut


# -- bulk actions ---------------------------------------------------------------------------------------------
BulkKind = Literal["tag", "untag", "change_follower", "delete"]
BulkTarget = Literal["customers", "leads"]


class BulkParams(CorpBody):
    tag_ids: list[Id] | None = Field(None, max_length=100, description="tag/untag: our tag ids")
    userid: str | None = Field(None, min_length=1, max_length=64,
                               description="tag/untag: whose follow relation (default: the customer's owner, "
                                           "else its first follower; a member: their own)")
    takeover_userid: str | None = Field(None, min_length=1, max_length=64,
                                        description="change_follower: the member who takes the customers")
    message: str = Field("", max_length=200, description="change_follower: 转接文案 sent to the customer")


class BulkIn(CorpBody):
    kind: BulkKind
    target: BulkTarget = "customers"
    ids: list[Id] = Field(min_length=1, description=f"at most {MAX_BULK_ITEMS} (422 beyond), each once")
    params: BulkParams = Field(default_factory=lambda: BulkParams.model_validate({}))

    @model_validator(mode="after")
    def _bounded(self) -> BulkIn:
        if len(self.ids) > MAX_BULK_ITEMS:
            raise ValueError(f"ids: at most {MAX_BULK_ITEMS} at once")
        return self


class BulkItemOut(Out):
    id: int = Field(description="the selected row's id")
    ok: bool | None = Field(description="null while WeCom has not answered yet")
    errcode: int | None = Field(description="WeCom's errcode when it refused this item")
    error: str


class BulkItemQuery(PageQuery):
    page_size: int = Field(200, ge=1, le=1000)
    ok: Literal["true", "false", "pending"] | None = Field(None, description="only items with this result")


class BulkOut(Out):
    id: int
    corp_id: str
    kind: BulkKind
    target: BulkTarget
    params: dict[str, Any]
    actor: str
    created_at: dt.datetime
    job: JobOut
    counts: dict[str, int] = Field(description="items ok, failed and pending")
    items: list[BulkItemOut] = Field(description="this page of the per-item results, in the order given")
    page: int
    page_size: int
    total: int


# -- notifications log ----------------------------------------------------------------------------------------
class NotificationQuery(TimeRange):
    category: Literal[LOGGED_CATEGORIES] | None = None  # type: ignore[valid-type]
    recipient: str | None = Field(None, min_length=1, max_length=64, description="a userid among the recipients")
    status: Literal["sent", "partial", "failed"] | None = None


class NotificationOut(Out):
    id: int
    corp_id: str
    category: str
    recipients: list[str]
    parties: list[int]
    msgtype: str
    status: Literal["sent", "partial", "failed"]
    errcode: int | None
    errmsg: str
    msgid: str
    invalid_users: list[str] = Field(description="WeCom's invaliduser: recipients it refused")
    unlicensed_users: list[str] = Field(description="WeCom's unlicenseduser: recipients without a licence")
    outbox_id: int | None
    created_at: dt.datetime
