"""Text units → numbered sections → sentence spans, with references and figures.

A *unit* is one paragraph after page-break repair (see parse.py). This module
decides which units start a section and what each section's number is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CHUNKER_VERSION = "4"
CN_NUM = "零〇一二三四五六七八九十百千两"

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
HEADING_STARTS = (CHAPTER_RE, PART_RE, ARTICLE_RE, MEASURE_RE, ITEM_CN_RE, ITEM_PAREN_NUM_RE, ITEM_NUM_RE)

# Figures: an amount with its unit, a percentage, a date, or a deadline written in numerals.
FIGURE_RE = re.compile(
    r"(?P<date>\d{4}年\d{1,2}月(?:\d{1,2}日|底|末)?)"
    r"|(?P<amount>\d+(?:\.\d+)?(?:万亿|亿|万|千)?(?:元|人|户|家|个|项|笔|倍|%|％))"
    rf"|(?P<deadline>[{CN_NUM}\d]+(?:个)?(?:工作日|日|天|个月|月|年)(?:内|以内))"
)
PERIOD_RE = re.compile(r"\d{4}年至\d{4}年|\d{4}年(?:末|底)?|年末|年底")


@dataclass(frozen=True)
class Span:
    """One sentence of a section: text[start:end] of the section text."""

    start: int
    end: int
    text: str
    item: str = ""


@dataclass(frozen=True)
class Figure:
    """A number with its unit as printed, and the period it belongs to (if stated)."""

    text: str
    kind: str
    period: str
    span_index: int


@dataclass(frozen=True)
class Block:
    """A section before sentence splitting: its number, kind, title and text."""

    section_no: str
    kind: str  # preamble | measure | article | item | paragraph | closing
    heading: str  # the marker as printed, e.g. "二、" or "第三条 "
    title: str
    text: str
    chapter: str = ""


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


def is_heading(unit: str) -> bool:
    """Return True if the unit starts with any section or item marker."""
    return any(rx.match(unit) for rx in HEADING_STARTS)


def _lead_phrase(body: str) -> str:
    """Return a measure's lead phrase: its first sentence without the full stop."""
    first = re.split(r"[。！？\n]", body, maxsplit=1)[0].strip()
    if len(first) > 40:
        first = first[:38] + "…"
    return first


def _article_title(body: str) -> str:
    """Return a short label for an article: its first clause, shortened."""
    m = re.match(r"^[【\[]([^】\]]{1,30})[】\]]", body)
    if m:
        return m.group(1)
    first = re.split(r"[，。；：！？,;:]", body, maxsplit=1)[0].strip()
    return first if len(first) <= 24 else first[:22] + "…"


def _detect_style(units: list[str]) -> str:
    """Pick the top-level numbering style of a body: article, measure, item, number or paragraph."""
    for style, rx in (("article", ARTICLE_RE), ("measure", MEASURE_RE), ("item", ITEM_CN_RE),
                      ("number", ITEM_NUM_RE)):
        if sum(1 for u in units if rx.match(u)) >= 1:
            return style
    return "paragraph"


def split_blocks(units: list[str]) -> list[Block]:
    """Group body units into sections by the document's top-level numbering style.

    Units before the first numbered section form the preamble. In a notice
    numbered 一、二、…, unnumbered paragraphs after the last measure form the
    closing; elsewhere an unnumbered paragraph continues the section above it.
    Chapter (第X章) and part (第X节) titles travel with their articles.
    """
    style = _detect_style(units)
    top_rx = {"article": ARTICLE_RE, "measure": MEASURE_RE, "item": ITEM_CN_RE,
              "number": ITEM_NUM_RE}.get(style)
    blocks: list[dict] = []
    chapter = part = ""
    preamble: list[str] = []
    counter = 0
    for unit in units:
        m_ch, m_pt = CHAPTER_RE.match(unit), PART_RE.match(unit)
        if style == "article" and m_ch:
            chapter, part = f"第{m_ch.group(1)}章 {m_ch.group(2).strip()}".strip(), ""
            continue
        if style == "article" and m_pt:
            part = f"第{m_pt.group(1)}节 {m_pt.group(2).strip()}".strip()
            continue
        m = top_rx.match(unit) if top_rx else None
        if style == "paragraph":
            counter += 1
            blocks.append({"no": f"p{counter}", "kind": "paragraph", "heading": "", "parts": [unit],
                           "chapter": ""})
            continue
        if m:
            number, rest = m.group(1), m.group(2)
            no, heading = {
                "article": (f"第{number}条", unit[: len(unit) - len(rest)]),
                "measure": (number, f"{number}、"),
                "item": (f"（{number}）", unit[: len(unit) - len(rest)]),
                "number": (number, unit[: len(unit) - len(rest)]),
            }[style]
            ctx = " ".join(x for x in (chapter, part) if x)
            blocks.append({"no": no, "kind": {"article": "article", "measure": "measure"}.get(style, "item"),
                           "heading": heading, "parts": [rest.strip()], "chapter": ctx})
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
        text = "\n".join(p for p in b["parts"] if p)
        if b["kind"] == "article":
            title = _article_title(text)
        else:
            title = _lead_phrase(text)
        out.append(Block(no, b["kind"], b["heading"], title, text, b["chapter"]))
    if closing:
        out.append(Block("closing", "closing", "", "结束语", "\n".join(closing)))
    return out


def split_sentences(text: str) -> list[Span]:
    """Split section text into sentence spans at 。！？； and line ends, with item labels."""
    spans: list[Span] = []
    item = ""
    for m in SENTENCE_RE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start] in " \u3000\n":
            start += 1
        while end > start and text[end - 1] in " \u3000\n":
            end -= 1
        if end - start < 2:
            continue
        sentence = text[start:end]
        label = INLINE_ITEM_RE.match(sentence)
        if label:
            item = label.group(0).replace("(", "（").replace(")", "）")
        spans.append(Span(start, end, sentence, item))
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
