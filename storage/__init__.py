"""Where uploaded files (follow-up attachments) live, behind one small interface: `put` a stream and get a
key back, `open` a key, `delete` a key. The local-disk store is the default; an S3-compatible bucket is the
option for several hosts (`SCRM_STORAGE=s3`, storage/s3.py).

Keys are made here (a random hex string), never taken from a request, so no user input ever becomes a
path or an object name; a key that is not of that shape is refused before any file is touched. No store
hands out URLs of its own: a file is read back only through the admin API's download route, which checks
who may see the record it hangs off (authorised, not signed)."""

from __future__ import annotations

import re
import uuid
from typing import IO, Any, Protocol

from config import Settings

KEY = re.compile(r"[0-9a-f]{32}")


class Missing(LookupError):
    """No file under this key (deleted, or never stored)."""


class Storage(Protocol):
    def put(self, data: IO[bytes], content_type: str) -> str:
        """Store `data` (read to its end) and return its new key."""

    def open(self, key: str) -> IO[bytes]:
        """The stored file, to be read and closed by the caller; `Missing` if there is none."""

    def delete(self, key: str) -> None:
        """Remove the file; a key already gone is no error."""


def new_key() -> str:
    return uuid.uuid4().hex


def checked(key: str) -> str:
    """`key` if it is one this module could have made, else ValueError (a key never reaches a path unchecked)."""
    if not KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def build(settings: Settings) -> Storage:
    """The store `settings` name."""
    if settings.storage == "s3":
        from storage.s3 import S3Storage

        assert settings.s3 is not None  # config.load_settings refuses s3 without a bucket
        return S3Storage(settings.s3)
    from storage.local import LocalStorage

    return LocalStorage(settings.storage_dir)


def storage(runtime: Any) -> Storage:
    """The runtime's store, built once per process (a boto3 client keeps its connections)."""
    store = runtime.local.get("storage")
    if store is None:
        store = runtime.local["storage"] = build(runtime.settings)
    return store
