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

The confidence calibration is fitted on the training questions' out-of-fold scores and on the
questions written as bank staff ask them (eval/bank-staff.jsonl), which the ranker never trains on
and which the shipped model scores. `--calibration-only` keeps the shipped model and refits the
calibration alone.
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

from policykb.answer.compose import CONFIDENCE_MIN  # noqa: E402
from policykb.config import load_settings  # noqa: E402
from policykb.evaluation.evaluate import expected_ids, load_questions  # noqa: E402
from policykb.kb import KnowledgeBase  # noqa: E402
from policykb.retrieval.rerank import CALIBRATION_INPUTS, DATA, FEATURES, META_FILE, MODEL_FILE, Candidates, Ranker, evidence_of  # noqa: E402

TRAIN_SETS = ("eval/stard/stard-finance-dev.jsonl", "eval/questions.jsonl")
# Calibration only: colloquial questions over all 22 laws and regulations, as staff type them. Without
# them the confidence knows STARD's public questions and the notice's set, and abstains on most of these.
CALIBRATION_SETS = ("eval/bank-staff.jsonl",)
# The notice's questions are those of the default knowledge base (`make run`): they weigh three times in
# the calibration, so that fitting it to the laws' colloquial questions costs none of them an answer.
CALIBRATION_WEIGHTS = {"questions": 3.0}
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


def _evidence(rows: list[dict], scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each question's calibration inputs, whether its top candidate is right, and its weight."""
    X, y = [], []
    for r, s in zip(rows, scores):
        ev = evidence_of(s, Candidates(r["ids"], r["X"]))
        X.append([ev.get(k, 0.0) for k in CALIBRATION_INPUTS])
        y.append(int(r["answerable"] and len(s) > 0 and bool(r["y"][int(np.lexsort((np.array(r["ids"]), -s))[0])])))
    w = [CALIBRATION_WEIGHTS.get(r["set"], 1.0) for r in rows]
    return np.array(X).reshape(-1, len(CALIBRATION_INPUTS)), np.array(y), np.array(w)


def fit_calibration(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict[str, float]:
    """Fit P(top hit answers) = σ(w·evidence + c), returned in the inputs' own units.

    The inputs are standardised for the fit: regularised on raw units, the cosine (which spans a few
    hundredths) could not weigh anything beside the ranker's score, which spans several units."""
    from sklearn.linear_model import LogisticRegression

    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    lr = LogisticRegression(C=1.0).fit((X - mu) / sd, y, sample_weight=w)
    coef = lr.coef_[0] / sd
    return {**{k: float(c) for k, c in zip(CALIBRATION_INPUTS, coef)},
            "bias": float(lr.intercept_[0] - (coef * mu).sum())}


def probability(X: np.ndarray, calibration: dict[str, float]) -> np.ndarray:
    """Return the calibrated probability for each row of inputs (as rerank.confidence_from does)."""
    z = X @ np.array([calibration[k] for k in CALIBRATION_INPUTS]) + calibration["bias"]
    return 1.0 / (1.0 + np.exp(-z))


def calibrate(rows: list[dict], scores: list[np.ndarray], extra: list[dict], extra_scores: list[np.ndarray]
              ) -> tuple[dict[str, float], list[tuple[float, float]], dict[str, dict[str, int]]]:
    """Fit the calibration on the training questions' out-of-fold scores and the calibration sets.

    Returns the calibration, the risk-coverage curve of the training questions (out-of-fold), and how the
    calibration sets fare when each fifth of them is decided by a calibration fitted without it."""
    X, y, w = _evidence(rows, scores)
    Xe, ye, we = _evidence(extra, extra_scores)
    calibration = fit_calibration(np.vstack([X, Xe]), np.concatenate([y, ye]), np.concatenate([w, we]))
    p = probability(X, calibration)
    curve = []
    for keep in np.linspace(0.1, 1.0, 10):  # risk-coverage: answer the most confident share only
        n = max(1, int(round(keep * len(p))))
        top = np.argsort(-p, kind="stable")[:n]
        curve.append((round(float(keep), 2), round(float(np.mean(y[top])), 3)))
    answered = np.zeros(len(ye), dtype=bool)
    fold = np.arange(len(ye)) % FOLDS
    for k in range(FOLDS):
        rest = fold != k
        cal = fit_calibration(np.vstack([X, Xe[rest]]), np.concatenate([y, ye[rest]]), np.concatenate([w, we[rest]]))
        answered[~rest] = probability(Xe[~rest], cal) >= CONFIDENCE_MIN
    names = np.array([r["set"] for r in extra])
    held = {str(name): {"questions": int((names == name).sum()), "answered": int((answered & (names == name)).sum()),
                   "right": int((answered & (ye == 1) & (names == name)).sum())} for name in dict.fromkeys(names)}
    return calibration, curve, held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-save", action="store_true", help="report the cross-validated figures only")
    parser.add_argument("--calibration-only", action="store_true",
                        help="keep the shipped model; refit and save its confidence calibration only")
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
    if args.calibration_only:
        shipped = Ranker.load()
        if shipped is None:
            parser.error("no shipped ranker to calibrate: run without --calibration-only")
        booster, meta = shipped.booster, shipped.meta
    else:
        booster = fit(rows).booster_
        meta = {"features": list(FEATURES), "params": PARAMS, "trained_on": list(TRAIN_SETS),
                "questions": len(rows), "date": dt.date.today().isoformat(), "cross_validated": report}
    extra = collect(kb, CALIBRATION_SETS)
    extra_scores = [booster.predict(r["X"], num_threads=1) if len(r["ids"]) else np.zeros(0) for r in extra]
    report["shipped model on the calibration sets"] = figures(extra, extra_scores)
    calibration, curve, held = calibrate(rows, oof, extra, extra_scores)
    for name, figs in report.items():
        print(name, json.dumps(figs, ensure_ascii=False))
    print("calibration", calibration)
    print("risk-coverage (share answered, precision)", curve)
    print("calibration sets, each fifth decided by a calibration fitted without it", held)
    if not args.no_save:
        if not args.calibration_only:
            (Path(str(DATA)) / MODEL_FILE).write_text(booster.model_to_string(), encoding="utf-8")
        meta = {**meta, "calibrated_on": list(TRAIN_SETS + CALIBRATION_SETS), "calibration_weights": CALIBRATION_WEIGHTS,
                "calibration_date": dt.date.today().isoformat(), "calibration": calibration, "risk_coverage": curve,
                "calibration_held_out": held}
        (Path(str(DATA)) / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                                 encoding="utf-8")
        print("saved", *([] if args.calibration_only else [MODEL_FILE]), META_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
