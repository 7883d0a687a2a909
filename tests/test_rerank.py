"""The learned ranker, its confidence, and English questions translated through the dictionary."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from policykb.retrieval.bilingual import english_words, reverse_dictionary, translate
from policykb.kb import KnowledgeBase
from policykb.retrieval.rerank import FEATURES, Ranker, confidence_from, document_kind


def test_the_packaged_ranker_loads_and_matches_the_features() -> None:
    ranker = Ranker.load()
    assert ranker is not None, "policykb/data/ranker.txt is missing or stale: run eval/train_ranker.py"
    assert tuple(ranker.meta["features"]) == FEATURES
    assert ranker.booster.num_feature() == len(FEATURES)
    # The model holds weights over generic features only: no question text, no section ids.
    text = (ranker.meta["trained_on"], ranker.booster.model_to_string())
    assert "#第" not in text[1] and "？" not in text[1]


def test_a_stale_ranker_is_refused() -> None:
    ranker = Ranker.load()
    with pytest.raises(ValueError, match="other features"):
        Ranker(ranker.booster.model_to_string(), {**ranker.meta, "features": list(FEATURES[:-1])})


def test_confidence_is_a_probability_that_grows_with_the_margin() -> None:
    cal = {"top": 1.0, "margin": 1.0, "coverage": 1.0, "dense": 1.0, "bias": -2.0}
    low = confidence_from({"top": 0.5, "margin": 0.1, "coverage": 0.2, "dense": 0.8}, cal)
    high = confidence_from({"top": 3.0, "margin": 2.6, "coverage": 0.2, "dense": 0.8}, cal)
    assert 0.0 < low < high < 1.0
    assert confidence_from({}, cal) == 0.0


def test_document_kinds() -> None:
    assert document_kind("中华人民共和国民法典") != document_kind("最高人民法院关于审理民间借贷案件适用法律若干问题的规定")
    assert document_kind("存款保险条例") != document_kind("中华人民共和国商业银行法")


def test_hybrid_search_is_ordered_by_the_ranker_and_carries_a_confidence(kb: KnowledgeBase) -> None:
    result = kb.search("续贷有什么要求？", k=5)
    assert result.confidence is not None and 0.0 <= result.confidence <= 1.0
    assert all("ranker" in h.scores for h in result.hits)
    scores = [h.scores["ranker"] for h in result.hits]
    assert scores == sorted(scores, reverse=True)
    answer = kb.ask("续贷有什么要求？")
    assert answer.confidence == result.confidence and not answer.abstained
    cands = kb.candidates("续贷有什么要求？")
    assert cands.features.shape == (len(cands.ids), len(FEATURES))
    assert set(h.section_id for h in result.hits) <= set(cands.ids)


def test_without_the_ranker_hybrid_fuses_and_has_no_confidence(kb: KnowledgeBase) -> None:
    plain = dataclasses.replace(kb.settings, ranker=False)
    other = KnowledgeBase(plain, kb.index, kb.embedder)
    result = other.search("续贷有什么要求？")
    assert other.ranker is None and result.confidence is None
    assert all("ranker" not in h.scores for h in result.hits)
    assert other.ask("续贷有什么要求？").citations[0].section_no == kb.ask("续贷有什么要求？").citations[0].section_no


def test_an_out_of_scope_question_abstains_with_low_confidence(kb: KnowledgeBase) -> None:
    # Answered from the one word 申请 before the ranker's confidence decided.
    answer = kb.ask("如何申请信用卡？")
    assert answer.abstained and answer.confidence is not None and answer.confidence < 0.5
    # Only 开户 matches (the glossary no longer adds the notice's 新市民 to it); 股票 and 材料 are nowhere.
    answer = kb.ask("股票开户需要什么材料？")
    assert answer.abstained and answer.confidence is not None and answer.confidence < 0.5


def test_english_words_map_to_the_corpus_own_words() -> None:
    vocabulary = {"保证", "担保", "抵押", "借款", "利息", "保险", "账户"}
    idf = {w: 1.0 for w in vocabulary}
    got = translate("Is a guarantee needed? What about collateral and interest?", vocabulary, idf)
    assert "抵押" in got["collateral"] and "利息" in got["interest"] and "保证" in got["guarantee"]
    assert got["collateral"] == ["抵押"] and translate("collateral", vocabulary, idf, full_only=True) == {
        "collateral": []}  # "to put up collateral" is a loose translation, not the whole gloss
    assert english_words("The borrowers' loans") == ["borrower", "loan", "borrower loan"]
    assert translate("无英文", vocabulary, idf) == {}
    # Only words of the vocabulary are ever returned.
    assert all(w in vocabulary for words in reverse_dictionary(vocabulary).values() for _, w in words)


def test_a_phrase_that_translates_as_a_whole_stands_for_its_words() -> None:
    # "business environment" is a glossary term (营商环境): business alone (行业, 业务) is another sense.
    vocabulary = {"营商环境", "环境", "行业", "业务", "企业", "贷款"}
    idf = {w: 1.0 for w in vocabulary}
    got = translate("How to improve the business environment?", vocabulary, idf)
    assert "business" not in got and "environment" not in got
    alone = translate("What business may a bank do?", vocabulary, idf)
    assert alone.get("business") and set(alone["business"]) <= vocabulary


def test_each_english_word_of_a_question_is_one_entry_with_its_translations() -> None:
    """The typed word (loans) and its dictionary form (loan), or a phrase's words and the phrase,
    are one word of the question: a section that holds 利率 covers both "interest" and "rate"."""
    from policykb.retrieval.bilingual import with_translations
    from policykb.tokenize import word_expansions
    question = "Does the notice say anything about the interest rate on loans?"
    groups = with_translations(word_expansions(question), {"interest rate": ["利率"], "loan": ["贷款"]},
                               english_only=True)
    assert groups == {"interest": {"利率"}, "rate": {"利率"}, "loans": {"贷款"}}  # not "anything"
    # A token that carries a full stop is still the word it spells; a hyphenated word is a word of its own.
    assert with_translations({"loans.": set(), "anti-money": set()}, {"loan": ["贷款"], "money": ["货币"]},
                             english_only=True) == {"loans.": {"贷款"}, "anti-money": set(), "money": {"货币"}}
    # Without english_only, every token stays (a Chinese question's words are judged by IDF weight).
    assert "anything" in with_translations(word_expansions(question), {})


def _train_ranker():
    """Import eval/train_ranker.py (eval/ is a folder of scripts, not a package)."""
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("train_ranker", ROOT / "eval" / "train_ranker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_calibration_is_fitted_on_standardised_inputs_and_saved_in_their_units() -> None:
    tr = _train_ranker()
    rng = np.random.default_rng(0)
    n = 400
    # The cosine spans hundredths, the ranker's score units: only the cosine tells right from wrong here.
    X = np.column_stack([rng.normal(0, 2, n), rng.normal(0, 1, n), rng.uniform(0, 1, n), rng.uniform(0.80, 0.95, n)])
    y = (X[:, 3] + rng.normal(0, 0.01, n) > 0.875).astype(int)
    cal = tr.fit_calibration(X, y, np.ones(n))
    assert set(cal) == {"top", "margin", "coverage", "dense", "bias"}
    p = np.array([confidence_from(dict(zip(("top", "margin", "coverage", "dense"), row)), cal) for row in X])
    assert np.allclose(p, tr.probability(X, cal))  # the runtime reads the saved units as the fit meant them
    assert ((p >= 0.5) == y).mean() > 0.9 and abs(cal["dense"]) > 10 * max(abs(cal["top"]), abs(cal["margin"]))
    # A weight moves the fit toward the weighted questions.
    heavy = tr.fit_calibration(X, y, np.where(y == 1, 5.0, 1.0))
    assert (tr.probability(X, heavy) >= 0.5).sum() > (p >= 0.5).sum()
