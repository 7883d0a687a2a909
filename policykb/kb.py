"""KnowledgeBase: the one object the CLI, the app, eval and training call."""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from policykb.answer.compose import (COVERAGE_MIN_WORDS, DENSE_THRESHOLDS, Answer, Citation, Evidence, Templates, compose_answer, coverage, format_cite,
                             make_citation, render_items, select_quote)
from policykb.config import MODES, Settings
from policykb.ingest.corpus import find_section
from policykb.ingest.chunk import int_to_cn
from policykb.errors import EmptyQuestionError, NotFoundError, PolicyKBError
from policykb.text import readable_question
from policykb.answer.docinfo import DocumentFact, find_document_question
from policykb.retrieval.lookup import (Lookup, document_names, find_lookup, find_scope, looked_up_text,
                                       without_preamble, without_scope)
from policykb.ingest.parse import Document, Section
from policykb.retrieval.rerank import Candidates, Layout, Ranker, candidate_features, section_layout
from policykb.retrieval.retrieve import Hit, dense_ranking, fuse, keyword_ranking, matched_terms, single
from policykb.retrieval.store import LoadedIndex, load_index, unit_span_range
from policykb.retrieval.bilingual import translate, with_translations
from policykb.retrieval.definitions import definition_term, promote_definition
from policykb.tokenize import expand_query, glossary_terms, term_groups, tokenize, word_expansions

CANDIDATES = 20
RERANK_CANDIDATES = 30  # per retriever, when the learned ranker orders the hybrid candidates
LOOKUP_MAX = 5  # documents quoted when a look-up names no document and several have the article
CJK_RE = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_RE = re.compile(r"[A-Za-z]{3,}")
FUSION_WEIGHTS = {"keyword": 1.0, "dense": 1.0}


@dataclass(frozen=True)
class SearchResult:
    """Ranked sections for one question, with what each retriever saw."""

    question: str
    mode: str
    hits: tuple[Hit, ...]
    terms: tuple[str, ...]
    matched: dict[str, list[str]] = field(default_factory=dict)
    span_sims: dict[str, dict[int, float]] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    confidence: float | None = None  # the ranker's calibrated probability that the top hit answers
    scope: tuple[str, ...] = ()  # the documents the search was restricted to

    def to_dict(self, sections: dict[str, Section]) -> dict:
        """Return the public JSON object of `policykb search --json`."""
        return {"question": self.question, "mode": self.mode, "terms": list(self.terms),
                "notices": list(self.notices), "confidence": self.confidence,
                "hits": [{"doc_id": sections[h.section_id].doc_id,
                          "section_no": sections[h.section_id].section_no,
                          "section_title": sections[h.section_id].title,
                          "score": h.score, "scores": h.scores, "ranks": h.ranks,
                          "matched_terms": self.matched.get(h.section_id, [])}
                         for h in self.hits]}


def dense_query(question: str, translations: Sequence[str] = ()) -> str:
    """Return the text embedded for a question: the question plus the glossary's policy terms.

    The terms (and the dictionary translations of its English words) pull English
    and colloquial questions towards the wording of the clauses; without any, the
    question is embedded as asked.
    """
    terms = list(dict.fromkeys([*glossary_terms(question), *translations]))
    return f"{question}（{'、'.join(terms)}）" if terms else question


@dataclass(frozen=True)
class Retrieved:
    """What the retrievers returned for one question, before ranking."""

    rankings: dict[str, list[tuple[str, float]]]
    dense_section: dict[str, float]
    dense_unit: dict[str, float]
    fused: tuple[Hit, ...]
    span_sims: dict[str, dict[int, float]]


class KnowledgeBase:
    """Retrieval and cited answers over the index; falls back to keyword search when vectors fail."""

    def __init__(self, settings: Settings, index: LoadedIndex, embedder=None, dense_error: str = "") -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.dense_error = dense_error
        self.templates = Templates(settings.prompts_dir)
        self.docs: dict[str, Document] = {d.doc_id: d for d in index.documents}
        self._tokens = index.section_tokens
        self._span_tokens = {sid: [frozenset(t) for t in spans] for sid, spans in index.span_tokens.items()}
        n = len(self._tokens)
        df: dict[str, int] = {}
        for toks in self._tokens.values():
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._section_docs = np.array([sid.split("#", 1)[0] for sid in index.section_ids])
        self._layout: dict[str, Layout] | None = None
        self._names: dict[str, frozenset[str]] = {}
        self._vocabulary = frozenset(self._idf)  # one object, so the dictionary's cache finds it at once
        self.ranker = Ranker.load() if settings.ranker else None

    @classmethod
    def open(cls, settings: Settings, dense: bool = True, auto_ingest: bool = True,
             on_ingest: Callable[[str], None] | None = None) -> "KnowledgeBase":
        """Load the index (building it when missing) and, if possible, the embedder and vectors."""
        embedder, error = None, ""
        if dense:
            try:
                from policykb.retrieval.embed import create_embedding
                embedder = create_embedding(settings)
            except PolicyKBError as exc:
                error = str(exc)
        index = load_index(settings, auto_ingest=auto_ingest and not error, on_ingest=on_ingest,
                           embedder=embedder)
        if embedder is not None:
            try:
                index.vectors()
            except PolicyKBError as exc:
                embedder, error = None, str(exc)
        return cls(settings, index, embedder, error)

    @property
    def dense_available(self) -> bool:
        """Return True when vector search works."""
        return self.embedder is not None

    @property
    def sections(self) -> dict[str, Section]:
        """Return all sections by id."""
        return self.index.sections

    @property
    def vocabulary(self) -> frozenset[str]:
        """Return the search tokens the sections hold."""
        return self._vocabulary

    def _prepare(self, question: str) -> tuple[str, list[str]]:
        question = readable_question(str(question if question is not None else ""))
        if not question.strip():
            raise EmptyQuestionError("the question is empty; type a question such as 续贷有什么要求？")
        question = without_preamble(" ".join(question.split()))
        notices = []
        limit = self.settings.max_question_chars
        if len(question) > limit:
            question = question[:limit]
            notices.append(self.templates.render("truncated", limit=limit))
        return question, notices

    def scope(self, question: str, doc_ids: Sequence[str] = ()) -> list[str]:
        """Return the doc ids a search is restricted to: the ones given, else those the question names."""
        unknown = [d for d in doc_ids if d not in self.docs]
        if unknown:
            raise NotFoundError(f"知识库中没有 doc_id 为 {unknown[0]!r} 的文件；`policykb docs` 列出全部文件")
        return list(dict.fromkeys(doc_ids)) or [d.doc_id for d in find_scope(question, self.index.documents)]

    def search(self, question: str, mode: str = "hybrid", k: int = 5, doc_ids: Sequence[str] = (), *,
               named: bool = False) -> SearchResult:
        """Rank sections for a question by keyword, dense or hybrid retrieval.

        Args:
            doc_ids: restrict retrieval to these documents; by default a question that
                names documents (在民法典里…, 通知中…) is restricted to them.
            named: doc_ids are the ones the question names, already found (for the scope notice).
        """
        if mode not in MODES:
            raise PolicyKBError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        question, notices = self._prepare(question)
        scope = self.scope(question, doc_ids)
        allowed = np.isin(self._section_docs, scope) if scope else None
        if scope:
            notices.append(self.templates.render("scope", titles="、".join(
                f"《{self.docs[d].title}》" for d in scope),
                how="问题中指明了文件，只在其中检索" if named or not doc_ids else "只在这些文件中检索"))
        query = without_scope(question, self.index.documents) if scope else question
        terms = self._terms(query)
        if mode != "keyword" and not self.dense_available:
            notices.append(self.templates.render("keyword_fallback", reason=self.dense_error))
            mode = "keyword"
        ranker = self.ranker if mode == "hybrid" else None
        found = self._retrieve(query, terms, mode, scope, allowed, RERANK_CANDIDATES if ranker else CANDIDATES)
        confidence = None
        if ranker is not None:
            candidates = self._candidates(found, terms)
            scores = ranker.score(candidates)
            term = definition_term(query)
            if term:
                texts = {sid: self.sections[sid].text for sid in candidates.ids}
                scores = promote_definition(candidates.ids, scores, texts, term)
            confidence = round(ranker.confidence(scores, candidates), 4)
            fused = {h.section_id: h for h in found.fused}
            order = sorted(zip(candidates.ids, scores.tolist()), key=lambda pair: (-pair[1], pair[0]))
            hits = [Hit(sid, round(s, 4), fused[sid].ranks, {**fused[sid].scores, "ranker": round(s, 4)})
                    for sid, s in order[:max(k, 3)]]
        elif mode == "hybrid":
            hits = found.fused[:max(k, 3)]
        else:
            hits = single(mode, found.rankings[mode], limit=max(k, 3))
        distinct = list(dict.fromkeys(terms))
        matched = {h.section_id: matched_terms(distinct, self._tokens.get(h.section_id, ())) for h in hits}
        return SearchResult(question, mode, tuple(hits[:k]) if k else tuple(hits), tuple(distinct),
                            matched, found.span_sims, tuple(notices), confidence, tuple(scope))

    def _translations(self, question: str, full_only: bool = False) -> dict[str, list[str]]:
        """Return the corpus words the dictionary gives for each English word of a question."""
        if not ENGLISH_RE.search(question):
            return {}
        return translate(question, self._vocabulary, self._idf, full_only)

    def english_terms(self, text: str) -> dict[str, list[str]]:
        """Return the corpus words that stand for each English word of a text (full translations, glossary)."""
        if not ENGLISH_RE.search(text):
            return {}
        return {w: sorted(alts) for w, alts in with_translations(
            word_expansions(text), self._translations(text, full_only=True), english_only=True).items()}

    def _terms(self, question: str) -> list[str]:
        """Return a question's search terms: its tokens, glossary terms and translated English words."""
        terms = expand_query(question)
        for words in self._translations(question).values():
            terms.extend(w for w in words if w not in terms)
        return terms

    def _words(self, question: str) -> dict[str, set[str]]:
        """Return a question's words, each with the tokens that stand for it (glossary, translations)."""
        return with_translations(term_groups(question), self._translations(question))

    def _retrieve(self, question: str, terms: list[str], mode: str, scope: list[str],
                  allowed: np.ndarray | None, n: int) -> "Retrieved":
        """Run the keyword and/or dense retrievers for n candidates each, and fuse them.

        A scoped search retrieves inside the scope alone, so the learned ranker sees the scope's
        candidates as it would see a knowledge base of those documents: ranks and gaps among them.
        Judged among all documents' best instead, a scope's candidates all look weak, and the
        ranker ordered them by features it had never seen in training (a section with no search
        word, 48th by meaning, came first).
        """
        rankings: dict[str, list[tuple[str, float]]] = {}
        sec: list[tuple[str, float]] = []
        units: dict[str, float] = {}
        span_sims: dict[str, dict[int, float]] = {}
        if mode in ("keyword", "hybrid"):
            rankings["keyword"] = keyword_ranking(self.index.bm25, self.index.section_ids, terms, n, allowed)
        if mode in ("dense", "hybrid"):
            extra = [t for t in terms if t not in tokenize(question)] if ENGLISH_RE.search(question) else []
            vec = self.embedder.embed_queries([dense_query(question, extra)])[0].tolist()
            stores = self.index.vectors()
            # while another process adds documents, the store may hold some of theirs: keep to those served
            served = scope or ([d.doc_id for d in self.index.documents] if self.index.pending else None)
            sec = stores.query(vec, n, doc_ids=served)
            spans = stores.query(vec, n * 3, spans=True, doc_ids=served)
            rankings["dense"] = dense_ranking(sec, spans, n)
            for unit, sim in spans:
                sid, indices = unit_span_range(unit)
                units[sid] = max(units.get(sid, -1.0), sim)
                for j in indices:
                    span_sims.setdefault(sid, {})[j] = sim
        fused = fuse(rankings, FUSION_WEIGHTS, limit=2 * n) if mode == "hybrid" else []
        return Retrieved(rankings, dict(sec), units, tuple(fused), span_sims)

    def _candidates(self, found: "Retrieved", terms: list[str]) -> Candidates:
        """Describe the fused candidates by the ranker's features."""
        if self._layout is None:
            self._layout = section_layout(self.index.documents)
        ids = [h.section_id for h in found.fused]
        # The ranker was trained on the share of all search terms (glossary terms and translations each
        # on their own); the abstention rule's coverage counts a question's words instead (evidence).
        distinct = dict.fromkeys(terms, ())
        cov = {sid: coverage(distinct, self._tokens.get(sid, ()), self._idf) for sid in ids}
        return candidate_features(ids, dict(found.rankings.get("keyword", [])), found.dense_section,
                                  found.dense_unit, {h.section_id: h.score for h in found.fused}, cov,
                                  self.sections, self._layout, RERANK_CANDIDATES + 1)

    def candidates(self, question: str, doc_ids: Sequence[str] = ()) -> Candidates:
        """Return a question's hybrid candidates with their ranker features (for training the ranker)."""
        question, _ = self._prepare(question)
        scope = self.scope(question, doc_ids)
        allowed = np.isin(self._section_docs, scope) if scope else None
        query = without_scope(question, self.index.documents) if scope else question
        terms = self._terms(query)
        return self._candidates(self._retrieve(query, terms, "hybrid", scope, allowed, RERANK_CANDIDATES), terms)

    def _name_tokens(self, doc_id: str) -> frozenset[str]:
        """Return the search tokens of a document's names (民法典, 通知, its 文号 …)."""
        if doc_id not in self._names:
            self._names[doc_id] = frozenset(tokenize(" ".join(document_names(self.docs[doc_id]))))
        return self._names[doc_id]

    def evidence(self, result: SearchResult) -> Evidence:
        """Summarise the top hit's support for the abstention decision."""
        if not result.hits:
            return Evidence(None if result.mode == "keyword" else 0.0, 0.0)
        top = result.hits[0]
        dense = None if result.mode == "keyword" else top.scores.get("dense", 0.0)
        section_tokens = self._tokens.get(top.section_id, ())
        if result.scope:  # an article says 本法, not its law's name: a section of the named document holds it
            section_tokens = set(section_tokens) | self._name_tokens(self.sections[top.section_id].doc_id)
        # The words that name the scope (the notice) say where to look, not what to find.
        asked = without_scope(result.question, self.index.documents) if result.scope else result.question
        if CJK_RE.search(result.question):
            cov = coverage(self._words(asked), section_tokens, self._idf)
            return Evidence(dense, cov, self.dense_threshold, confidence=result.confidence,
                            scoped=bool(result.scope))
        # An English question: the glossary expansions of one word ("insurance" → 保险…) must not
        # count as the whole question being covered, so count the words that are covered instead.
        have = set(section_tokens)
        cov = coverage({w: set(alts) for w, alts in self.english_terms(asked).items()}, have, {})  # each word weighs 1
        return Evidence(dense, cov, self.dense_threshold, COVERAGE_MIN_WORDS, result.confidence, bool(result.scope))

    @property
    def dense_threshold(self) -> float:
        """Return the cosine above which dense evidence alone answers (2.0 = never)."""
        if self.settings.abstain_dense > 0:
            return self.settings.abstain_dense
        model = f"{self.settings.embed_backend}:{self.settings.embed_model}"
        return DENSE_THRESHOLDS.get(model, 2.0)

    def ask(self, question: str, mode: str = "hybrid", doc_ids: Sequence[str] = ()) -> Answer:
        """Answer a question with verbatim quotes and memo-ready citations, or abstain.

        A question that names an article (民法典第六百八十五条, 通知第二条) is a look-up:
        the answer is that article, marked mode "lookup".
        """
        prepared, notices = self._prepare(question)
        scope = self.scope(prepared, doc_ids)
        documents = [self.docs[d] for d in scope] or self.index.documents
        lookup = find_lookup(prepared, documents)
        if lookup is not None:
            return self.lookup_answer(prepared, lookup, notices)
        fact = find_document_question(prepared, documents)
        if fact is not None:
            return self.document_answer(prepared, fact, notices)
        return self.answer(self.search(question, mode=mode, k=5, doc_ids=scope, named=not doc_ids))

    def document_answer(self, question: str, fact: DocumentFact, notices: list[str] | None = None) -> Answer:
        """Answer a question about a document from its header and history lines, quoted as printed."""
        doc = fact.doc
        if not fact.value:
            text = self.templates.render("docinfo_missing", title=doc.title, label=fact.label)
            return Answer(question, text, True, "document", (), (), tuple(notices or ()), supported=False)
        cite = f"《{doc.title}》" + (f"（{doc.doc_number}）" if doc.doc_number else "")
        citations = tuple(Citation(doc.doc_id, doc.title, doc.doc_number, "", "", line, cite) for line in fact.printed)
        if fact.clause:  # stated by an article: cite it as any quoted clause is cited
            citations = (make_citation(doc, *fact.clause),)
        lines = [self.templates.render("docinfo", title=doc.title, label=fact.label, value=fact.value),
                 *(f"{n}. {c.cite}：“{c.quote}”" for n, c in enumerate(citations, start=1))]
        if not citations:
            lines.append(self.templates.render("docinfo_registered"))
        return Answer(question, "\n".join(lines + list(notices or ())), False, "document", citations, (),
                      tuple(notices or ()))

    def lookup_answer(self, question: str, lookup: Lookup, notices: list[str] | None = None) -> Answer:
        """Quote the article a look-up names (its 款 or item when asked), or say it does not exist."""
        notices = list(notices or [])
        sections = list(lookup.sections)
        if lookup.paragraph:
            too_short = [s for s in sections if lookup.paragraph > s.paragraphs]
            sections = [s for s in sections if s not in too_short]
            if not sections:
                missing = "；".join(f"《{self.docs[s.doc_id].title}》{s.section_no}只有{int_to_cn(s.paragraphs)}款"
                                   for s in too_short)
                lookup = dataclasses.replace(lookup, missing=missing)
        if not sections:
            text = self.templates.render("lookup_missing", missing=lookup.missing)
            return Answer(question, text, True, "lookup", (), (), tuple(notices), supported=False)
        citations = [make_citation(self.docs[s.doc_id], s, looked_up_text(s, lookup.paragraph, lookup.item),
                                   lookup.item) for s in sections[:LOOKUP_MAX]]
        if len(sections) > 1:
            short = min((self.docs[s.doc_id].title.removeprefix("中华人民共和国") for s in sections), key=len)
            notices.append(self.templates.render("lookup_several", count=len(sections),
                                                 example=f"{short}第{int_to_cn(lookup.article)}条"))
        lines = [self.templates.render("lookup_intro"), *render_items(self.templates, citations), *notices]
        return Answer(question, "\n".join(lines), False, "lookup", tuple(citations), (), tuple(notices))

    def answer(self, result: SearchResult) -> Answer:
        """Compose the cited answer (or abstention) for a search that has already run."""
        ranked = [(self.sections[h.section_id], h.score, result.span_sims.get(h.section_id, {}))
                  for h in result.hits]
        answer = compose_answer(result.question, result.mode, ranked, list(result.terms),
                                self.evidence(result), self.docs, self.index.references, self.templates,
                                result.notices, self._span_tokens)
        answer = dataclasses.replace(answer, confidence=result.confidence)
        return self._follow_references(answer, list(result.terms))

    def _follow_references(self, answer: Answer, terms: list[str]) -> Answer:
        """Add the best clause of each resolved plan that a cited section refers to.

        A measure that cites a plan now in the knowledge base links to it: the
        plan's section covering most of the question is quoted after the main
        citations, with a notice saying where it comes from.
        """
        if answer.abstained:
            return answer
        cited_docs = {c.doc_id for c in answer.citations}
        cited_ids = {f"{c.doc_id}#{c.section_no}" for c in answer.citations}
        extra, notices = [], []
        asked = dict.fromkeys(terms, ())  # each search term counts on its own here, built once for all plans
        for ref in self.index.references:
            plan = self.docs.get(ref.resolved_doc_id)
            if plan is None or plan.doc_id in cited_docs or not cited_ids & set(ref.cited_by):
                continue
            best = max(plan.sections, key=lambda s: coverage(asked, self._tokens[s.id], self._idf))
            citing = self.sections[next(i for i in ref.cited_by if i in cited_ids)]
            notices.append(self.templates.render("referenced_plan_resolved", plan=ref.title, doc_id=plan.doc_id,
                                                 cite=format_cite(self.docs[citing.doc_id], citing)))
            quote, item = select_quote(best, terms, answer.question, {}, self._span_tokens[best.id])
            extra.append(make_citation(plan, best, quote, item))
        if not extra:
            return answer
        lines = [answer.answer, *render_items(self.templates, extra, start=len(answer.citations) + 1)]
        return dataclasses.replace(answer, answer="\n".join(lines + notices),
                                   citations=answer.citations + tuple(extra),
                                   notices=answer.notices + tuple(notices))

    def section(self, section_no: str, doc_id: str | None = None) -> Section:
        """Return one section by its number (and document, when there are several)."""
        return find_section(self.index.documents, section_no, doc_id)
