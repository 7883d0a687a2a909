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
