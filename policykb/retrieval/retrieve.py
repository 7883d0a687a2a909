"""Keyword, dense and fused rankings: pure functions over ranked (id, score) lists."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

Ranking = list[tuple[str, float]]


@dataclass(frozen=True)
class Hit:
    """A ranked section with each retriever's rank (1-based) and score."""

    section_id: str
    score: float
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


def keyword_ranking(bm25: Any, section_ids: list[str], tokens: list[str], k: int,
                    allowed: np.ndarray | None = None) -> Ranking:
    """Rank sections by BM25 over jieba tokens; sections that match no token are left out.

    Args:
        allowed: a boolean mask over section_ids; sections outside it are not ranked.
    """
    if not tokens or not section_ids:
        return []
    scores = np.asarray(bm25.get_scores(tokens), dtype=np.float64)
    if allowed is not None:  # a section outside the scope scores 0, so it is left out like a non-match
        scores = np.where(allowed, scores, 0.0)
    top = top_indices(scores, k)
    # Ties are broken by position in the index, never by argpartition's internal order.
    top = top[np.lexsort((top, -scores[top]))]
    return [(section_ids[i], float(scores[i])) for i in top if scores[i] > 0]


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the indices of the k best scores, in no particular order."""
    k = min(k, len(scores))
    return np.argpartition(-scores, k - 1)[:k] if k else np.zeros(0, dtype=int)


def dense_ranking(section_sims: Ranking, span_sims: Ranking, k: int) -> Ranking:
    """Combine section- and sentence-level cosine similarities into one section ranking.

    A section scores the better of its own similarity and its best sentence's,
    so a question about one clause finds the measure that contains it.
    """
    best: dict[str, float] = {}
    for sid, sim in section_sims:
        best[sid] = max(best.get(sid, -1.0), sim)
    for span_id, sim in span_sims:
        sid = span_id.rsplit(":", 1)[0]
        best[sid] = max(best.get(sid, -1.0), sim)
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]  # ties broken by id, the same in every run


def fuse(rankings: dict[str, Ranking], weights: dict[str, float] | None = None,
         limit: int = 10, rrf_k: int = 10) -> list[Hit]:
    """Fuse rankings with weighted reciprocal-rank fusion plus a relative-score term.

    An empty ranking (a retriever with no signal, e.g. BM25 on an English
    question with no matching term) contributes nothing, so it cannot push
    arbitrary sections up. Within a ranking, a section's score relative to the
    best one keeps a clear winner ahead of near-ties that RRF alone would flatten.
    """
    weights = weights or {}
    total: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    scores: dict[str, dict[str, float]] = {}
    for name, ranking in rankings.items():
        if not ranking:
            continue
        w = weights.get(name, 1.0)
        top = ranking[0][1]
        floor = ranking[-1][1] if len(ranking) > 1 else 0.0
        spread = (top - floor) or 1.0
        for rank, (sid, score) in enumerate(ranking, start=1):
            relative = (score - floor) / spread
            total[sid] = total.get(sid, 0.0) + w * (1.0 / (rrf_k + rank) * rrf_k + relative) / 2
            ranks.setdefault(sid, {})[name] = rank
            scores.setdefault(sid, {})[name] = round(score, 4)
    ordered = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [Hit(sid, round(s, 4), ranks[sid], scores[sid]) for sid, s in ordered]


def single(name: str, ranking: Ranking, limit: int = 10) -> list[Hit]:
    """Turn one retriever's ranking into hits (for keyword-only or dense-only mode)."""
    return [Hit(sid, round(s, 4), {name: r}, {name: round(s, 4)})
            for r, (sid, s) in enumerate(ranking[:limit], start=1)]


def matched_terms(terms: Iterable[str], tokens: Iterable[str]) -> list[str]:
    """Return the query terms that occur among a section's tokens."""
    have = set(tokens)
    return [t for t in terms if t in have]
