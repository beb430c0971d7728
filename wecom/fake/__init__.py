"""A fake WeCom API server for tests and the demo: real HTTP, in-memory state, WeCom's errcodes.

Self-contained on purpose (stdlib, flask, werkzeug only) so it can run beside the project without it.
"""

from wecom.fake.server import FakeWeComServer, create_fake_app
from wecom.fake.state import FakeState

__all__ = ["FakeState", "FakeWeComServer", "create_fake_app"]
