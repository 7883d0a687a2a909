"""Quiz and study cards over the real notice and two real laws: item quality over many seeds, determinism, CLI."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from policykb.config import Settings
from policykb.ingest.corpus import load_documents
from policykb.errors import NotFoundError, PolicyKBError, QuizError
from policykb.ingest.formats import read_any
from policykb.ingest.parse import Document, Section, parse_text
from policykb.evaluation.quiz import (BLANK, FALSE, KINDS, MAX_ITEMS, TRUE, TRUE_FALSE_PREFIX, QuizItem,
                           check_answer, generate_quiz, study_cards)
from policykb.evaluation.quizgen import PLAUSIBLE, Clause, key_terms
from policykb.tokenize import _stopwords

from tests.conftest import CORPUS, NOTICE_ID, ROOT

SEEDS = range(50)
ITEM_KEYS = {"kind", "question", "answer", "section_no", "cite", "explanation", "doc_id"}
LAW_PACK = ROOT / "packs" / "finance-laws"
# Two laws read straight from the pack, no index: one with chapters, one without.
LAWS = {"shangyeyinhangfa": "商业银行法.md", "guowuyuanling-660": "存款保险条例.md"}
CN_DIGITS = "一二三四五六七八九十"
ARTICLE_NO = r"第[零一二三四五六七八九十百千]+条"


def _load_laws() -> list[Document]:
    return [parse_text(read_any(LAW_PACK / name), doc_id) for doc_id, name in LAWS.items()]


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    return load_documents(CORPUS)


@pytest.fixture(scope="module")
def laws() -> list[Document]:
    return _load_laws()


@pytest.fixture(scope="module", params=["notice", "laws"])
def doc_set(request: pytest.FixtureRequest) -> list[Document]:
    """The documents the property tests run over: the notice from corpus/, then the two laws."""
    return load_documents(CORPUS) if request.param == "notice" else _load_laws()


@pytest.fixture(scope="module")
def quizzes(doc_set: list[Document]) -> list[list[QuizItem]]:
    """Fifty quizzes of 40 items, one per seed."""
    return [list(generate_quiz(doc_set, n=40, seed=seed).items) for seed in SEEDS]


@pytest.fixture(scope="module")
def all_items(quizzes: list[list[QuizItem]]) -> list[QuizItem]:
    return [item for quiz in quizzes for item in quiz]


def _section(docs: list[Document], item: QuizItem) -> Section:
    doc = next(d for d in docs if d.doc_id == item.doc_id)
    sec = doc.section(item.section_no)
    assert sec is not None, item
    return sec


def _corpus_text(docs: list[Document]) -> list[str]:
    return [s.text for d in docs for s in d.sections]


def test_every_kind_appears_over_the_seeds(all_items: list[QuizItem]) -> None:
    assert {item.kind for item in all_items} == set(KINDS)


def _expected_cites(doc: Document, sec: Section, clause: str) -> set[str]:
    """Return the citations a clause may carry: document, 文号, section, 款 where there are several, item."""
    head = f"《{doc.title}》" + (f"（{doc.doc_number}）" if doc.doc_number else "")
    where = {"preamble": "前言部分", "closing": "结束语部分"}.get(sec.section_no, f"第{sec.section_no}条")
    if sec.kind == "article":
        where = sec.section_no
    cites = set()
    for span in sec.spans:
        if span.text == clause:
            paragraph = f"第{CN_DIGITS[span.paragraph - 1]}款" if sec.paragraphs > 1 else ""
            cites.add(head + where + paragraph + span.item)
    return cites


def test_explanation_is_a_clause_of_the_cited_section(doc_set: list[Document],
                                                     all_items: list[QuizItem]) -> None:
    for item in all_items:
        sec = _section(doc_set, item)
        doc = next(d for d in doc_set if d.doc_id == item.doc_id)
        assert item.explanation in [span.text for span in sec.spans], item
        assert item.explanation in sec.text
        assert item.cite in _expected_cites(doc, sec, item.explanation), item
    if doc_set[0].doc_id == NOTICE_ID:
        assert all(i.cite.startswith(f"《{doc_set[0].title}》（沪银保监发〔2023〕24号）") for i in all_items)
    else:  # an article of several paragraphs is cited to the one the clause is in
        assert any(re.search(rf"{ARTICLE_NO}第[一二三四]款", i.cite) for i in all_items)


@pytest.mark.parametrize("doc_id, section_no, sentence, cite", [
    ("shangyeyinhangfa", "第四条", 1, "《中华人民共和国商业银行法》第四条第二款"),
    ("shangyeyinhangfa", "第四条", 2, "《中华人民共和国商业银行法》第四条第三款"),
    ("shangyeyinhangfa", "第一条", 0, "《中华人民共和国商业银行法》第一条"),
    ("shangyeyinhangfa", "第三条", 1, "《中华人民共和国商业银行法》第三条第一款（一）"),
    ("guowuyuanling-660", "第二条", 2, "《存款保险条例》（国务院令第660号）第二条第二款"),
    ("guowuyuanling-660", "第二十一条", 2, "《存款保险条例》（国务院令第660号）第二十一条第一款（一）"),
])
def test_clause_cite_names_the_paragraph_of_an_article(laws: list[Document], doc_id: str, section_no: str,
                                                       sentence: int, cite: str) -> None:
    doc = next(d for d in laws if d.doc_id == doc_id)
    assert Clause(doc, doc.section(section_no), sentence).cite == cite


def test_blank_and_choice_answers_are_verbatim_and_unambiguous(doc_set: list[Document],
                                                               all_items: list[QuizItem]) -> None:
    for item in all_items:
        if item.kind not in ("blank", "choice"):
            continue
        assert item.question.count(BLANK) == 1, item
        assert item.answer in _section(doc_set, item).text
        filled = item.question.replace(BLANK, item.answer)
        assert filled == item.explanation, item
        # The answer is printed once in the clause, so the blank has one place to go.
        assert item.explanation.count(item.answer) == 1, item


def test_no_blank_is_trivial(all_items: list[QuizItem]) -> None:
    stop = _stopwords()
    for item in all_items:
        if item.kind not in ("blank", "choice"):
            continue
        answer = item.answer
        assert answer.strip() == answer and answer, item
        assert re.search(r"[\u4e00-\u9fff0-9]", answer), item  # not punctuation
        assert answer not in stop, item
        assert len(answer) >= 2 or answer.isdigit(), item  # a single character only as a number


def test_choices_have_exactly_one_correct_option(doc_set: list[Document], all_items: list[QuizItem]) -> None:
    texts = _corpus_text(doc_set)
    for item in all_items:
        if item.kind != "choice":
            continue
        assert len(item.choices) == 4 and len(set(item.choices)) == 4, item
        correct = [c for c in item.choices if any(item.question.replace(BLANK, c) in t for t in texts)]
        assert correct == [item.answer], item


def _article_by_label(doc: Document, label: str) -> Section:
    """Return the article a 哪一条 choice names: 第三条（第一章 总则） or 第三条."""
    m = re.fullmatch(rf"({ARTICLE_NO})(?:（(.+)）)?", label)
    assert m, label
    sec = doc.section(m.group(1))
    assert sec is not None and sec.kind == "article", label
    assert m.group(2) == (sec.path[-1] if sec.path else None), label  # the chapter is the article's own
    return sec


def test_which_item_has_one_section_containing_the_phrase(doc_set: list[Document],
                                                          all_items: list[QuizItem]) -> None:
    asked = 0
    for item in all_items:
        if item.kind != "which_measure":
            continue
        doc = next(d for d in doc_set if d.doc_id == item.doc_id)
        sec = _section(doc_set, item)
        if sec.kind == "measure":
            by_title = {s.title: s for s in doc.sections if s.kind == "measure"}
            phrase = re.fullmatch(r"哪一条措施提到[“《](.+)[”》]？", item.question).group(1)
            named = [by_title[title] for title in item.choices]
            assert item.answer == sec.title and item.answer in sec.text
        else:
            phrase = re.fullmatch(rf"《{re.escape(doc.title)}》哪一条提到[“《](.+)[”》]？", item.question).group(1)
            named = [_article_by_label(doc, label) for label in item.choices]
            assert _article_by_label(doc, item.answer) == sec
        assert phrase in item.explanation
        assert len({s.section_no for s in named}) == len(item.choices) == 4, item
        assert [s for s in named if phrase in s.text] == [sec], item
        # Printed nowhere else in the document, so no other section could be meant.
        assert [s.section_no for s in doc.sections if phrase in s.text] == [sec.section_no], item
        assert not any(phrase in choice for choice in item.choices), item  # a choice would give it away
        asked += 1
    assert asked > 10


def _replaced(clause: str, statement: str, candidates: list[str]) -> str | None:
    """Return the candidate whose one occurrence in clause was replaced by something else in statement."""
    for word in candidates:
        start = clause.find(word)
        while start >= 0:
            prefix, suffix = clause[:start], clause[start + len(word):]
            middle = statement[len(prefix):len(statement) - len(suffix)]
            if (statement.startswith(prefix) and statement.endswith(suffix)
                    and len(statement) > len(prefix) + len(suffix) and middle != word):
                return word
            start = clause.find(word, start + 1)
    return None


def test_true_false_statements(doc_set: list[Document], all_items: list[QuizItem]) -> None:
    texts = _corpus_text(doc_set)
    seen = {TRUE: 0, FALSE: 0}
    changed = set()
    for item in all_items:
        if item.kind != "true_false":
            continue
        assert item.question.startswith(TRUE_FALSE_PREFIX)
        statement = item.question[len(TRUE_FALSE_PREFIX):]
        seen[item.answer] += 1
        if item.answer == TRUE:
            assert statement == item.explanation
            continue
        assert item.answer == FALSE
        assert not any(statement in t for t in texts), statement
        # One place changed, and it is a figure, a year, a policy term or a cited plan of the clause.
        sec = _section(doc_set, item)
        figures = [f.text for f in sec.figures] + re.findall(r"\d{4}", item.explanation)
        words = key_terms(item.explanation) + list(sec.references)
        if _replaced(item.explanation, statement, figures):
            changed.add("figure")
        else:
            assert _replaced(item.explanation, statement, words), item
            changed.add("term")
    assert seen[TRUE] > 10 and seen[FALSE] > 10
    assert changed == {"figure", "term"}


PARALLEL_NOTICE = """测试通知
测试发〔2023〕1号
各机构：
为做好金融服务，现通知如下。
一、加大绿色金融支持。推进普惠金融发展，力争2023年普惠贷款余额突破100亿元。
二、加大科技金融支持。推进供应链金融发展，力争2023年首贷余额突破200亿元。
三、加大消费金融支持。推进数字金融发展，力争2023年信用贷余额突破300亿元。
四、加大纾困融资支持。推进碳金融发展，力争2023年续贷余额突破400亿元。
测试局
2023年3月1日
"""


def test_options_that_make_another_printed_sentence_are_left_out() -> None:
    # 加大____支持 is printed four times with four terms: no option may be one of the other three,
    # and no false statement may be another measure's sentence.
    doc = parse_text(PARALLEL_NOTICE, "parallel")
    texts = [sec.text for sec in doc.sections]
    asked = 0
    for seed in range(30):
        for item in generate_quiz([doc], n=MAX_ITEMS, seed=seed).items:
            if item.kind == "choice":
                correct = [c for c in item.choices if any(item.question.replace(BLANK, c) in t for t in texts)]
                assert correct == [item.answer], item
                asked += item.question == "加大____支持。"
            if item.kind == "true_false" and item.answer == FALSE:
                assert not any(item.question[len(TRUE_FALSE_PREFIX):] in t for t in texts), item
    assert asked > 0


def test_same_seed_same_quiz_other_seed_other_quiz(doc_set: list[Document],
                                                   quizzes: list[list[QuizItem]]) -> None:
    assert generate_quiz(doc_set, n=40, seed=3).items == tuple(quizzes[3])
    assert len({tuple(q) for q in quizzes}) == len(quizzes)


def test_items_in_a_quiz_are_distinct(quizzes: list[list[QuizItem]]) -> None:
    for quiz in quizzes:
        assert len(quiz) == 40
        assert len({(i.kind, i.question) for i in quiz}) == len(quiz)


def test_small_quiz_mixes_kinds_and_asks_about_figures(doc_set: list[Document]) -> None:
    for seed in range(10):
        items = generate_quiz(doc_set, n=10, seed=seed).items
        assert len({i.kind for i in items}) == 4
        assert any(re.search(r"\d", i.answer) for i in items if i.kind in ("blank", "choice")) or \
            any(re.search(r"\d", i.question) for i in items if i.kind == "which_measure"), seed


def test_section_and_doc_filters(docs: list[Document]) -> None:
    quiz = generate_quiz(docs, n=8, seed=1, section="二")
    assert {i.section_no for i in quiz.items} == {"二"}
    assert generate_quiz(docs, n=8, seed=1, section="第二条").items == quiz.items
    assert {i.doc_id for i in generate_quiz(docs, n=5, seed=1, doc_id=NOTICE_ID).items} == {NOTICE_ID}


@pytest.mark.parametrize("kwargs, error, words", [
    ({"n": 0}, QuizError, ["至少为 1", "--n 10"]),
    ({"n": -3}, QuizError, ["至少为 1"]),
    ({"section": "十四"}, NotFoundError, ["十四", "可用编号", "十三", "--section 二"]),
    ({"doc_id": "no-such-doc"}, NotFoundError, ["no-such-doc", NOTICE_ID, "policykb docs"]),
])
def test_bad_requests_raise_with_the_fix(docs: list[Document], kwargs: dict, error: type,
                                         words: list[str]) -> None:
    with pytest.raises(error) as info:
        generate_quiz(docs, **kwargs)
    assert isinstance(info.value, PolicyKBError)
    for word in words:
        assert word in str(info.value)


def test_cap_and_small_pool_notices(docs: list[Document]) -> None:
    big = generate_quiz(docs, n=10000, seed=2)
    assert len(big.items) == MAX_ITEMS
    assert any(str(MAX_ITEMS) in n and "上限" in n for n in big.notices)
    small = generate_quiz(docs, n=150, seed=2, section="二")
    assert 0 < len(small.items) < 150
    assert any("只有" in n for n in small.notices)
    assert generate_quiz(docs, n=10, seed=2).notices == ()


def test_to_dict_has_choices_only_when_there_are_choices(all_items: list[QuizItem]) -> None:
    for item in all_items[:200]:
        d = item.to_dict()
        assert ITEM_KEYS <= set(d)
        assert ("choices" in d) == (item.kind in ("choice", "which_measure"))
        json.dumps(d, ensure_ascii=False)


def _item(kind: str, answer: str, question: str = "q", choices: tuple[str, ...] = (),
          section_no: str = "二") -> QuizItem:
    return QuizItem(kind, question, choices, answer, section_no, "cite", "clause", NOTICE_ID)


ARTICLE_CHOICES = ("第九十三条（第九章 附则）", "第九十五条（第九章 附则）", "第九十四条（第九章 附则）",
                   "第九十二条（第九章 附则）")


@pytest.mark.parametrize("item, response, expected", [
    (_item("true_false", TRUE), "对", True),
    (_item("true_false", TRUE), " 正确 ", True),
    (_item("true_false", TRUE), "T", True),
    (_item("true_false", TRUE), "ｔｒｕｅ", True),
    (_item("true_false", TRUE), "错", False),
    (_item("true_false", FALSE), "false", True),
    (_item("true_false", FALSE), "错误", True),
    (_item("true_false", FALSE), "F", True),
    (_item("true_false", FALSE), "对", False),
    (_item("true_false", FALSE), "", False),
    (_item("blank", "12000", "力争2023年累计投放无缝续贷突破____亿元，"), "12000", True),
    (_item("blank", "12000", "力争2023年累计投放无缝续贷突破____亿元，"), "１２０００", True),
    (_item("blank", "12000", "力争2023年累计投放无缝续贷突破____亿元，"), "12000亿元", True),
    (_item("blank", "12000", "力争2023年累计投放无缝续贷突破____亿元，"), " 12000 亿元 ", True),
    (_item("blank", "12000", "力争2023年累计投放无缝续贷突破____亿元，"), "1200", False),
    (_item("blank", "12000", "力争2023年累计投放无缝续贷突破____亿元，"), "12000万元", False),
    (_item("blank", "无缝续贷", "持续推进____增量扩面"), "无缝续贷", True),
    (_item("blank", "无缝续贷", "持续推进____增量扩面"), "续贷", False),
    (_item("choice", "25%", "同比增长____以上", ("30%", "25%", "50%", "10%")), "25％", True),
    (_item("choice", "25%", "同比增长____以上", ("30%", "25%", "50%", "10%")), "b", True),
    (_item("choice", "25%", "同比增长____以上", ("30%", "25%", "50%", "10%")), "Ａ", False),
    (_item("choice", "25%", "同比增长____以上", ("30%", "25%", "50%", "10%")), "E", False),
    (_item("which_measure", "推动无缝续贷应续尽续，提振信心稳预期", "哪一条？", ("甲", "推动无缝续贷应续尽续，提振信心稳预期")),
     "第二条", True),
    (_item("which_measure", "推动无缝续贷应续尽续，提振信心稳预期", "哪一条？", ("甲", "推动无缝续贷应续尽续，提振信心稳预期")),
     "二", True),
    (_item("which_measure", "推动无缝续贷应续尽续，提振信心稳预期", "哪一条？", ("甲", "推动无缝续贷应续尽续，提振信心稳预期")),
     "甲", False),
    (_item("which_measure", ARTICLE_CHOICES[1], "哪一条？", ARTICLE_CHOICES, "第九十五条"), "第九十五条", True),
    (_item("which_measure", ARTICLE_CHOICES[1], "哪一条？", ARTICLE_CHOICES, "第九十五条"), "b", True),
    (_item("which_measure", ARTICLE_CHOICES[1], "哪一条？", ARTICLE_CHOICES, "第九十五条"),
     "第九十五条（第九章附则）", True),
    (_item("which_measure", ARTICLE_CHOICES[1], "哪一条？", ARTICLE_CHOICES, "第九十五条"), "第九十三条", False),
    (_item("which_measure", ARTICLE_CHOICES[1], "哪一条？", ARTICLE_CHOICES, "第九十五条"), "九十五", False),
])
def test_check_answer(item: QuizItem, response: str, expected: bool) -> None:
    assert check_answer(item, response) is expected


def test_generated_answers_check_as_correct(all_items: list[QuizItem]) -> None:
    for item in all_items[:300]:
        assert check_answer(item, item.answer)
        wrong = next((c for c in item.choices if c != item.answer), None)
        if wrong:
            assert not check_answer(item, wrong)


def test_study_cards_one_per_measure(docs: list[Document]) -> None:
    cards = study_cards(docs)
    assert [c.section_no for c in cards] == ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
                                             "十一", "十二", "十三"]
    by_no = {c.section_no: c for c in cards}
    assert ("12000亿元", "2023年") in by_no["二"].figures
    assert ("1万亿元", "2025年末") in by_no["四"].figures
    assert "无缝续贷" in by_no["二"].terms and "纾困融资" in by_no["三"].terms
    assert by_no["五"].references == ("上海银行业保险业做好知识产权质押融资服务的工作方案",)
    assert by_no["二"].title == "推动无缝续贷应续尽续，提振信心稳预期"
    assert by_no["二"].cite.endswith("第二条")


def test_study_cards_on_a_law_show_the_chapter_not_a_first_clause(laws: list[Document]) -> None:
    bank, deposit = laws
    cards = study_cards(laws)
    assert [c.section_no for c in cards] == [s.section_no for d in laws for s in d.sections]
    by_no = {(c.doc_id, c.section_no): c for c in cards}
    third = by_no["shangyeyinhangfa", "第三条"]
    assert third.title == "第一章 总则"
    assert third.cite == "《中华人民共和国商业银行法》第三条"
    assert by_no["shangyeyinhangfa", "第九十五条"].title == "第九章 附则"
    fifth = by_no["guowuyuanling-660", "第五条"]
    assert fifth.title == ""  # no chapters: the number shown with the card says where it is
    assert fifth.cite == "《存款保险条例》（国务院令第660号）第五条"
    assert ("50万元", "") in fifth.figures
    for doc in laws:
        for sec in doc.sections:
            card = by_no[doc.doc_id, sec.section_no]
            assert card.title == " › ".join(sec.path)
            assert not card.title or card.title not in sec.text  # never the article's own words


SMALL_CODE = """中华人民共和国测试法

第一编 总则
第一章 基本规定
第一节 一般规定
第一条 为了规范贷款业务，制定本法。
第二条 商业银行发放贷款，应当实行“审贷分离”。
第二章 保证
第三条 保证人应当在“保证期间”内承担保证责任。
保证期间为六个月。
第四条 违反审贷分离规定的，依法处理。
第五条 本法自2024年1月1日起施行。
"""


def test_articles_of_a_code_are_named_by_number_and_innermost_heading() -> None:
    doc = parse_text(SMALL_CODE, "ceshifa")
    cards = {c.section_no: c for c in study_cards([doc])}
    assert cards["第一条"].title == "第一编 总则 › 第一章 基本规定 › 第一节 一般规定"
    items = [i for seed in range(5) for i in generate_quiz([doc], n=MAX_ITEMS, seed=seed).items
             if i.kind == "which_measure"]
    asked = {i.question: i for i in items}
    period = asked["《中华人民共和国测试法》哪一条提到“保证期间”？"]
    assert period.answer == "第三条（第二章 保证）"
    assert period.cite == "《中华人民共和国测试法》第三条第一款"
    assert period.answer in period.choices and len(set(period.choices)) == 4
    assert set(period.choices) <= {"第一条（第一节 一般规定）", "第二条（第一节 一般规定）", "第三条（第二章 保证）",
                                   "第四条（第二章 保证）", "第五条（第二章 保证）"}
    assert asked["《中华人民共和国测试法》哪一条提到“2024年1月1日”？"].answer == "第五条（第二章 保证）"
    # 审贷分离 is quoted in 第二条 but printed in 第四条 too, so no item may ask which one mentions it.
    assert not any("审贷分离" in q for q in asked)


def test_which_article_items_on_a_law_name_articles_by_number_and_chapter(docs: list[Document],
                                                                          laws: list[Document]) -> None:
    # The laws sit next to the notice, as after `policykb add packs/finance-laws`; the notice's
    # measures must not turn up as choices on a law.
    asked = {doc.doc_id: 0 for doc in laws}
    questions = set()
    for seed in range(8):
        for doc in laws:
            for item in generate_quiz(docs + laws, n=MAX_ITEMS, seed=seed, doc_id=doc.doc_id).items:
                if item.kind != "which_measure":
                    continue
                sec = doc.section(item.section_no)
                phrase = re.fullmatch(rf"《{re.escape(doc.title)}》哪一条提到[“《](.+)[”》]？",
                                      item.question).group(1)
                holders = [s.section_no for s in doc.sections if phrase in s.text]
                assert holders == [sec.section_no], item
                assert item.answer == (f"{sec.section_no}（{sec.path[-1]}）" if sec.path else sec.section_no)
                named = [_article_by_label(doc, label) for label in item.choices]
                assert len(set(item.choices)) == 4 and item.answer in item.choices
                chapter = [s for s in doc.sections if s.path == sec.path]
                if len(chapter) > PLAUSIBLE:  # distractors are neighbours from the same chapter
                    assert all(s.path == sec.path for s in named), item
                assert check_answer(item, sec.section_no)
                assert not any(check_answer(item, s.section_no) for s in named if s is not sec)
                asked[doc.doc_id] += 1
                questions.add((item.question, item.answer))
    assert all(n > 0 for n in asked.values()), asked
    assert ("《中华人民共和国商业银行法》哪一条提到“2015年10月1日”？", "第九十五条（第九章 附则）") in questions
    assert ("《存款保险条例》哪一条提到“50万元”？", "第五条") in questions


@pytest.mark.parametrize("text, expected, absent", [
    ("力争2023年累计投放无缝续贷突破12000亿元", ["无缝续贷"], ["续贷"]),
    ("加大知识产权质押融资支持", ["知识产权质押融资"], ["知识产权质押"]),
    ("推动首贷续贷数字平台建设", ["首贷", "续贷"], []),
    ("不得盲目抽贷、断贷、压贷", ["抽贷", "断贷", "压贷"], []),
    # 信用贷 inside 信用贷款 is not the term: a blank there would leave "____款".
    ("商业银行不得向关系人发放信用贷款", [], ["信用贷"]),
])
def test_key_terms(text: str, expected: list[str], absent: list[str]) -> None:
    terms = key_terms(text)
    assert terms[:len(expected)] == expected
    for term in absent:
        assert term not in terms


# --- the CLI, through a real subprocess --------------------------------------------------------

def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYKB_")}
    env["POLICYKB_CORPUS_DIR"] = str(settings.corpus_dir)
    env["POLICYKB_INDEX_DIR"] = str(settings.index_dir)
    return subprocess.run([sys.executable, "-m", "policykb.cli", "quiz", *args], capture_output=True,
                          text=True, encoding="utf-8", env=env, cwd=ROOT, timeout=120)


def test_cli_json_ten_valid_items_same_for_same_seed(fresh_settings: Settings, docs: list[Document]) -> None:
    first = _run(fresh_settings, "--json", "--n", "10", "--seed", "7")
    assert first.returncode == 0, first.stderr
    items = json.loads(first.stdout)
    assert len(items) == 10
    for d in items:
        assert ITEM_KEYS <= set(d) and d["kind"] in KINDS
        assert d["explanation"] in docs[0].section(d["section_no"]).text
        if d["kind"] in ("blank", "choice", "which_measure"):
            assert d["answer"] in docs[0].section(d["section_no"]).text
        else:
            assert d["answer"] in (TRUE, FALSE)
        if "choices" in d:
            assert d["answer"] in d["choices"]
    again = _run(fresh_settings, "--json", "--n", "10", "--seed", "7")
    assert json.loads(again.stdout) == items
    other = _run(fresh_settings, "--json", "--n", "10", "--seed", "8")
    assert json.loads(other.stdout) != items
    # The quiz needs no index: none was built.
    assert not (Path(fresh_settings.index_dir) / "manifest.json").exists()


def test_cli_readable_quiz_has_questions_and_answer_key(fresh_settings: Settings) -> None:
    out = _run(fresh_settings, "--n", "5", "--seed", "7")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum(1 for line in lines if re.match(r"^\d\. \[", line)) == 5
    assert "答案与出处" in out.stdout
    assert out.stdout.count("出处：《") == 5 and out.stdout.count("原文：") == 5


@pytest.mark.parametrize("args, code, words", [
    (("--n", "0"), 2, ["错误：", "至少为 1"]),
    (("--section", "十四"), 1, ["错误：", "十四", "可用编号"]),
    (("--doc", "nope"), 1, ["错误：", "nope"]),
])
def test_cli_bad_input(fresh_settings: Settings, args: tuple[str, ...], code: int, words: list[str]) -> None:
    out = _run(fresh_settings, *args)
    assert out.returncode == code
    assert out.stdout == ""
    for word in words:
        assert word in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_caps_a_huge_quiz_with_a_notice(fresh_settings: Settings) -> None:
    out = _run(fresh_settings, "--json", "--n", "10000", "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == MAX_ITEMS
    assert "提示：" in out.stderr and str(MAX_ITEMS) in out.stderr


def test_cli_help_states_the_cap(fresh_settings: Settings) -> None:
    out = _run(fresh_settings, "--help")
    assert out.returncode == 0
    assert f"at most {MAX_ITEMS}" in out.stdout and "--seed" in out.stdout and "--section" in out.stdout
