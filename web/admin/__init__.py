"""The admin dashboard (仪表盘, 003; 004 §8 数据管理), `/admin/`: HTML pages behind a sign-in with an API token
or through WeCom (web/admin/session.py, web/admin/oauth.py) whose charts (Chart.js, vendored in static/vendor/)
are drawn from the admin API's own JSON (`/api/v1/stats/*`, `/api/v1/funnel`), fetched by the page with the
session cookie, so every number on the page is the API's, within the signed-in caller's role and scope."""

from web.admin import oauth  # noqa: F401  (its routes, on the same blueprint)
from web.admin.views import bp

__all__ = ["bp"]
