"""The sidebar libraries over the admin API: category trees (≤4 levels, names ≤30, a non-empty category
cannot be deleted), the knowledge base's kinds and personal libraries, search, use counts, the material
library's uploads and limits, and a link's fixed url. Bad input gets a clear error and changes nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select

from customer_world import all_rows
from models import KnowledgeItem, LibraryCategory, Material
from support import MISSING_ID
from test_follow_up_files import files, stored  # noqa: F401  (the fixture: a store of the test's own)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
MP4 = b"\0\0\0\x18ftypmp42" + b"\0" * 100
MB = 1024 * 1024


@pytest.fixture
def who(make_token, files) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]  # noqa: F811
    return {"admin": make_token("admin", name="adm"), "zhangsan": make_token("member", userid="zhangsan", name="zs"),
            "lisi": make_token("member", userid="lisi", name="ls")}


def category(client: Any, headers: dict[str, str], name: str, parent: int | None = None, section: str = "qa",
             mine: bool = False) -> Any:
    return client.post("/api/v1/library-categories", headers=headers,
                       json={"section": section, "name": name, "parent_id": parent, "mine": mine})


def reply(client: Any, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/kf/knowledge", headers=headers, json=body)


def upload(client: Any, headers: dict[str, str], kind: str, data: bytes, name: str, **query: Any) -> Any:
    return client.post("/api/v1/materials/upload", headers=headers, query_string={"kind": kind, **query},
                       content_type="multipart/form-data", data={"file": (io.BytesIO(data), name, "application/x")})


# -- the category tree --------------------------------------------------------------------------------------
def test_a_tree_goes_four_levels_deep_and_no_further(client, runtime, who) -> None:
    admin, parent = who["admin"], None
    for level in range(1, 5):
        r = category(client, admin, f"第{level}级", parent)
        assert r.status_code == 201 and r.get_json()["depth"] == level
        parent = r.get_json()["id"]
    before = all_rows(runtime)
    r = category(client, admin, "第5级", parent)
    assert r.status_code == 422 and "4 levels" in r.get_json()["error"]["message"]
    assert all_rows(runtime) == before
    tree = client.get("/api/v1/library-categories", headers=admin, query_string={"section": "qa"}).get_json()["items"]
    assert [(c["name"], c["depth"]) for c in tree] == [("第1级", 1), ("第2级", 2), ("第3级", 3), ("第4级", 4)]


def test_a_move_that_would_push_a_subcategory_past_level_four_is_refused(client, runtime, who) -> None:
    admin = who["admin"]
    a = category(client, admin, "A").get_json()["id"]
    b = category(client, admin, "B", a).get_json()["id"]
    c = category(client, admin, "C", b).get_json()["id"]
    x = category(client, admin, "X").get_json()["id"]
    y = category(client, admin, "Y", x).get_json()["id"]
    before = all_rows(runtime)
    assert client.patch(f"/api/v1/library-categories/{a}", headers=admin, json={"parent_id": y}).status_code == 422
    assert client.patch(f"/api/v1/library-categories/{a}", headers=admin, json={"parent_id": c}).status_code == 422
    assert all_rows(runtime) == before
    r = client.patch(f"/api/v1/library-categories/{b}", headers=admin, json={"parent_id": y, "sort": 3})
    assert r.status_code == 200 and (r.get_json()["depth"], r.get_json()["sort"]) == (3, 3)
    with runtime.Session() as s:
        assert s.get(LibraryCategory, c).depth == 4  # moved along, one level down


def test_names_are_thirty_characters_at_most(client, runtime, who) -> None:
    before = all_rows(runtime)
    assert category(client, who["admin"], "名" * 31).status_code == 422
    assert category(client, who["admin"], "  ").status_code == 422
    assert all_rows(runtime) == before
    assert category(client, who["admin"], "名" * 30).status_code == 201


def test_a_category_holding_anything_cannot_be_deleted(client, runtime, who) -> None:
    admin = who["admin"]
    top = category(client, admin, "售后").get_json()["id"]
    sub = category(client, admin, "退货", top).get_json()["id"]
    item = reply(client, admin, question="怎么退货", answer="七天无理由", category_id=sub).get_json()["id"]
    before = all_rows(runtime)
    r = client.delete(f"/api/v1/library-categories/{top}", headers=admin)
    assert r.status_code == 409 and "1 subcategories" in r.get_json()["error"]["message"]
    r = client.delete(f"/api/v1/library-categories/{sub}", headers=admin)
    assert r.status_code == 409 and "1 items" in r.get_json()["error"]["message"]
    assert all_rows(runtime) == before
    assert client.delete(f"/api/v1/kf/knowledge/{item}", headers=admin).status_code == 200
    assert client.delete(f"/api/v1/library-categories/{sub}", headers=admin).status_code == 200
    assert client.delete(f"/api/v1/library-categories/{top}", headers=admin).status_code == 200
    with runtime.Session() as s:
        assert s.scalars(select(LibraryCategory)).all() == []


# -- personal libraries -------------------------------------------------------------------------------------
def test_a_member_keeps_their_own_library_and_cannot_touch_anothers(client, runtime, who) -> None:
    zs, ls = who["zhangsan"], who["lisi"]
    folder = category(client, zs, "我的常用", section="phrase", mine=True)
    assert folder.status_code == 201 and folder.get_json()["owner_userid"] == "zhangsan"
    mine = reply(client, zs, kind="phrase", mine=True, answer="您好，我是张三", category_id=folder.get_json()["id"])
    assert mine.status_code == 201, mine.get_json()
    item = mine.get_json()["id"]
    # lisi: not in his list, and a 404 for every way at it
    assert client.get("/api/v1/kf/knowledge", headers=ls, query_string={"mine": "true"}).get_json()["total"] == 0
    before = all_rows(runtime)
    assert client.patch(f"/api/v1/kf/knowledge/{item}", headers=ls, json={"answer": "x"}).status_code == 404
    assert client.delete(f"/api/v1/kf/knowledge/{item}", headers=ls).status_code == 404
    assert client.post(f"/api/v1/kf/knowledge/{item}/uses", headers=ls).status_code == 404
    assert client.delete(f"/api/v1/library-categories/{folder.get_json()['id']}", headers=ls).status_code == 404
    assert client.patch(f"/api/v1/kf/knowledge/{item}", headers=who["admin"], json={"answer": "x"}).status_code == 404
    assert all_rows(runtime) == before
    # nor in the corp's library, which members read but do not change
    assert client.get("/api/v1/kf/knowledge", headers=zs).get_json()["total"] == 0
    assert reply(client, zs, question="q", answer="a").status_code == 403
    assert category(client, zs, "企业分类").status_code == 403
    assert all_rows(runtime) == before
    r = client.get("/api/v1/kf/knowledge", headers=zs, query_string={"mine": "true", "kind": "phrase"})
    assert [i["answer"] for i in r.get_json()["items"]] == ["您好，我是张三"]


def test_each_kind_needs_its_fields(client, runtime, who) -> None:
    admin = who["admin"]
    before = all_rows(runtime)
    assert reply(client, admin, kind="qa", question="只有问题").status_code == 422
    assert reply(client, admin, kind="link", question="官网").status_code == 422  # no url
    assert reply(client, admin, kind="link", question="官网", url="javascript:alert(1)").status_code == 422
    assert reply(client, admin, kind="qa", question="q", answer="长" * 301).status_code == 422
    assert reply(client, admin, kind="qa", question="q", answer="a", attachments=[MISSING_ID]).status_code == 422
    other = category(client, admin, "常用语分类", section="phrase").get_json()["id"]
    before = all_rows(runtime)
    assert reply(client, admin, kind="qa", question="q", answer="a", category_id=other).status_code == 422
    assert all_rows(runtime) == before
    r = reply(client, admin, kind="link", question="官网", url="https://example.com/")
    assert r.status_code == 201 and r.get_json()["url"] == "https://example.com/"


def test_search_covers_question_similar_and_answer_and_the_category_below(client, who) -> None:
    admin = who["admin"]
    top = category(client, admin, "售后").get_json()["id"]
    sub = category(client, admin, "退货", top).get_json()["id"]
    a = reply(client, admin, question="怎么退货", answer="七天无理由", category_id=sub).get_json()["id"]
    b = reply(client, admin, question="发票", similar=["开具增值税发票"], answer="联系财务").get_json()["id"]
    c = reply(client, admin, question="营业时间", answer="早九点到晚六点（含周末）").get_json()["id"]

    def found(**query: Any) -> list[int]:
        r = client.get("/api/v1/kf/knowledge", headers=admin, query_string=query)
        assert r.status_code == 200, r.get_json()
        return [i["id"] for i in r.get_json()["items"]]

    assert found(keyword="退货") == [a]
    assert found(keyword="增值税") == [b]  # a similar question
    assert found(keyword="周末") == [c]  # the answer
    assert found(keyword="100%") == []
    assert found(category_id=top) == [a]  # and those below it
    assert found(category_id=0) == [b, c]  # 未分类


def test_uses_are_counted(client, runtime, who) -> None:
    item = reply(client, who["admin"], question="q", answer="a").get_json()["id"]
    for n in (1, 2):
        r = client.post(f"/api/v1/kf/knowledge/{item}/uses", headers=who["zhangsan"])
        assert r.status_code == 200 and r.get_json() == {"id": item, "uses": n}
    with runtime.Session() as s:
        assert s.get(KnowledgeItem, item).uses == 2


# -- materials -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "data", "name", "status"), [
    ("image", b"\xff\xd8\xff" + b"\0" * (2 * MB), "big.jpg", 413),   # image ≤ 2 MB
    ("image", b"GIF89a" + b"\0" * 100, "a.gif", 422),                # JPG/PNG only
    ("image", b"MZ" + b"\0" * 100, "a.png", 422),                     # not a PNG inside
    ("video", b"\0" * 100, "a.mp4", 422),                             # no MP4 header
    ("video", MP4 + b"\0" * (10 * MB), "a.mp4", 413),                 # video ≤ 10 MB
    ("file", b"MZ" + b"\0" * 100, "a.exe", 422),                       # not a document
    ("file", b"MZ" + b"\0" * 100, "a.pdf", 422),                       # a program renamed
    ("file", b"%PDF", "a.pdf", 422),                                   # under 6 bytes
    ("voice", b"#!AMR\n" + b"\x3c" + b"\0" * 31, "a.mp3", 422),        # AMR only
    ("voice", b"#!AMR\n" + (b"\x3c" + b"\0" * 31) * 3001, "a.amr", 422),  # 60.02 s
], ids=["image-size", "gif", "exe-as-png", "not-mp4", "video-size", "exe", "exe-as-pdf", "tiny", "mp3", "voice-61s"])
def test_an_upload_over_its_limit_or_of_a_refused_type_stores_nothing(client, runtime, who, files, kind, data, name,  # noqa: F811
                                                                       status) -> None:
    before = all_rows(runtime)
    r = upload(client, who["admin"], kind, data, name)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["fields"]["file"]
    assert stored(files) == [] and all_rows(runtime) == before


def test_an_upload_is_stored_listed_searched_and_downloaded(client, runtime, who, files) -> None:  # noqa: F811
    admin = who["admin"]
    folder = category(client, admin, "产品图", section="material").get_json()["id"]
    r = upload(client, admin, "image", PNG, "产品.png", title="产品主图", category_id=folder)
    assert r.status_code == 201, r.get_json()
    out = r.get_json()
    assert (out["kind"], out["title"], out["size"], out["category_id"]) == ("image", "产品主图", len(PNG), folder)
    assert len(stored(files)) == 1
    voice = upload(client, admin, "voice", b"#!AMR\n" + (b"\x3c" + b"\0" * 31) * 3000, "a.amr")  # 60 s
    assert voice.status_code == 201
    assert upload(client, admin, "file", b"%PDF-1.4 hello", "报价.pdf").status_code == 201
    listed = client.get("/api/v1/materials", headers=who["zhangsan"], query_string={"keyword": "主图"}).get_json()
    assert [m["id"] for m in listed["items"]] == [out["id"]]
    listed = client.get("/api/v1/materials", headers=admin, query_string={"keyword": "报价"}).get_json()
    assert [m["filename"] for m in listed["items"]] == ["报价.pdf"]
    listed = client.get("/api/v1/materials", headers=admin, query_string={"category_id": folder}).get_json()
    assert [m["id"] for m in listed["items"]] == [out["id"]]
    got = client.get(out["download"], headers=who["zhangsan"])
    assert got.status_code == 200 and got.data == PNG
    assert upload(client, who["zhangsan"], "image", PNG, "b.png").status_code == 403  # admins change the library


def test_a_links_url_cannot_change(client, runtime, who) -> None:
    admin = who["admin"]
    r = client.post("/api/v1/materials", headers=admin, json={"kind": "link", "title": "官网",
                                                              "payload": {"url": "https://a.example/", "desc": "d"}})
    assert r.status_code == 201
    link = r.get_json()["id"]
    before = all_rows(runtime)
    r = client.patch(f"/api/v1/materials/{link}", headers=admin, json={"payload": {"url": "https://evil.example/"}})
    assert r.status_code == 422 and "url" in r.get_json()["error"]["message"]
    assert all_rows(runtime) == before
    r = client.patch(f"/api/v1/materials/{link}", headers=admin, json={"title": "新官网", "payload": {"desc": "新"}})
    assert r.status_code == 200
    assert r.get_json()["payload"] == {"desc": "新", "url": "https://a.example/"} and r.get_json()["title"] == "新官网"
    with runtime.Session() as s:
        assert s.get(Material, link).payload["url"] == "https://a.example/"


def test_material_uses_are_counted_and_a_deleted_one_is_gone(client, runtime, who) -> None:
    admin = who["admin"]
    m = client.post("/api/v1/materials", headers=admin, json={"kind": "text", "title": "问候",
                                                              "payload": {"text": "您好"}}).get_json()["id"]
    assert client.post(f"/api/v1/materials/{m}/uses", headers=who["zhangsan"]).get_json() == {"id": m, "uses": 1}
    assert client.delete(f"/api/v1/materials/{m}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/materials/{m}", headers=admin).status_code == 404
    assert client.post(f"/api/v1/materials/{m}/uses", headers=who["zhangsan"]).status_code == 404


def test_a_sidebar_only_material_cannot_be_a_welcome_attachment(client, runtime, who, files) -> None:  # noqa: F811
    """A text or an uploaded file is sent from the sidebar only: a welcome naming one is a 422, not a send
    that fails later."""
    admin = who["admin"]
    text = client.post("/api/v1/materials", headers=admin, json={"kind": "text", "payload": {"text": "您好"}})
    image = upload(client, admin, "image", PNG, "a.png")
    before = all_rows(runtime)
    for material in (text.get_json()["id"], image.get_json()["id"]):
        r = client.post("/api/v1/welcome-messages", headers=admin, json={"text": "欢迎", "material_ids": [material]})
        assert r.status_code == 422, r.get_json()
        r = client.post("/api/v1/group-welcome-templates", headers=admin, json={"text": "欢迎", "material_id": material})
        assert r.status_code == 422, r.get_json()
    assert all_rows(runtime) == before
