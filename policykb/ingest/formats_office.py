""".docx → text lines: Word heading styles and automatic numbering become 第X章 / 第X条 / 一、 markers.

Word keeps a list number (第一条, （二）, 3.) outside the paragraph text when it is
automatic numbering, and a chapter is often only a Heading 1 paragraph. The
reader writes the number in front of the text, as the printed page shows it, so
chunk.py sees the same structure as in a plain-text copy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from policykb.ingest.chunk import ARTICLE_RE, is_heading
from policykb.errors import DocumentError
from policykb.ingest.chunk import int_to_cn
from policykb.ingest.glyphs import is_wide

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
HEADING_STYLE_RE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.I)
LEGAL = str.maketrans("一二三四五六七八九十百", "壹贰叁肆伍陆柒捌玖拾佰")
STEMS = "甲乙丙丁戊己庚辛壬癸"


def format_number(n: int, fmt: str) -> str:
    """Format a list counter the way Word's numFmt does (the formats Chinese documents use)."""
    if fmt in ("bullet", "none"):
        return ""
    if fmt.startswith(("chineseCounting", "taiwaneseCounting", "japaneseCounting", "ideographDigital")):
        return int_to_cn(n)
    if fmt == "chineseLegalSimplified":
        return int_to_cn(n).translate(LEGAL)
    if fmt == "ideographTraditional":
        return STEMS[(n - 1) % 10]
    if fmt.startswith("decimalFullWidth"):
        return "".join(chr(ord(d) + 0xFEE0) for d in str(n))
    if fmt.startswith("decimalEnclosedCircle") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt in ("lowerLetter", "upperLetter"):
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman"):
        roman = _roman(n)
        return roman.lower() if fmt == "lowerRoman" else roman
    return str(n)


def _roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                       (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + sym, n - value
    return out


def _val(el: Any, path: str, default: str | None = None) -> str | None:
    """Return the w:val attribute of a child element path such as 'w:numFmt', or default."""
    found = el.find(path.replace("w:", W)) if el is not None else None
    return found.get(f"{W}val", default) if found is not None else default


@dataclass
class _Level:
    fmt: str
    text: str
    start: int
    restart: int | None  # lvlRestart: 0 = never, None = after any higher level


@dataclass
class Numbering:
    """Word list definitions and the running counters of each list."""

    levels: dict[str, dict[int, _Level]] = field(default_factory=dict)
    counters: dict[str, list[int | None]] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: Any) -> "Numbering":
        """Read the numbering part (w:abstractNum and w:num) of a document."""
        out = cls()
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return out
        abstract: dict[str, dict[int, _Level]] = {}
        for an in root.iter(f"{W}abstractNum"):
            levels = {}
            for lvl in an.iter(f"{W}lvl"):
                restart = _val(lvl, "w:lvlRestart")
                levels[int(lvl.get(f"{W}ilvl", "0"))] = _Level(
                    _val(lvl, "w:numFmt", "decimal") or "decimal", _val(lvl, "w:lvlText", "") or "",
                    int(_val(lvl, "w:start", "1") or 1), int(restart) if restart is not None else None)
            abstract[an.get(f"{W}abstractNumId", "")] = levels
        for num in root.iter(f"{W}num"):
            base = abstract.get(_val(num, "w:abstractNumId", "") or "", {})
            levels = {k: _Level(v.fmt, v.text, v.start, v.restart) for k, v in base.items()}
            for ov in num.iter(f"{W}lvlOverride"):
                ilvl = int(ov.get(f"{W}ilvl", "0"))
                start = _val(ov, "w:startOverride")
                if start is not None and ilvl in levels:
                    levels[ilvl].start = int(start)
            out.levels[num.get(f"{W}numId", "")] = levels
        return out

    def next_label(self, num_id: str, ilvl: int) -> str:
        """Advance the counter of (list, level) and return the label Word would print, e.g. 第三条."""
        levels = self.levels.get(num_id)
        if not levels or ilvl not in levels:
            return ""
        counters = self.counters.setdefault(num_id, [None] * 9)
        counters[ilvl] = levels[ilvl].start if counters[ilvl] is None else counters[ilvl] + 1
        for deeper in range(ilvl + 1, 9):
            lvl = levels.get(deeper)
            restart = lvl.restart if lvl else None
            if (restart is None) or (restart > 0 and ilvl <= restart - 1):
                counters[deeper] = None

        def fill(m: re.Match) -> str:
            k = int(m.group(1)) - 1
            lvl = levels.get(k)
            if lvl is None:
                return ""
            value = counters[k] if counters[k] is not None else lvl.start
            return format_number(value, lvl.fmt)
        if levels[ilvl].fmt in ("bullet", "none"):
            return ""
        return re.sub(r"%(\d)", fill, levels[ilvl].text).strip()


def _style_chain(paragraph: Any) -> Iterator[Any]:
    style = paragraph.style
    seen = 0
    while style is not None and seen < 10:
        yield style
        style, seen = style.base_style, seen + 1


def _num_pr(paragraph: Any) -> tuple[str, int] | None:
    """Return (numId, ilvl) of a numbered paragraph, following its style chain."""
    ppr = paragraph._p.pPr
    elements = [ppr] + [s.element.pPr for s in _style_chain(paragraph)]
    num_id = ilvl = None
    for el in elements:
        if el is None:
            continue
        np = el.find(f"{W}numPr")
        if np is None:
            continue
        num_id = num_id if num_id is not None else _val(np, "w:numId")
        ilvl = ilvl if ilvl is not None else _val(np, "w:ilvl")
        if num_id is not None:
            break
    if num_id is None or num_id == "0":
        return None
    return num_id, int(ilvl or 0)


def heading_level(paragraph: Any) -> int | None:
    """Return 0 for a Title paragraph, 1–9 for a heading (style or outline level), else None."""
    for style in _style_chain(paragraph):
        name = (style.name or "").strip()
        if name.lower() in ("title", "标题"):
            return 0
        m = HEADING_STYLE_RE.match(name)
        if m:
            return int(m.group(1))
    for el in [paragraph._p.pPr] + [s.element.pPr for s in _style_chain(paragraph)]:
        level = _val(el, "w:outlineLvl") if el is not None else None
        if level is not None and level.isdigit() and int(level) < 9:
            return int(level) + 1
    return None


def _join_label(label: str, text: str) -> str:
    if not label:
        return text
    last = label[-1]
    if last.isascii() and last.isalnum():
        sep = " "
    elif is_wide(last) and not re.match(r"[、）。．，：]", last):
        sep = "\u3000"
    else:
        sep = ""
    return f"{label}{sep}{text}"


def _blocks(document: Any) -> Iterator[tuple[str, Any]]:
    """Yield ('p', Paragraph) and ('tbl', Table) in body order, entering content controls."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    def walk(parent: Any) -> Iterator[tuple[str, Any]]:
        for child in parent.iterchildren():
            if child.tag == f"{W}p":
                yield "p", Paragraph(child, document)
            elif child.tag == f"{W}tbl":
                yield "tbl", Table(child, document)
            elif child.tag == f"{W}sdt":
                content = child.find(f"{W}sdtContent")
                if content is not None:
                    yield from walk(content)
    yield from walk(document.element.body)


def read_docx(path: Path) -> str:
    """Return a Word document's text, one line per paragraph, numbering written out."""
    try:
        import docx
        document = docx.Document(str(path))
    except ImportError as exc:
        raise DocumentError("读取 .docx 需要 python-docx：pip install -e . 重新安装 policykb") from exc
    except Exception as exc:  # python-docx raises zipfile, lxml and KeyError types for a damaged file
        raise DocumentError(f"{path.name} 不是有效的 Word .docx 文件（{exc.__class__.__name__}）；"
                            "请用 Word 打开并另存为 .docx 后再运行 `policykb add`") from exc
    numbering = Numbering.from_document(document)
    rows: list[tuple[str, int | None, str]] = []  # (text, heading level, label)
    for kind, block in _blocks(document):
        if kind == "tbl":
            for row in block.rows:
                cells = list(dict.fromkeys(c.text.replace("\n", " ").strip() for c in row.cells))
                line = " ".join(c for c in cells if c)
                if line:
                    rows.append((line, None, ""))
            continue
        text = block.text.strip()
        if not text:
            continue
        num = _num_pr(block)
        label = numbering.next_label(*num) if num else ""
        rows.append((text, heading_level(block), label))
    return "\n".join(_write_lines(rows))


def _write_lines(rows: list[tuple[str, int | None, str]]) -> list[str]:
    """Prefix numbered paragraphs with their label and unnumbered headings with a generated marker.

    The Title paragraphs (or the first heading) at the very top are the document's title.
    An unnumbered heading below gets 第N章/第N节 in a document of articles (第X条),
    else 一、/（一）, so that it is a section heading and not glued to the next line.
    """
    has_articles = any(ARTICLE_RE.match(t) or "条" in label for t, _, label in rows)
    markers = ({1: "第{}章", 2: "第{}节"} if has_articles else {1: "{}、", 2: "（{}）"})
    counters = [0] * 10
    lines: list[str] = []
    in_title, title_seen = True, False
    for text, level, label in rows:
        # Title-style paragraphs, or else the first heading, at the very top are the title.
        if in_title and level is not None and not label and not is_heading(text) \
                and (level == 0 or not title_seen):
            lines.append(text)
            title_seen = True
            continue
        in_title = False
        if label:
            lines.append(text if is_heading(text) else _join_label(label, text))
            continue
        if level and not is_heading(text) and level in markers:
            counters[level] += 1
            for deeper in range(level + 1, 10):
                counters[deeper] = 0
            lines.append(_join_label(markers[level].format(int_to_cn(counters[level])), text))
            continue
        if level and is_heading(text):
            counters[level] += 1
        lines.append(text)
    return lines
