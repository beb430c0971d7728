"""快捷回复 and 素材库 in Debian's headless Chromium (the helpers of test_sidebar_browser.py: the stubbed `wx`
bridge, which records each invoke with its arguments, the service on a real HTTP server, screenshots at
375×667 into tests/artifacts/).

The member signs in through the fake WeCom's OAuth, opens 快捷回复, browses a category, searches, taps a
reply: the bridge receives sendChatMessage with the answer's text and then the attached image by the
media_id the fake WeCom issued, and the use is counted in the DB. Then 素材库: a tap on an uploaded image
sends it by media_id; a tap on a link sends a news card with the link's url."""

from __future__ import annotations

import io
from typing import Any

import requests
from sqlalchemy import select

from models import KnowledgeItem, Material
from sidebar_support import build_world, choose
from test_sidebar_browser import BRIDGE, browser, phone, served, shot  # noqa: F401  (fixtures)



def png() -> bytes:
    """A small real picture (the thumbnail shows in the screenshot): a 48×48 green square."""
    import struct
    import zlib

    row = b"\0" + bytes([7, 193, 96]) * 48
    raw = zlib.compress(row * 48)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 48, 48, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def sends(page: Any) -> list[dict[str, Any]]:
    bridge = page.evaluate("JSON.parse(sessionStorage.getItem('bridge') || '[]')")
    return [c[3] for c in bridge if c[0] == "invoke" and c[1] == "sendChatMessage"]


def library(client: Any, admin: dict[str, str]) -> dict[str, int]:
    """售后 › 退货 with one 话术 that attaches an image; a few more replies; images, a link and a file."""
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = client.post(f"/api/v1{path}", headers=admin, json=body)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def upload(kind: str, data: bytes, name: str, **query: Any) -> dict[str, Any]:
        r = client.post("/api/v1/materials/upload", headers=admin, query_string={"kind": kind, **query},
                        content_type="multipart/form-data", data={"file": (io.BytesIO(data), name, "image/png")})
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    after_sales = post("/library-categories", {"section": "qa", "name": "售后服务"})["id"]
    returns = post("/library-categories", {"section": "qa", "name": "退货退款", "parent_id": after_sales})["id"]
    post("/library-categories", {"section": "qa", "name": "产品介绍"})
    folder = post("/library-categories", {"section": "material", "name": "产品图片"})["id"]
    image = upload("image", png(), "年度套餐.png", title="年度套餐海报", category_id=folder)["id"]
    reply = post("/kf/knowledge", {"question": "怎么申请退货", "similar": ["如何退货"], "category_id": returns,
                                   "answer": "您好，收到商品7天内可在订单页点“申请售后”办理退货，我们承担运费。",
                                   "attachments": [image]})["id"]
    post("/kf/knowledge", {"question": "发票怎么开", "answer": "下单时填写抬头和税号，电子发票将在发货后3天内发送到您的邮箱。",
                           "category_id": after_sales})
    post("/kf/knowledge", {"question": "营业时间", "answer": "客服在线时间：每天 9:00-21:00，节假日不休。"})
    link = post("/materials", {"kind": "link", "title": "年度套餐介绍", "category_id": folder,
                               "payload": {"url": "https://example.com/plan", "desc": "一年省下 30% 的费用"}})["id"]
    post("/materials", {"kind": "text", "title": "开场问候", "payload": {"text": "您好，我是您的专属顾问，有任何问题随时找我。"}})
    r = client.post("/api/v1/materials/upload", headers=admin, query_string={"kind": "file"},
                    content_type="multipart/form-data",
                    data={"file": (io.BytesIO(b"%PDF-1.4 price list"), "2026 报价单.pdf", "application/pdf")})
    assert r.status_code == 201
    return {"image": image, "reply": reply, "link": link}


def test_a_member_sends_a_quick_reply_and_a_material(browser, served, sender, client, runtime, fake_wecom,  # noqa: F811
                                                      make_token, monkeypatch, tmp_path) -> None:
    from wecom.client import _process_tokens

    _process_tokens._data.clear()  # tickets and media ids come from this test's fake
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_overrides(storage_dir=str(tmp_path / "files")))
    runtime.local.pop("storage", None)
    admin = make_token("admin", name="setup")
    build_world(sender, client, runtime, fake_wecom.url, admin)
    ids = library(client, admin)
    choose(fake_wecom.url, userid="zhangsan")
    with phone(browser, BRIDGE) as page:

        page.goto(f"{served}/sidebar/quick-replies")  # → fake authorize → callback → the page
        page.wait_for_url("**/sidebar/quick-replies#wechat_redirect", timeout=15000)
        page.wait_for_selector("#folders >> text=售后服务")
        shot(page, "sidebar-quick-replies")
        page.click("#folders >> text=售后服务")
        page.wait_for_selector("#folders >> text=退货退款")
        assert page.locator("#items .lb-item").count() == 2  # 售后服务 and below
        page.fill("#search input", "如何退货")  # a similar question
        page.click("#search button")
        page.wait_for_function("document.querySelectorAll('#items .lb-item').length === 1")
        item = page.locator(f"#items .lb-item[data-id='{ids['reply']}']")
        item.locator(".lb-send").click()
        page.wait_for_selector(f"#items .lb-item[data-id='{ids['reply']}'] >> text=已使用 1 次")

        [media] = requests.get(f"{fake_wecom.url}/fake/media", timeout=5).json()["media"]
        assert sends(page) == [
            {"msgtype": "text", "text": {"content": "您好，收到商品7天内可在订单页点“申请售后”办理退货，我们承担运费。"}},
            {"msgtype": "image", "image": {"mediaid": media["media_id"]}}]
        assert (media["type"], media["filename"]) == ("image", "年度套餐.png")
        with runtime.Session() as s:
            assert s.get(KnowledgeItem, ids["reply"]).uses == 1

        page.goto(f"{served}/sidebar/materials")
        page.wait_for_selector("#items .lb-item")
        page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        shot(page, "sidebar-materials")
        page.click("#sections >> text=图片")
        page.wait_for_function("document.querySelectorAll('#items .lb-item').length === 1")
        page.locator(f"#items .lb-item[data-id='{ids['image']}'] .lb-send").click()
        page.wait_for_selector(f"#items .lb-item[data-id='{ids['image']}'] >> text=已使用 1 次")
        page.click("#sections >> text=链接")
        page.locator(f"#items .lb-item[data-id='{ids['link']}'] .lb-send").click()
        page.wait_for_selector(f"#items .lb-item[data-id='{ids['link']}'] >> text=已使用 1 次")
        assert sends(page)[2:] == [
            {"msgtype": "image", "image": {"mediaid": media["media_id"]}},  # the same file: no second upload
            {"msgtype": "news", "news": {"link": "https://example.com/plan", "title": "年度套餐介绍",
                                         "desc": "一年省下 30% 的费用", "imgUrl": ""}}]
        assert len(requests.get(f"{fake_wecom.url}/fake/media", timeout=5).json()["media"]) == 1
        with runtime.Session() as s:
            assert dict(s.execute(select(Material.id, Material.uses).where(Material.uses > 0)).all()) == {
                ids["image"]: 1, ids["link"]: 1}
