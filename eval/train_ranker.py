"""Train the learned ranker and its confidence calibration; report cross-validated figures.

Run on the notice + finance-laws knowledge base of `make eval`:

    POLICYKB_CORPUS_DIR=eval/artifacts/kb/corpus POLICYKB_INDEX_DIR=eval/artifacts/kb/index \\
        .venv/bin/python eval/train_ranker.py

Training questions: the STARD dev half (eval/stard/) and the notice's development set
(eval/questions.jsonl). The held-out notice set, the English law set and the out-of-scope set
are never trained on. Every figure printed is out-of-fold: 5 folds by question, each fold scored
by a model that did not see it. The shipped model (policykb/data/ranker.txt) is then fitted on
all training questions. It holds tree weights over the generic features of policykb/retrieval/rerank.py:
no question text, no section ids.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policykb.config import load_settings  # noqa: E402
from policykb.evaluation.evaluate import expected_ids, load_questions  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402
from policykb.retrieval.rerank import CALIBRATION_INPUTS, DATA, FEATURES, META_FILE, MODEL_FILE, Candidates, evidence_of  # noqa: E402

TRAIN_SETS = ("eval/stard/stard-finance-dev.jsonl", "eval/questions.jsonl")
FOLDS = 5
PARAMS = dict(objective="lambdarank", n_estimators=150, learning_rate=0.05, num_leaves=7, min_child_samples=50,
              subsample=0.8, subsample_freq=1, colsample_bytree=0.8, lambdarank_truncation_level=10,
              random_state=0, deterministic=True, force_row_wise=True, n_jobs=1, verbose=-1)


def collect(kb: KnowledgeBase, paths: tuple[str, ...]) -> list[dict]:
    """Return one row per question: its set, tags, candidate ids, features and labels."""
    rows = []
    for path in paths:
        for q in load_questions(ROOT / path):
            cands = kb.candidates(q["question"])
            gold = set(expected_ids(kb, q)) if q["expect"] else set()
            rows.append({"set": Path(path).stem, "tags": q["tags"], "ids": cands.ids, "X": cands.features,
                         "y": np.array([int(c in gold) for c in cands.ids]), "answerable": bool(gold)})
    return rows


def fit(rows: list[dict]):
    import lightgbm

    use = [r for r in rows if r["y"].any()]
    model = lightgbm.LGBMRanker(**PARAMS)
    model.fit(np.vstack([r["X"] for r in use]), np.concatenate([r["y"] for r in use]),
              group=[len(r["y"]) for r in use])
    return model


def folds(rows: list[dict]) -> list[int]:
    """Assign each question a fold, round-robin within its set after a seeded shuffle."""
    rng = np.random.default_rng(0)
    out = [0] * len(rows)
    for name in dict.fromkeys(r["set"] for r in rows):
        members = [i for i, r in enumerate(rows) if r["set"] == name]
        for k, i in enumerate(rng.permutation(members)):
            out[i] = k % FOLDS
    return out


def figures(rows: list[dict], scores: list[np.ndarray]) -> dict[str, dict[str, float]]:
    """Return hit@1 and any@5 per set and for the bank questions, from (out-of-fold) scores."""
    groups: dict[str, list[tuple[bool, bool]]] = {}
    for r, s in zip(rows, scores):
        if not r["answerable"]:
            continue
        order = np.lexsort((np.array(r["ids"]), -s))  # ties by id, as search orders them
        hit1, any5 = bool(len(s)) and bool(r["y"][order[0]]), bool(r["y"][order[:5]].any())
        for key in [r["set"]] + (["bank"] if "bank" in r["tags"] else []):
            groups.setdefault(key, []).append((hit1, any5))
    return {k: {"n": len(v), "hit@1": round(sum(a for a, _ in v) / len(v), 3),
                "any@5": round(sum(b for _, b in v) / len(v), 3)} for k, v in groups.items()}


def calibrate(rows: list[dict], scores: list[np.ndarray]) -> tuple[dict[str, float], list[tuple[float, float]]]:
    """Fit P(top hit answers) = σ(w·evidence + c) on out-of-fold scores; unanswerable → 0."""
    from sklearn.linear_model import LogisticRegression

    X, y = [], []
    for r, s in zip(rows, scores):
        ev = evidence_of(s, Candidates(r["ids"], r["X"]))
        X.append([ev.get(k, 0.0) for k in CALIBRATION_INPUTS])
        y.append(int(r["answerable"] and len(s) > 0 and bool(r["y"][int(np.lexsort((np.array(r["ids"]), -s))[0])])))
    lr = LogisticRegression(C=1.0).fit(np.array(X), np.array(y))
    p = lr.predict_proba(np.array(X))[:, 1]
    curve = []
    for keep in np.linspace(0.1, 1.0, 10):  # risk-coverage: answer the most confident share only
        n = max(1, int(round(keep * len(p))))
        top = np.argsort(-p, kind="stable")[:n]
        curve.append((round(float(keep), 2), round(float(np.mean([y[i] for i in top])), 3)))
    return {**{k: float(w) for k, w in zip(CALIBRATION_INPUTS, lr.coef_[0])}, "bias": float(lr.intercept_[0])}, curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-save", action="store_true", help="report the cross-validated figures only")
    args = parser.parse_args(argv)
    kb = KnowledgeBase.open(load_settings({"ranker": False}))
    rows = collect(kb, TRAIN_SETS)
    fold = folds(rows)
    oof: list[np.ndarray] = [np.zeros(0)] * len(rows)
    for k in range(FOLDS):
        model = fit([r for r, f in zip(rows, fold) if f != k])
        for i, (r, f) in enumerate(zip(rows, fold)):
            if f == k:
                oof[i] = model.predict(r["X"], num_threads=1) if len(r["ids"]) else np.zeros(0)
    fused = [r["X"][:, FEATURES.index("fused")] if len(r["ids"]) else np.zeros(0) for r in rows]
    report = {"fusion": figures(rows, fused), "ranker (out-of-fold)": figures(rows, oof)}
    calibration, curve = calibrate(rows, oof)
    for name, figs in report.items():
        print(name, json.dumps(figs, ensure_ascii=False))
    print("calibration", calibration)
    print("risk-coverage (share answered, precision)", curve)
    if not args.no_save:
        model = fit(rows)
        (Path(str(DATA)) / MODEL_FILE).write_text(model.booster_.model_to_string(), encoding="utf-8")
        meta = {"features": list(FEATURES), "params": PARAMS, "trained_on": list(TRAIN_SETS),
                "questions": len(rows), "date": dt.date.today().isoformat(), "cross_validated": report,
                "calibration": calibration, "risk_coverage": curve}
        (Path(str(DATA)) / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                                 encoding="utf-8")
        print("saved", MODEL_FILE, META_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
