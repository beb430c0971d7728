"""The callback door under gunicorn with odd input (issue 19): malformed chunked bodies are a 400, not a
500 (gunicorn's chunk errors are raised from inside `request.stream.read`, which werkzeug's test client
never does); and with Redis and an `rq worker`, a malformed kf callback among valid ones holds none of
them back (one process_batch takes them all, the bad row alone fails)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlencode, urlsplit

import pytest
from kf_support import kf_callback
from sqlalchemy import select

from integration.realparts import wait_for
from integration.test_pipeline import db, post
from models import App, Inbox
from support import CORP_ID
from wecom.fake.sender import build_callback, render_sample


def raw_post(service: str, query: dict[str, str], chunked_body: bytes) -> bytes:
    """POST a hand-written chunked body over a socket, half-close, and return the status line."""
    parts = urlsplit(service)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = (f"POST /wecom/callback/default?{urlencode(query)} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Content-Type: text/xml\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        sock.sendall(head.encode() + chunked_body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("case", ["cut chunk", "bad chunk size", "chunk without its terminator"])
def test_a_malformed_chunked_body_is_a_400_and_stores_nothing(service, crypto, clean_db, case) -> None:  # type: ignore[no-untyped-def]
    params, body = build_callback(crypto, render_sample("message/text", corp_id=CORP_ID, MsgId="77"))
    if case == "cut chunk":
        chunked = f"{len(body):x}\r\n".encode() + body[: len(body) // 2]  # then the client hangs up
    elif case == "bad chunk size":
        chunked = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
    else:
        chunked = f"{len(body):x}\r\n".encode() + body + b"XX0\r\n\r\n"
    assert raw_post(service, params, chunked) == b"HTTP/1.1 400 BAD REQUEST"
    with db(clean_db)() as s:
        assert s.scalars(select(Inbox)).all() == []
    good = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"  # the same, well formed: stored
    assert raw_post(service, params, good) == b"HTTP/1.1 200 OK"


def test_a_malformed_kf_callback_holds_back_none_of_the_valid_ones(  # type: ignore[no-untyped-def]
        service, start_worker, crypto, clean_db) -> None:
    """No sweeper runs here: a row the batch left behind would stay `received`. One malformed callback
    comes over HTTP (the ingress stores it invalid); one was stored by an older ingress as `received`
    (the batch must mark it and go on)."""
    Session = db(clean_db)
    assert post(service, crypto, render_sample("message/text", corp_id=CORP_ID, MsgId="1")).status_code == 200
    with Session.begin() as s:
        app_pk = s.scalar(select(App.id))
        legacy = kf_callback("TLEGACY", "wkOLD").replace("<OpenKfId>wkOLD</OpenKfId>", "<OpenKfId><a/></OpenKfId>")
        s.add(Inbox(app_pk=app_pk, corp_id=CORP_ID, dedup_key="legacy", routing_key="kf_msg_or_event",
                    raw_xml=legacy, status="received", attempts=0))
    malformed = kf_callback("TBAD", "wkX").replace("<OpenKfId>wkX</OpenKfId>", "<OpenKfId><a/><b/></OpenKfId>")
    answers = [post(service, crypto, kf_callback(f"T{n}", f"wk{n % 3}")).status_code for n in range(15)]
    answers.append(post(service, crypto, malformed).status_code)
    answers += [post(service, crypto, kf_callback(f"T{n}", f"wk{n % 3}")).status_code for n in range(15, 30)]
    assert answers == [200] * 31
    started = time.monotonic()
    start_worker(worker_class="rq.worker.SimpleWorker")

    def settled() -> dict[str, int] | None:
        with Session() as s:
            found = s.execute(select(Inbox.status, Inbox.dedup_key).where(Inbox.routing_key != "message/text")).all()
        counts: dict[str, int] = {}
        for status, _ in found:
            counts[status] = counts.get(status, 0) + 1
        return counts if "received" not in counts else None

    counts = wait_for(settled, 30, "every kf callback taken")
    assert counts == {"processed": 30, "invalid": 2}, counts
    assert time.monotonic() - started < 30
