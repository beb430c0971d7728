"""The QR images behind the fake's contact-way ``qr_code`` URLs (WeCom's are PNGs on its CDN, fetched without
a token). ``GET /fake/qr/<config_id>.png`` answers a real PNG (a 21×21 pattern from the config_id, scaled up),
made with zlib alone, for an existing way; 404 for any other id."""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Any

from flask import Flask, Response, abort, has_request_context, request

SIDE, SCALE = 21, 8  # a version-1 QR's modules, pixels per module


def qr_url(config_id: str) -> str:
    """The URL add_contact_way answers: on the fake itself when called over HTTP, so a client can fetch it."""
    base = request.host_url.rstrip("/") if has_request_context() else "https://fake.invalid"
    return f"{base}/fake/qr/{config_id}.png"


def png_for(seed: str) -> bytes:
    """A black-and-white PNG whose pattern is `seed`'s digest (greyscale, 8 bits)."""
    bits = "".join(f"{byte:08b}" for byte in hashlib.sha512(seed.encode()).digest() * 2)
    rows = []
    for y in range(SIDE * SCALE):
        row = bytes(0 if bits[(y // SCALE) * SIDE + x // SCALE] == "1" else 255 for x in range(SIDE * SCALE))
        rows.append(b"\0" + row)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", SIDE * SCALE, SIDE * SCALE, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


def add_qr_routes(app: Flask, state: Any) -> None:
    @app.get("/fake/qr/<config_id>.png")
    def qr_image(config_id: str) -> Response:
        if not any(way["config_id"] == config_id for way in state.contact_ways()):
            abort(404)
        return Response(png_for(config_id), mimetype="image/png")
