"""A conversation's citations as a memo appendix (引用附录): Markdown or Word, each cite with its quote.

    memo_markdown(citations) -> str
    memo_docx(citations) -> bytes
    write_memo(citations, path)          # .md or .docx by suffix, written atomically

Citations are the dicts of `ask --json` (or Citation objects); they keep their
order and each (cite, quote) appears once.
"""
from __future__ import annotations

import io
import os
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Iterable

from policykb.errors import MemoError

TITLE = "引用附录"
EMPTY = "（本次对话没有引用条款。）"
SUFFIXES = (".md", ".docx")


def unique_citations(citations: Iterable[Any]) -> list[dict]:
    """Return the citations as dicts in order, each (cite, quote) once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in citations:
        d = asdict(c) if is_dataclass(c) else dict(c)
        key = (d.get("cite", ""), d.get("quote", ""))
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def memo_markdown(citations: Iterable[Any], title: str = TITLE) -> str:
    """Return the memo appendix as Markdown: a numbered cite per citation and its quote as a block quote."""
    lines = [f"# {title}", ""]
    items = unique_citations(citations)
    for n, c in enumerate(items, start=1):
        quote = "\n".join(f"> {line}" if line.strip() else ">" for line in f"“{c['quote']}”".splitlines())
        lines += [f"{n}. {c['cite']}", "", quote, ""]
    if not items:
        lines += [EMPTY, ""]
    return "\n".join(lines)


def memo_docx(citations: Iterable[Any], title: str = TITLE) -> bytes:
    """Return the memo appendix as a Word document: a heading, then each cite in bold and its quote."""
    from docx import Document
    doc = Document()
    doc.add_heading(title, level=1)
    items = unique_citations(citations)
    for n, c in enumerate(items, start=1):
        doc.add_paragraph().add_run(f"{n}. {c['cite']}").bold = True
        for line in f"“{c['quote']}”".splitlines():
            doc.add_paragraph(line, style="Quote")
    if not items:
        doc.add_paragraph(EMPTY)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def memo_format(path: str | Path) -> str:
    """Return the memo format a file name asks for (".md" or ".docx"), or raise MemoError."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise MemoError(f"cannot write a memo as {Path(path).name!r}: use a .md or .docx file name, e.g. memo.docx")
    return suffix


def memo_writable(path: str | Path) -> str:
    """Check, before a chat, that the memo can be written there: its file name and its folder. Return the format."""
    suffix = memo_format(path)
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise MemoError(f"cannot write the memo to {path}: it is a folder; give a file name, e.g. {path / 'memo.docx'}")
    if not directory.is_dir():
        raise MemoError(f"cannot write the memo to {path}: the folder {directory} does not exist; create it first")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise MemoError(f"cannot write the memo to {path}: the folder {directory} is not writable; choose another")
    return suffix


def write_memo(citations: Iterable[Any], path: str | Path) -> Path:
    """Write the memo to path (.md or .docx); a temp file replaces it whole, so no half memo is ever left."""
    path = Path(path)
    data = memo_docx(citations) if memo_format(path) == ".docx" else memo_markdown(citations).encode("utf-8")
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise MemoError(f"cannot write the memo to {path}: {exc.strerror or exc}; choose a writable folder") from None
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes the file private; a memo is an ordinary document
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MemoError(f"cannot write the memo to {path}: {exc.strerror or exc}; choose a writable path") from None
    return path
