""".pdf (text layer) → text lines: drop running headers and page numbers, rejoin wrapped lines.

A PDF has no paragraphs, only glyphs at positions. The reader rebuilds lines
from glyph positions, removes the lines that repeat at the top or bottom of most
pages (running headers, footers) and page-number lines, then joins a line with
the next when it runs to the right margin: that is a wrap, including the wrap
from the last line of one page to the first line of the next.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from policykb.ingest.chunk import is_heading
from policykb.errors import DocumentError
from policykb.ingest.glyphs import is_wide, normalize_glyphs

TERMINAL = tuple("。；：！？;:!?”」』）)")
PAGE_NUMBER_RE = re.compile(
    r"^(?:[-—–_·\s]*\d{1,4}[-—–_·\s]*|第\s*\d{1,4}\s*页(?:\s*[，,/]?\s*共\s*\d{1,4}\s*页)?|"
    r"\d{1,4}\s*/\s*\d{1,4}|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?|"
    r"[-—–\s]*[IVXLCivxlc]{1,6}[-—–\s]*)$", re.I)
EDGE_LINES = 2  # how many lines at the top and bottom of a page may be header or footer
MIN_TEXT_CHARS = 20


@dataclass
class Line:
    """One printed line: its text, left and right edge, baseline and font size (page units)."""

    text: str
    x0: float
    x1: float
    y: float
    size: float


def _glyph_width(text: str, size: float) -> float:
    return sum(size if is_wide(ch) else 0.5 * size for ch in text)


def page_lines(page) -> list[Line]:
    """Return a page's lines top to bottom, built from the positions of its text runs."""
    runs: list[tuple[float, float, float, str]] = []

    def visit(text: str, cm: list, tm: list, _font: object, size: float) -> None:
        if not text or not text.strip("\n"):
            return
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        scale = math.hypot(cm[0] * tm[0] + cm[2] * tm[1], cm[1] * tm[0] + cm[3] * tm[1]) or 1.0
        for part in text.split("\n"):
            if part:
                runs.append((x, y, size * scale, part))

    page.extract_text(visitor_text=visit)
    lines: list[list[tuple[float, float, float, str]]] = []
    for run in sorted(runs, key=lambda r: (-round(r[1], 1), r[0])):
        if lines and abs(lines[-1][0][1] - run[1]) <= 0.4 * max(run[2], lines[-1][0][2]):
            lines[-1].append(run)
        else:
            lines.append([run])
    out = []
    for group in lines:
        group.sort(key=lambda r: r[0])
        text, end = "", None
        for x, _, size, part in group:
            if not part.strip():
                text += " "  # a real space glyph, e.g. the one in a two-part title
                continue
            # pypdf prefixes a space when the font changes (Chinese ↔ digits): keep it only between words.
            lead = part[: len(part) - len(part.lstrip())]
            part = part.lstrip()
            gap = end is not None and x - end > 0.3 * size
            if (lead or gap) and text[-1:].isascii() and text[-1:].isalnum() and part[:1].isascii():
                text += " "
            text += part
            end = x + _glyph_width(part, size)
        text = re.sub(r" {2,}", " ", normalize_glyphs(text)).strip(" \t\u3000\xa0")
        if text:
            size = max(r[2] for r in group)
            out.append(Line(text, group[0][0], end or group[0][0], group[0][1], size))
    return out


def _edge_key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text))


def drop_headers(pages: list[list[Line]]) -> list[list[Line]]:
    """Remove page numbers and the lines repeated at the top or bottom of most pages."""
    counts: Counter[str] = Counter()
    for lines in pages:
        edges = {_edge_key(ln.text) for ln in lines[:EDGE_LINES] + lines[-EDGE_LINES:]}
        counts.update(edges)
    repeated = {k for k, n in counts.items() if len(pages) >= 2 and n >= max(2, math.ceil(0.6 * len(pages)))}
    out = []
    for lines in pages:
        keep = []
        for i, ln in enumerate(lines):
            at_edge = i < EDGE_LINES or i >= len(lines) - EDGE_LINES
            if at_edge and (PAGE_NUMBER_RE.match(ln.text) or _edge_key(ln.text) in repeated):
                continue
            keep.append(ln)
        out.append(keep)
    return out


def join_lines(lines: list[Line]) -> list[str]:
    """Join wrapped lines into paragraphs, across page breaks too.

    A line that reaches the right margin wraps into the next one when the next is
    the same size and, if the line ends a sentence, starts at the left margin
    without a section marker; a line that stops short ends its paragraph.
    """
    if not lines:
        return []
    lefts = Counter(round(ln.x0) for ln in lines)
    left = lefts.most_common(1)[0][0]
    # The right margin is where most left-aligned lines end; a percentile, because digits and
    # hanging punctuation make a few lines end past it.
    ends = sorted((ln.x1 for ln in lines if abs(ln.x0 - left) <= 0.5 * ln.size), reverse=True)
    right = ends[len(ends) // 4] if ends else max(ln.x1 for ln in lines)
    paragraphs: list[str] = []
    prev: Line | None = None
    for ln in lines:
        if prev is not None and _continues(prev, ln, left, right):
            sep = " " if paragraphs[-1][-1:].isascii() and paragraphs[-1][-1:].isalpha() \
                and ln.text[:1].isascii() and ln.text[:1].isalpha() else ""
            paragraphs[-1] += sep + ln.text
        else:
            paragraphs.append(ln.text)
        prev = ln
    return paragraphs


def _continues(prev: Line, line: Line, left: float, right: float) -> bool:
    same_size = abs(prev.size - line.size) <= 0.15 * max(prev.size, line.size)
    # A centred or right-aligned line (a signature, a date) may reach the margin without wrapping.
    # Chinese line breaking moves a character to the next line rather than start it with
    # punctuation, so a wrapped line may stop up to two characters short of the margin.
    full = prev.x1 >= right - 2.0 * prev.size and prev.x0 <= left + 2.5 * prev.size
    if not (same_size and full):
        return False
    if not prev.text.endswith(TERMINAL):
        return True
    return abs(line.x0 - left) <= 0.5 * line.size and not is_heading(line.text)


def read_pdf(path: Path) -> str:
    """Return the text layer of a PDF as paragraphs; a scan without text is an error."""
    try:
        from pypdf import PdfReader
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{path.name} 已加密（有打开密码）；请先解除密码再运行 `policykb add`")
        pages = [page_lines(page) for page in reader.pages]
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises PdfReadError, ValueError, KeyError… for a damaged file
        raise DocumentError(f"{path.name} 不是可读取的 PDF（{exc.__class__.__name__}）；"
                            "请重新导出 PDF 或改用 .docx/.txt 后再运行 `policykb add`") from exc
    chars = sum(len(ln.text.replace(" ", "")) for lines in pages for ln in lines)
    if chars < MIN_TEXT_CHARS:
        raise DocumentError(f"{path.name} 没有文字层（共 {len(pages)} 页，可提取文字 {chars} 个），"
                            "可能是扫描件或图片 PDF；policykb 不做文字识别（no text layer: scanned PDF）。"
                            "请先用 OCR 软件生成可检索的 PDF，或改用 Word/文本版本，再运行 `policykb add`")
    body = [ln for lines in drop_headers(pages) for ln in lines]
    return "\n".join(join_lines(body))
