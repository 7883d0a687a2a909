"""The jieba tokenizer with the policy user dictionary, and glossary expansion."""
from __future__ import annotations

import pytest

from policykb.tokenize import dictionary_hash, expand_query, glossary_terms, tokenize


@pytest.mark.parametrize("text,term", [
    ("续贷有什么要求", "续贷"),
    ("进一步提升无还本续贷业务占比", "无还本续贷"),
    ("构建纾困融资长效机制", "纾困融资"),
    ("加强知识产权质押融资产品创新", "知识产权质押融资"),
    ("研究扩大沪惠保覆盖面", "沪惠保"),
    ("积极鼓励引导企业单位投保安责险", "安责险"),
    ("重点支持专精特新小巨人", "专精特新"),
    ("加大小微企业首贷投放力度", "首贷"),
    ("力争2023年绿色融资余额突破1.2万亿元", "绿色融资"),
])
def test_policy_terms_stay_whole(text, term):
    assert term in tokenize(text)


def test_search_mode_also_yields_sub_terms():
    tokens = tokenize("无还本续贷")
    assert "无还本续贷" in tokens and "续贷" in tokens


@pytest.mark.parametrize("question", ["续贷有什么要求？", "请问哪一条规定了续贷？"])
def test_question_words_and_punctuation_are_dropped(question):
    assert tokenize(question) == ["续贷"]


def test_english_is_lower_cased_and_stopwords_removed():
    assert tokenize("What are the Green Finance targets?") == ["green", "finance", "targets"]


@pytest.mark.parametrize("question,expected", [
    ("IP pledge financing target", "知识产权质押"),
    ("green finance targets", "绿色融资"),
    ("what does the notice say about bankrupt companies getting credit", "破产重整"),
    ("续贷 requirements", "续贷"),
    ("企业贷款到期还不上怎么办", "无还本续贷"),
])
def test_glossary_expands_english_and_colloquial_questions(question, expected):
    assert expected in expand_query(question)


def test_glossary_matches_whole_english_words_only():
    assert "知识产权" not in glossary_terms("the shipment was delayed")  # "ip" inside "shipment"
    assert "知识产权" in glossary_terms("IP loans")


def test_dictionary_hash_is_stable():
    assert dictionary_hash() == dictionary_hash()
    assert len(dictionary_hash()) == 16


def test_english_glossary_terms_match_in_the_plural() -> None:
    from policykb.tokenize import glossary_terms, word_expansions
    assert glossary_terms("first loans") == glossary_terms("first loan") != []
    assert word_expansions("What about first loans?")["loans"]
    assert glossary_terms("first loaned") == []  # a whole word, not any continuation



def test_a_word_and_its_glossary_terms_are_one_word_of_the_question() -> None:
    from policykb.answer.compose import coverage
    from policykb.tokenize import term_groups
    assert term_groups("外地人去办卡，要收钱吗？") == {"外地": {"新市", "市民", "新市民"}, "外地人": {"新市", "市民", "新市民"},
                                                  "办卡": {"开户"}, "收钱": set()}
    assert term_groups("外地人去办卡要收钱吗")["办卡"] == {"开户"}  # jieba cuts 办卡要: the glossary term stands alone
    assert term_groups("股票开户需要什么材料？") == {"股票": set(), "开户": set(), "材料": set()}  # 开户 adds no 新市民
    idf = {"外地人": 2.0, "办卡": 1.0, "收钱": 1.0, "新市民": 5.0, "开户": 1.0}
    words = {"外地人": {"新市民"}, "办卡": {"开户"}, "收钱": set()}
    # 新市民 counts once, as much as 外地人 weighs, however rare it is itself.
    assert coverage(words, {"新市民", "开户"}, idf) == 3 / 4
    assert coverage({"股票": set(), "开户": set(), "材料": set()}, {"开户"}, idf) == 1 / 11  # unseen words weigh 5
    assert coverage({}, {"开户"}, idf) == 0.0


def test_an_english_possessive_is_not_a_word() -> None:
    from policykb.tokenize import tokenize
    assert tokenize("Shanghai's business environment") == ["shanghai", "business", "environment"]
    assert tokenize("the borrower’s loans") == ["borrower", "loans"]
