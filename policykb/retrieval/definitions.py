"""Questions that ask what a term means, and the clauses that define a term.

Laws define their terms in a few fixed shapes: 本法所称X，是指…; X是指…; …的，为X。;
X是…的合同。 A question such as 什么是一般保证？ is best answered by the clause that
defines 一般保证, while its neighbours only use the term (保证的方式包括一般保证和…).
The ranker sees words and cosines, not these shapes, so search moves a defining
clause that it ranked near the top to the top.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np

from policykb.ingest.chunk import ARTICLE_RE

DEFINITION_WITHIN = 3  # a defining clause this near the top is moved to the top
_TERM = r"[\u4e00-\u9fff]{2,12}"
_PUNCT = r"[？?。！!\s]*"
DEFINITION_QUESTION_RES = (
    re.compile(rf"^(?:请问)?(?:什么是|什么叫|何为|何谓)[“\"]?({_TERM})[”\"]?{_PUNCT}$"),
    re.compile(rf"^(?:请问)?[“\"]?({_TERM})[”\"]?(?:是什么|是指什么|指什么|的定义是什么|的含义是什么|的概念是什么|"
               rf"是什么意思|的定义|的含义|的概念){_PUNCT}$"),
)


def definition_term(question: str) -> str | None:
    """Return the term a question asks the meaning of (什么是一般保证？ → 一般保证), else None."""
    question = question.strip()
    for pattern in DEFINITION_QUESTION_RES:
        m = pattern.match(question)
        if m:
            return m.group(1)
    return None


def defines(text: str, term: str) -> bool:
    """Return True when a clause defines the term in one of the shapes laws use."""
    article = ARTICLE_RE.match(text.strip())
    body = article.group(2) if article else text.strip()
    shapes = (f"{term}是指", f"{term}，是指", f"所称{term}", f"为{term}。", f"为{term}；", f"为{term}，",
              f"称为{term}", f"是{term}。")
    return body.startswith(f"{term}是") or any(s in body for s in shapes)


def promote_definition(ids: Sequence[str], scores: np.ndarray, texts: Mapping[str, str], term: str,
                       within: int = DEFINITION_WITHIN) -> np.ndarray:
    """Return the scores with the best defining clause among the top `within` swapped to the top.

    The two clauses trade scores, so the ranking's spread (and the confidence drawn from it)
    stays as the ranker gave it. Unchanged when the top clause defines the term or none near it does.
    """
    if not len(scores):
        return scores
    order = np.lexsort((np.array(ids), -scores))[:within]  # ties by id, as search orders them
    if defines(texts[ids[order[0]]], term):
        return scores
    for i in order[1:]:
        if defines(texts[ids[i]], term):
            out = scores.copy()
            out[order[0]], out[i] = scores[i], scores[order[0]]
            return out
    return scores
