"""Questions about a document itself (征信业管理条例什么时候施行的？) → its metadata, with the line that states it.

The answer comes from the document's header and history lines as printed
(2013年3月15日 施行), or from what the knowledge base records of it (效力状态);
nothing is said that neither states.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from policykb.retrieval.lookup import kind_word_compound, resolve_document
from policykb.ingest.parse import Amendment, Document, Section

DOC_MENTION_RE = re.compile(r"[\u4e00-\u9fa5〔〕\d]{1,40}?(?:法典|法(?!解释|规定|院)|条例|规定|解释|办法|通知|意见)(?:（[一二三四五六七八九十]+）)?"
                            r"|《[^《》]{2,80}》")
# What is asked, most specific first; a question is about a document only when it asks one of these.
ASPECTS = (
    ("doc_number", re.compile(r"文号|令号|几号令|第几号|发文字号")),
    ("issuer", re.compile(r"发文机关|制定机关|哪个(?:部门|机关|单位)|谁(?:发布|制定|颁布|通过|发的)|由谁")),
    ("history", re.compile(r"修订|修正|修改|沿革|历史|版本|改过")),
    ("status", re.compile(r"有效|现行|废止|失效|还适用|还能用|被替代|效力")),
    ("effective_date", re.compile(r"施行|生效|实施|起效|什么时候(?:开始)?(?:用|执行)")),
    ("date", re.compile(r"公布|发布|颁布|出台|通过|印发|什么时候(?:出|发)")),
)
# 最近一次修订 asks for the latest amendment line alone.
LATEST_RE = re.compile(r"最近一次|最后一次|最新一次|上一次|最近|最新")
FILLER_RE = re.compile(r"什么时候|什么时间|哪一?天|哪一?年|何时|什么|多少|几次|几号|是否|是不是|请问|这份|这个|该|现在|目前|"
                       r"最近一次|最后一次|最新一次|上一次|最近|最新|最早|最初|后来|没有|哪一?次|哪届|会议|国务院令|"
                       r"开始|已经|还|是|的|吗|呢|了|过|被|由|哪个|有没有|[？?！!。，,\s]")
MAX_OTHER_CHARS = 3
SENTENCE_RE = re.compile(r"(?<=[。？?！!])")
QUESTION_RE = re.compile(r"[？?]|吗|呢|什么|怎么|如何|哪|多少|是否|能否|几|请|介绍|说明|讲讲|解释一下|告诉")
KIND_END_RE = re.compile(r"(?:法典|法|条例|规定|解释|办法|通知|意见)(?:（[一二三四五六七八九十]+）|[一二三四五六七八九十](?![条款项]))?")
MAX_NAME = 42
# 本办法自2024年1月1日起施行。 / 本解释自公布之日起施行。: the sentence of an article that puts a document in force
IN_FORCE_RE = re.compile(r"[^。；\n]*?自([^。；\n]{1,30}?)起(?:施行|实施|生效)[^。；\n]*[。；]?")
DATE_RE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
LABELS = {"doc_number": "文号", "issuer": "发文机关", "date": "公布日期", "effective_date": "施行日期",
          "status": "效力状态", "history": "制定和修改沿革", "latest": "最近一次修改"}


@dataclass(frozen=True)
class DocumentFact:
    """One answer about a document: what was asked, the value, and the lines of the document that state it."""

    doc: Document
    aspect: str
    value: str
    printed: tuple[str, ...] = ()
    clause: tuple[Section, str] | None = None  # the article and sentence that state it, when no header line does

    @property
    def label(self) -> str:
        """Return the Chinese name of the aspect, e.g. 施行日期."""
        return LABELS[self.aspect]


def _lines(doc: Document, actions: tuple[str, ...]) -> tuple[Amendment, ...]:
    return tuple(a for a in doc.amendments if any(a.action.endswith(x) for x in actions))


def find_document_question(question: str, documents: Sequence[Document]) -> DocumentFact | None:
    """Return the fact a question asks about a named document, or None when it asks no such thing.

    A message of several sentences asks it when one of them does and the others ask nothing
    (这份通知的文号是多少？我写报告要引用。).
    """
    fact = _document_question(question, documents)
    sentences = [s for s in SENTENCE_RE.split(question) if s.strip()]
    if fact is not None or len(sentences) < 2:
        return fact
    facts = [(s, _document_question(s, documents)) for s in sentences]
    found = [f for _, f in facts if f is not None]
    if len(found) == 1 and not any(QUESTION_RE.search(s) for s, f in facts if f is None):
        return found[0]
    return None


def _named_document(question: str, documents: Sequence[Document]) -> tuple[Document, tuple[int, int]] | None:
    """Return the document a question names and where, the longest name first at each place
    (保险法解释三什么时候施行 names the interpretation, not 保险法)."""
    for m in DOC_MENTION_RE.finditer(question):
        ends = {m.end()} | {k.end() for k in KIND_END_RE.finditer(question, m.end(), m.start() + MAX_NAME)}
        for end in sorted(ends, reverse=True) if not m.group(0).startswith("《") else [m.end()]:
            name = question[m.start():end].strip("《》")
            found = resolve_document(name, documents)
            if len(found) == 1 and not kind_word_compound(name, documents):
                return found[0], (m.start(), end)
    return None


def _document_question(question: str, documents: Sequence[Document]) -> DocumentFact | None:
    aspect, asked = next(((name, m) for name, rx in ASPECTS if (m := rx.search(question))), (None, None))
    if aspect is None:
        return None
    named = _named_document(question, documents)
    if named is None:
        return None
    doc, (start, end) = named
    # 民法典规定的保证合同什么时候生效 asks about a contract, not about the 民法典: a question about the
    # document says little besides the document's name and the fact asked for.
    rest = question[:start] + question[end:]
    rest = FILLER_RE.sub("", rest.replace(asked.group(0), "", 1))
    if len(re.findall(r"[\u4e00-\u9fa5A-Za-z]", rest)) > MAX_OTHER_CHARS:
        return None
    if aspect == "doc_number":
        return DocumentFact(doc, aspect, doc.doc_number, tuple(
            a.printed for a in doc.amendments if doc.doc_number and doc.doc_number in a.text))
    if aspect == "issuer":
        lines = tuple(a.printed for a in doc.amendments if doc.issuer and doc.issuer in a.text)
        return DocumentFact(doc, aspect, doc.issuer, lines[:1])
    if aspect == "effective_date":
        if not doc.effective_date:  # no header line gives it: the article that puts the document in force
            for section in reversed(doc.sections):  # it stands among the last articles
                m = IN_FORCE_RE.search(section.text)
                if m:
                    day = DATE_RE.fullmatch(m.group(1))
                    value = f"{int(day[1]):04d}-{int(day[2]):02d}-{int(day[3]):02d}" if day else m.group(1)
                    return DocumentFact(doc, aspect, value, (), (section, m.group(0)))
        lines = _lines(doc, ("施行",))
        return DocumentFact(doc, aspect, doc.effective_date, tuple(a.printed for a in lines))
    if aspect == "date":
        lines = _lines(doc, ("公布", "发布")) or _lines(doc, ("通过",))[:1]
        return DocumentFact(doc, aspect, doc.date, tuple(a.printed for a in lines))
    if aspect == "history":
        lines = doc.amendments
        changed = _lines(doc, ("修订", "修正", "修改"))
        if LATEST_RE.search(question) and changed:  # the last line that changed the text; never amended: all lines
            aspect, lines = "latest", changed[-1:]
        value = "；".join(f"{a.date} {a.action}" for a in lines)
        return DocumentFact(doc, aspect, value, tuple(a.printed for a in lines))
    status = doc.status + (f"（由 {doc.superseded_by} 替代）" if doc.superseded_by else "")
    return DocumentFact(doc, aspect, status)
