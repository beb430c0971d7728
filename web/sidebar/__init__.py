"""The sidebar H5 pages inside WeCom's chat window (the fourth door, after callbacks, the admin API and the
bot): WeCom sign-in (oauth.py, session.py), JS-SDK signatures (jssdk.py), the pages' bundled assets
(assets.py), the customer profile (customer.py, customer_api.py) and the quick replies and materials
(library.py). See README, "Sidebar"."""

from __future__ import annotations

from web.sidebar import assets, customer, customer_api, jssdk, library, oauth  # noqa: F401  (register their routes)
from web.sidebar.blueprint import bp

__all__ = ["bp"]
