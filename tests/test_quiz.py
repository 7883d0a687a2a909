"""Quiz and study cards over the real notice: item quality over many seeds, determinism, CLI."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from policykb.config import Settings
from policykb.corpus import load_documents
from policykb.errors import NotFoundError, PolicyKBError, QuizError
from policykb.parse import Document, Section, parse_text
from policykb.quiz import (BLANK, FALSE, KINDS, MAX_ITEMS, TRUE, TRUE_FALSE_PREFIX, QuizItem,
                           check_answer, generate_quiz, study_cards)
from policykb.quizgen import key_terms
from policykb.tokenize import _stopwords

from tests.conftest import CORPUS, NOTICE_ID, ROOT

SEEDS = range(50)
ITEM_KEYS = {"kind", "question", "answer", "section_no", "cite", "explanation", "doc_id"}


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    return load_documents(CORPUS)


@pytest.fixture(scope="module")
def quizzes(docs: list[Document]) -> list[list[QuizItem]]:
    """Fifty quizzes of 40 items, one per seed."""
    return [list(generate_quiz(docs, n=40, seed=seed).items) for seed in SEEDS]


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


def test_explanation_is_a_clause_of_the_cited_section(docs: list[Document],
                                                     all_items: list[QuizItem]) -> None:
    for item in all_items:
        sec = _section(docs, item)
        assert item.explanation in [span.text for span in sec.spans], item
        assert item.explanation in sec.text
        where = {"preamble": "前言部分", "closing": "结束语部分"}.get(item.section_no, f"第{item.section_no}条")
        assert item.cite.endswith(where), item.cite
        assert item.cite.startswith(f"《{docs[0].title}》（沪银保监发〔2023〕24号）")


def test_blank_and_choice_answers_are_verbatim_and_unambiguous(docs: list[Document],
                                                               all_items: list[QuizItem]) -> None:
    for item in all_items:
        if item.kind not in ("blank", "choice"):
            continue
        assert item.question.count(BLANK) == 1, item
        assert item.answer in _section(docs, item).text
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


def test_choices_have_exactly_one_correct_option(docs: list[Document], all_items: list[QuizItem]) -> None:
    texts = _corpus_text(docs)
    for item in all_items:
        if item.kind != "choice":
            continue
        assert len(item.choices) == 4 and len(set(item.choices)) == 4, item
        correct = [c for c in item.choices if any(item.question.replace(BLANK, c) in t for t in texts)]
        assert correct == [item.answer], item


def test_which_measure_has_one_measure_containing_the_phrase(docs: list[Document],
                                                             all_items: list[QuizItem]) -> None:
    doc = docs[0]
    by_title = {s.title: s for s in doc.sections if s.kind == "measure"}
    for item in all_items:
        if item.kind != "which_measure":
            continue
        phrase = re.fullmatch(r"哪一条措施提到[“《](.+)[”》]？", item.question).group(1)
        assert phrase in item.explanation
        holders = [title for title in item.choices if phrase in by_title[title].text]
        assert holders == [item.answer], item
        assert item.answer == _section(docs, item).title
        assert item.answer in _section(docs, item).text
        assert phrase not in item.answer  # the title would give it away


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


def test_true_false_statements(docs: list[Document], all_items: list[QuizItem]) -> None:
    texts = _corpus_text(docs)
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
        sec = _section(docs, item)
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


def test_same_seed_same_quiz_other_seed_other_quiz(docs: list[Document],
                                                   quizzes: list[list[QuizItem]]) -> None:
    assert generate_quiz(docs, n=40, seed=3).items == tuple(quizzes[3])
    assert len({tuple(q) for q in quizzes}) == len(quizzes)


def test_items_in_a_quiz_are_distinct(quizzes: list[list[QuizItem]]) -> None:
    for quiz in quizzes:
        assert len(quiz) == 40
        assert len({(i.kind, i.question) for i in quiz}) == len(quiz)


def test_small_quiz_mixes_kinds_and_asks_about_figures(docs: list[Document]) -> None:
    for seed in range(10):
        items = generate_quiz(docs, n=10, seed=seed).items
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


def _item(kind: str, answer: str, question: str = "q", choices: tuple[str, ...] = ()) -> QuizItem:
    return QuizItem(kind, question, choices, answer, "二", "cite", "clause", NOTICE_ID)


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


@pytest.mark.parametrize("text, expected, absent", [
    ("力争2023年累计投放无缝续贷突破12000亿元", ["无缝续贷"], ["续贷"]),
    ("加大知识产权质押融资支持", ["知识产权质押融资"], ["知识产权质押"]),
    ("推动首贷续贷数字平台建设", ["首贷", "续贷"], []),
    ("不得盲目抽贷、断贷、压贷", ["抽贷", "断贷", "压贷"], []),
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
