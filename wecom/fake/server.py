"""A fake WeCom (企业微信) API server that speaks real HTTP.

Tests (and the demo) point the real WeCom client at ``<url>/cgi-bin/`` so that token handling, retries,
errcode handling and rate limiting are exercised over the wire, not against a mock object. The fake answers
like WeCom: HTTP 200 with ``errcode``/``errmsg`` for every business error. Anything it does not implement
answers HTTP 404 / errcode 99999, so a test that strays off the supported surface fails loudly.

Control endpoints under ``/fake/`` (no auth) let tests seed data, read the call log, expire tokens, inject
faults, and play WeCom's side of adding customers (WelcomeCodes, contact-way scans: ``endpoints_contact.py``,
which also serves the address-book, tag, welcome and contact-way APIs). State lives in
:class:`wecom.fake.state.FakeState`.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from wecom.fake import endpoints_contact as contact
from wecom.fake import endpoints_kf as kf
from wecom.fake import group_codes
from wecom.fake import groupmsg, groups, media, oauth, qr_images, stats, transfers
from wecom.fake.messages import check_touser
from wecom.fake.call import Call, bad_request, corpid_of, found, query_arg
from wecom.fake.state import WELCOME_CODE_TTL, FakeState, SeedError, WeComError

UNKNOWN_ENDPOINT = 99999
"""Not a WeCom errcode: marks a request the fake cannot answer, so the test notices instead of passing."""

MESSAGE_TYPES = frozenset({"text", "image", "voice", "video", "file", "textcard", "news", "mpnews",
                           "markdown", "miniprogram_notice", "template_card"})
"""The msgtypes message/send accepts for app messages."""

FOLLOW_USER_PAGE_SIZE = 500
"""externalcontact/get pages follow_user beyond 500 members through ``cursor``/``next_cursor``."""

@dataclass(frozen=True)
class Endpoint:
    """How one WeCom API path is served."""

    method: str
    handler: Callable[[_CgiBin, Call], dict[str, Any]]
    needs_token: bool = True


class _CgiBin:
    """Serves ``/cgi-bin/<path>``: token check, frequency limit, injected fault, then the endpoint."""

    def __init__(self, state: FakeState, token_ttl: int, rate_limit_per_minute: int) -> None:
        self.state = state
        self.token_ttl = token_ttl
        self.rate_limit_per_minute = rate_limit_per_minute

    def handle(self, path: str) -> tuple[Response, int]:
        """Answer one request and record it, whatever the outcome."""
        call = _read_call(path)
        endpoint = ENDPOINTS.get(path)
        if endpoint is None:
            status, payload = 404, _unknown(f"fake WeCom has no endpoint {path}")
        elif endpoint.method != call.method:
            expected = f"fake WeCom: {path} expects {endpoint.method}, got {call.method}"
            status, payload = 405, _unknown(expected)
        else:
            status, payload = 200, self._answer(endpoint, call)
        self.state.record_call(call.log_entry(payload["errcode"]))
        return jsonify(payload), status

    def _answer(self, endpoint: Endpoint, call: Call) -> dict[str, Any]:
        """The WeCom JSON for a call to a known endpoint, errors included."""
        try:
            self._identify(endpoint, call)
            self._throttle(call)
            self._apply_fault(call)
            result = endpoint.handler(self, call)
        except WeComError as error:
            return {"errcode": error.errcode, "errmsg": error.errmsg}
        return {"errcode": 0, "errmsg": "ok", **result}

    def _identify(self, endpoint: Endpoint, call: Call) -> None:
        """Bind the call to its corp/app: from the access_token, or for gettoken from the corpid param."""
        if endpoint.needs_token:
            token = self.state.resolve_token(call.args.get("access_token"))
            call.corpid, call.agentid = token.corpid, token.agentid
        else:
            call.corpid = call.args.get("corpid") or None

    def _throttle(self, call: Call) -> None:
        """WeCom's per-corp, per-API minute limit (45009)."""
        if call.corpid and not self.state.count_api_call(call.corpid, call.path, self.rate_limit_per_minute):
            raise WeComError(45009)

    def _apply_fault(self, call: Call) -> None:
        """Delay and/or fail the call if a test injected a fault for its path."""
        fault = self.state.take_fault(call.path)
        if fault is None:
            return
        time.sleep(fault.delay)
        if fault.errcode:
            raise WeComError(fault.errcode, fault.errmsg)

    # -- endpoints ---------------------------------------------------------------------------------------

    def gettoken(self, call: Call) -> dict[str, Any]:
        """Issue a token for the app whose secret is given (doc 91039)."""
        value, token = self.state.issue_token(call.args.get("corpid", ""), call.args.get("corpsecret", ""),
                                              self.token_ttl)
        call.agentid = token.agentid
        return {"access_token": value, "expires_in": self.token_ttl}

    def user_get(self, call: Call) -> dict[str, Any]:
        """A member's directory fields."""
        return found(self.state.user(corpid_of(call), query_arg(call, "userid", 41009), call.agentid), 60111)

    def externalcontact_get(self, call: Call) -> dict[str, Any]:
        """A customer and the members who added them, follow_user paged by ``cursor`` (doc 92114)."""
        external_userid = query_arg(call, "external_userid", 40058)
        record = found(self.state.external_contact(corpid_of(call), external_userid), 84061)
        offset = _cursor_offset(call.args.get("cursor", ""))
        end = offset + FOLLOW_USER_PAGE_SIZE
        follow_user = record["follow_user"]
        return {"external_contact": record["external_contact"], "follow_user": follow_user[offset:end],
                "next_cursor": str(end) if end < len(follow_user) else ""}

    def message_send(self, call: Call) -> dict[str, Any]:
        """Send an app message (doc 90236), checked the way WeCom checks it, in the same order; a member over
        their budget (doc 90454) silently gets nothing, as in WeCom (see messages.py)."""
        message = call.body
        if not isinstance(message, dict):
            raise WeComError(47001)
        if str(message.get("agentid")) != str(call.agentid):
            raise WeComError(301002)
        msgtype = message.get("msgtype")
        if msgtype not in MESSAGE_TYPES:
            raise WeComError(40008)
        if msgtype == "text" and not _text_content(message):
            raise WeComError(44004)
        media.check_message_media(self, corpid_of(call), message)
        check_touser(message)
        recipients = self.state.resolve_recipients(
            corpid_of(call), *(_split_ids(message.get(key)) for key in ("touser", "toparty", "totag")))
        if not recipients.members:
            raise WeComError(81013)
        unlicensed = self.state.messages.deliver(corpid_of(call), int(call.agentid or 0), recipients.members,
                                                 message)
        return {**recipients.invalid, "unlicenseduser": "|".join(unlicensed), "msgid": secrets.token_urlsafe(24)}


ENDPOINTS: dict[str, Endpoint] = {
    "gettoken": Endpoint("GET", _CgiBin.gettoken, needs_token=False),
    "department/list": Endpoint("GET", contact.department_list),
    "user/get": Endpoint("GET", _CgiBin.user_get),
    "user/list": Endpoint("GET", contact.user_list),
    "user/simplelist": Endpoint("GET", contact.user_simplelist),
    "externalcontact/get": Endpoint("GET", _CgiBin.externalcontact_get),
    "externalcontact/get_corp_tag_list": Endpoint("POST", contact.get_corp_tag_list),
    "externalcontact/add_corp_tag": Endpoint("POST", contact.add_corp_tag),
    "externalcontact/edit_corp_tag": Endpoint("POST", contact.edit_corp_tag),
    "externalcontact/del_corp_tag": Endpoint("POST", contact.del_corp_tag),
    "externalcontact/mark_tag": Endpoint("POST", contact.mark_tag),
    "externalcontact/get_strategy_tag_list": Endpoint("POST", contact.get_strategy_tag_list),
    "externalcontact/add_strategy_tag": Endpoint("POST", contact.add_strategy_tag),
    "externalcontact/send_welcome_msg": Endpoint("POST", contact.send_welcome_msg),
    "externalcontact/add_contact_way": Endpoint("POST", contact.add_contact_way),
    "externalcontact/get_contact_way": Endpoint("POST", contact.get_contact_way),
    "externalcontact/update_contact_way": Endpoint("POST", contact.update_contact_way),
    "externalcontact/del_contact_way": Endpoint("POST", contact.del_contact_way),
    "externalcontact/groupchat/list": Endpoint("POST", groups.groupchat_list),
    "externalcontact/groupchat/get": Endpoint("POST", groups.groupchat_get),
    "message/send": Endpoint("POST", _CgiBin.message_send),
    "auth/getuserinfo": Endpoint("GET", oauth.getuserinfo),
    "get_jsapi_ticket": Endpoint("GET", oauth.get_jsapi_ticket),
    "ticket/get": Endpoint("GET", oauth.ticket_get),
    "media/upload": Endpoint("POST", media.media_upload),
    "kf/account/add": Endpoint("POST", kf.account_add),
    "kf/account/update": Endpoint("POST", kf.account_update),
    "kf/account/del": Endpoint("POST", kf.account_del),
    "kf/account/list": Endpoint("POST", kf.account_list),
    "kf/add_contact_way": Endpoint("POST", kf.add_contact_way),
    "kf/servicer/add": Endpoint("POST", kf.servicer_add),
    "kf/servicer/del": Endpoint("POST", kf.servicer_del),
    "kf/servicer/list": Endpoint("GET", kf.servicer_list),
    "kf/sync_msg": Endpoint("POST", kf.sync_msg),
    "kf/send_msg": Endpoint("POST", kf.send_msg),
    "kf/send_msg_on_event": Endpoint("POST", kf.send_msg_on_event),
    "kf/service_state/get": Endpoint("POST", kf.service_state_get),
    "kf/service_state/trans": Endpoint("POST", kf.service_state_trans),
    **{path: Endpoint("POST", handler) for path, handler in group_codes.ENDPOINTS.items()},
    **{path: Endpoint("POST", handler) for path, handler in transfers.ENDPOINTS.items()},
    **{path: Endpoint("POST", handler) for path, handler in groupmsg.ENDPOINTS.items()},
    **{path: Endpoint("POST", handler) for path, handler in stats.ENDPOINTS.items()},
}
"""The WeCom API surface the fake implements, by path under /cgi-bin/."""


def _read_call(path: str) -> Call:
    """Capture the current Flask request as a :class:`Call`."""
    raw = request.get_data()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return Call(method=request.method, path=path, args=request.args.to_dict(), body=body, at=time.time())


def _unknown(errmsg: str) -> dict[str, Any]:
    """The loud answer for requests outside the implemented surface."""
    return {"errcode": UNKNOWN_ENDPOINT, "errmsg": errmsg}


def _cursor_offset(cursor: str) -> int:
    """The follow_user offset a cursor stands for; this fake's cursors are plain offsets."""
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise WeComError(40058)
    return int(cursor)


def _text_content(message: dict[str, Any]) -> str:
    """The content of a text message, blank-stripped; empty if the ``text`` object is missing."""
    text = message.get("text")
    content = text.get("content") if isinstance(text, dict) else None
    return content.strip() if isinstance(content, str) else ""


def _split_ids(value: Any) -> list[str]:
    """``"a|b"`` (or a bare int party/tag id) as a list of ids."""
    if value is None:
        return []
    return [part for part in str(value).split("|") if part]


def _parse_fault(spec: Any) -> dict[str, Any]:
    """Keyword arguments for :meth:`FakeState.set_fault` from a POST /fake/faults body."""
    if not isinstance(spec, dict) or spec.get("path") not in ENDPOINTS:
        raise ValueError(f"fault needs 'path', one of {sorted(ENDPOINTS)}")
    errcode, count, delay = spec.get("errcode", -1), spec.get("count", 1), spec.get("delay", 0.0)
    errmsg, after = spec.get("errmsg"), spec.get("after", 0)
    if not isinstance(errcode, int) or not isinstance(count, int) or count < 1:
        raise ValueError("'errcode' must be an integer and 'count' a positive integer")
    if not isinstance(after, int) or after < 0:
        raise ValueError("'after' must be a non-negative integer (calls passed before the fault)")
    if not isinstance(delay, int | float) or delay < 0:
        raise ValueError("'delay' must be a non-negative number of seconds")
    if errmsg is not None and not isinstance(errmsg, str):
        raise ValueError("'errmsg' must be a string")
    return {"path": spec["path"], "errcode": errcode, "count": count, "delay": float(delay), "errmsg": errmsg,
            "after": after}


def _add_control_routes(app: Flask, state: FakeState) -> None:
    """Register the unauthenticated /fake/ endpoints tests and the demo use to drive the fake."""

    @app.get("/fake/health")
    def health() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/fake/calls")
    def list_calls() -> dict[str, Any]:
        return {"calls": state.calls(request.args.get("path"))}

    @app.delete("/fake/calls")
    def clear_calls() -> dict[str, Any]:
        state.clear_calls()
        return {"ok": True}

    @app.post("/fake/seed")
    def seed() -> dict[str, Any] | tuple[Response, int]:
        try:
            state.seed(request.get_json(force=True, silent=True))
        except SeedError as error:
            return bad_request(str(error))
        return {"ok": True}

    @app.post("/fake/tokens/expire")
    def expire_tokens() -> dict[str, Any]:
        return {"ok": True, "expired": state.expire_tokens()}

    @app.post("/fake/faults")
    def add_fault() -> dict[str, Any] | tuple[Response, int]:
        try:
            state.set_fault(**_parse_fault(request.get_json(force=True, silent=True)))
        except ValueError as error:
            return bad_request(str(error))
        return {"ok": True}

    @app.delete("/fake/faults")
    def clear_faults() -> dict[str, Any]:
        state.clear_faults()
        return {"ok": True}

    @app.get("/fake/app_messages")
    def app_messages() -> dict[str, Any]:
        return state.messages.log()

    @app.post("/fake/message_limits")
    def message_limits() -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        seconds = spec.get("window_seconds") if isinstance(spec, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            return bad_request("'window_seconds' must be a positive number (WeCom's minute; the hour is 60 of them)")
        state.messages.set_window(float(seconds))
        return {"ok": True}

    @app.post("/fake/unlicensed")
    def unlicensed() -> dict[str, Any] | tuple[Response, int]:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or not isinstance(spec.get("corpid"), str) \
                or not isinstance(spec.get("userids"), list) or not all(isinstance(u, str) for u in spec["userids"]):
            return bad_request("needs 'corpid' and 'userids' (a list of userids)")
        state.messages.mark_unlicensed(spec["corpid"], spec["userids"])
        return {"ok": True}

    @app.delete("/fake/state")
    def reset_state() -> dict[str, Any]:
        state.reset()
        return {"ok": True}


def create_fake_app(state: FakeState | None = None, *, token_ttl: int = 7200,
                    rate_limit_per_minute: int = 10000, welcome_code_ttl: float = WELCOME_CODE_TTL,
                    message_window_seconds: float = 60.0) -> Flask:
    """Build the fake WeCom Flask app around ``state`` (a fresh one if None).

    ``token_ttl`` is the ``expires_in`` of issued tokens; ``rate_limit_per_minute`` is the per-corp,
    per-API limit (WeCom's is 10000/min; tests lower it to reach 45009 quickly); ``welcome_code_ttl`` is
    how long issued WelcomeCodes stay usable (WeCom's 20 s; tests shorten it to reach expiry quickly);
    ``message_window_seconds`` is the minute of the per-member app-message budget (the hour is 60 of them).
    """
    state = FakeState() if state is None else state
    state.messages.set_window(message_window_seconds)
    app = Flask("wecom.fake")
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # WeCom answers raw UTF-8, not \\u escapes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["fake_wecom_state"] = state
    cgi_bin = _CgiBin(state, token_ttl, rate_limit_per_minute)
    app.add_url_rule("/cgi-bin/<path:path>", "cgi_bin", cgi_bin.handle, methods=["GET", "POST"])
    _add_control_routes(app, state)
    contact.add_contact_control_routes(app, state, welcome_code_ttl)
    contact.add_directory_control_routes(app, state)
    kf.add_kf_control_routes(app, state)
    group_codes.add_group_code_control_routes(app, state.group_codes)
    transfers.add_transfer_control_routes(app, state.transfers)
    oauth.add_oauth_routes(app, state)
    groups.add_group_control_routes(app, state.groups)
    media.add_media_routes(app, state)
    groupmsg.add_groupmsg_control_routes(app, state.groupmsg)
    qr_images.add_qr_routes(app, state)
    stats.add_stats_control_routes(app, state.stats)
    return app


class QuietHandler(WSGIRequestHandler):
    """No access log: WeCom's URLs carry access tokens and secrets, and /fake/calls already records calls."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class FakeWeComServer:
    """The fake on a real socket in a daemon thread, so tests can drive the real HTTP client against it.

    ``with FakeWeComServer(token_ttl=60) as fake: client.API_BASE_URL = fake.api_base_url``
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, state: FakeState | None = None,
                 token_ttl: int = 7200, rate_limit_per_minute: int = 10000,
                 welcome_code_ttl: float = WELCOME_CODE_TTL, message_window_seconds: float = 60.0) -> None:
        self.state = FakeState() if state is None else state
        self.app = create_fake_app(self.state, token_ttl=token_ttl, rate_limit_per_minute=rate_limit_per_minute,
                                   welcome_code_ttl=welcome_code_ttl, message_window_seconds=message_window_seconds)
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind (port 0 picks a free port) and serve in the background; returns self for chaining."""
        if self._server is not None:
            raise RuntimeError("FakeWeComServer is already running")
        self._server = make_server(self._host, self._port, self.app, threaded=True, request_handler=QuietHandler)
        # A short poll interval makes stop() return in ~50 ms instead of 500 ms; suites start many fakes.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-wecom", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call when not running."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self._server = self._thread = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        if self._server is None:
            raise RuntimeError("FakeWeComServer is not running; call start() first")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.server_port}"

    @property
    def api_base_url(self) -> str:
        """What to use as the WeCom client's API base URL (wechatpy's ``API_BASE_URL``)."""
        return f"{self.url}/cgi-bin/"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
