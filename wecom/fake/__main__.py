"""Run the fake WeCom server in the foreground: ``python -m wecom.fake --host 127.0.0.1 --port 8900``.

Used by the demo and by manual runs, where the app under test is pointed at ``http://HOST:PORT/cgi-bin/``.
Without ``--seed`` it loads ``default_seed.json`` (shipped in the wheel): the demo corp
``wwdemo0000000001`` with secret ``demo-app-secret``, so a first try gets a token instead of 40013.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from werkzeug.serving import make_server

from wecom.fake import wsgi
from wecom.fake.server import QuietHandler
from wecom.fake.state import SeedError

DEFAULT_SEED = Path(__file__).resolve().parent / "default_seed.json"
"""The demo corp, its staff member 张三 and customer 王小明 (what scripts/demo.sh and the README use)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; defaults mirror WeCom's own (7200 s tokens, 10000 calls/min per API)."""
    parser = argparse.ArgumentParser(prog="python -m wecom.fake", description="Fake WeCom API server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900, help="0 picks a free port (printed on start)")
    parser.add_argument("--token-ttl", type=int, default=7200, metavar="SECONDS",
                        help="expires_in of issued access tokens")
    parser.add_argument("--rate-limit", type=int, default=10000, metavar="N",
                        help="calls per corp per endpoint per minute before 45009")
    parser.add_argument("--seed", type=Path, metavar="FILE.json", default=DEFAULT_SEED,
                        help="seed data (same shape as POST /fake/seed); default: the demo corp")
    parser.add_argument("--no-seed", dest="seed", action="store_const", const=None,
                        help="start empty (seed later with POST /fake/seed)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Seed, bind and serve until interrupted."""
    args = parse_args(argv)
    try:
        app = wsgi.app(str(args.seed or ""), token_ttl=args.token_ttl, rate_limit=args.rate_limit)
    except (OSError, ValueError) as error:  # SeedError and JSONDecodeError are ValueErrors
        kind = "invalid seed" if isinstance(error, SeedError) else "cannot read seed"
        print(f"{kind} {args.seed}: {error}", file=sys.stderr)
        return 2
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    print(f"fake WeCom listening on http://{args.host}:{server.server_port}/cgi-bin/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
