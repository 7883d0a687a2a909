"""Scorer for question sets: every mode side by side with two baselines, a report and a chart."""
from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path
from typing import Any, Callable

from policykb.config import MODES, Settings
from policykb.errors import CorpusError
from policykb.kb import KnowledgeBase

QUESTION_KEYS = {"question", "expect", "must", "tags", "doc_id", "gold", "id", "bank"}


def load_questions(path: str | Path) -> list[dict]:
    """Read a JSON Lines question set and check its schema.

    Two schemas: the notice sets ({"question", "expect": ["二"], "must", "tags", "doc_id"}) and
    multi-document gold ({"question", "gold": [{"title", "article"}], "bank"}) as in eval/stard/,
    whose gold becomes expect entries "title#第X条" resolved against the knowledge base when scored.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"question set {path} does not exist")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError as exc:
            raise CorpusError(f"{path}:{n} is not JSON: {exc}") from exc
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
    from policykb.corpus import normalize_title
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
    }


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
                     "quotes_ok": quotes_ok})
    metrics = {**_rank_metrics(rows), **_answer_metrics(rows),
               "latency_p50_ms": round(_percentile(latencies, 50), 2),
               "latency_p95_ms": round(_percentile(latencies, 95), 2)}
    return {"metrics": metrics, "by_tag": _by_tag(rows), "rows": rows}


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
    index = VectorStoreIndex.from_documents(docs, embed_model=kb.embedder)
    retriever = index.as_retriever(similarity_top_k=10)
    return lambda q: list(dict.fromkeys(n.node.metadata["section_id"] for n in retriever.retrieve(q)))


def baseline_rank_bm25(kb: KnowledgeBase) -> Callable[[str], list[str]]:
    """Baseline (b): rank-bm25 (Okapi) over plain jieba tokens, default dictionary."""
    import jieba
    from rank_bm25 import BM25Okapi

    secs = list(kb.sections.values())
    bm25 = BM25Okapi([jieba.lcut(s.text) for s in secs])

    def rank(q: str) -> list[str]:
        scores = bm25.get_scores(jieba.lcut(q))
        order = sorted(range(len(secs)), key=lambda i: -scores[i])[:10]
        return [secs[i].id for i in order]
    return rank


def run_eval(settings: Settings, path: str | Path, modes: tuple[str, ...] = MODES,
             baselines: bool = True) -> dict[str, Any]:
    """Score every mode (and the baselines) on a question set; return the report object."""
    questions = load_questions(path)
    kb = KnowledgeBase.open(settings)
    report: dict[str, Any] = {"n": len(questions), "file": str(path), "modes": {}, "baselines": {},
                              "by_tag": {}, "machine": machine()}
    failures: dict[str, list] = {}
    for mode in modes:
        scored = score_mode(kb, questions, mode)
        report["modes"][mode] = scored["metrics"]
        report["by_tag"][mode] = scored["by_tag"]
        failures[mode] = [r for r in scored["rows"] if (r["expect"] and (not r["ranked"] or r["ranked"][0]
                          not in r["expect"])) or (r["abstained"] != (not r["expect"]))]
    if baselines and kb.dense_available:
        for name, factory in (("llamaindex_vector", baseline_llamaindex), ("rank_bm25_jieba", baseline_rank_bm25)):
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
COLUMNS = ("hit@1", "hit@3", "recall@5", "any@5", "mrr", "ndcg@10", "abstain_precision", "abstain_recall", "false_abstention",
           "figure_accuracy", "citation_validity", "latency_p50_ms", "latency_p95_ms")


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
            cells.append(f"{m['hit@1']:.2f}" if "hit@1" in m else
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
        "Baselines rank sections only (no abstention, no quotes). hit@k and MRR count in-scope questions; "
        "abstention metrics count all.", "",
        "![modes](modes.png)", "",
        "## hit@1 per tag (abstention rate for out_of_scope)", "", *tag_lines, "",
        "## Misses", "", *(fail_lines or ["none"]), ""])
    path = out / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


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
