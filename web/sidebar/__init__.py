"""The sidebar H5 pages inside WeCom's chat window (the fourth door, after callbacks, the admin API and the
bot): WeCom sign-in (oauth.py, session.py), JS-SDK signatures (jssdk.py), the pages' bundled assets
(assets.py), the customer profile (customer.py, customer_api.py), the group profile (group.py), the quick
replies and materials (library.py), the radar's links (radar_api.py) and the auxiliary components
(components.py). See README, "Sidebar"."""

from __future__ import annotations

from web.sidebar import (assets, components, customer, customer_api, group, jssdk, library,  # noqa: F401  (routes)
                         oauth, radar_api)
from web.sidebar.blueprint import bp

__all__ = ["bp"]
