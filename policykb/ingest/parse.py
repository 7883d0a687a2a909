"""Text → Document: header (title, 文号, addressees), footer (issuer, date), history, sections."""
from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field

from policykb.ingest.chunk import (BOOK_RE, PART_NAME_RE, PATH_SEP, Figure, Span, find_figures, find_references,
                            is_heading, split_blocks, split_sentences)
from policykb.errors import DocumentError

DOC_NUMBER_RE = re.compile(r"[\u4e00-\u9fa5A-Za-z]{1,12}[〔\[［(（]\d{4}[〕\]］)）]\s*\d{1,4}\s*号")
# An order number: 国务院令第660号, 中华人民共和国主席令第三十四号, 银保监会令2023年第3号.
ORDER_NUMBER_RE = re.compile(r"(?:中华人民共和国)?([\u4e00-\u9fa5]{1,12}?令)((?:\d{4}年)?第[\d一二三四五六七八九十百千]+号)")
# A history line under a law's title: 2015年2月17日 中华人民共和国国务院令第660号公布; 2015年5月1日 施行;
# also the parenthesised form of official prints: （2015年2月17日国务院令第660号公布 自2015年5月1日起施行）.
HISTORY_RE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(.{0,160}?)[）)]?$")
HISTORY_ACTION_RE = re.compile(r"(第[一二三四五六七八九十]+次)?(修正|修订|通过|公布|发布|起?施行)$")
ISSUER_RES = (
    (re.compile(r"第[一二三四五六七八九十]+届(全国人民代表大会(?:常务委员会)?)"), None),
    (re.compile(r"(国务院)(?:第\d+次常务会议|令)"), None),
    (re.compile(r"(最高人民法院|最高人民检察院)(?:审判委员会|检察委员会)"), None),
    (re.compile(r"(?:中华人民共和国)?([\u4e00-\u9fa5]{2,12}?)令"), None),
)
DATE_LINE_RE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
TERMINAL = tuple("。；：！？;:!?”」』")


@dataclass(frozen=True)
class Section:
    """A numbered part of a document (measure, article, preamble, closing) and its sentences."""

    doc_id: str
    section_no: str
    kind: str
    heading: str
    title: str
    text: str
    order: int
    path: tuple[str, ...] = ()
    paragraph_starts: tuple[int, ...] = (0,)
    spans: tuple[Span, ...] = ()
    references: tuple[str, ...] = ()
    figures: tuple[Figure, ...] = ()

    @property
    def id(self) -> str:
        """Return the stable, readable id, e.g. hu-yinbaojian-2023-24#二."""
        return f"{self.doc_id}#{self.section_no}"

    @property
    def display(self) -> str:
        """Return the section as printed, with its number marker."""
        return f"{self.heading}{self.text}"

    @property
    def chapter(self) -> str:
        """Return the hierarchy path as one line: 第三编 合同 › 第二分编 典型合同 › 第十三章 保证合同."""
        return PATH_SEP.join(self.path)

    @property
    def paragraphs(self) -> int:
        """Return the number of paragraphs (款) of an article; 1 for other sections."""
        return len(self.paragraph_starts)

    def paragraph_of(self, offset: int) -> int:
        """Return the 1-based paragraph (款) that a text offset lies in."""
        return bisect.bisect_right(self.paragraph_starts, offset) or 1


@dataclass(frozen=True)
class Amendment:
    """One line of a document's history: when, and what (通过, 第一次修正, 修订, 施行…)."""

    date: str
    action: str
    text: str
    printed: str = ""  # the line as the document prints it, e.g. 2013年3月15日 施行


@dataclass(frozen=True)
class Document:
    """A parsed source document with its metadata and sections."""

    doc_id: str
    title: str
    doc_number: str
    issuer: str
    date: str
    source: str
    content_hash: str
    addressees: str = ""
    status: str = "现行有效"
    effective_date: str = ""
    superseded_by: str = ""
    amendments: tuple[Amendment, ...] = ()
    sections: tuple[Section, ...] = field(default=())

    @property
    def version_date(self) -> str:
        """Return the date of the text's latest version (its last amendment, else its date)."""
        dates = [a.date for a in self.amendments if a.action != "施行"] + [self.date]
        return max((d for d in dates if d), default="")

    def section(self, section_no: str) -> Section | None:
        """Return the section with this number, or None."""
        return next((s for s in self.sections if s.section_no == section_no), None)


def _clean_lines(text: str) -> list[str]:
    """Normalise line ends and spaces; return lines with blank lines kept as ''."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = re.sub("[\ufeff\u200b\u200c\u200d\u2060]", "", text)  # zero-width marks some sources carry
    return [line.strip(" \t\u3000\xa0") for line in text.split("\n")]


def join_units(lines: list[str]) -> list[str]:
    """Join lines into paragraphs, repairing sentences broken by page or line breaks.

    A line that ends mid-sentence (no terminal punctuation) continues on the next
    line unless that line starts a new numbered section or item, or the line is
    itself a short heading such as "第一章 总则" or "一、总体要求".
    """
    units: list[str] = []
    open_sentence = False
    for line in lines:
        if not line:
            continue
        part = bool(PART_NAME_RE.match(line))  # a bare 附则 heading of a code stands alone
        if units and open_sentence and not is_heading(line) and not part:
            units[-1] += line
        else:
            units.append(line)
        last = units[-1]
        short_heading = part or is_heading(last) and len(last) <= 30 and not last.endswith(TERMINAL) \
            and "，" not in last and "," not in last
        open_sentence = not last.endswith(TERMINAL) and not short_heading
    return units


def is_doc_number(text: str) -> bool:
    """Return True for a 文号 such as 沪银保监发〔2023〕24号, 法释〔2020〕28号 or 国务院令第660号."""
    text = text.replace(" ", "")
    return bool(DOC_NUMBER_RE.fullmatch(text) or ORDER_NUMBER_RE.fullmatch(text))


def parse_history_line(line: str) -> Amendment | None:
    """Return the dated event of a history line under a title, or None for any other line."""
    m = HISTORY_RE.match(line.strip().lstrip("（(自").rstrip("　 "))
    if not m:
        return None
    y, mo, d, what = m.groups()
    what = what.strip().rstrip("）)").strip()
    act = HISTORY_ACTION_RE.search(what)
    if act is None:  # a bare date line is a signature date, not history
        return None
    action = (act.group(1) or "") + act.group(2).lstrip("起")
    printed = m.group(0).rstrip("）)").strip()
    return Amendment(f"{int(y):04d}-{int(mo):02d}-{int(d):02d}", action, what, printed)


def history_metadata(history: list[Amendment]) -> dict[str, str]:
    """Return doc_number, issuer, date (公布, else first 通过) and effective_date (施行) of a history."""
    meta = {"doc_number": "", "issuer": "", "date": "", "effective_date": ""}
    for event in history:
        number = ORDER_NUMBER_RE.search(event.text)
        if number and not meta["doc_number"]:
            meta["doc_number"] = number.group(1) + number.group(2)
        if not meta["issuer"]:
            for rx, _ in ISSUER_RES:
                m = rx.search(event.text)
                if m:
                    meta["issuer"] = m.group(1)
                    break
        if event.action == "施行" and not meta["effective_date"]:
            meta["effective_date"] = event.date
        elif event.action in ("公布", "发布") and not meta["date"]:
            meta["date"] = event.date
    adopted = [e.date for e in history if e.action == "通过"]
    meta["date"] = meta["date"] or (adopted[0] if adopted else "")
    return meta


def _take_history(rows: list[str]) -> tuple[list[Amendment], set[int]]:
    """Find the history lines of a document; return them and their row numbers.

    History stands between the title and the first article, and again under a
    part heading in some prints of a code (the 民法典's 附则 repeats it); a dated
    line anywhere else is body text.
    """
    history: list[Amendment] = []
    taken: set[int] = set()
    top = True
    for i, row in enumerate(rows):
        if top and is_heading(row) and not (BOOK_RE.match(row) or PART_NAME_RE.match(row)):
            top = False
        follows = i > 0 and (i - 1 in taken or BOOK_RE.match(rows[i - 1]) or PART_NAME_RE.match(rows[i - 1]))
        if not (top and i < 40 or follows):
            continue
        events = [parse_history_line(part) for part in re.split(r"[\s\u3000]+(?=自\d{4}\s*年)", row)]
        if events and all(events):
            history.extend(e for e in events if e and e not in history)
            taken.add(i)
    return history, taken


def _split_header(lines: list[str]) -> tuple[dict[str, str], list[str], list[Amendment]]:
    """Take title, 文号, addressees and history lines off the top, issuer and date off the bottom."""
    history, taken = _take_history([ln for ln in lines if ln])
    if taken:
        k = -1
        kept = []
        for line in lines:
            k += bool(line)
            kept.append("" if line and k in taken else line)
        lines = kept
    rows = [ln for ln in lines if ln]
    meta = {"title": "", "doc_number": "", "addressees": "", "issuer": "", "date": "", "effective_date": ""}
    i = 0
    title_parts: list[str] = []
    while i < len(rows) and len(title_parts) < 3:
        row = rows[i]
        if is_doc_number(row):
            meta["doc_number"] = row.replace(" ", "")
            i += 1
            continue
        if title_parts and (row.endswith(("：", ":")) or is_heading(row)):
            break
        if row.endswith(TERMINAL) or len(row) > 60 or is_heading(row):
            break
        title_parts.append(row)
        i += 1
    if i < len(rows) and not meta["doc_number"] and is_doc_number(rows[i]):
        meta["doc_number"] = rows[i].replace(" ", "")
        i += 1
    meta["title"] = "".join(title_parts) if len(title_parts) > 1 and all(
        len(p) > 14 for p in title_parts[:-1]) else " ".join(title_parts)
    if i < len(rows) and rows[i].endswith(("：", ":")) and len(rows[i]) <= 120 and not is_heading(rows[i]):
        meta["addressees"] = rows[i].rstrip("：:")
        i += 1
    j = len(rows)
    if j > i and DATE_LINE_RE.match(rows[j - 1]):
        y, mo, d = DATE_LINE_RE.match(rows[j - 1]).groups()
        meta["date"] = f"{int(y):04d}-{int(mo):02d}-{int(d):02d}"
        j -= 1
        if j > i and len(rows[j - 1]) <= 30 and not rows[j - 1].endswith(TERMINAL) and not is_heading(rows[j - 1]):
            meta["issuer"] = rows[j - 1]
            j -= 1
    # Keep blank lines between the body rows so join_units sees original paragraphs.
    body_rows = set(range(i, j))
    body: list[str] = []
    k = -1
    for line in lines:
        if line:
            k += 1
            if k in body_rows:
                body.append(line)
        elif body:
            body.append("")
    for key, value in history_metadata(history).items():
        meta[key] = meta[key] or value
    return meta, body, history


def sniff_metadata(text: str) -> dict[str, str]:
    """Return the metadata a document states about itself (title, 文号, issuer, date)."""
    meta, _, _ = _split_header(_clean_lines(text))
    if not meta["doc_number"]:
        m = DOC_NUMBER_RE.search(text[:2000])
        meta["doc_number"] = m.group(0).replace(" ", "") if m else ""
    return meta


def parse_text(text: str, doc_id: str, source: str = "", meta: dict[str, str] | None = None) -> Document:
    """Parse document text into a Document; `meta` values override what the text states."""
    found, body, history = _split_header(_clean_lines(text))
    meta = {**found, **{k: v for k, v in (meta or {}).items() if v}}
    units = join_units(body)
    if not units:
        raise DocumentError(f"{source or doc_id} has no body text after its title")
    sections = []
    for order, block in enumerate(split_blocks(units)):
        starts = block.paragraph_starts if block.kind == "article" else ()
        spans = split_sentences(block.text, starts)
        sections.append(Section(
            doc_id=doc_id, section_no=block.section_no, kind=block.kind, heading=block.heading,
            title=block.title, text=block.text, order=order, path=block.path,
            paragraph_starts=block.paragraph_starts,
            spans=tuple(spans), references=tuple(find_references(block.text)),
            figures=tuple(find_figures(spans))))
    return Document(
        doc_id=doc_id, title=meta.get("title", "") or doc_id, doc_number=meta.get("doc_number", ""),
        issuer=meta.get("issuer", ""), date=meta.get("date", ""), source=source,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
        addressees=meta.get("addressees", ""), status=meta.get("status", "") or "现行有效",
        effective_date=meta.get("effective_date", ""), superseded_by=meta.get("superseded_by", ""),
        amendments=tuple(history), sections=tuple(sections))
