"""The scorer: both question schemas, and the ranking metrics on hand-checked rows."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from policykb.errors import CorpusError
from policykb.evaluation.evaluate import _rank_metrics, load_questions, trained_on
from tests.conftest import ROOT


def test_multi_document_gold_is_read_as_title_and_article(tmp_path: Path) -> None:
    questions = load_questions(ROOT / "eval" / "stard" / "stard-finance-dev.jsonl")
    assert len(questions) == 444 and sum("bank" in q["tags"] for q in questions) == 111
    first = questions[0]
    assert first["expect"] == ["中华人民共和国民法典#第五十六条"] and first["must"] == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "x", "gold": [{"title": "t"}]}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CorpusError, match="title and article"):
        load_questions(bad)


@pytest.mark.parametrize("ranked, expect, want", [
    (["a", "b", "c"], ["a"], {"hit@1": 1.0, "hit@3": 1.0, "recall@5": 1.0, "any@5": 1.0, "mrr": 1.0, "ndcg@10": 1.0}),
    (["x", "a", "y", "b"], ["a", "b"], {"hit@1": 0.0, "hit@3": 1.0, "recall@5": 1.0, "any@5": 1.0, "mrr": 0.5,
                                         "ndcg@10": round((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)), 4)}),
    (["x", "y", "z", "w", "v", "a"], ["a", "b"], {"hit@1": 0.0, "hit@3": 0.0, "recall@5": 0.0, "any@5": 0.0,
                                                   "mrr": round(1 / 6, 4),
                                                   "ndcg@10": round((1 / math.log2(7)) / (1 + 1 / math.log2(3)), 4)}),
])
def test_rank_metrics(ranked: list[str], expect: list[str], want: dict) -> None:
    assert _rank_metrics([{"ranked": ranked, "expect": expect}]) == want


def test_a_set_is_known_as_trained_on_wherever_the_project_lives(tmp_path: Path, monkeypatch) -> None:
    sets = ("eval/stard/stard-finance-dev.jsonl", "eval/questions.jsonl")
    assert trained_on(ROOT / "eval" / "questions.jsonl", sets)
    copy = tmp_path / "clone" / "eval" / "questions.jsonl"
    copy.parent.mkdir(parents=True)
    copy.write_text("", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "clone")
    assert trained_on(copy, sets) and trained_on("eval/questions.jsonl", sets)
    assert not trained_on(ROOT / "eval" / "heldout.jsonl", sets)
    assert not trained_on(tmp_path / "myquestions.jsonl", sets)  # a name that merely ends alike


def test_eval_writes_a_report_with_baselines_bank_figures_and_risk_coverage(built_settings, tmp_path: Path) -> None:
    """`policykb eval` end to end on the notice: every mode and baseline, per-tag hit@1 / any@5, bank risk-coverage."""
    from policykb.evaluation.evaluate import run_eval, write_report

    title = "上海银保监局关于进一步完善金融服务 优化上海营商环境和支持经济高质量发展的通知"
    rows = [{"question": "无还本续贷有什么要求？", "gold": [{"title": title, "article": "二"}], "bank": True},
            {"question": "绿色融资余额的目标是多少？", "gold": [{"title": title, "article": "六"}], "bank": True},
            {"question": "上海保险码是什么？", "gold": [{"title": title, "article": "十"}], "bank": False},
            {"question": "今天的LPR是多少？", "expect": []}]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    report = run_eval(built_settings, path)
    text = write_report(report, tmp_path / "out").read_text(encoding="utf-8")
    for system in ("| hybrid |", "| keyword |", "| dense |", "| baseline: llamaindex_vector |",
                   "| baseline: rank_bm25_jieba |", "| baseline: dense_articles |", "| baseline: rrf_bm25_dense |"):
        assert system in text, system
    assert report["by_tag"]["hybrid"]["bank"]["n"] == 2
    bank = report["by_tag"]["hybrid"]["bank"]
    assert f"{bank['hit@1']:.2f} / {bank['any@5']:.2f}" in text
    assert "| hybrid, bank |" in text and (tmp_path / "out" / "risk_coverage.png").exists()
    assert report["modes"]["hybrid"]["abstain_recall"] == 1.0  # the LPR question is not covered
