"""Text units → numbered sections → sentence spans, with references and figures.

A *unit* is one paragraph after page-break repair (see parse.py). This module
decides which units start a section and what each section's number is.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

CHUNKER_VERSION = "5"
CN_NUM = "零〇一二三四五六七八九十百千两"

BOOK_RE = re.compile(rf"^第([{CN_NUM}\d]+)编[\s\u3000]*(.*)$")
SUBBOOK_RE = re.compile(rf"^第([{CN_NUM}\d]+)分编[\s\u3000]*(.*)$")
# A part of a code printed without a number: the 民法典's closing 附则.
PART_NAME_RE = re.compile(r"^(附[\s\u3000]*则|总[\s\u3000]*则)$")
CHAPTER_RE = re.compile(rf"^第([{CN_NUM}\d]+)章[\s\u3000]*(.*)$")
PART_RE = re.compile(rf"^第([{CN_NUM}\d]+)节[\s\u3000]*(.*)$")
ARTICLE_RE = re.compile(rf"^第([{CN_NUM}\d]+)条[\s\u3000]*(.*)$", re.S)
MEASURE_RE = re.compile(rf"^([{CN_NUM}]+)、(.*)$", re.S)
ITEM_CN_RE = re.compile(rf"^[（(]([{CN_NUM}]+)[）)](.*)$", re.S)
ITEM_PAREN_NUM_RE = re.compile(r"^[（(](\d+)[）)](.*)$", re.S)
ITEM_NUM_RE = re.compile(r"^(\d+)[.．、](?!\d)(.*)$", re.S)
# An item label inside a sentence stream, e.g. "…如下：（一）…；（二）…".
INLINE_ITEM_RE = re.compile(rf"[（(][{CN_NUM}]+[）)]|[（(]\d+[）)]")
SENTENCE_RE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』）)]?|\n|$)")
TITLE_REF_RE = re.compile(r"《([^《》]{2,80})》")
PATH_SEP = " › "
HEADING_STARTS = (BOOK_RE, SUBBOOK_RE, CHAPTER_RE, PART_RE, ARTICLE_RE, MEASURE_RE, ITEM_CN_RE, ITEM_PAREN_NUM_RE, ITEM_NUM_RE)

# Figures: an amount with its unit, a percentage, a date, or a deadline written in numerals.
FIGURE_RE = re.compile(
    r"(?P<date>\d{4}年\d{1,2}月(?:\d{1,2}日|底|末)?)"
    r"|(?P<amount>\d+(?:\.\d+)?(?:万亿|亿|万|千)?(?:元|人|户|家|个|项|笔|倍|%|％))"
    rf"|(?P<deadline>[{CN_NUM}\d]+(?:个)?(?:工作日|日|天|个月|月|年)(?:内|以内))"
)
PERIOD_RE = re.compile(r"\d{4}年至\d{4}年|\d{4}年(?:末|底)?|年末|年底")


@dataclass(frozen=True)
class Span:
    """One sentence of a section: text[start:end] of the section text.

    `item` is the （一） label it falls under; `paragraph` the 1-based paragraph (款) of an
    article it lies in (0 for sections that are not articles).
    """

    start: int
    end: int
    text: str
    item: str = ""
    paragraph: int = 0


@dataclass(frozen=True)
class Figure:
    """A number with its unit as printed, and the period it belongs to (if stated)."""

    text: str
    kind: str
    period: str
    span_index: int


@dataclass(frozen=True)
class Block:
    """A section before sentence splitting: its number, kind, title, text and place in the hierarchy."""

    section_no: str
    kind: str  # preamble | measure | article | item | paragraph | closing
    heading: str  # the marker as printed, e.g. "二、" or "第三条 "
    title: str
    text: str
    path: tuple[str, ...] = ()
    paragraph_starts: tuple[int, ...] = (0,)

    @property
    def chapter(self) -> str:
        """Return the hierarchy path as one line, e.g. 第三编 合同 › 第十三章 保证合同."""
        return PATH_SEP.join(self.path)


def cn_to_int(numeral: str) -> int:
    """Convert a Chinese numeral such as 十三 or 二十一 (or digits) to an int."""
    if numeral.isdigit():
        return int(numeral)
    digits = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
    units = {"十": 10, "百": 100, "千": 1000}
    total, current = 0, 0
    for ch in numeral:
        if ch in digits:
            current = digits[ch]
        elif ch in units:
            total += (current or 1) * units[ch]
            current = 0
        else:
            raise ValueError(f"not a Chinese numeral: {numeral!r}")
    return total + current


def int_to_cn(n: int) -> str:
    """Write 1–9999 as a Chinese numeral as laws print it: 十一, 一百一十, 一千零一十, 一千二百六十."""
    if n <= 0 or n >= 10000:
        return str(n)
    digits = "零一二三四五六七八九"
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            if zero and out:
                out += "零"
            out += ("" if (value == 10 and d == 1 and not out) else digits[d]) + unit
            zero = False
        elif out:
            zero = True
    return out


def is_heading(unit: str) -> bool:
    """Return True if the unit starts with any section or item marker."""
    return any(rx.match(unit) for rx in HEADING_STARTS)


def _lead_phrase(body: str) -> str:
    """Return a measure's lead phrase: its first sentence without the full stop."""
    first = re.split(r"[。！？\n]", body, maxsplit=1)[0].strip()
    if len(first) > 40:
        first = first[:38] + "…"
    return first


def _detect_style(units: list[str]) -> str:
    """Pick the top-level numbering style of a body: article, measure, item, number or paragraph."""
    for style, rx in (("article", ARTICLE_RE), ("measure", MEASURE_RE), ("item", ITEM_CN_RE),
                      ("number", ITEM_NUM_RE)):
        if sum(1 for u in units if rx.match(u)) >= 1:
            return style
    return "paragraph"


def _heading_name(name: str) -> str:
    """Return a heading's name with the spaces of print layout removed (监  护 → 监护, 准 合 同 → 准合同)."""
    return re.sub(r"(?<=[\u4e00-\u9fff])[\s\u3000]+(?=[\u4e00-\u9fff])", "", name.strip())


def _hierarchy_level(unit: str) -> tuple[int, str] | None:
    """Return (level, label) when a unit of an article document is a heading above the articles.

    Levels: 0 编 (and a bare 附则 part), 1 分编, 2 章 (and a 一、 group heading in an
    interpretation), 3 节.
    """
    for level, rx, unit_name in ((0, BOOK_RE, "编"), (1, SUBBOOK_RE, "分编"), (2, CHAPTER_RE, "章"),
                                 (3, PART_RE, "节")):
        m = rx.match(unit)
        if m:
            name = _heading_name(m.group(2))
            return level, f"第{m.group(1)}{unit_name} {name}".strip()
    if PART_NAME_RE.match(unit):
        return 0, _heading_name(unit)
    m = MEASURE_RE.match(unit)
    if m and len(unit) <= 40 and not unit.endswith(("。", "；", "：")):
        return 2, f"{m.group(1)}、{_heading_name(m.group(2))}"
    return None


def _paragraph_starts(parts: list[str]) -> tuple[int, ...]:
    """Return the offsets of an article's paragraphs (款): every part that is not an item （一） starts one."""
    starts, offset = [], 0
    for i, part in enumerate(parts):
        if i == 0 or not (ITEM_CN_RE.match(part) or ITEM_PAREN_NUM_RE.match(part)):
            starts.append(offset)
        offset += len(part) + 1
    return tuple(starts)


def split_blocks(units: list[str]) -> list[Block]:
    """Group body units into sections by the document's top-level numbering style.

    Units before the first numbered section form the preamble. In a notice
    numbered 一、二、…, unnumbered paragraphs after the last measure form the
    closing; elsewhere an unnumbered paragraph continues the section above it.
    In an article document the headings above the articles (编, 分编, 章, 节) form
    each article's path, and an article's title is that path: its first clause
    is no title.
    """
    style = _detect_style(units)
    top_rx = {"article": ARTICLE_RE, "measure": MEASURE_RE, "item": ITEM_CN_RE,
              "number": ITEM_NUM_RE}.get(style)
    blocks: list[dict] = []
    path: list[str] = ["", "", "", ""]
    preamble: list[str] = []
    counter = 0
    for unit in units:
        level = _hierarchy_level(unit) if style == "article" else None
        if level is not None:
            path[level[0]:] = [level[1]] + [""] * (3 - level[0])
            continue
        m = top_rx.match(unit) if top_rx else None
        if style == "paragraph":
            counter += 1
            blocks.append({"no": f"p{counter}", "kind": "paragraph", "heading": "", "parts": [unit], "path": ()})
            continue
        if m:
            number, rest = m.group(1), m.group(2)
            no, heading = {
                "article": (f"第{number}条", unit[: len(unit) - len(rest)]),
                "measure": (number, f"{number}、"),
                "item": (f"（{number}）", unit[: len(unit) - len(rest)]),
                "number": (number, unit[: len(unit) - len(rest)]),
            }[style]
            blocks.append({"no": no, "kind": {"article": "article", "measure": "measure"}.get(style, "item"),
                           "heading": heading, "parts": [rest.strip()], "path": tuple(p for p in path if p)})
        elif blocks:
            blocks[-1]["parts"].append(unit)
        else:
            preamble.append(unit)
    closing: list[str] = []
    if style == "measure" and blocks:
        last = blocks[-1]
        # Keep the measure's own sub-items; trailing plain paragraphs are the closing part.
        while len(last["parts"]) > 1 and not is_heading(last["parts"][-1]):
            closing.insert(0, last["parts"].pop())
    out: list[Block] = []
    if preamble:
        out.append(Block("preamble", "preamble", "", "前言", "\n".join(preamble)))
    seen: dict[str, int] = {}
    for b in blocks:
        no = b["no"]
        seen[no] = seen.get(no, 0) + 1
        if seen[no] > 1:
            no = f"{no}-{seen[no]}"
        parts = [p for p in b["parts"] if p]
        text = "\n".join(parts)
        if b["kind"] == "article":
            out.append(Block(no, "article", b["heading"], PATH_SEP.join(b["path"]), text, b["path"],
                             _paragraph_starts(parts)))
        else:
            out.append(Block(no, b["kind"], b["heading"], _lead_phrase(text), text, b["path"]))
    if closing:
        out.append(Block("closing", "closing", "", "结束语", "\n".join(closing)))
    return out


def split_sentences(text: str, paragraph_starts: tuple[int, ...] = ()) -> list[Span]:
    """Split section text into sentence spans at 。！？； and line ends, with item and paragraph labels.

    Args:
        paragraph_starts: offsets where an article's paragraphs (款) begin; empty for
            sections that have no paragraphs to cite.
    """
    spans: list[Span] = []
    item = ""
    paragraph = 0
    for m in SENTENCE_RE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start] in " \u3000\n":
            start += 1
        while end > start and text[end - 1] in " \u3000\n":
            end -= 1
        if end - start < 2:
            continue
        sentence = text[start:end]
        if paragraph_starts:
            now = bisect.bisect_right(paragraph_starts, start)
            if now != paragraph:  # a new paragraph (款) leaves the items of the one before
                paragraph, item = now, ""
        label = INLINE_ITEM_RE.match(sentence)
        if label:
            item = label.group(0).replace("(", "（").replace(")", "）")
        spans.append(Span(start, end, sentence, item, paragraph))
    return spans


def find_references(text: str) -> list[str]:
    """Return the titles cited as 《…》 in order of first appearance."""
    seen: list[str] = []
    for m in TITLE_REF_RE.finditer(text):
        if m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def find_figures(spans: list[Span]) -> list[Figure]:
    """Return figures with the period they belong to (the nearest year stated before them)."""
    figures: list[Figure] = []
    for i, span in enumerate(spans):
        for m in FIGURE_RE.finditer(span.text):
            kind = m.lastgroup or "amount"
            period = ""
            if kind != "date":
                before = span.text[: m.start()]
                periods = list(PERIOD_RE.finditer(before))
                if periods:
                    period = periods[-1].group(0)
                    if period in ("年末", "年底"):
                        years = re.findall(r"\d{4}年", before[: periods[-1].start()])
                        period = (years[-1] + period[1:]) if years else period
            figures.append(Figure(m.group(0), kind, period, i))
    return figures
