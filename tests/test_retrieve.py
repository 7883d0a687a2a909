"""Fusion maths and rankings (pure functions), plus keyword ranking over a real bm25s index."""
from __future__ import annotations

import bm25s
import numpy as np
import pytest

from policykb.retrieval.retrieve import dense_ranking, fuse, keyword_ranking, matched_terms, single


def test_empty_ranking_does_not_change_the_order():
    dense = [("a", 0.91), ("b", 0.90), ("c", 0.80)]
    fused = fuse({"keyword": [], "dense": dense})
    assert [h.section_id for h in fused] == ["a", "b", "c"]
    assert all("keyword" not in h.ranks for h in fused)


def test_agreement_beats_a_single_retriever():
    fused = fuse({"keyword": [("a", 9.0), ("c", 8.0), ("x", 1.0)],
                  "dense": [("b", 0.90), ("c", 0.89), ("y", 0.5)]})
    assert fused[0].section_id == "c"
    assert fused[0].ranks == {"keyword": 2, "dense": 2}
    assert fused[0].scores == {"keyword": 8.0, "dense": 0.89}


def test_weights_shift_the_winner():
    rankings = {"keyword": [("k", 5.0), ("d", 1.0)], "dense": [("d", 0.9), ("k", 0.5)]}
    assert fuse(rankings, {"keyword": 3.0, "dense": 1.0})[0].section_id == "k"
    assert fuse(rankings, {"keyword": 1.0, "dense": 3.0})[0].section_id == "d"


def test_limit_and_ties_are_deterministic():
    fused = fuse({"dense": [("x", 0.5), ("y", 0.5), ("z", 0.5)]}, limit=2)
    assert len(fused) == 2
    assert fused == fuse({"dense": [("x", 0.5), ("y", 0.5), ("z", 0.5)]}, limit=2)


@pytest.mark.parametrize("sections,spans,expected", [
    ([("d#一", 0.80), ("d#二", 0.85)], [], ["d#二", "d#一"]),
    ([("d#一", 0.80), ("d#二", 0.85)], [("d#一:3", 0.95)], ["d#一", "d#二"]),
    ([], [("d#三:0", 0.7), ("d#三:1", 0.9), ("d#四:2", 0.8)], ["d#三", "d#四"]),
])
def test_dense_ranking_takes_the_best_of_section_and_sentences(sections, spans, expected):
    assert [sid for sid, _ in dense_ranking(sections, spans, 10)] == expected


def test_keyword_ranking_leaves_out_sections_with_no_match():
    model = bm25s.BM25()
    model.index([["续贷", "无缝续贷"], ["绿色", "融资"], ["纾困", "融资"]], show_progress=False)
    ids = ["d#二", "d#六", "d#三"]
    assert [sid for sid, _ in keyword_ranking(model, ids, ["融资"], 10)] in (["d#六", "d#三"], ["d#三", "d#六"])
    assert keyword_ranking(model, ids, ["mortgage"], 10) == []
    assert keyword_ranking(model, ids, [], 10) == []
    assert keyword_ranking(model, ids, ["续贷"], 10)[0][0] == "d#二"


def test_keyword_ranking_stays_inside_the_allowed_sections_when_they_are_fewer_than_k():
    model = bm25s.BM25()
    model.index([["续贷", "无缝续贷"], ["绿色", "融资"], ["纾困", "融资"]], show_progress=False)
    ids = ["d#二", "d#六", "d#三"]
    allowed = np.array([False, True, False])
    # k exceeds the allowed sections: the others (which match 续贷 or 融资) must not fill the list.
    assert [sid for sid, _ in keyword_ranking(model, ids, ["融资", "续贷"], 10, allowed)] == ["d#六"]


def test_single_and_matched_terms():
    hits = single("keyword", [("a", 2.0), ("b", 1.0)])
    assert [(h.section_id, h.ranks) for h in hits] == [("a", {"keyword": 1}), ("b", {"keyword": 2})]
    assert matched_terms(["续贷", "绿色"], ["无缝续贷", "续贷"]) == ["续贷"]
