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
"""

from __future__ import annotations

import logging
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

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
BUSY_ERRORS = frozenset({-1})
RATE_LIMITED = {45009: 60.0, 45033: 5.0}
"""Rate-limit errcodes → seconds to wait before calling again. 45009: WeCom blocks an API for 60 s once
its per-minute limit is passed (docs/PROTOCOL.md §4), so 60 s after a refusal the block has ended. 45033: too
many concurrent calls, which clears as soon as the others finish."""
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
    ) -> None:
        storage = RedisStorage(redis, prefix="wecom") if redis is not None else _process_tokens
        super().__init__(corp_id, secret, session=storage, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base
        self._redis = redis
        self._backoff = backoff
        self._sleep = sleep
        self._memo: tuple[str, float] = ("", 0.0)

    # -- access token -------------------------------------------------------------------------------
    @property
    def access_token(self) -> str:
        token, until = self._memo
        if token and time.monotonic() < until:
            return token
        token = self.session.get(self.access_token_key)
        if not token:
            with self._refresh_lock():
                token = self.session.get(self.access_token_key)  # another process may have refreshed
                if not token:
                    token = self.fetch_access_token()["access_token"]
        self._memo = (token, time.monotonic() + TOKEN_MEMO_SECONDS)
        return token

    def _refresh_lock(self) -> Any:
        key = f"{self.access_token_key}:lock"
        if self._redis is not None:
            return self._redis.lock(f"wecom:{key}", timeout=15, blocking_timeout=15)
        with _process_locks_guard:
            return _process_locks.setdefault(key, threading.Lock())

    def fetch_access_token(self) -> dict[str, Any]:
        endpoint = "gettoken"
        try:
            res = self._http.get(
                self.API_BASE_URL + endpoint,
                params={"corpid": self.corp_id, "corpsecret": self.secret},
                timeout=self.timeout,
            )
            result = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeComError(None, type(exc).__name__, endpoint) from exc
        if result.get("errcode", 0) != 0:
            raise WeComError(int(result["errcode"]), str(result.get("errmsg", "")), endpoint)
        ttl = int(result.get("expires_in", 7200))
        # Expire our copy early: WeCom may drop a token before expires_in, and a call made with a
        # token that dies in flight costs a retry.
        self.session.set(self.access_token_key, result["access_token"], max(ttl - TOKEN_EARLY_REFRESH, 60))
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

    def send_app_message(self, agent_id: int, touser: list[str], msgtype: str, body: dict[str, Any]) -> Any:
        """message/send from the self-built app; the answer's `invaliduser` lists refused recipients."""
        data = {"touser": "|".join(touser), "msgtype": msgtype, "agentid": agent_id, msgtype: body}
        return self.post("message/send", data=data)
