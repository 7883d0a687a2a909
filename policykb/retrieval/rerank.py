"""A learned ranker over the retrievers' candidates, and the answer confidence it gives.

Hybrid search collects the keyword and dense candidates, describes each one by
generic features (each retriever's score, rank and gap to the best, the share of
the question's terms the section holds, the dense evidence of its neighbours,
chapter and document, and the section's shape), and orders them with a LightGBM
LambdaRank model. The model holds ranker weights only: no question text and no
section ids. It is trained by `eval/train_ranker.py` with cross-validation by
question; its file and the confidence calibration live in policykb/data/.

Without the model file (or with POLICYKB_RANKER=off) hybrid search falls back to
weighted reciprocal-rank fusion.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Iterable, Mapping, Sequence

import numpy as np

from policykb.ingest.parse import Document, Section

DATA = resources.files("policykb") / "data"
MODEL_FILE = "ranker.txt"
META_FILE = "ranker.json"
RETRIEVERS = ("keyword", "dense_section", "dense_unit", "dense")
FEATURES = tuple(f"{r}_{x}" for r in RETRIEVERS for x in ("score", "rank", "gap", "rel")) + (
    "fused", "fused_rank", "coverage", "neighbour_dense", "chapter_dense", "document_dense",
    "document_keyword", "length", "paragraphs", "chapter_position", "depth", "kind")
KINDS = {"notice": 3.0, "interpretation": 2.0, "regulation": 1.0, "law": 0.0}
_LOCK = threading.Lock()


def document_kind(title: str) -> float:
    """Return a coarse document kind: law, regulation (条例/办法), court interpretation, or notice."""
    if title.startswith("最高人民法院"):
        return KINDS["interpretation"]
    if any(w in title for w in ("条例", "办法", "规定")):
        return KINDS["regulation"]
    if "通知" in title or "意见" in title:
        return KINDS["notice"]
    return KINDS["law"]


@dataclass(frozen=True)
class Layout:
    """Where a section sits: the sections beside it and its shape features."""

    neighbours: tuple[str, ...]
    shape: np.ndarray  # length, paragraphs, position in its chapter, depth of its path, document kind


def section_layout(documents: Iterable[Document]) -> dict[str, Layout]:
    """Return every section's Layout (computed once per opened index)."""
    out = {}
    for doc in documents:
        kind = document_kind(doc.title)
        position, previous = 0, None
        secs = doc.sections
        for i, sec in enumerate(secs):
            position = position + 1 if sec.chapter == previous else 0
            previous = sec.chapter
            near = tuple(s.id for s in secs[max(0, i - 1):i + 2] if s.id != sec.id)
            out[sec.id] = Layout(near, np.array([math.log1p(len(sec.text)), len(sec.paragraph_starts), position,
                                                 len(sec.path), kind]))
    return out


@dataclass(frozen=True)
class Candidates:
    """A question's candidate sections, their feature rows and the fused order they came in."""

    ids: tuple[str, ...]
    features: np.ndarray  # len(ids) × len(FEATURES)

    def row(self, section_id: str) -> dict[str, float]:
        """Return one candidate's features by name (for reports and tests)."""
        return dict(zip(FEATURES, self.features[self.ids.index(section_id)].tolist()))


def _retriever_columns(scores: Mapping[str, float], ids: Sequence[str], missing_rank: int) -> np.ndarray:
    """Return score, rank, gap to the best and score relative to the best, per candidate."""
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    rank = {sid: r for r, (sid, _) in enumerate(ordered, start=1)}
    top = ordered[0][1] if ordered else 0.0
    floor = min(scores.values(), default=0.0)
    out = np.zeros((len(ids), 4))
    for i, sid in enumerate(ids):
        s = scores.get(sid)
        if s is None:
            out[i] = (floor, missing_rank, top - floor, 0.0)
        else:
            out[i] = (s, rank[sid], top - s, s / top if top > 0 else 0.0)
    return out


def candidate_features(ids: Sequence[str], keyword: Mapping[str, float], dense_section: Mapping[str, float],
                       dense_unit: Mapping[str, float], fused: Mapping[str, float],
                       coverage: Mapping[str, float], sections: Mapping[str, Section],
                       layout: Mapping[str, "Layout"], missing_rank: int) -> Candidates:
    """Describe each candidate section by the features of FEATURES, in that order."""
    dense = {sid: max(dense_section.get(sid, -1.0), dense_unit.get(sid, -1.0))
             for sid in set(dense_section) | set(dense_unit)}
    cols = [_retriever_columns(m, ids, missing_rank) for m in (keyword, dense_section, dense_unit, dense)]
    fused_rank = {sid: r for r, (sid, _) in enumerate(sorted(fused.items(), key=lambda kv: (-kv[1], kv[0])), 1)}
    floor = min(dense.values(), default=0.0)
    chapter_best: dict[str, float] = {}
    doc_best: dict[str, float] = {}
    doc_kw: dict[str, float] = {}
    for sid in ids:
        sec = sections[sid]
        d = dense.get(sid, floor)
        chapter_best[f"{sec.doc_id}|{sec.chapter}"] = max(chapter_best.get(f"{sec.doc_id}|{sec.chapter}", floor), d)
        doc_best[sec.doc_id] = max(doc_best.get(sec.doc_id, floor), d)
        doc_kw[sec.doc_id] = max(doc_kw.get(sec.doc_id, 0.0), keyword.get(sid, 0.0))
    rows = []
    for i, sid in enumerate(ids):
        sec = sections[sid]
        near = [dense[n] for n in layout[sid].neighbours if n in dense]
        rows.append(np.concatenate([c[i] for c in cols] + [np.array([
            fused.get(sid, 0.0), fused_rank.get(sid, missing_rank), coverage.get(sid, 0.0),
            max(near, default=floor), chapter_best[f"{sec.doc_id}|{sec.chapter}"], doc_best[sec.doc_id],
            doc_kw[sec.doc_id]]), layout[sid].shape]))
    return Candidates(tuple(ids), np.vstack(rows) if rows else np.zeros((0, len(FEATURES))))


class Ranker:
    """The trained LightGBM model and the logistic calibration of its top score."""

    def __init__(self, model_text: str, meta: dict) -> None:
        import lightgbm

        if tuple(meta.get("features", ())) != FEATURES:
            raise ValueError("the ranker was trained on other features; run eval/train_ranker.py")
        self.booster = lightgbm.Booster(model_str=model_text)
        self.meta = meta

    @classmethod
    def load(cls) -> "Ranker | None":
        """Return the packaged ranker, or None when it is missing or stale (search then fuses)."""
        try:
            model = (DATA / MODEL_FILE).read_text(encoding="utf-8")
            meta = json.loads((DATA / META_FILE).read_text(encoding="utf-8"))
            return cls(model, meta)
        except (OSError, ValueError, ImportError):
            return None

    def score(self, candidates: Candidates) -> np.ndarray:
        """Return one ranking score per candidate (higher is better)."""
        if not len(candidates.ids):
            return np.zeros(0)
        with _LOCK:  # a Booster's predict is not documented as thread-safe
            return self.booster.predict(candidates.features, num_threads=1)

    def confidence(self, scores: np.ndarray, candidates: Candidates) -> float:
        """Return the calibrated probability that the top candidate answers the question."""
        return confidence_from(evidence_of(scores, candidates), self.meta.get("calibration", {}))


CALIBRATION_INPUTS = ("top", "margin", "coverage", "dense")


def evidence_of(scores: np.ndarray, candidates: Candidates) -> dict[str, float]:
    """Return what the confidence is calibrated on: the best ranker score, its margin over the
    second, and the top candidate's own term coverage and cosine (absolute evidence, so that a
    small knowledge base's wide margins alone do not make a one-word match look certain)."""
    if not len(scores):
        return {}
    order = np.lexsort((np.array(candidates.ids), -scores))  # ties by id, as search orders them
    best = candidates.features[order[0]]
    margin = float(scores[order[0]] - scores[order[1]]) if len(scores) > 1 else 0.0
    return {"top": float(scores[order[0]]), "margin": margin, "coverage": float(best[FEATURES.index("coverage")]),
            "dense": float(best[FEATURES.index("dense_score")])}


def confidence_from(evidence: Mapping[str, float], calibration: Mapping[str, float]) -> float:
    """Apply the logistic calibration (weights per input plus a bias) to a question's evidence."""
    if not evidence or not calibration:
        return 0.0
    z = calibration["bias"] + sum(calibration[k] * evidence[k] for k in CALIBRATION_INPUTS)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
