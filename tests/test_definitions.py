"""Definition questions (什么是一般保证？) and the clauses that define a term."""
from __future__ import annotations

import numpy as np

from policykb.retrieval.definitions import definition_term, defines, promote_definition

GENERAL = "第六百八十七条 当事人在保证合同中约定，债务人不能履行债务时，由保证人承担保证责任的，为一般保证。"
KINDS = "第六百八十六条 保证的方式包括一般保证和连带责任保证。"


def test_a_definition_question_names_its_term() -> None:
    assert definition_term("什么是一般保证？") == "一般保证"
    assert definition_term("一般保证是什么") == "一般保证"
    assert definition_term("请问“保理合同”是指什么？") == "保理合同"
    assert definition_term("续贷有什么要求？") is None
    assert definition_term("什么是一般保证，它和连带责任保证有什么区别？") is None  # more than a definition


def test_the_shapes_laws_define_terms_in() -> None:
    assert defines(GENERAL, "一般保证")
    assert defines("第七百六十一条 保理合同是应收账款债权人将现有的或者将有的应收账款转让给保理人的合同。", "保理合同")
    assert defines("第二条 本法所称商业银行是指依照本法设立的企业法人。", "商业银行")
    assert not defines(KINDS, "一般保证")  # uses the term, does not define it


def test_a_defining_clause_near_the_top_trades_scores_with_the_top() -> None:
    ids = ("a", "b", "c", "d")
    texts = {"a": KINDS, "b": "第X条 无关。", "c": GENERAL, "d": GENERAL}
    scores = np.array([3.0, 2.0, 1.0, 0.5])
    got = promote_definition(ids, scores, texts, "一般保证")
    assert got.tolist() == [1.0, 2.0, 3.0, 0.5]  # c is on top, the spread is the ranker's
    assert promote_definition(ids, scores, texts, "一般保证", within=2).tolist() == scores.tolist()  # too far down
    texts["a"] = GENERAL
    assert promote_definition(ids, scores, texts, "一般保证").tolist() == scores.tolist()  # the top defines it
    assert promote_definition((), np.zeros(0), {}, "一般保证").size == 0
