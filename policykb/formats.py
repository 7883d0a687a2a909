"""Source formats → plain text lines that parse.py understands."""
from __future__ import annotations

from pathlib import Path

from policykb.errors import DocumentError
from policykb.parse import decode_bytes

TEXT_SUFFIXES = (".txt", ".md")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES


def read_any(path: Path, max_bytes: int = 20 * 1024 * 1024) -> str:
    """Return the text of a supported file, or raise DocumentError naming the file."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"{path.name}: unsupported file type {suffix or '(none)'}; "
                            f"supported: {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror}") from exc
    if size > max_bytes:
        raise DocumentError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB "
                            "(POLICYKB_MAX_FILE_MB)")
    return decode_bytes(path.read_bytes(), path.name)
