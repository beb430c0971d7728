"""Property: whatever a validly encrypted and signed callback holds, the answer is a 200 with exactly one
inbox row for it (and a retry of it adds none), or a 4xx with none; never a 5xx (issue 19, item 7).

Random element trees (known field names and others, text where elements are expected and the other way
round, lists, deep nesting), texts (any Unicode, XML-invalid characters included), numbers (huge,
negative, not whole) and sizes (past the body limit) go inside the envelope of every callback kind the
fake WeCom has a sample of, through the real Flask view into the real DB. The queue is left out (rows stay
`received`, as while Redis is down): what is tested is the door, and 10,000 examples fit in CI that way
(process_event on `invalid` rows: test_callback_invalid.py). A bot command is still answered in the
request, as in production.

`SCRM_FUZZ_EXAMPLES` sets the number of examples: 2,000 by default (CI runs the suite on SQLite and on
MariaDB); the nightly-sized run the README gives is 10,000.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from models import Inbox
from models.bot import BotReply
from support import CORP_ID
from wecom.fake.sender import render_sample, sample_names

EXAMPLES = int(os.environ.get("SCRM_FUZZ_EXAMPLES", "2000"))

FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "ChangeType", "MsgId", "AgentID",
          "Content", "ExternalUserID", "UserID", "State", "WelcomeCode", "Source", "FailReason", "ChatId",
          "UpdateDetail", "JoinScene", "QuitScene", "MemChangeCnt", "MemChangeList", "LastMemVer", "CurMemVer",
          "Id", "TagType", "StrategyId", "NewUserID", "Name", "Department", "Status", "ParentId", "Order",
          "Mobile", "Position", "DirectLeader", "Token", "OpenKfId", "EventKey", "MediaId", "Title", "Url",
          "InfoType", "Item"]
ODD_NUMBERS = ["", "0", "-0", "-1", "1e9", " 12 ", "１２", "٣", "4294967295", "4294967296", "9" * 19, "9" * 20,
               "9" * 5000, "0x10", "nan", "inf", "1_000", "+5"]


@dataclass(frozen=True)
class Deep:
    """An element chain `depth` levels deep (rendered flat, so the test itself never recurses that far)."""

    depth: int


Node = str | Deep | list  # text, a deep chain, or (tag, Node) children

tags = st.one_of(st.sampled_from(FIELDS), st.text("abcXYZ_-.0", min_size=1, max_size=8).map(lambda t: "T" + t))
texts = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=8),  # XML-invalid characters (NUL, U+FFFF) included
    st.integers(-(10**30), 10**30).map(str),
    st.floats().map(str),
    st.sampled_from(ODD_NUMBERS),
    st.sampled_from(["wmCustomer0001", "zhangsan", "/help", "/客户 王", "text", "event", "1000002", CORP_ID]),
)
nodes = st.recursive(texts, lambda inner: st.lists(st.tuples(tags, inner), min_size=1, max_size=4), max_leaves=10)
values = st.one_of(nodes, nodes, nodes, st.integers(2, 3000).map(Deep), st.integers(0, 70_000).map(lambda n: "x" * n))


def render(tag: str, node: Node) -> str:
    if isinstance(node, Deep):
        return f"<{tag}>" + "<a>" * node.depth + "</a>" * node.depth + f"</{tag}>"
    if isinstance(node, str):
        return f"<{tag}>{escape(node)}</{tag}>"
    return f"<{tag}>" + "".join(render(t, n) for t, n in node) + f"</{tag}>"


BASES = {name: [(child.tag, child.text or "") for child in fromstring(render_sample(name, corp_id=CORP_ID))]
         for name in sample_names()}
"""Each callback kind's elements, as the fake WeCom's samples have them (CreateTime: now)."""


@st.composite
def plaintexts(draw: st.DrawFn) -> str:
    """A sample callback of some kind with some of its elements replaced and others added; now and then
    a text that is no XML at all."""
    if draw(st.integers(0, 49)) == 0:
        return draw(st.text(max_size=200))
    elements: dict[str, Node] = dict(BASES[draw(st.sampled_from(sorted(BASES)))])
    for tag, node in draw(st.lists(st.tuples(tags, values), max_size=4)):
        elements[tag] = node
    return "<xml>" + "".join(render(tag, node) for tag, node in elements.items()) + "</xml>"


def stored(runtime) -> list[tuple[int, str, str, str | None]]:  # type: ignore[no-untyped-def]
    with runtime.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(Inbox.id, Inbox.raw_xml, Inbox.status, Inbox.error))]


@settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(plaintext=plaintexts())
def test_a_signed_callback_is_200_with_one_row_or_4xx_with_none(sender, runtime, monkeypatch, plaintext) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("web.callback.enqueue", lambda *args, **kwargs: None)
    with runtime.write_engine.begin() as conn:
        conn.execute(delete(BotReply))
        conn.execute(delete(Inbox))
    first = sender.post_xml(plaintext)
    assert first.status_code == 200 or 400 <= first.status_code < 500, first.data
    rows = stored(runtime)
    if first.status_code != 200:
        assert rows == []
        return
    assert [raw_xml for _, raw_xml, _, _ in rows] == [plaintext]
    (_, _, status, error), = rows
    assert status in ("received", "processed", "unhandled", "failed", "invalid")
    assert bool(error) == (status in ("invalid", "failed")), (status, error)
    retry = sender.post_xml(plaintext)
    assert retry.status_code == 200
    assert stored(runtime) == rows
