"""The WeCom API client: wechatpy's enterprise `WeChatClient`, made fit for several processes.

What wechatpy 1.8 leaves to us (docs/PROTOCOL.md §2):
- its `fetch_access_token` hard-codes WeCom's host, so the base URL from config (the fake in tests)
  would not be used for gettoken; we fetch from `api_base + "gettoken"`;
- its token cache has no lock, so N workers would all call gettoken at once when the token expires;
  we take a Redis lock (a thread lock without Redis) and re-check the cache inside it;
- its auto-retry on 40001/40014/42001 recurses with no cap and it has no back-off for -1/45009;
  we retry token errors once with a fresh token and "system busy" (-1) a few times with back-off,
  then raise a typed `WeComError` whose `retryable` tells the job whether RQ should try again later.
  A rate limit (45009, 45033) is not retried here: WeCom blocks the API for the rest of its minute and
  counts refused calls too, so quick retries only burn the window. The error's `retry_after` says when
  to call again, and the job is re-scheduled for then (jobs/queue.py) instead of sleeping in a worker.
- 40001 from gettoken itself means the secret is wrong (an API call's 40001 is a stale token): that is
  never retried, since WeCom bans the IP for an hour after repeated wrong secrets. The client raises
  `CredentialsBroken` from then on without asking again, and `on_bad_secret` lets the runtime mark the
  app so every process stops until the secret changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any
from collections.abc import Callable

import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

log = logging.getLogger(__name__)

BAD_SECRET = 40001
TOKEN_ERRORS = frozenset({BAD_SECRET, 40014, 42001})
BUSY_ERRORS = frozenset({-1})
RATE_LIMITED = {45009: 60.0, 45033: 5.0}
"""Rate-limit errcodes → seconds to wait before calling again. 45009: WeCom blocks an API for 60 s once
its per-minute limit is passed (docs/PROTOCOL.md §4), so 60 s after a refusal the block has ended. 45033: too
many concurrent calls, which clears as soon as the others finish."""
DUPLICATE_CHECK = {"enable_duplicate_check": 1, "duplicate_check_interval": 1800}
"""The same app message within 30 minutes is shown once: longer than an outbound job's retries take to reach
their last attempt before the 15-minute one, and WeCom's default interval (doc 90236)."""
TOKEN_EARLY_REFRESH = 300
TOKEN_MEMO_SECONDS = 30.0
"""How long a process reuses the token it last read from the shared cache without asking again: a Redis
round trip per API call is a tenth of a kf answer's cost. A token dropped meanwhile (40014/42001) is
dropped here too and the call retried, so the memo never outlives a token WeCom refused."""
_process_tokens = MemoryStorage()
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


class WeComError(Exception):
    """WeCom answered with a non-zero errcode (or could not be reached: errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str, endpoint: str) -> None:
        super().__init__(f"WeCom {endpoint}: errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint

    @property
    def retryable(self) -> bool:
        """Worth trying again later: unreachable, busy, rate-limited, or a token that kept failing."""
        return (self.errcode is None or self.errcode in BUSY_ERRORS or self.errcode in TOKEN_ERRORS
                or self.retry_after is not None)

    @property
    def retry_after(self) -> float | None:
        """For a rate limit, the seconds until WeCom accepts this API again; None for other errors."""
        return RATE_LIMITED.get(self.errcode) if self.errcode is not None else None


class CredentialsBroken(WeComError):
    """gettoken refused the app's secret (40001). Retrying cannot help and hurts (an IP ban): fix the secret."""

    def __init__(self, errmsg: str) -> None:
        super().__init__(BAD_SECRET, errmsg, "gettoken")
        self.args = (f"app credentials broken: gettoken answered 40001 ({errmsg}); not retried. Set the app's "
                     "secret (PATCH /api/v1/apps/<slug> or `apps add`), then replay",)

    @property
    def retryable(self) -> bool:
        return False


class WeComClient(WeChatClient):
    """One app's client. `redis` shares tokens between the web app and every rq worker."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        api_base: str,
        redis: Any = None,
        timeout: float = 10.0,
        backoff: tuple[float, ...] = (0.2, 0.5, 1.0),
        sleep: Callable[[float], None] = time.sleep,
        on_bad_secret: Callable[[str], None] | None = None,
    ) -> None:
        storage = RedisStorage(redis, prefix="wecom") if redis is not None else _process_tokens
        super().__init__(corp_id, secret, session=storage, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base
        # requests reads the proxy and CA-bundle environment again on every call (a sixth of a profile
        # fetch's CPU in a worker); a process' environment does not change, so it is read here, once, for
        # the host this client calls (NO_PROXY included).
        self._http.trust_env = False
        self._http.proxies = requests.utils.get_environ_proxies(api_base)
        self._http.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self._redis = redis
        self._backoff = backoff
        self._sleep = sleep
        self._memo: tuple[str, float] = ("", 0.0)
        self._on_bad_secret = on_bad_secret
        self._bad_secret: str | None = None
        """gettoken's errmsg once it refused this secret: no further gettoken with it, in this process."""

    # -- access token and tickets --------------------------------------------------------------------
    @property
    def access_token(self) -> str:
        token, until = self._memo
        if token and time.monotonic() < until:
            return token
        token = self.shared(self.access_token_key, lambda: self.fetch_access_token()["access_token"])
        self._memo = (token, time.monotonic() + TOKEN_MEMO_SECONDS)
        return token

    def shared(self, key: str, fetch: Callable[[], str]) -> str:
        """A credential WeCom issues with a lifetime (the access token, the JS-SDK tickets), from the cache
        every process shares; when it is absent one process at a time calls `fetch` (a Redis lock, a thread
        lock without Redis) and the others, waiting on the lock, find what it stored. `fetch` stores the
        value itself (`_keep`), as only it knows the lifetime WeCom gave."""
        value = self.session.get(key)
        if not value:
            with self._refresh_lock(key):
                value = self.session.get(key)  # another process may have refreshed
                if not value:
                    value = fetch()
        return value

    def _keep(self, key: str, value: str, expires_in: int) -> None:
        # Expire our copy early: WeCom may drop a credential before expires_in, and a call made with one
        # that dies in flight costs a retry.
        self.session.set(key, value, max(expires_in - TOKEN_EARLY_REFRESH, 60))

    def jsapi_ticket(self) -> str:
        """The corp's jsapi_ticket (get_jsapi_ticket) for wx.config / getConfigSignature. WeCom allows 400
        fetches an hour per corp and 100 per app: it is only ever fetched through `shared`."""
        key = f"{self.access_token_key}:jsapi_ticket"
        return self.shared(key, lambda: self._ticket("get_jsapi_ticket", {}, key))

    def agent_ticket(self) -> str:
        """The app's ticket (ticket/get?type=agent_config) for wx.agentConfig / getAgentConfigSignature."""
        key = f"{self.access_token_key}:agent_ticket"
        return self.shared(key, lambda: self._ticket("ticket/get", {"type": "agent_config"}, key))

    def _ticket(self, endpoint: str, params: dict[str, str], key: str) -> str:
        result = self.get(endpoint, params=params)
        self._keep(key, result["ticket"], int(result.get("expires_in", 7200)))
        return str(result["ticket"])

    def _refresh_lock(self, name: str) -> Any:
        key = f"{name}:lock"
        if self._redis is not None:
            return self._redis.lock(f"wecom:{key}", timeout=15, blocking_timeout=15)
        with _process_locks_guard:
            return _process_locks.setdefault(key, threading.Lock())

    def fetch_access_token(self) -> dict[str, Any]:
        endpoint = "gettoken"
        if self._bad_secret is not None:
            raise CredentialsBroken(self._bad_secret)
        try:
            res = self._http.get(
                self.API_BASE_URL + endpoint,
                params={"corpid": self.corp_id, "corpsecret": self.secret},
                timeout=self.timeout,
            )
            result = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeComError(None, type(exc).__name__, endpoint) from exc
        errcode = int(result.get("errcode", 0))
        if errcode == BAD_SECRET:
            self._bad_secret = str(result.get("errmsg", ""))
            log.error("gettoken refused the secret of corp %s (40001): calls stop until it changes", self.corp_id)
            if self._on_bad_secret is not None:
                self._on_bad_secret(self._bad_secret)
            raise CredentialsBroken(self._bad_secret)
        if errcode != 0:
            raise WeComError(errcode, str(result.get("errmsg", "")), endpoint)
        self._keep(self.access_token_key, result["access_token"], int(result.get("expires_in", 7200)))
        return result

    def _drop_token(self, used: str) -> None:
        """Forget `used` unless another process already replaced it with a fresh one."""
        self._memo = ("", 0.0)
        if self.session.get(self.access_token_key) == used:
            self.session.delete(self.access_token_key)

    # -- requests -----------------------------------------------------------------------------------
    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        endpoint = url_or_endpoint.removeprefix(self.API_BASE_URL)
        base_params = dict(kwargs.pop("params", None) or {})
        token_retried = False
        busy_attempt = 0
        while True:
            token = self.access_token
            try:
                return super()._request(
                    method, url_or_endpoint, params={**base_params, "access_token": token}, **kwargs
                )
            except WeChatClientException as exc:
                errcode = int(exc.errcode) if exc.errcode is not None else None
                if errcode in TOKEN_ERRORS and not token_retried:
                    self._drop_token(token)
                    token_retried = True
                    continue
                if errcode in BUSY_ERRORS and busy_attempt < len(self._backoff):
                    self._sleep(self._backoff[busy_attempt])
                    busy_attempt += 1
                    continue
                raise WeComError(errcode, str(exc.errmsg or ""), endpoint) from None
            except requests.RequestException as exc:
                raise WeComError(None, type(exc).__name__, endpoint) from None

    # -- calls wechatpy 1.8 lacks or wraps awkwardly ---------------------------------------------------
    def get_external_contact(self, external_userid: str) -> dict[str, Any]:
        """externalcontact/get, every page of follow_user (cursor-paged past 500 followers)."""
        result = self.get("externalcontact/get", params={"external_userid": external_userid})
        follow = list(result.get("follow_user", []))
        cursor = result.get("next_cursor")
        while cursor:
            page = self.get(
                "externalcontact/get", params={"external_userid": external_userid, "cursor": cursor}
            )
            follow.extend(page.get("follow_user", []))
            cursor = page.get("next_cursor")
        result["follow_user"] = follow
        return result

    def get_user(self, userid: str) -> dict[str, Any]:
        return self.get("user/get", params={"userid": userid})

    def send_app_message(self, agent_id: int, touser: list[str], msgtype: str, body: dict[str, Any],
                         toparty: list[int] | tuple[int, ...] = ()) -> Any:
        """message/send from the self-built app; the answer's `invaliduser`/`invalidparty` list refused
        recipients and `unlicenseduser` those without a licence. With WeCom's duplicate check on (doc 90236),
        a retried send that WeCom already showed is not shown twice."""
        data: dict[str, Any] = {"msgtype": msgtype, "agentid": agent_id, msgtype: body, **DUPLICATE_CHECK}
        if touser:
            data["touser"] = "|".join(touser)
        if toparty:
            data["toparty"] = "|".join(str(p) for p in toparty)
        return self.post("message/send", data=data)
