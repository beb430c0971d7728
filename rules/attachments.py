"""Which uploaded files a follow-up record may carry (004 §4.1.3 B: 附件 ≤ 20M).

The manual puts no limit on the format; this service refuses programs all the same, since an attachment
is opened by colleagues with a double click: Windows executables, installers and scripts, Unix and macOS
binaries and shell scripts, Android and Java packages. A file is judged by its name, its declared type and
its first bytes (an .exe renamed to .pdf still starts with "MZ"), so a renamed program is refused too."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

MAX_BYTES = 20 * 1024 * 1024  # 20 MB as the manual means it (20 MiB); one byte more is refused
MAX_NAME = 255

REFUSED_EXTENSIONS = frozenset({
    ".exe", ".dll", ".com", ".scr", ".pif", ".cpl", ".sys", ".msi", ".msp", ".msix", ".appx",  # Windows programs
    ".bat", ".cmd", ".ps1", ".psm1", ".vbs", ".vbe", ".js", ".jse", ".wsf", ".wsh", ".hta", ".lnk", ".reg",  # scripts
    ".sh", ".bash", ".csh", ".ksh", ".zsh", ".run", ".bin", ".elf", ".so", ".dylib", ".app", ".command",  # Unix
    ".pkg", ".dmg", ".deb", ".rpm", ".apk", ".xapk", ".ipa", ".jar", ".class",  # installers and packages
})
REFUSED_TYPES = frozenset({
    "application/x-msdownload", "application/x-msdos-program", "application/x-dosexec", "application/x-msi",
    "application/x-ms-installer", "application/x-executable", "application/x-elf", "application/x-sharedlib",
    "application/x-mach-binary", "application/x-sh", "application/x-shellscript", "text/x-shellscript",
    "application/vnd.android.package-archive", "application/java-archive", "application/x-java-archive",
    "application/hta", "application/x-bat",
})
MAGIC = {
    b"MZ": "a Windows program",
    b"\x7fELF": "a Linux program",
    b"\xfe\xed\xfa\xce": "a macOS program", b"\xfe\xed\xfa\xcf": "a macOS program",
    b"\xce\xfa\xed\xfe": "a macOS program", b"\xcf\xfa\xed\xfe": "a macOS program",
    b"\xca\xfe\xba\xbe": "a macOS or Java program",
    b"#!": "a script",
}
HEAD_BYTES = max(len(m) for m in MAGIC)


def clean_name(name: str) -> str:
    """The name to show and offer on download: its last path part (either kind of slash), without control
    characters, at most MAX_NAME characters; never used as a path."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().strip(".")
    return base[-MAX_NAME:] or "attachment"


def refusal(filename: str, content_type: str, head: bytes) -> str | None:
    """Why the file may not be attached (the user reads it), or None."""
    suffixes = [s.lower() for s in PurePosixPath(filename.lower()).suffixes]
    refused = [s for s in suffixes if s in REFUSED_EXTENSIONS]
    if refused:
        return f"{refused[-1]} files are programs and cannot be attached"
    if content_type.split(";")[0].strip().lower() in REFUSED_TYPES:
        return f"files of type {content_type} are programs and cannot be attached"
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            return f"the file is {what} and cannot be attached"
    return None
