"""Models of the library routes: categories (web/api_library_categories.py), the knowledge base's kinds
and personal libraries (web/api_knowledge.py) and the material library (web/api_materials.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, StringConstraints

from models.library import MAX_NAME, Section
from web.schemas.common import Body, CorpBody, CorpQuery, Id, Int32, Out, PageQuery, Query
from web.schemas.kf import MAX_SIMILAR, KfAnswer, Question

SectionName = Section
CategoryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)]
Mine = Field(False, description="the caller's own library (个人知识库) instead of the corp's")
CategoryFilter = Field(None, description="only this category and those below it; 0: 未分类 (none)")
MAX_ATTACHMENTS = 9
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]


class CategoryQuery(CorpQuery):
    section: SectionName = Field(description="qa 话术库, phrase 常用语, link 常用链接, material 素材库")
    mine: bool = Mine


class CategoryChange(Body):
    name: CategoryName | None = None
    parent_id: Id | None = Field(None, description="move under this category; 0: to the root (全部)")
    sort: Int32 | None = Field(None, description="序号: smaller first among siblings")


class CategoryIn(CorpBody):
    section: SectionName
    mine: bool = Mine
    name: CategoryName
    parent_id: Id | None = Field(None, description="none: a first-level category")
    sort: Int32 = 0


class CategoryOut(Out):
    id: int
    section: str
    owner_userid: str | None
    parent_id: int | None
    depth: int
    name: str
    sort: int


class UseOut(Out):
    id: int
    uses: int


# -- materials ---------------------------------------------------------------------------------------------
MATERIAL_KINDS = {"text": ("text",), "image": ("media_id",), "link": ("url",),
                  "miniprogram": ("appid", "page", "pic_media_id"), "video": (), "file": (), "voice": ()}
"""The payload keys each kind needs when created from JSON (an image may give pic_url instead of media_id;
image, video, file and voice may be uploaded instead: POST /materials/upload)."""
MaterialKind = Literal["text", "image", "link", "miniprogram", "video", "file", "voice"]  # MATERIAL_KINDS' keys
Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]


class MaterialIn(CorpBody):
    kind: MaterialKind
    title: Title = ""
    payload: dict[str, Annotated[str, Field(max_length=2048)]] = Field(
        {}, description="text {text}, image {media_id | pic_url}, link {url, desc, pic_url}, "
                        "miniprogram {appid, page, pic_media_id}")
    category_id: Id | None = None


class MaterialChange(Body):
    title: Title | None = None
    payload: dict[str, Annotated[str, Field(max_length=2048)]] | None = Field(
        None, description="replaces the payload; a link's url cannot change (422)")
    category_id: Id | None = Field(None, description="move to this category; 0: 未分类")


class MaterialQuery(PageQuery):
    kind: MaterialKind | None = None
    category_id: Id | None = CategoryFilter
    keyword: Keyword | None = Field(None, description="part of the title or file name")


class UploadQuery(CorpQuery):
    kind: Literal["image", "video", "file", "voice"]
    title: Title = ""
    category_id: Id | None = None


class MaterialOut(Out):
    id: int
    kind: str
    title: str
    payload: dict[str, str]
    category_id: int | None = None
    filename: str | None = None
    content_type: str | None = None
    size: int | None = None
    download: str | None = None
    uses: int = 0


# -- knowledge ---------------------------------------------------------------------------------------------
KnowledgeKind = Literal["qa", "phrase", "link"]
Url = Annotated[AnyHttpUrl, Field(description="常用链接's address (http or https)")]


class KnowledgeQuery(PageQuery):
    kind: KnowledgeKind | None = None
    mine: bool = Mine
    category_id: Id | None = CategoryFilter
    keyword: Keyword | None = Field(None, description="part of the question, a similar question or the answer")


class KnowledgeOut(Out):
    id: int
    kind: str
    owner_userid: str | None
    question: str
    similar: list[str]
    answer: str
    url: str | None
    category: str
    category_id: int | None
    attachments: list[int]
    sort: int
    enabled: bool
    hits: int
    uses: int
    updated_at: dt.datetime


class KnowledgeChange(Body):
    question: Question | None = Field(None, description="话术库: the question; 常用链接: the link's name")
    similar: list[Question] | None = Field(None, max_length=MAX_SIMILAR, description="相似问")
    answer: KfAnswer | None = Field(None, description="话术库's answer or 常用语's text, ≤300 characters")
    url: Url | None = None
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    category_id: Id | None = Field(None, description="0: 未分类")
    attachments: list[Id] | None = Field(None, max_length=MAX_ATTACHMENTS,
                                         description="material ids sent after the answer")
    sort: Int32 | None = Field(None, description="序号")
    enabled: bool | None = None


class KnowledgeIn(KnowledgeChange, CorpBody):
    kind: KnowledgeKind = Field("qa", description="qa: question + answer; phrase: answer; link: question + url")
    mine: bool = Mine


class AttachmentQuery(Query):
    kind: Literal["image", "video", "file", "voice"] = Field(
        description="image ≤2 MB JPG/PNG, voice ≤2 MB AMR ≤60 s, video ≤10 MB MP4, file ≤20 MB")
    title: Title = ""
