"""The 培训 (training) tab: study cards per measure and a quiz with immediate feedback.

Gradio wiring is in build_training_tab; the event handlers are plain functions over a
JSON-like state dict, so tests call them directly. Every text from the corpus is
html.escape'd before it reaches the page.
"""
from __future__ import annotations

import html
from dataclasses import asdict
from typing import Any, Sequence

import gradio as gr

from policykb.errors import PolicyKBError
from policykb.ingest.parse import Document
from policykb.evaluation.quiz import (KIND_LABELS, MAX_ITEMS, TRUE, FALSE, QuizItem, StudyCard, check_answer,
                           generate_quiz, study_cards)

ELEM_IDS = {
    "cards_panel": "pk-training-cards-panel",
    "cards": "pk-training-cards",
    "n": "pk-quiz-n",
    "seed": "pk-quiz-seed",
    "start": "pk-quiz-start",
    "status": "pk-quiz-status",
    "question": "pk-quiz-question",
    "choice": "pk-quiz-choice",
    "text": "pk-quiz-text",
    "submit": "pk-quiz-submit",
    "feedback": "pk-quiz-feedback",
    "next": "pk-quiz-next",
    "result": "pk-quiz-result",
}
CSS = """
.pk-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:12px}
.pk-card{border:1px solid #d0d7de;border-radius:8px;padding:10px 12px}
.pk-card h4{margin:0 0 4px 0}
.pk-cite{color:#57606a;font-size:0.85em;margin-bottom:6px}
.pk-card-term{display:inline-block;border:1px solid #d0d7de;border-radius:10px;padding:0 6px;margin:2px;
  font-size:0.9em}
.pk-quote{border-left:3px solid #8c959f;padding-left:8px;margin:6px 0}
.pk-right{color:#1a7f37;font-weight:bold}
.pk-wrong{color:#cf222e;font-weight:bold}
"""
_e = html.escape


def _label(section_no: str) -> str:
    """Return 第二条 for measure 二; article numbers already read 第三条."""
    if section_no == "preamble":
        return "前言"
    if section_no == "closing":
        return "结束语"
    return section_no if section_no.startswith("第") else f"第{section_no}条"


def render_cards(cards: Sequence[StudyCard]) -> str:
    """Return the study cards as escaped HTML, one card per measure."""
    if not cards:
        return "<p>知识库中没有按条编号的措施，暂无学习卡片。</p>"
    parts = [f"<style>{CSS}</style><div class='pk-cards'>"]
    for card in cards:
        figures = "".join(f"<li>{_e(text)}" + (f"（{_e(period)}）" if period else "") + "</li>"
                          for text, period in card.figures)
        terms = "".join(f"<span class='pk-card-term'>{_e(t)}</span>" for t in card.terms)
        refs = "".join(f"<li>《{_e(r)}》</li>" for r in card.references)
        parts.append(
            f"<div class='pk-card' data-section='{_e(card.section_no)}'>"
            f"<h4>{_e(_label(card.section_no))} {_e(card.title)}</h4>"
            f"<div class='pk-cite'>{_e(card.cite)}</div>"
            + (f"<div><b>目标与期限</b><ul>{figures}</ul></div>" if figures else "")
            + (f"<div><b>关键词</b><br>{terms}</div>" if terms else "")
            + (f"<div><b>引用的方案</b><ul>{refs}</ul></div>" if refs else "")
            + "</div>")
    parts.append("</div>")
    return "".join(parts)


def _item(state: dict[str, Any]) -> QuizItem:
    data = dict(state["items"][state["index"]])
    data["choices"] = tuple(data["choices"])
    return QuizItem(**data)


def _options(item: QuizItem) -> list[str]:
    """Return what the learner picks from: the choices, 对/错, or nothing for a blank."""
    if item.kind == "true_false":
        return [TRUE, FALSE]
    return list(item.choices)


def _status(state: dict[str, Any]) -> str:
    total = len(state["items"])
    answered = len(state["results"])
    right = sum(state["results"])
    notices = "".join(f"<p>提示：{_e(n)}</p>" for n in state.get("notices", []))
    return f"{notices}<p>第 {state['index'] + 1} / {total} 题 · 已答 {answered} 题，答对 {right} 题</p>"


def render_question(item: QuizItem) -> str:
    """Return one question as escaped HTML with its kind."""
    return f"<p><b>[{_e(KIND_LABELS[item.kind])}]</b> {_e(item.question)}</p>"


def render_feedback(item: QuizItem, response: str, correct: bool) -> str:
    """Return the verdict with the quoted clause and its citation."""
    verdict = ("<span class='pk-right'>✔ 回答正确</span>" if correct else
               f"<span class='pk-wrong'>✘ 回答错误</span>（你的答案：{_e(response)}；正确答案：{_e(item.answer)}）")
    return (f"<div>{verdict}<blockquote class='pk-quote'>{_e(item.explanation)}</blockquote>"
            f"<div class='pk-cite'>出处：{_e(item.cite)}</div></div>")


def render_result(state: dict[str, Any]) -> str:
    """Return the final score and a review of the items answered wrongly."""
    total = len(state["items"])
    right = sum(state["results"])
    head = f"<h3>得分：{right} / {total}（{round(100 * right / total) if total else 0}%）</h3>"
    wrong = [i for i, ok in enumerate(state["results"]) if not ok]
    if not wrong:
        return f"<style>{CSS}</style>{head}<p>全部答对！</p>"
    rows = []
    for i in wrong:
        item = QuizItem(**{**state["items"][i], "choices": tuple(state["items"][i]["choices"])})
        rows.append(f"<li>{render_question(item)}<p>你的答案：{_e(state['responses'][i])}；"
                    f"正确答案：{_e(item.answer)}</p><blockquote class='pk-quote'>{_e(item.explanation)}"
                    f"</blockquote><div class='pk-cite'>出处：{_e(item.cite)}</div></li>")
    return f"<style>{CSS}</style>{head}<h4>错题回顾</h4><ol>{''.join(rows)}</ol>"


def _show(state: dict[str, Any]) -> tuple:
    """Return the outputs that present the current item, ready to be answered."""
    item = _item(state)
    options = _options(item)
    return (state, _status(state), render_question(item),
            gr.update(choices=options, value=None, visible=bool(options), interactive=True),
            gr.update(value="", visible=not options, interactive=True),
            gr.update(visible=True), "", gr.update(visible=False), "")


def start_quiz(documents: Sequence[Document], n: Any, seed: Any) -> tuple:
    """Generate a quiz and show its first item; an invalid request shows the error instead."""
    try:
        if n is None or seed is None:
            raise PolicyKBError("请填写题目数量和随机种子，例如 10 和 0")
        quiz = generate_quiz(documents, n=int(n), seed=int(seed))
    except PolicyKBError as exc:
        hidden = gr.update(visible=False)
        return (None, f"<p class='pk-wrong'>错误：{_e(str(exc))}</p>", "", hidden, hidden, hidden, "",
                hidden, "")
    state = {"items": [asdict(item) for item in quiz.items], "index": 0, "results": [],
             "responses": [], "notices": list(quiz.notices)}
    return _show(state)


def submit_answer(state: dict[str, Any] | None, choice: str | None, text: str | None) -> tuple:
    """Check the answer to the current item and show the verdict, the clause and its citation."""
    keep = gr.skip()
    if not state:
        return (state, "<p>请先点击“开始测验”。</p>", keep, keep, keep, keep, keep, keep, keep)
    if len(state["results"]) > state["index"]:  # answered already: a second click changes nothing
        return (state, keep, keep, keep, keep, keep, keep, keep, keep)
    item = _item(state)
    response = (choice if _options(item) else text) or ""
    if not response.strip():
        return (state, keep, keep, keep, keep, keep, "<p>请先选择或填写答案。</p>", keep, keep)
    correct = check_answer(item, response)
    state = {**state, "results": [*state["results"], correct], "responses": [*state["responses"], response]}
    last = state["index"] + 1 >= len(state["items"])
    return (state, _status(state), keep, gr.update(interactive=False), gr.update(interactive=False),
            gr.update(visible=False), render_feedback(item, response, correct), gr.update(visible=not last),
            render_result(state) if last else "")


def next_question(state: dict[str, Any] | None) -> tuple:
    """Move to the next item once the current one is answered."""
    keep = gr.skip()
    if not state or len(state["results"]) <= state["index"] or state["index"] + 1 >= len(state["items"]):
        return (state, keep, keep, keep, keep, keep, keep, keep, keep)
    return _show({**state, "index": state["index"] + 1})


def build_training_tab(documents: Sequence[Document]) -> None:
    """Add the 培训 tab's components and events; call inside an open gr.Tab("培训") in gr.Blocks."""
    with gr.Accordion("学习卡片：每条措施的目标、期限、关键词和引用的方案", open=True,
                      elem_id=ELEM_IDS["cards_panel"]):
        gr.HTML(render_cards(study_cards(documents)), elem_id=ELEM_IDS["cards"])
    gr.Markdown("### 测验\n题目由条款原文生成；每答一题即显示原文和出处，答完显示得分和错题回顾。")
    with gr.Row():
        n = gr.Number(value=10, precision=0, label=f"题目数量（最多 {MAX_ITEMS}）", elem_id=ELEM_IDS["n"])
        seed = gr.Number(value=0, precision=0, label="随机种子（同一种子出同一套题）", elem_id=ELEM_IDS["seed"])
        start = gr.Button("开始测验", variant="primary", elem_id=ELEM_IDS["start"])
    state = gr.State(None)
    status = gr.HTML("", elem_id=ELEM_IDS["status"])
    question = gr.HTML("", elem_id=ELEM_IDS["question"])
    choice = gr.Radio(choices=[], label="选择答案", visible=False, elem_id=ELEM_IDS["choice"])
    text = gr.Textbox(label="填写答案（只填空格“____”处的内容）", visible=False, elem_id=ELEM_IDS["text"])
    submit = gr.Button("提交答案", visible=False, elem_id=ELEM_IDS["submit"])
    feedback = gr.HTML("", elem_id=ELEM_IDS["feedback"])
    next_button = gr.Button("下一题", visible=False, elem_id=ELEM_IDS["next"])
    result = gr.HTML("", elem_id=ELEM_IDS["result"])
    outputs = [state, status, question, choice, text, submit, feedback, next_button, result]

    def start_handler(n_value: Any, seed_value: Any) -> tuple:
        return start_quiz(documents, n_value, seed_value)

    start.click(start_handler, [n, seed], outputs, api_name="quiz_start")
    submit.click(submit_answer, [state, choice, text], outputs, api_name="quiz_submit")
    text.submit(submit_answer, [state, choice, text], outputs, api_visibility="private")
    next_button.click(next_question, [state], outputs, api_name="quiz_next")
