"""File → Document: decoding, header (title, 文号, addressees), footer (issuer, date), sections."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from policykb.chunk import (Figure, Span, find_figures, find_references, is_heading,
                            split_blocks, split_sentences)
from policykb.errors import DocumentError

DOC_NUMBER_RE = re.compile(r"[\u4e00-\u9fa5A-Za-z]{1,12}[〔\[［(（]\d{4}[〕\]］)）]\s*\d{1,4}\s*号")
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
    chapter: str = ""
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
    sections: tuple[Section, ...] = field(default=())

    def section(self, section_no: str) -> Section | None:
        """Return the section with this number, or None."""
        return next((s for s in self.sections if s.section_no == section_no), None)


def decode_bytes(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM) or GBK/GB18030; reject binary data by name."""
    if not data.strip():
        raise DocumentError(f"{name} is empty")
    if b"\x00" in data[:4096]:
        raise DocumentError(f"{name} looks like a binary file, not text (it contains NUL bytes)")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\r\n\t\f")
        if controls > max(3, len(text) // 200):
            break
        return text
    raise DocumentError(f"{name} is neither UTF-8 nor GBK/GB18030 text; save it as UTF-8 and try again")


def _clean_lines(text: str) -> list[str]:
    """Normalise line ends and spaces; return lines with blank lines kept as ''."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").replace("\f", "\n")
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
        if units and open_sentence and not is_heading(line):
            units[-1] += line
        else:
            units.append(line)
        last = units[-1]
        short_heading = is_heading(last) and len(last) <= 30 and not last.endswith(TERMINAL) \
            and "，" not in last and "," not in last
        open_sentence = not last.endswith(TERMINAL) and not short_heading
    return units


def _split_header(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Take title, 文号 and addressees off the top, issuer and date off the bottom."""
    rows = [ln for ln in lines if ln]
    meta = {"title": "", "doc_number": "", "addressees": "", "issuer": "", "date": ""}
    i = 0
    title_parts: list[str] = []
    while i < len(rows) and len(title_parts) < 3:
        row = rows[i]
        if DOC_NUMBER_RE.fullmatch(row.replace(" ", "")):
            meta["doc_number"] = row.replace(" ", "")
            i += 1
            continue
        if title_parts and (row.endswith(("：", ":")) or is_heading(row)):
            break
        if row.endswith(TERMINAL) or len(row) > 60 or is_heading(row):
            break
        title_parts.append(row)
        i += 1
    if i < len(rows) and not meta["doc_number"] and DOC_NUMBER_RE.fullmatch(rows[i].replace(" ", "")):
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
    return meta, body


def sniff_metadata(text: str) -> dict[str, str]:
    """Return the metadata a document states about itself (title, 文号, issuer, date)."""
    meta, _ = _split_header(_clean_lines(text))
    if not meta["doc_number"]:
        m = DOC_NUMBER_RE.search(text[:2000])
        meta["doc_number"] = m.group(0).replace(" ", "") if m else ""
    return meta


def parse_text(text: str, doc_id: str, source: str = "", meta: dict[str, str] | None = None) -> Document:
    """Parse document text into a Document; `meta` values override what the text states."""
    found, body = _split_header(_clean_lines(text))
    meta = {**found, **{k: v for k, v in (meta or {}).items() if v}}
    units = join_units(body)
    if not units:
        raise DocumentError(f"{source or doc_id} has no body text after its title")
    sections = []
    for order, block in enumerate(split_blocks(units)):
        spans = split_sentences(block.text)
        sections.append(Section(
            doc_id=doc_id, section_no=block.section_no, kind=block.kind, heading=block.heading,
            title=block.title, text=block.text, order=order, chapter=block.chapter,
            spans=tuple(spans), references=tuple(find_references(block.text)),
            figures=tuple(find_figures(spans))))
    return Document(
        doc_id=doc_id, title=meta.get("title", "") or doc_id, doc_number=meta.get("doc_number", ""),
        issuer=meta.get("issuer", ""), date=meta.get("date", ""), source=source,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
        addressees=meta.get("addressees", ""), status=meta.get("status", "") or "现行有效",
        effective_date=meta.get("effective_date", ""), superseded_by=meta.get("superseded_by", ""),
        sections=tuple(sections))


def read_source(path: Path) -> str:
    """Read a source file of any supported format as plain text."""
    from policykb.formats import read_any
    return read_any(path)


def parse_file(path: Path, doc_id: str, meta: dict[str, str] | None = None) -> Document:
    """Read and parse one source file."""
    if not path.exists():
        raise DocumentError(f"source file {path} is missing; restore it or remove the document "
                            f"with `policykb remove {doc_id}`")
    return parse_text(read_source(path), doc_id, source=path.name, meta=meta)
