"""Sections and figures → study cards and quiz items for new-employee training.

Everything a quiz asks comes from the parsed sections: the blanks and choice answers
are verbatim figures or policy terms, the explanation is the clause itself, so the
training stays in step with the knowledge base. Item construction lives in quizgen.py.
"""
from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Sequence

from policykb.answer.compose import format_cite
from policykb.errors import NotFoundError, QuizError
from policykb.ingest.parse import Document, Section
from policykb.evaluation.quizgen import BLANK, FALSE, TRUE, TRUE_FALSE_PREFIX, Draft, build_pool, key_terms

__all__ = ["BLANK", "FALSE", "KINDS", "KIND_LABELS", "MAX_ITEMS", "TRUE", "TRUE_FALSE_PREFIX", "Quiz",
           "QuizItem", "StudyCard", "check_answer", "generate_quiz", "select_sections", "study_cards"]

KINDS = ("blank", "which_measure", "true_false", "choice")
KIND_LABELS = {"blank": "填空题", "which_measure": "哪一条", "true_false": "判断题", "choice": "选择题"}
# A quiz never has more items than this, however many are asked for. A request is also capped
# at the number of distinct items the chosen sections give (about 360 for the whole notice,
# about 40 for one measure), with a notice either way.
MAX_ITEMS = 200
CARD_KINDS = ("measure", "article")
TRUE_WORDS = frozenset({"对", "正确", "是", "t", "true", "y", "yes", "√", "✓", "✔"})
FALSE_WORDS = frozenset({"错", "错误", "否", "f", "false", "n", "no", "×", "✗", "✘"})
SECTION_ALIASES = {"前言": "preamble", "结束语": "closing"}


@dataclass(frozen=True)
class QuizItem:
    """One quiz question with its verbatim answer, citation and supporting clause."""

    kind: str
    question: str
    choices: tuple[str, ...]
    answer: str
    section_no: str
    cite: str
    explanation: str
    doc_id: str

    def to_dict(self) -> dict[str, Any]:
        """Return the item as JSON-ready dict; the "choices" key is present only when there are choices."""
        out: dict[str, Any] = {"kind": self.kind, "question": self.question}
        if self.choices:
            out["choices"] = list(self.choices)
        out.update(answer=self.answer, section_no=self.section_no, cite=self.cite,
                   explanation=self.explanation, doc_id=self.doc_id)
        return out


@dataclass(frozen=True)
class StudyCard:
    """What a new employee should remember about one measure or article."""

    doc_id: str
    section_no: str
    title: str  # a measure's lead phrase; an article's chapter path (empty in a law without chapters)
    cite: str
    figures: tuple[tuple[str, str], ...]  # (figure as printed, the year or period it belongs to)
    terms: tuple[str, ...]
    references: tuple[str, ...]


@dataclass(frozen=True)
class Quiz:
    """The items of one quiz and the notices about how the request was met."""

    items: tuple[QuizItem, ...]
    notices: tuple[str, ...] = ()
    seed: int = 0

    def to_list(self) -> list[dict[str, Any]]:
        """Return the items as a JSON-ready list."""
        return [item.to_dict() for item in self.items]


def study_cards(documents: Sequence[Document]) -> list[StudyCard]:
    """Return one study card per measure (or article), in document order."""
    cards = []
    for doc in documents:
        for sec in doc.sections:
            if sec.kind not in CARD_KINDS:
                continue
            figures = tuple(dict.fromkeys((f.text, f.period) for f in sec.figures))
            # An article has no title of its own; its number (shown with the card) and chapter say where it is.
            title = sec.chapter if sec.kind == "article" else sec.title
            cards.append(StudyCard(doc.doc_id, sec.section_no, title, format_cite(doc, sec), figures,
                                   tuple(key_terms(sec.text)), tuple(sec.references)))
    return cards


def _normalize_section(section: str) -> str:
    """Map 第二条 / 二、 / 前言 to the section number the parser uses."""
    no = section.strip().rstrip("、.．")
    return SECTION_ALIASES.get(no, no)


def select_sections(documents: Sequence[Document], section: str | None = None,
                    doc_id: str | None = None) -> list[tuple[Document, Section]]:
    """Return the (document, section) pairs a quiz may ask about, or raise NotFoundError."""
    docs = list(documents)
    if doc_id is not None:
        docs = [d for d in docs if d.doc_id == doc_id]
        if not docs:
            known = "、".join(d.doc_id for d in documents) or "（无）"
            raise NotFoundError(f"没有文件编号为 {doc_id!r} 的文件；可用的文件编号：{known}。"
                                "运行 `policykb docs` 查看全部文件")
    pairs = [(d, s) for d in docs for s in d.sections]
    if section is None:
        return pairs
    wanted = _normalize_section(section)
    found = [(d, s) for d, s in pairs if s.section_no == wanted]
    if not found and re.fullmatch(r"第(.+)条", wanted):
        inner = wanted[1:-1]
        found = [(d, s) for d, s in pairs if s.section_no == inner and s.kind == "measure"]
    if not found:
        known = "、".join(dict.fromkeys(s.section_no for _, s in pairs))
        raise NotFoundError(f"没有编号为 {section!r} 的条款；可用编号：{known}。"
                            "例如 `policykb quiz --section 二`")
    return found


def generate_quiz(documents: Sequence[Document], n: int = 10, seed: int = 0, section: str | None = None,
                  doc_id: str | None = None) -> Quiz:
    """Generate a quiz of n distinct items; the same seed always gives the same quiz."""
    if n < 1:
        raise QuizError(f"题目数量必须至少为 1（收到 {n}）；例如 `policykb quiz --n 10`")
    targets = select_sections(documents, section, doc_id)
    rng = random.Random(seed)
    pool = build_pool(documents, targets, rng)
    if not pool:
        where = f"编号为 {section!r} 的条款" if section else "所选文件"
        raise QuizError(f"{where}没有可以出题的内容（没有数字、年份、政策术语或引用的方案可考）；"
                        "换一条再试，例如 `policykb quiz --section 二`，或去掉 --section")
    notices = []
    wanted = n
    if n > MAX_ITEMS:
        notices.append(f"题目数量 {n} 超过上限 {MAX_ITEMS}，已按 {MAX_ITEMS} 题出题。")
        wanted = MAX_ITEMS
    if wanted > len(pool):
        notices.append(f"可出的不同题目只有 {len(pool)} 道（要求 {wanted} 道），已全部给出。")
        wanted = len(pool)
    return Quiz(tuple(_pick(pool, wanted, rng)), tuple(notices), seed)


def _item(draft: Draft) -> QuizItem:
    """Turn a draft into an item cited to its clause's section."""
    clause = draft.clause
    return QuizItem(draft.kind, draft.question, draft.choices, draft.answer, clause.section.section_no,
                    clause.cite, clause.text, clause.doc.doc_id)


def _interleave(first: list[Draft], second: list[Draft]) -> list[Draft]:
    """Return first[0], second[0], first[1], second[1], … then the rest of the longer list."""
    out: list[Draft] = []
    for i in range(max(len(first), len(second))):
        out += first[i:i + 1] + second[i:i + 1]
    return out


def _pick(pool: list[Draft], n: int, rng: random.Random) -> list[QuizItem]:
    """Take n drafts, kinds in turn and figures alternating with terms, one item per clause where possible."""
    by_kind: dict[str, list[Draft]] = {}
    for kind in KINDS:
        figures = [d for d in pool if d.kind == kind and d.about_figure]
        terms = [d for d in pool if d.kind == kind and not d.about_figure]
        rng.shuffle(figures)
        rng.shuffle(terms)
        # Targets and deadlines are what new employees must know, so they get half the items.
        by_kind[kind] = _interleave(figures, terms)
    order = [k for k in KINDS if by_kind[k]]
    rng.shuffle(order)
    used: set[str] = set()
    picked: list[Draft] = []
    while len(picked) < n:
        for kind in order:
            drafts = by_kind[kind]
            if not drafts or len(picked) >= n:
                continue
            # A blank and a true/false item on one clause would give each other away.
            i = next((j for j, d in enumerate(drafts) if d.clause.key not in used), 0)
            draft = drafts.pop(i)
            used.add(draft.clause.key)
            picked.append(draft)
    rng.shuffle(picked)
    return [_item(d) for d in picked]


def _norm(text: str) -> str:
    """Fold full-width forms, drop whitespace and outer punctuation, lower-case."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    return re.sub(r"\s+", "", text).strip("。.，,；;：:!！?？\"'“”‘’「」").lower()


def check_answer(item: QuizItem, response: str) -> bool:
    """Return True if the response answers the item (whitespace, width and 对/错 synonyms forgiven)."""
    given = _norm(response)
    if not given:
        return False
    if item.kind == "true_false":
        if given in TRUE_WORDS:
            return item.answer == TRUE
        if given in FALSE_WORDS:
            return item.answer == FALSE
        return False
    answer = _norm(item.answer)
    if item.choices and len(given) == 1 and "a" <= given <= "z":
        index = ord(given) - ord("a")
        return index < len(item.choices) and _norm(item.choices[index]) == answer
    if given == answer:
        return True
    if item.kind == "which_measure":
        return given in (_norm(item.section_no), _norm(f"第{item.section_no}条"))
    if item.kind == "blank" and given.startswith(answer) and BLANK in item.question:
        # The unit after the blank may be typed too: 12000亿元 for "突破____亿元".
        after = _norm(item.question.split(BLANK, 1)[1])
        return after.startswith(given[len(answer):])
    return False
