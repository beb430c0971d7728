"""Which files the material library (素材库) takes, by kind (004 §6.1.1.1.2 附件 and §6.2), judged before
anything is stored: image ≤ 2 MB JPG/PNG, voice ≤ 2 MB AMR ≤ 60 s, video ≤ 10 MB MP4, file ≤ 20 MB
PDF/PPT/Word/Excel/Txt. The bounds are the manual's, and each also fits what WeCom's media/upload takes
(image 10 MB JPG/PNG, voice 2 MB AMR ≤ 60 s, video 10 MB MP4, file 20 MB, every file over 5 bytes), so any
stored file can be sent from the sidebar. A file is judged by its extension and its first bytes, so a
renamed file of another kind is refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from rules.attachments import refusal as program_refusal

MB = 1024 * 1024
MIN_BYTES = 6
"""WeCom: 所有文件size必须大于5个字节."""
MAX_VOICE_SECONDS = 60
AMR_MAGIC = b"#!AMR\n"
AMR_FRAME_BYTES = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1)
"""AMR-NB frame size (header byte included) by frame type (RFC 4867 §5.3); every frame is 20 ms."""


@dataclass(frozen=True)
class Rule:
    max_bytes: int
    extensions: frozenset[str]
    label: str


RULES = {
    "image": Rule(2 * MB, frozenset({".jpg", ".jpeg", ".png"}), "JPG or PNG"),
    "voice": Rule(2 * MB, frozenset({".amr"}), "AMR"),
    "video": Rule(10 * MB, frozenset({".mp4"}), "MP4"),
    "file": Rule(20 * MB, frozenset({".pdf", ".ppt", ".pptx", ".doc", ".docx", ".xls", ".xlsx", ".txt"}),
                 "PDF, PPT, Word, Excel or Txt"),
}
UPLOAD_KINDS = tuple(RULES)
MAX_UPLOAD = max(r.max_bytes for r in RULES.values())

WECOM_MEDIA_RULES = {
    "image": Rule(10 * MB, frozenset({".jpg", ".jpeg", ".png"}), "JPG or PNG"),
    "voice": Rule(2 * MB, frozenset({".amr"}), "AMR"),
    "video": Rule(10 * MB, frozenset({".mp4"}), "MP4"),
    "file": Rule(20 * MB, frozenset(), "file"),
}
"""What WeCom's media/upload itself takes (上传临时素材, as wecom/fake/media.py serves it): image ≤ 10 MB
JPG/PNG, voice ≤ 2 MB AMR ≤ 60 s, video ≤ 10 MB MP4, file ≤ 20 MB of any type. For files sent straight to
WeCom and kept nowhere else (staff broadcasts), where the manual sets no tighter bound."""


def _looks_like(kind: str, ext: str, head: bytes) -> bool:
    """Whether the first bytes are of the format the extension names (documents are not sniffed)."""
    if kind == "image":
        return head.startswith(b"\x89PNG\r\n\x1a\n") if ext == ".png" else head.startswith(b"\xff\xd8\xff")
    if kind == "video":
        return head[4:8] == b"ftyp"
    if kind == "voice":
        return head.startswith(AMR_MAGIC)
    return True


def amr_seconds(data: bytes) -> float:
    """The playing time of an AMR-NB file: its frames × 20 ms."""
    frames, at = 0, len(AMR_MAGIC)
    while at < len(data):
        at += AMR_FRAME_BYTES[(data[at] >> 3) & 0x0F]
        frames += 1
    return frames * 0.02


def refusal(kind: str, filename: str, content_type: str, size: int, head: bytes,
            read_all: Callable[[], bytes] | None = None, rules: dict[str, Rule] = RULES) -> tuple[int, str] | None:
    """(HTTP status, why) when the file may not be stored as a `kind` material, else None: 413 past the
    kind's size, 422 for another format, an empty or tiny file, a program, or a voice over 60 s
    (`read_all` gives the whole file, read only for a voice). `rules`: the library's (RULES) or WeCom's own."""
    rule = rules[kind]
    if size > rule.max_bytes:
        return 413, f"a {kind} may be at most {rule.max_bytes // MB} MB; this one is {size} bytes"
    if size < MIN_BYTES:
        return 422, f"the file is empty or under {MIN_BYTES} bytes"
    ext = PurePosixPath(filename.lower()).suffix
    if (rule.extensions and ext not in rule.extensions) or not _looks_like(kind, ext, head):
        return 422, f"a {kind} must be a {rule.label} file"
    why = program_refusal(filename, content_type, head) if kind == "file" else None
    if why:
        return 422, why
    if kind == "voice" and read_all is not None and amr_seconds(read_all()) > MAX_VOICE_SECONDS:
        return 422, f"a voice may play at most {MAX_VOICE_SECONDS} s"
    return None
