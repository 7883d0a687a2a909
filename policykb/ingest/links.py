"""A section's references to articles: 本法第X条第Y款, 前款, 前条, 本编第X条, 《公司法》第X条 → link targets.

Pure functions over parsed documents: what each reference in a section's text
points to, when the target article is in the knowledge base.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

from policykb.ingest.chunk import CN_NUM, cn_to_int
from policykb.ingest.corpus import normalize_title
from policykb.ingest.parse import Document, Section

ARTICLE_REF_RE = re.compile(
    rf"(?:(?P<scope>本法|本条例|本规定|本解释|本办法|本细则|本编|本分编|本章|本节)"
    rf"|《(?P<title>[^《》]{{2,80}})》|(?P<alias>[\u4e00-\u9fa5]{{1,14}}?(?:法|法典|条例|规定|解释)))?"
    rf"第(?P<article>[{CN_NUM}\d]+)条(?:第(?P<paragraph>[{CN_NUM}\d]+)款)?")
# 第一款所称…: a paragraph of the same article (a 第X款 right after 第X条 belongs to that article).
PARAGRAPH_REF_RE = re.compile(rf"(?<![条{CN_NUM}\d])第([{CN_NUM}\d]+)款")
LIST_JOINERS = ("和", "、", "及", "以及", "或者", "至", "或")
SCOPE_END_RE = re.compile(r"(本法|本条例|本规定|本解释|本办法|本细则|本编|本分编|本章|本节)$")
RELATIVE_REF_RE = re.compile(r"前(?P<count>[两二三四五])?款|前条")


@dataclass(frozen=True)
class Link:
    """A reference in a section's text (text[start:end]) and the article it points to."""

    text: str
    start: int
    end: int
    doc_id: str
    section_no: str
    paragraph: int = 0

    @property
    def target(self) -> str:
        """Return the target section id, e.g. minfadian#第六百八十五条."""
        return f"{self.doc_id}#{self.section_no}"

    def to_dict(self) -> dict:
        """Return the JSON object of `policykb show --json`."""
        return {**asdict(self), "target": self.target}


def _law_name(words: str) -> str:
    """Return the law named at the end of some words (违反公司法 → 公司法, 依照民法典 → 民法典), or ''."""
    from policykb.tokenize import segment
    last = segment(words)[-1] if words else ""
    return last if len(last) >= 3 and re.search(r"(法|法典|条例|规定|解释)$", last) else ""


def _number(numeral: str) -> int:
    return int(numeral) if numeral.isdigit() else cn_to_int(numeral)


def _article_no(numeral: str) -> str:
    """Return the section number of an article as the chunker names it (第六百八十五条)."""
    from policykb.ingest.chunk import int_to_cn
    return f"第{int_to_cn(_number(numeral))}条"


def find_links(doc: Document, section: Section, documents: Mapping[str, Document]) -> list[Link]:
    """Return the links in a section's text whose target article exists, in text order.

    A bare 第X条 in a law means that law's article; one after 《title》 or a law's
    short name (民法典第六百八十五条) means that document's, and is linked only
    when the document is in the knowledge base.
    """
    by_title: dict[str, Document] = {}
    for d in documents.values():
        by_title.setdefault(normalize_title(d.title), d)
    numbers = {s.section_no: s for s in doc.sections}
    links: list[Link] = []
    text = section.text
    for m in ARTICLE_REF_RE.finditer(text):
        target = doc
        named = m.group("title") or m.group("alias")
        start = m.start()
        if m.group("title"):
            found = by_title.get(normalize_title(named))
            if found is None:
                continue  # an article of a document that is not in the knowledge base
            target = found
        elif named:
            name = _law_name(named)
            if name:
                found = by_title.get(normalize_title(name))
                if found is None:
                    continue  # 担保法第X条: a law the knowledge base does not hold
                target, start = found, m.start("article") - 1 - len(name)
            else:  # 依照本法第X条: the scope word belongs to the link, the words before it do not
                scope = SCOPE_END_RE.search(named)
                start = m.start("article") - 1 - (len(scope.group(0)) if scope else 0)
        elif links and links[-1].end <= m.start() and text[links[-1].end:m.start()] in LIST_JOINERS:
            target = documents.get(links[-1].doc_id, doc)  # 民法典第六十一条和第五百零四条: the list goes on
        no = _article_no(m.group("article"))
        sec = numbers.get(no) if target is doc else target.section(no)
        if sec is None or (target is doc and sec.section_no == section.section_no and not m.group("paragraph")):
            continue
        paragraph = _number(m.group("paragraph")) if m.group("paragraph") else 0
        links.append(Link(text[start:m.end()], start, m.end(), target.doc_id, no,
                          paragraph if 0 < paragraph <= sec.paragraphs else 0))
    for m in PARAGRAPH_REF_RE.finditer(text):
        paragraph = _number(m.group(1))
        if paragraph <= section.paragraphs and section.paragraph_of(m.start()) != paragraph:
            links.append(Link(m.group(0), m.start(), m.end(), doc.doc_id, section.section_no, paragraph))
    for m in RELATIVE_REF_RE.finditer(text):
        if m.group(0) == "前条":
            before = [s for s in doc.sections if s.kind == "article" and s.order < section.order]
            if before:
                links.append(Link("前条", m.start(), m.end(), doc.doc_id, before[-1].section_no))
            continue
        back = _number(m.group("count")) if m.group("count") else 1
        here = section.paragraph_of(m.start())
        if here - back >= 1:
            links.append(Link(m.group(0), m.start(), m.end(), doc.doc_id, section.section_no, here - back))
    return sorted(links, key=lambda link: (link.start, link.end))


def link_map(documents: Iterable[Document]) -> dict[str, Document]:
    """Return documents by id, for find_links."""
    return {d.doc_id: d for d in documents}
