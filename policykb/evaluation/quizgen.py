"""Clauses → draft quiz items: blanks, which-measure (or which-article), true/false and multiple choice.

A clause is one sentence span of a section. Every draft keeps its clause, so the
item's explanation and citation are the clause and its section, verbatim.
"""
from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Sequence

from policykb.answer.compose import format_cite
from policykb.ingest.chunk import CN_NUM, Figure
from policykb.ingest.parse import Document, Section
from policykb.tokenize import DATA, tokenize, word_spans

BLANK = "____"
TRUE_FALSE_PREFIX = "判断正误："
TRUE, FALSE = "对", "错"
QUIZ_SECTION_KINDS = ("measure", "article", "preamble", "closing")
MIN_CLAUSE_CHARS = 8
N_DISTRACTORS = 3
PLAUSIBLE = 6  # distractors and false values are drawn from this many most plausible options
NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
YEAR_RE = re.compile(r"(?<!\d)\d{4}(?=年)")
QUOTED_RE = re.compile(r"“([^“”]{2,40})”")
DEADLINE_NUMBER_RE = re.compile(rf"[{CN_NUM}\d]+")
CN_COUNTS = ("三", "五", "七", "十", "十五", "二十", "三十")
FACTORS = (0.5, 0.8, 1.2, 1.5, 2.0)


@dataclass(frozen=True)
class Clause:
    """One sentence of a section, the unit a quiz item is about."""

    doc: Document
    section: Section
    index: int

    @property
    def text(self) -> str:
        """Return the sentence as printed."""
        return self.section.spans[self.index].text

    @property
    def key(self) -> str:
        """Return a stable id, e.g. hu-yinbaojian-2023-24#二/3."""
        return f"{self.section.id}/{self.index}"

    @property
    def cite(self) -> str:
        """Return the memo-ready citation of the clause: section, paragraph (款) where there are several, item."""
        span = self.section.spans[self.index]
        return format_cite(self.doc, self.section, span.item, (span.paragraph,) if span.paragraph else ())

    @property
    def figures(self) -> list[Figure]:
        """Return the figures printed in this sentence."""
        return [f for f in self.section.figures if f.span_index == self.index]


@dataclass(frozen=True)
class Draft:
    """A quiz item before it is numbered and cited: kind, question, choices, answer, clause."""

    kind: str
    question: str
    choices: tuple[str, ...]
    answer: str
    clause: Clause
    about_figure: bool = False  # asks about a figure or year rather than a term


@dataclass(frozen=True)
class _Context:
    """What distractors and false statements are drawn from: the whole corpus."""

    texts: tuple[str, ...]
    figures: dict[str, list[str]] = field(default_factory=dict)  # family → figure texts
    terms: tuple[str, ...] = ()
    references: tuple[str, ...] = ()  # titles of plans cited as 《…》

    def in_source(self, statement: str) -> bool:
        """Return True if the statement is printed somewhere in the corpus."""
        return any(statement in t for t in self.texts)


@lru_cache(maxsize=1)
def policy_terms() -> dict[str, str]:
    """Return the user dictionary's policy terms with their part-of-speech tag."""
    out: dict[str, str] = {}
    for line in (DATA / "userdict.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and not line.startswith("#"):
            out[parts[0]] = parts[2] if len(parts) > 2 else ""
    return out


def occurrences(needle: str, text: str) -> list[int]:
    """Return every start offset of needle in text, overlapping ones included."""
    out, pos = [], text.find(needle)
    while pos >= 0:
        out.append(pos)
        pos = text.find(needle, pos + 1)
    return out


def free_occurrences(term: str, text: str, terms: Iterable[str]) -> list[int]:
    """Return where term occurs in text outside every longer term that contains it."""
    covered: set[int] = set()
    for longer in terms:
        if len(longer) > len(term) and term in longer:
            for pos in occurrences(longer, text):
                covered.update(range(pos, pos + len(longer)))
    return [p for p in occurrences(term, text) if not set(range(p, p + len(term))) <= covered]


@lru_cache(maxsize=4096)
def _key_terms(text: str) -> tuple[str, ...]:
    vocab = policy_terms()
    found = list(dict.fromkeys(t for t in tokenize(text) if t in vocab))
    # Search mode also yields the parts of a longer word (信用贷 of 信用贷款, 续贷 of 连续贷):
    # an occurrence inside a longer word is not the term, and a blank there would cut the word.
    words = [(s, e) for s, e in word_spans(text) if e - s > 1]
    kept = [t for t in found
            if any(not any(s <= p and p + len(t) <= e and e - s > len(t) for s, e in words)
                   for p in free_occurrences(t, text, found))]
    return tuple(sorted(kept, key=text.find))


def key_terms(text: str) -> list[str]:
    """Return the policy terms that occur in text on their own, in order of first occurrence."""
    return list(_key_terms(text))


def figure_family(figure: Figure) -> str:
    """Return what a figure counts (元, %, 人, …) or its kind, so distractors are like the answer."""
    if figure.kind != "amount":
        return figure.kind
    unit = unicodedata.normalize("NFKC", NUMBER_RE.sub("", figure.text, count=1))
    return unit[-1:]


def _context(documents: Sequence[Document]) -> _Context:
    figures: dict[str, list[str]] = {}
    terms: dict[str, None] = {}
    references: dict[str, None] = {}
    for doc in documents:
        for sec in doc.sections:
            for fig in sec.figures:
                family = figures.setdefault(figure_family(fig), [])
                if fig.text not in family:
                    family.append(fig.text)
            terms.update(dict.fromkeys(key_terms(sec.text)))
            references.update(dict.fromkeys(sec.references))
    return _Context(tuple(s.text for d in documents for s in d.sections), figures, tuple(terms),
                    tuple(references))


def _perturb(number: str) -> list[str]:
    """Return plausible wrong values for a number, written like it."""
    decimals = len(number.split(".")[1]) if "." in number else 0
    out = []
    for factor in FACTORS:
        text = f"{round(float(number) * factor, decimals):.{decimals}f}"
        if text != number and float(text) > 0 and text not in out:
            out.append(text)
    return out


def _unique_targets(clause: Clause, whole_figures: bool) -> list[tuple[int, int, bool]]:
    """Return (start, end, is_figure) of each figure or policy term printed exactly once in the clause."""
    text = clause.text
    targets = []
    for fig in clause.figures:
        pos = text.find(fig.text)
        if pos < 0:
            continue
        number = NUMBER_RE.match(fig.text) if fig.kind == "amount" and not whole_figures else None
        # For amounts the blank takes the number and leaves the unit: 突破____亿元.
        targets.append((pos, pos + (number.end() if number else len(fig.text)), True))
    for term in key_terms(text):
        found = occurrences(term, text)
        if len(found) == 1:
            targets.append((found[0], found[0] + len(term), False))
    return [t for t in dict.fromkeys(targets) if len(occurrences(text[t[0]:t[1]], text)) == 1]


def _blanks(clause: Clause) -> list[Draft]:
    text = clause.text
    return [Draft("blank", text[:s] + BLANK + text[e:], (), text[s:e], clause, is_figure)
            for s, e, is_figure in _unique_targets(clause, whole_figures=False)]


def _subsequence(short: str, long: str) -> bool:
    """Return True if the characters of short appear in long in order (续贷 in 无缝续贷)."""
    rest = iter(long)
    return all(ch in rest for ch in short)


def _term_options(term: str, text: str, ctx: _Context) -> list[str]:
    """Return corpus terms that could stand for term, most plausible first.

    Terms sharing a character with it (碳达峰 → 碳普惠) come first, then those with
    the same part of speech, so false statements and distractors read like the source.
    """
    tags = policy_terms()
    # 知识产权融资 for 知识产权质押融资 would make a statement that is loosely still true.
    options = [t for t in ctx.terms
               if t not in text and not _subsequence(t, term) and not _subsequence(term, t)]
    return sorted(options, key=lambda t: (not set(t) & set(term), tags.get(t) != tags.get(term)))


def _figure_options(figure: Figure, text: str, ctx: _Context) -> list[str]:
    """Return corpus figures of the same family not printed in the clause, same unit first."""
    unit = NUMBER_RE.sub("", figure.text, count=1)
    options = [f for f in ctx.figures.get(figure_family(figure), []) if f != figure.text and f not in text]
    return sorted(options, key=lambda f: NUMBER_RE.sub("", f, count=1) != unit)


def _reference_targets(clause: Clause) -> list[tuple[int, int]]:
    """Return (start, end) of each plan title cited once in the clause, inside its 《》."""
    targets = []
    for title in clause.section.references:
        found = occurrences(f"《{title}》", clause.text)
        if len(found) == 1:
            targets.append((found[0] + 1, found[0] + 1 + len(title)))
    return targets


def _reference_options(title: str, text: str, ctx: _Context) -> list[str]:
    """Return other plan titles cited in the corpus, for a clause that cites title."""
    return [t for t in ctx.references if t != title and t not in text]


def _distractors(options: list[str], clause: Clause, start: int, end: int, rng: random.Random,
                 ctx: _Context) -> list[str]:
    """Return wrong options drawn from the most plausible ones, or [] if there are too few."""
    text = clause.text
    # An option that turns the clause into a sentence printed elsewhere would be a second right answer.
    options = [o for o in options if not ctx.in_source(text[:start] + o + text[end:])]
    if len(options) < N_DISTRACTORS:
        return []
    return rng.sample(options[:PLAUSIBLE], N_DISTRACTORS)


def _choices(clause: Clause, ctx: _Context, rng: random.Random) -> list[Draft]:
    text = clause.text
    targets = []
    for s, e, is_figure in _unique_targets(clause, whole_figures=True):
        figure = next((f for f in clause.figures if f.text == text[s:e]), None) if is_figure else None
        options = _figure_options(figure, text, ctx) if figure else _term_options(text[s:e], text, ctx)
        targets.append((s, e, is_figure, options))
    for s, e in _reference_targets(clause):
        targets.append((s, e, False, _reference_options(text[s:e], text, ctx)))
    drafts = []
    for s, e, is_figure, options in targets:
        answer = text[s:e]
        wrong = _distractors(options, clause, s, e, rng, ctx)
        if wrong:
            choices = [answer, *wrong]
            rng.shuffle(choices)
            drafts.append(Draft("choice", text[:s] + BLANK + text[e:], tuple(choices), answer, clause,
                                is_figure))
    return drafts


Edit = tuple[int, int, list[str]]  # (start, end, replacements) in a clause


def _alterations(clause: Clause, ctx: _Context) -> tuple[list[Edit], list[Edit]]:
    """Return the places a false statement may change: figures and years, then terms and plans."""
    text = clause.text
    edits: list[Edit] = []
    for fig in clause.figures:
        pos = text.find(fig.text)
        if pos < 0 or fig.kind == "date":  # a date is altered through its year
            continue
        if fig.kind == "amount":
            number = NUMBER_RE.match(fig.text)
            swaps = _figure_options(fig, text, ctx)[:PLAUSIBLE]
            unit = fig.text[number.end():] if number else ""
            options = swaps or ([p + unit for p in _perturb(number.group(0))] if number else [])
            edits.append((pos, pos + len(fig.text), options))
        else:
            count = DEADLINE_NUMBER_RE.match(fig.text)
            if count:
                value = count.group(0)
                options = _perturb(value) if value.isdigit() else [c for c in CN_COUNTS if c != value]
                edits.append((pos, pos + len(value), options))
    for m in YEAR_RE.finditer(text):
        year = int(m.group(0))
        edits.append((m.start(), m.end(), [str(year + d) for d in (-2, -1, 1, 2)]))
    words: list[Edit] = []
    for term in key_terms(text):
        found = occurrences(term, text)
        if len(found) == 1:
            words.append((found[0], found[0] + len(term), _term_options(term, text, ctx)[:PLAUSIBLE]))
    for s, e in _reference_targets(clause):
        words.append((s, e, _reference_options(text[s:e], text, ctx)))
    return [e for e in edits if e[2]], [e for e in words if e[2]]


def _true_false(clause: Clause, ctx: _Context, rng: random.Random) -> list[Draft]:
    text = clause.text
    figures, words = _alterations(clause, ctx)
    if not figures and not words:
        return []
    about_figure = bool(clause.figures or YEAR_RE.search(text))
    true_item = Draft("true_false", TRUE_FALSE_PREFIX + text, (), TRUE, clause, about_figure)
    if rng.random() < 0.5:
        return [true_item]
    rng.shuffle(figures)
    rng.shuffle(words)
    # A changed target or deadline is what a new employee must catch; a swapped term only if none.
    for start, end, options in figures + words:
        for option in rng.sample(options, len(options)):
            statement = text[:start] + option + text[end:]
            if statement != text and not ctx.in_source(statement):
                return [Draft("true_false", TRUE_FALSE_PREFIX + statement, (), FALSE, clause, about_figure)]
    return [true_item]


def _phrases(section: Section) -> tuple[list[str], list[str]]:
    """Return what a 哪一条 item may ask about (quoted words, cited plans, terms, figures) and the figures."""
    # "6个" is what the figure finder keeps of 6个月内; a count cut from its noun asks nothing.
    figures = [f.text for f in section.figures if not f.text.endswith("个")]
    phrases = [m.group(1) for m in QUOTED_RE.finditer(section.text)] + list(section.references)
    return list(dict.fromkeys(phrases + key_terms(section.text) + figures)), figures


def _quoted(phrase: str, section: Section) -> str:
    """Return the phrase as a question quotes it: a cited plan in 《》, anything else in “”."""
    return f"《{phrase}》" if phrase in section.references else f"“{phrase}”"


def _first_span(section: Section, phrase: str) -> int | None:
    """Return the index of the first sentence that prints the phrase, or None if a sentence break cuts it."""
    return next((i for i, sp in enumerate(section.spans) if phrase in sp.text), None)


def _which_measure(doc: Document, section: Section, rng: random.Random) -> list[Draft]:
    """Return 哪一条 items for phrases printed in this measure and nowhere else in the document."""
    eligible = [s for s in doc.sections if s.kind == "measure" and s.title and s.title in s.text]
    titles = [s.title for s in eligible]
    if section not in eligible or len(eligible) < N_DISTRACTORS + 1 or len(set(titles)) < len(titles):
        return []
    others = [s.text for s in doc.sections if s is not section]
    phrases, figures = _phrases(section)
    drafts = []
    for phrase in phrases:
        if phrase in section.title or any(phrase in t for t in others):
            continue
        index = _first_span(section, phrase)
        if index is None:
            continue
        choices = [section.title, *rng.sample([t for t in titles if t != section.title], N_DISTRACTORS)]
        rng.shuffle(choices)
        drafts.append(Draft("which_measure", f"哪一条措施提到{_quoted(phrase, section)}？", tuple(choices),
                            section.title, Clause(doc, section, index), phrase in figures))
    return drafts


def article_label(section: Section) -> str:
    """Return how a 哪一条 choice names an article: 第三条（第一章 总则）, or 第三条 in a law without chapters."""
    return f"{section.section_no}（{section.path[-1]}）" if section.path else section.section_no


@dataclass(frozen=True)
class _Articles:
    """A document's articles in order, and its whole text for telling where a phrase is printed."""

    sections: tuple[Section, ...]
    position: dict[str, int]  # section_no → index in sections
    text: str  # every section text, joined by NUL so that no phrase spans two

    @classmethod
    def of(cls, doc: Document) -> _Articles:
        """Collect the articles of a document."""
        articles = tuple(s for s in doc.sections if s.kind == "article")
        return cls(articles, {s.section_no: i for i, s in enumerate(articles)},
                   "\0".join(s.text for s in doc.sections))

    def nearby(self, section: Section) -> list[Section]:
        """Return the other articles nearest to section, those of its own chapter first."""
        i = self.position[section.section_no]
        # Articles of a chapter stand together, so the nearest few are always within this window.
        window = self.sections[max(0, i - 2 * PLAUSIBLE):i + 2 * PLAUSIBLE + 1]
        return sorted((s for s in window if s is not section),
                      key=lambda s: (s.path != section.path, abs(s.order - section.order)))


def _which_article(doc: Document, section: Section, articles: _Articles, rng: random.Random) -> list[Draft]:
    """Return 哪一条 items for phrases printed in this article and nowhere else in the document."""
    if len(articles.sections) < N_DISTRACTORS + 1:
        return []
    # Neighbours in the same chapter make the distractors: an article far away in another
    # chapter is easy to rule out by its chapter name alone.
    nearby = articles.nearby(section)
    label = article_label(section)
    phrases, figures = _phrases(section)
    drafts = []
    for phrase in phrases:
        # Non-overlapping counts agree only if every occurrence in the document is in this article.
        if phrase in label or articles.text.count(phrase) != section.text.count(phrase):
            continue
        index = _first_span(section, phrase)
        options = [article_label(s) for s in nearby if phrase not in article_label(s)][:PLAUSIBLE]
        if index is None or len(options) < N_DISTRACTORS:
            continue
        choices = [label, *rng.sample(options, N_DISTRACTORS)]
        rng.shuffle(choices)
        drafts.append(Draft("which_measure", f"《{doc.title}》哪一条提到{_quoted(phrase, section)}？",
                            tuple(choices), label, Clause(doc, section, index), phrase in figures))
    return drafts


def build_pool(documents: Sequence[Document], targets: Sequence[tuple[Document, Section]],
               rng: random.Random) -> list[Draft]:
    """Draft every distinct item about the target sections; distractors come from all documents."""
    ctx = _context(documents)
    articles: dict[str, _Articles] = {}
    drafts: list[Draft] = []
    for doc, sec in targets:
        if sec.kind not in QUIZ_SECTION_KINDS:
            continue
        for i, span in enumerate(sec.spans):
            if len(span.text) >= MIN_CLAUSE_CHARS:
                clause = Clause(doc, sec, i)
                drafts += _blanks(clause) + _choices(clause, ctx, rng) + _true_false(clause, ctx, rng)
        if sec.kind == "measure":
            drafts += _which_measure(doc, sec, rng)
        elif sec.kind == "article":
            if doc.doc_id not in articles:
                articles[doc.doc_id] = _Articles.of(doc)
            drafts += _which_article(doc, sec, articles[doc.doc_id], rng)
    unique: dict[tuple[str, str], Draft] = {}
    for draft in drafts:
        unique.setdefault((draft.kind, draft.question), draft)
    return list(unique.values())
