"""What the company, contact and follow-up-subject tests share: the customer_world corp with four tokens, and
creating and listing through the API."""

from __future__ import annotations

from typing import Any

from customer_world import build
from support import CORP_ID


def org_world(runtime: Any, make_token: Any) -> dict[str, Any]:
    """customer_world's rows (zhangsan follows 王小明, lisi alone follows 赵六) and a token for each of
    zhangsan and lisi (members), an admin and a super_admin."""
    return {**build(runtime), "zhangsan": make_token("member", userid="zhangsan", name="zs"),
            "lisi": make_token("member", userid="lisi", name="ls"), "admin": make_token("admin", name="adm"),
            "super": make_token("super_admin", name="sup")}


def made(client: Any, headers: dict[str, str], path: str, **body: Any) -> dict[str, Any]:
    """POST `body` (in the test corp) to `path`, which must answer 201; its answer."""
    r = client.post(path, headers=headers, json={"corp_id": CORP_ID, **body})
    assert r.status_code == 201, r.get_json()
    return dict(r.get_json())


def names(client: Any, headers: dict[str, str], path: str, **query: Any) -> list[str]:
    """The names a list answers with `query`, in its order."""
    r = client.get(path, headers=headers, query_string=query)
    assert r.status_code == 200, r.get_json()
    return [row["name"] for row in r.get_json()["items"]]
