"""The signature an auxiliary component (辅助组件, 004 §9.11) checks: the sidebar opens the component's page
with the customer's ids as query parameters, signed with the component's own secret, so the page can trust
whom it is shown for without calling us.

Parameters: corp_id, external_userid, userid (the member), timestamp and expires (Unix seconds; expires is
timestamp + 300), and signature. The signed string is the five parameters, sorted by name, as
`name=value` joined by `&`, values as they are (not URL-encoded):

    corp_id=<corp_id>&expires=<expires>&external_userid=<external_userid>&timestamp=<timestamp>&userid=<userid>

signature = lowercase hex of HMAC-SHA256(key = the component's secret (UTF-8), message = that string).
The page recomputes it, compares in constant time, and refuses the request once `expires` has passed (and
any whose expires - timestamp is over 300).

Worked example (also in README and the OpenAPI description): secret `cs_example_secret`, corp_id
`ww0123456789abcdef`, external_userid `wmEXAMPLE0001`, userid `zhangsan`, timestamp 1764403200, expires
1764403500: the string is
`corp_id=ww0123456789abcdef&expires=1764403500&external_userid=wmEXAMPLE0001&timestamp=1764403200&userid=zhangsan`
and the signature
`6624a83a932aa0902cbb0bdd3776ee7dd1065e484dd0eb7cf8a334c2795ea72a` (`openssl dgst -sha256 -hmac` agrees)."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode, urlsplit, urlunsplit

TTL_SECONDS = 300
SIGNED = ("corp_id", "expires", "external_userid", "timestamp", "userid")


def signed_string(params: dict[str, str]) -> str:
    return "&".join(f"{name}={params[name]}" for name in SIGNED)


def signature(secret: str, params: dict[str, str]) -> str:
    return hmac.new(secret.encode(), signed_string(params).encode(), hashlib.sha256).hexdigest()


def sign(secret: str, corp_id: str, external_userid: str, userid: str, now: int) -> dict[str, str]:
    """The query parameters a component page is opened with, signature included."""
    params = {"corp_id": corp_id, "external_userid": external_userid, "userid": userid, "timestamp": str(now),
              "expires": str(now + TTL_SECONDS)}
    return {**params, "signature": signature(secret, params)}


def verify(secret: str, params: dict[str, str], now: int) -> bool:
    """The check a component page makes (what the docstring documents): all parameters there, the
    signature right, not expired, and a window no longer than TTL_SECONDS."""
    if any(not params.get(name) for name in (*SIGNED, "signature")):
        return False
    try:
        timestamp, expires = int(params["timestamp"]), int(params["expires"])
    except ValueError:
        return False
    if now > expires or expires - timestamp > TTL_SECONDS:
        return False
    return hmac.compare_digest(signature(secret, params), params["signature"])


def signed_url(url: str, params: dict[str, str]) -> str:
    """`url` with the signed parameters added to its query (its own parameters kept, its #fragment last)."""
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
