"""The 培训 tab: study cards, the quiz flow through its handlers, and the tab served by a real Gradio app."""
from __future__ import annotations

import html

import gradio as gr
import pytest

from policykb.ingest.corpus import load_documents
from policykb.ingest.parse import Document
from policykb.evaluation.quiz import FALSE, MAX_ITEMS, TRUE, QuizItem, StudyCard, study_cards
from policykb.app.training import (ELEM_IDS, build_training_tab, next_question, render_cards, render_feedback,
                                  start_quiz, submit_answer)

from tests.conftest import CORPUS, free_port

# Output positions of every handler: state, status, question, choice, text, submit, feedback, next, result.
STATE, STATUS, QUESTION, CHOICE, TEXT, SUBMIT, FEEDBACK, NEXT, RESULT = range(9)


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    return load_documents(CORPUS)


def _item(state: dict) -> QuizItem:
    data = state["items"][state["index"]]
    return QuizItem(**{**data, "choices": tuple(data["choices"])})


def _wrong(item: QuizItem) -> str:
    if item.kind == "true_false":
        return FALSE if item.answer == TRUE else TRUE
    if item.choices:
        return next(c for c in item.choices if c != item.answer)
    return "不知道"


def _answer(state: dict, response: str) -> tuple:
    """Submit a response the way the page does: through the radio or the text box."""
    item = _item(state)
    if item.kind == "blank":
        return submit_answer(state, None, response)
    return submit_answer(state, response, "")


def _play(docs: list[Document], n: int, seed: int, right: bool) -> tuple[tuple, list[tuple]]:
    out = start_quiz(docs, n, seed)
    feedback = []
    for i in range(n):
        state = out[STATE]
        item = _item(state)
        out = _answer(state, item.answer if right else _wrong(item))
        feedback.append((item, out))
        if i < n - 1:
            assert out[NEXT]["visible"] is True
            out = next_question(out[STATE])
    return out, feedback


def test_tab_builds_with_every_elem_id_and_event(docs: list[Document]) -> None:
    with gr.Blocks() as demo:
        with gr.Tab("培训"):
            build_training_tab(docs)
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert set(ELEM_IDS.values()) <= ids
    wired = {fn.api_name: [getattr(b, "elem_id", None) for b in fn.inputs] for fn in demo.fns.values()}
    assert wired["quiz_start"] == [ELEM_IDS["n"], ELEM_IDS["seed"]]
    assert wired["quiz_submit"][1:] == [ELEM_IDS["choice"], ELEM_IDS["text"]]
    assert "quiz_next" in wired


def test_cards_one_per_measure_with_figures_terms_and_plans(docs: list[Document]) -> None:
    page = render_cards(study_cards(docs))
    assert page.count("class='pk-card'") == 13
    assert "第二条 推动无缝续贷应续尽续，提振信心稳预期" in page
    assert "12000亿元（2023年）" in page and "1.5万亿元（2025年末）" in page
    assert "<span class='pk-card-term'>纾困融资</span>" in page
    assert "《上海银行业保险业做好知识产权质押融资服务的工作方案》" in page


def test_cards_and_feedback_escape_corpus_text() -> None:
    card = StudyCard("d", "二", "<script>alert(1)</script>", "《x》第二条", (("<b>1</b>", "2023年"),),
                     ("<i>",), ("<img src=x>",))
    page = render_cards([card])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<img" not in page and "&lt;b&gt;1&lt;/b&gt;" in page and "&lt;i&gt;" in page
    item = QuizItem("blank", "q", (), "<a>", "二", "《t》<br>", "<script>x</script>", "d")
    feedback = render_feedback(item, "<b>", False)
    assert "<script>" not in feedback and "<br>" not in feedback and "<b>" not in feedback
    assert html.escape("<script>x</script>") in feedback


def test_first_item_shows_the_right_input(docs: list[Document]) -> None:
    for seed in range(8):
        out = start_quiz(docs, 4, seed)
        item = _item(out[STATE])
        assert html.escape(item.question) in out[QUESTION]
        assert "第 1 / 4 题" in out[STATUS]
        if item.kind == "blank":
            assert out[CHOICE]["visible"] is False and out[TEXT]["visible"] is True
        else:
            assert out[TEXT]["visible"] is False and out[CHOICE]["visible"] is True
            expected = [TRUE, FALSE] if item.kind == "true_false" else list(item.choices)
            assert out[CHOICE]["choices"] == expected and out[CHOICE]["value"] is None
        assert out[SUBMIT]["visible"] is True and out[NEXT]["visible"] is False


def test_all_right_gives_full_score_with_clause_and_cite_each_time(docs: list[Document]) -> None:
    out, feedback = _play(docs, 5, 7, right=True)
    for item, step in feedback:
        assert "回答正确" in step[FEEDBACK]
        assert html.escape(item.explanation) in step[FEEDBACK]
        assert html.escape(item.cite) in step[FEEDBACK]
        assert step[SUBMIT]["visible"] is False
    assert "得分：5 / 5（100%）" in out[RESULT] and "全部答对" in out[RESULT]
    assert out[NEXT]["visible"] is False


def test_wrong_answers_are_reviewed_at_the_end(docs: list[Document]) -> None:
    out, feedback = _play(docs, 4, 11, right=False)
    assert "得分：0 / 4（0%）" in out[RESULT] and "错题回顾" in out[RESULT]
    for item, step in feedback:
        assert "回答错误" in step[FEEDBACK] and html.escape(item.answer) in step[FEEDBACK]
        assert html.escape(item.explanation) in out[RESULT]
        assert html.escape(item.question) in out[RESULT]
    assert out[STATE]["results"] == [False] * 4


def test_mixed_answers_count_only_the_right_ones(docs: list[Document]) -> None:
    out = start_quiz(docs, 3, 5)
    item = _item(out[STATE])
    out = next_question(_answer(out[STATE], item.answer)[STATE])
    out = next_question(_answer(out[STATE], _wrong(_item(out[STATE])))[STATE])
    out = _answer(out[STATE], _item(out[STATE]).answer)
    assert "得分：2 / 3（67%）" in out[RESULT]
    assert out[RESULT].count("<li>") == 1


def test_empty_double_and_early_clicks_change_nothing(docs: list[Document]) -> None:
    out = start_quiz(docs, 2, 3)
    state = out[STATE]
    empty = submit_answer(state, None, "  ")
    assert empty[STATE] is state and "请先选择或填写答案" in empty[FEEDBACK]
    assert next_question(state)[STATE] is state  # not answered yet: no skipping ahead
    answered = _answer(state, _item(state).answer)[STATE]
    again = submit_answer(answered, _wrong(_item(answered)), "x")
    assert again[STATE] is answered and again[STATE]["results"] == [True]
    assert "开始测验" in submit_answer(None, "对", "")[STATUS]


@pytest.mark.parametrize("n, seed, words", [
    (0, 1, ["错误：", "至少为 1"]),
    (None, 1, ["错误：", "题目数量"]),
])
def test_bad_quiz_requests_show_the_error(docs: list[Document], n, seed, words: list[str]) -> None:
    out = start_quiz(docs, n, seed)
    assert out[STATE] is None
    for word in words:
        assert word in out[STATUS]
    assert out[SUBMIT]["visible"] is False


def test_huge_quiz_is_capped_with_a_notice(docs: list[Document]) -> None:
    out = start_quiz(docs, 10000, 1)
    assert len(out[STATE]["items"]) == MAX_ITEMS
    assert "提示：" in out[STATUS] and f"{MAX_ITEMS}" in out[STATUS]


def test_same_seed_same_quiz_in_the_tab(docs: list[Document]) -> None:
    assert start_quiz(docs, 6, 9)[STATE]["items"] == start_quiz(docs, 6, 9)[STATE]["items"]
    assert start_quiz(docs, 6, 9)[STATE]["items"] != start_quiz(docs, 6, 10)[STATE]["items"]


def test_tab_served_by_a_real_app_keeps_quiz_state_per_session(docs: list[Document],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    with gr.Blocks() as demo:
        with gr.Tab("培训"):
            build_training_tab(docs)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        # The client is given the outputs that carry data: status, question, choice, text, feedback, result.
        status, question, choice, text, feedback, result = client.predict(2, 7, api_name="/quiz_start")
        expected = start_quiz(docs, 2, 7)[STATE]["items"][0]
        assert "第 1 / 2 题" in status and feedback == "" and result == ""
        is_blank = expected["kind"] == "blank"
        assert choice["visible"] is (not is_blank) and text["visible"] is is_blank
        assert html.escape(expected["question"]) in question
        response = expected["answer"]
        if expected["kind"] == "blank":
            outputs = client.predict(None, response, api_name="/quiz_submit")
        else:
            outputs = client.predict(response, "", api_name="/quiz_submit")
        status, feedback = outputs[0], outputs[4]
        assert "回答正确" in feedback and html.escape(expected["explanation"]) in feedback
        assert "已答 1 题，答对 1 题" in status
    finally:
        demo.close()
