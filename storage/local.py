"""The default store: files in a directory (`SCRM_STORAGE_DIR`), made on first use. A file is written
under a temporary name and renamed, so a reader never sees half of one; files are spread over 256
sub-directories by their key's first two characters, so no directory grows past what a filesystem lists
quickly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import IO

from storage import Missing, checked, new_key


class LocalStorage:
    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory)

    def _path(self, key: str) -> Path:
        key = checked(key)
        return self.root / key[:2] / key

    def put(self, data: IO[bytes], content_type: str) -> str:
        key = new_key()
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        try:
            with open(partial, "wb") as out:
                shutil.copyfileobj(data, out)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return key

    def open(self, key: str) -> IO[bytes]:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError:
            raise Missing(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
