"""The Gradio chat app: wiring only. Retrieval and answers come from KnowledgeBase, HTML from app/render.py."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import gradio as gr

from policykb.app import page as ui_page
from policykb.app import render
from policykb.answer.compose import format_cite
from policykb.config import MODES, Settings
from policykb.answer.conversation import Conversation, new_state
from policykb.errors import EmptyQuestionError, PolicyKBError
from policykb.kb import KnowledgeBase
from policykb.retrieval.lookup import find_documents
from policykb.answer.memo import unique_citations, write_memo
from policykb.ingest.parse import Document

TITLE = "政策知识库"
MAX_TURNS = 50
# kb.ask spends most of its time in the embedder, which runs one call at a time: a second
# concurrent request overlaps its BM25 and quoting work with the next embedding; more only contend.
CONCURRENCY = 2
EXAMPLES = ["续贷有什么要求？", "普惠贷款余额的目标是多少？", "对暂时困难的企业能不能抽贷断贷？",
            "What does the notice say about green finance?", "知识产权质押融资 IP pledge financing 有什么安排？"]
MODE_CHOICES = [(f"{render.MODE_LABELS[m]} {m}", m) for m in MODES]
EMPTY_QUESTION = "请输入问题，例如：续贷有什么要求？"
EMPTY_MEMO = "本次对话还没有引用条款，没有可导出的备忘录；先提问，回答引用的条款会列入备忘录。"
MEMO_NAME = "policykb-memo"  # the downloaded file's name, .md or .docx
# System fonts only: the theme must not pull web fonts, so the page works without internet.
# Noto Sans CJK (fonts-noto-cjk) on Linux, PingFang / YaHei on staff desktops.
SANS = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "Source Han Sans SC", "system-ui", "sans-serif"]
MONO = ["Noto Sans Mono CJK SC", "Consolas", "Menlo", "monospace"]

# Runs once per HTML component (gr.HTML's js_on_load): chips (and the reference links inside
# the side panel's text) open the side panel through a click event carrying the section id;
# 复制引用 buttons copy without a server round trip.
CLICK_JS = """
const copy = (button) => {
  const text = button.dataset.copy || '';
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  const done = () => {
    button.textContent = '已复制';
    button.classList.add('pk-copied');
    setTimeout(() => { button.textContent = label; button.classList.remove('pk-copied'); }, 1500);
  };
  const fallback = () => {
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.style.position = 'fixed';
    area.style.opacity = '0';
    document.body.appendChild(area);
    area.select();
    try { document.execCommand('copy'); done(); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else {
    fallback();
  }
};
element.addEventListener('click', (event) => {
  const button = event.target.closest('.pk-copy');
  if (button) { copy(button); return; }
  const open = event.target.closest('.pk-doc-open');
  if (open) { trigger('click', {doc: open.dataset.doc || ''}); return; }
  const chip = event.target.closest('.pk-chip');
  if (chip) {
    trigger('click', {section: chip.dataset.section || '', quote: chip.dataset.quote || '',
                      cite: chip.dataset.cite || '', paragraph: chip.dataset.paragraph || ''});
  }
});
"""

# The scope bar's chips: × removes one document from 检索范围, 全部文件 clears it.
SCOPE_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('.pk-scope-remove');
  if (button) { trigger('click', {scope: button.dataset.scope || ''}); }
});
"""

CSS = """
.pk-header h1 { margin: 0; font-size: 1.6rem; }
.pk-header p { margin: .2rem 0 0; color: var(--body-text-color-subdued); }
.pk-turn { margin: 0 0 1.1rem; }
.pk-q { display: flex; gap: .5rem; justify-content: flex-end; align-items: flex-start; margin-bottom: .4rem; }
.pk-role { font-size: .8rem; color: var(--body-text-color-subdued); padding-top: .45rem; }
.pk-bubble { background: var(--color-accent-soft); border-radius: 12px; padding: .45rem .8rem;
  max-width: 80%; white-space: pre-wrap; overflow-wrap: anywhere; }
.pk-a { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--color-accent);
  border-radius: 8px; padding: .6rem .8rem; background: var(--block-background-fill); }
.pk-abstain { border-left-color: #d97706; background: rgba(217, 119, 6, .07); }
.pk-error { border-left-color: #dc2626; background: rgba(220, 38, 38, .07); }
.pk-abstain-badge { display: inline-block; font-weight: 700; color: #b45309; margin-bottom: .3rem; }
.pk-intro, .pk-abstain-text { margin: 0 0 .5rem; }
.pk-cite { border-top: 1px dashed var(--border-color-primary); padding-top: .5rem; margin-top: .5rem; }
.pk-cite-head { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.pk-quote { margin: .4rem 0; padding: .3rem .7rem; border-left: 3px solid var(--border-color-accent);
  background: var(--background-fill-secondary); }
.pk-cite-line, .pk-mode, .pk-panel-meta, .pk-chapter, .pk-hint { font-size: .82rem;
  color: var(--body-text-color-subdued); }
.pk-mode { margin-top: .4rem; text-align: right; }
.pk-chip { display: inline-flex; gap: .35rem; align-items: center; border: 1px solid var(--color-accent);
  color: var(--color-accent); background: transparent; border-radius: 999px; padding: .12rem .65rem;
  font-size: .85rem; cursor: pointer; }
.pk-chip:hover { background: var(--color-accent-soft); }
.pk-chip-title { color: var(--body-text-color); }
.pk-copy { border: 1px solid var(--border-color-primary); border-radius: 6px; background: var(--button-secondary-background-fill);
  padding: .1rem .55rem; font-size: .8rem; cursor: pointer; }
.pk-copied { border-color: #16a34a; color: #16a34a; }
.pk-notice { border-radius: 6px; padding: .35rem .6rem; margin-bottom: .45rem; font-size: .88rem;
  background: rgba(37, 99, 235, .08); border: 1px solid rgba(37, 99, 235, .3); }
.pk-fallback { background: rgba(217, 119, 6, .1); border-color: rgba(217, 119, 6, .4); }
.pk-related ul { margin: .3rem 0 0; padding-left: 1.1rem; }
.pk-related li { margin: .25rem 0; }
.pk-related-head { font-size: .88rem; color: var(--body-text-color-subdued); }
.pk-empty { color: var(--body-text-color-subdued); padding: .8rem; }
.pk-panel { line-height: 1.75; }
.pk-panel-cite { font-weight: 700; margin-bottom: .3rem; }
.pk-panel-text { margin: .6rem 0; white-space: pre-wrap; }
.pk-heading { font-weight: 700; }
mark.pk-hl { background: #fde68a; color: #111; padding: 0 .1rem; border-radius: 2px; }
.pk-para { margin: 0 0 .5rem; padding: .1rem .5rem; border-left: 3px solid transparent; }
.pk-para-hl { border-left-color: #f59e0b; background: rgba(253, 230, 138, .18); border-radius: 0 6px 6px 0; }
.pk-para-no { display: inline-block; font-size: .75rem; font-weight: 700; color: #b45309; margin-right: .4rem; }
.pk-table { border-collapse: collapse; width: 100%; font-size: .88rem; }
.pk-table th, .pk-table td, .pk-meta th, .pk-meta td { border: none !important;
  border-bottom: 1px solid var(--border-color-primary) !important; padding: .35rem .45rem;
  text-align: left; vertical-align: top; }
.pk-table, .pk-meta { border: none !important; }
.pk-meta { border-collapse: collapse; margin-bottom: .6rem; }
.pk-num { text-align: right !important; white-space: nowrap; font-variant-numeric: tabular-nums; }
.pk-none { color: var(--body-text-color-subdued); }
.pk-term { display: inline-block; border-radius: 4px; padding: 0 .35rem; margin: 0 .2rem .2rem 0;
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); }
.pk-term-hit { background: #fef3c7; color: #111; }
.pk-search-head { display: grid; gap: .2rem; margin-bottom: .6rem; }
.pk-doc h3 { margin-top: 0; }
.pk-meta th { text-align: left; padding-right: 1rem; color: var(--body-text-color-subdued); font-weight: 400; }
.pk-scope-bar { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; font-size: .88rem; }
.pk-scope-label { color: var(--body-text-color-subdued); }
.pk-scope-chip { display: inline-flex; align-items: center; gap: .2rem; border-radius: 999px; padding: .1rem .25rem .1rem .6rem;
  background: var(--color-accent-soft); border: 1px solid var(--color-accent); }
.pk-scope-remove { border: none; background: none; cursor: pointer; padding: 0 .3rem; font-size: 1rem; line-height: 1;
  color: var(--body-text-color-subdued); }
.pk-scope-remove:hover { color: #dc2626; }
.pk-scope-clear { font-size: .8rem; text-decoration: underline dotted; }
.pk-scope-all { border: 1px dashed var(--border-color-primary); border-radius: 999px; padding: .1rem .6rem; }
.pk-turn-scope { font-size: .8rem; color: var(--body-text-color-subdued); text-align: right; margin: -.2rem 0 .35rem; }
.pk-understood { font-size: .85rem; color: var(--body-text-color-subdued); text-align: right; margin: -.2rem 0 .35rem; }
.pk-turn-scope b { color: #1d4ed8; font-weight: 600; }
.pk-doc-open { border: none; background: none; padding: 0; font: inherit; text-align: left; cursor: pointer;
  color: var(--color-accent); }
.pk-doc-open:hover { text-decoration: underline; }
.pk-doc-list .pk-hint { margin-bottom: .3rem; }
.pk-doc-sec { padding: .4rem 0; border-bottom: 1px solid var(--border-color-primary); scroll-margin-top: 1rem; }
.pk-doc-sec h4 { margin: .2rem 0; display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
.pk-doc-sec p { margin: .2rem 0; line-height: 1.75; }
.pk-anchor { color: var(--body-text-color-subdued); text-decoration: none; }
.pk-status-ref { color: #b45309; }
.pk-status-ok { color: #16a34a; }
.pk-chip.pk-link { display: inline; border: none; border-radius: 0; padding: 0; font: inherit;
  background: none; color: var(--color-accent); text-decoration: underline dotted; text-underline-offset: 3px; }
.pk-chip.pk-link:hover { background: var(--color-accent-soft); }
.pk-breadcrumb { margin: .2rem 0; }
.pk-doc > .pk-breadcrumb { margin-top: .8rem; font-weight: 700; }
.pk-crumb-sep { color: var(--border-color-accent); }
.pk-toc-path { margin: .4rem 0 .1rem; font-size: .82rem; color: var(--body-text-color-subdued); }
.pk-toc ol { margin: 0; }
.pk-history { margin: 0; padding-left: 1.1rem; }
"""

Mode = Literal["hybrid", "keyword", "dense"]
TabBuilder = Callable[["UIContext"], None]


@dataclass
class UIContext:
    """What a tab builder needs: the knowledge base, settings and the shared side panel."""

    kb: KnowledgeBase
    settings: Settings
    labels: dict[str, str]
    open_section: Callable[..., Any]
    panel_outputs: list[Any]
    details: dict[str, Any] = field(default_factory=dict)

    def clickable(self, value: str, **kwargs: Any) -> gr.HTML:
        """Return an HTML block whose chips open sections in the side panel and whose buttons copy."""
        block = gr.HTML(value, js_on_load=CLICK_JS, **kwargs)
        block.click(self.open_section, None, self.panel_outputs, api_visibility="private", queue=False)
        return block


def memo_button(label: str, **kwargs: Any) -> gr.DownloadButton:
    """Return a download button without gradio's API example, a github.com URL: the page names no outside host.

    (A subclass would do it too, but gradio writes a .pyi stub beside the module of any component subclass.)
    """
    button = gr.DownloadButton(label, value=None, **kwargs)
    button.example_payload = button.example_value = lambda: None
    return button


def theme() -> gr.themes.Base:
    """Return the app theme: Gradio's default look with system fonts (no web fonts)."""
    return gr.themes.Default(primary_hue="blue", font=SANS, font_mono=MONO)


def auth_pair(auth: str) -> tuple[str, str] | None:
    """Split POLICYKB_AUTH=user:password into Gradio's (user, password); None when unset."""
    if not auth:
        return None
    user, password = auth.split(":", 1)
    return user, password


def launch_options(settings: Settings) -> dict[str, Any]:
    """Return the Blocks.launch() arguments: loopback by default, no share link, nothing external."""
    from starlette.middleware import Middleware
    return {"server_name": settings.host, "server_port": settings.port, "auth": auth_pair(settings.auth),
            "auth_message": "请使用行内分配的账号登录政策知识库。", "share": False, "inbrowser": False,
            "theme": theme(), "css": CSS, "footer_links": ["api"], "run_history": False, "ssr_mode": False,
            "pwa": False, "mcp_server": False, "enable_monitoring": False, "show_error": False,
            "quiet": True, "favicon_path": str(ui_page.FAVICON),
            # Title and link-preview tags rewritten in the served HTML (see app/page.py).
            "app_kwargs": {"middleware": [Middleware(ui_page.PageHeadMiddleware)]}}


def error_message(exc: PolicyKBError) -> str:
    """Return the short Chinese message shown in the chat for a library error."""
    if isinstance(exc, EmptyQuestionError):
        return EMPTY_QUESTION
    return f"出错了：{exc}"


def section_labels(kb: KnowledgeBase) -> dict[str, str]:
    """Return section id -> short label (第二条, 前言部分) from the memo-ready citations."""
    return {s.id: render.short_cite(format_cite(doc, s), doc.title, doc.doc_number)
            for doc in kb.docs.values() for s in doc.sections}


def panel_html(docs: Mapping[str, Document], data: Mapping[str, Any]) -> str:
    """Render the side panel for a chip's click data: section id, quote, cite and paragraph (款).

    A reference link to a paragraph (前款, 第六十一条第二款) carries no quote; the
    paragraph's text is highlighted instead, and the citation names the paragraph.
    """
    doc_id, _, section_no = str(data.get("section", "")).partition("#")
    doc = docs.get(doc_id)
    sec = doc.section(section_no) if doc else None
    if doc is None or sec is None:
        return render.panel_placeholder_html("找不到该条款，请在「文件」中查看全文。")
    quote = str(data.get("quote", "") or "")
    paragraph = str(data.get("paragraph", "") or "")
    if not quote and paragraph.isdigit() and render.paragraph_text(sec, int(paragraph)):
        quote = render.paragraph_text(sec, int(paragraph))
        cite = format_cite(doc, sec, paragraphs=(int(paragraph),))
    else:
        cite = format_cite(doc, sec)
    asked = str(data.get("cite", "") or "")
    # An item-level citation (第二条（一）) extends the section's; keep it for 复制引用.
    cite = asked if asked.startswith(cite) else cite
    return render.section_panel_html(doc, sec, cite, quote, docs)


def document_choices(kb: KnowledgeBase) -> list[tuple[str, str]]:
    """Return (label, doc_id) pairs for the scope filter: short title and 文号 of each document."""
    return [(render.short_title(d.title) + (f"（{d.doc_number}）" if d.doc_number else ""), d.doc_id)
            for d in kb.index.documents]


def turn_scope(kb: KnowledgeBase, question: str, chosen: Sequence[str], carried: Sequence[str] = ()) -> dict | None:
    """Return the scope a question was answered in: the 检索范围 chosen, the one the question names,
    or the one a follow-up carried over from the previous turn.

    {"source": "filter" | "question" | "context", "docs": [{"doc_id", "title"}]}; None for the whole knowledge base.
    """
    if chosen:
        source, doc_ids = "filter", list(chosen)
    else:
        source, doc_ids = "question", kb.scope(question)
        if not doc_ids and carried:
            source, doc_ids = "context", list(carried)
    docs = [{"doc_id": d, "title": kb.docs[d].title} for d in doc_ids if d in kb.docs]
    return {"source": source, "docs": docs} if docs else None


def chat_turn(kb: KnowledgeBase, message: str, mode: str, scope: Sequence[str], state: Mapping[str, Any] | None,
              max_chars: int = 0) -> tuple[dict, dict]:
    """Answer a chat message in the context of the conversation so far; return (turn, next state).

    The turn is a JSON-serialisable dict: question (as typed), answer or error, scope, and
    understood (the self-contained question, when the message was rewritten as a follow-up).
    A message that fails leaves the state as it was.

    Args:
        scope: the 检索范围 chosen; it overrides any scope a follow-up carries over.
        state: the conversation state (`conversation.new_state()` or None for a new conversation).
        max_chars: shorten the question shown for an error to this many characters (0: as typed).
    """
    state = json.loads(json.dumps(state)) if state else new_state()  # never share the caller's lists
    conversation = Conversation(kb, state)
    try:
        turn = conversation.ask(message, mode=mode, doc_ids=scope)
    except PolicyKBError as exc:
        text = str(message or "")
        return {"question": text[:max_chars] if max_chars else text, "error": error_message(exc)}, state
    answer = turn.answer.to_dict()
    rewritten = bool(turn.resolved.understood)
    return ({"question": turn.message if rewritten else answer["question"], "answer": answer,
             "understood": turn.resolved.understood, "kind": turn.resolved.kind,
             "scope": turn_scope(kb, turn.resolved.question, scope, turn.resolved.doc_ids)},
            conversation.state)


_MEMO_DIR: list[Path] = []


def memo_dir() -> Path:
    """Return this process's folder for exported memos, under the system temp dir (never the repository)."""
    if not _MEMO_DIR:
        _MEMO_DIR.append(Path(tempfile.mkdtemp(prefix="policykb-memo-")))
    return _MEMO_DIR[0]


def export_memo(state: Mapping[str, Any] | None, directory: Path | None = None) -> dict[str, Path]:
    """Write the conversation's citations as memo files; return {".md": path, ".docx": path}, or {} when none.

    Files are named by their content, so the same citations are written once.
    """
    citations = unique_citations((state or {}).get("citations", []))
    if not citations:
        return {}
    key = hashlib.sha256(json.dumps(citations, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]
    folder = (directory or memo_dir()) / key
    folder.mkdir(parents=True, exist_ok=True)
    paths = {suffix: folder / f"{MEMO_NAME}{suffix}" for suffix in (".md", ".docx")}
    for path in paths.values():
        if not path.exists():
            write_memo(citations, path)
    return paths


def memo_status(state: Mapping[str, Any] | None) -> str:
    """Return the line under the memo buttons: how many citations the memo holds, or why there is none."""
    n = len(unique_citations((state or {}).get("citations", [])))
    return render.memo_status_html(n, EMPTY_MEMO)


def _chat_tab(ctx: UIContext) -> None:
    kb = ctx.kb
    titles = {d.doc_id: d.title for d in kb.index.documents}

    def memo_outputs(state: dict | None) -> tuple[Any, Any, str]:
        paths = export_memo(state)
        return paths.get(".md"), paths.get(".docx"), memo_status(state)

    def respond(question: str, history: list[dict] | None, state: dict | None, mode: str,
                scope: list[str] | None = None):
        turn, state = chat_turn(kb, question, mode, [d for d in scope or () if d in kb.docs], state,
                                ctx.settings.max_question_chars)
        history = (list(history or []) + [turn])[-MAX_TURNS:]
        details = turn.get("answer", {}).get("question", turn["question"])  # the self-contained question
        return ("", history, state, render.transcript_html(history), details, mode, *memo_outputs(state))

    def clear():
        state = new_state()
        return ([], state, render.transcript_html([]), *memo_outputs(state))

    def memo_click(state: dict | None) -> None:
        if not export_memo(state):
            gr.Warning(EMPTY_MEMO, title="导出备忘录")

    def show_scope(scope: list[str] | None) -> str:
        return render.scope_bar_html([(d, titles[d]) for d in scope or () if d in titles], len(titles))

    def remove_scope(scope: list[str] | None, evt: gr.EventData):
        data = evt._data if isinstance(evt._data, dict) else {}
        drop = data.get("scope")
        kept = [] if drop == "*" else [d for d in scope or () if d != drop]
        return kept, show_scope(kept)

    gr.HTML(render.dense_banner_html(kb.dense_available, kb.dense_error), visible=not kb.dense_available,
            elem_id="pk-fallback")
    history = gr.State([])
    conversation = gr.State(new_state())  # what follow-ups resolve against, and the memo's citations
    scope_bar = gr.HTML(show_scope([]), js_on_load=SCOPE_JS, elem_id="pk-scope-bar")
    transcript = ctx.clickable(render.transcript_html([]), elem_id="pk-transcript", container=True,
                               min_height=320, max_height=640, autoscroll=True, padding=True)
    with gr.Row(equal_height=True):
        question = gr.Textbox(show_label=False, placeholder=f"输入问题，例如：{EXAMPLES[0]}（最多 "
                              f"{ctx.settings.max_question_chars} 字，超出部分不参与检索）",
                              lines=1, max_lines=4, scale=8, elem_id="pk-question", autofocus=True)
        send = gr.Button("提问", variant="primary", scale=1, min_width=90, elem_id="pk-send")
        clear_btn = gr.Button("清空对话", scale=1, min_width=90)
    with gr.Row(equal_height=True):
        mode = gr.Radio(MODE_CHOICES, value="hybrid", label="检索模式", elem_id="pk-mode", scale=1)
        scope = gr.Dropdown(document_choices(kb), value=[], multiselect=True, filterable=True,
                            label="检索范围（不选＝全部文件；可输入简称筛选）", elem_id="pk-scope", scale=2)
    with gr.Row(equal_height=True, elem_id="pk-memo"):
        memo_md = memo_button("导出备忘录 .md", size="sm", scale=0, min_width=150, elem_id="pk-memo-md")
        memo_docx = memo_button("导出备忘录 .docx（Word）", size="sm", scale=0, min_width=190, elem_id="pk-memo-docx")
        memo_hint = gr.HTML(memo_status(None), elem_id="pk-memo-status")
    gr.Examples([[q] for q in EXAMPLES], inputs=[question], label="示例问题（点击填入）")
    memo = [memo_md, memo_docx, memo_hint]
    gr.on([send.click, question.submit], respond, [question, history, conversation, mode, scope],
          [question, history, conversation, transcript, ctx.details["question"], ctx.details["mode"], *memo],
          api_visibility="private", concurrency_id="kb", concurrency_limit=CONCURRENCY)
    for button in (memo_md, memo_docx):
        button.click(memo_click, conversation, None, api_visibility="private")  # queued: gr.Warning needs it
    scope.change(show_scope, scope, scope_bar, api_visibility="private", queue=False)
    scope_bar.click(remove_scope, scope, [scope, scope_bar], api_visibility="private", queue=False)
    clear_btn.click(clear, None, [history, conversation, transcript, *memo], api_visibility="private", queue=False)


def _details_components(ctx: UIContext) -> None:
    """Create the 检索详情 inputs before the chat tab, so a chat question can fill them."""
    kb = ctx.kb

    def run(question: str, mode: str, k: float):
        try:
            result = kb.search(question, mode=mode, k=int(k)).to_dict(kb.sections)
        except EmptyQuestionError:
            return '<div class="pk-empty">输入问题后点击「检索」，或先在「问答」中提问。</div>', None
        except PolicyKBError as exc:
            return render.error_html(error_message(exc)), None
        return render.search_html(result, ctx.labels), result

    question = gr.Textbox(label="问题", placeholder="与「问答」中的最新问题同步，也可以单独输入", render=False,
                          elem_id="pk-details-question")
    mode = gr.Radio(MODE_CHOICES, value="hybrid", label="检索模式", render=False, elem_id="pk-details-mode")
    k = gr.Slider(3, 10, value=5, step=1, label="显示条数", render=False)
    table = ctx.clickable('<div class="pk-empty">在「问答」中提问后，这里显示该问题的检索详情。</div>',
                          elem_id="pk-details", render=False)
    raw = gr.JSON(label="检索结果", render=False)
    ctx.details = {"question": question, "mode": mode, "k": k, "table": table, "raw": raw, "run": run,
                   "inputs": [question, mode, k], "outputs": [table, raw]}


def _details_tab(ctx: UIContext) -> None:
    d = ctx.details
    gr.HTML('<p class="pk-hint">每个问题检索到的条款及其排名：关键词（BM25）与向量检索各自的名次和得分、'
            '融合后的综合得分，以及问题中的哪些检索词命中了该条。切换检索模式可比较三种方式。</p>')
    with gr.Row():
        d["question"].render()
        search = gr.Button("检索", variant="primary", scale=0, min_width=90)
    with gr.Row():
        d["mode"].render()
        d["k"].render()
    d["table"].render()
    with gr.Accordion("原始 JSON（与 policykb search --json 相同）", open=False):
        d["raw"].render()
    gr.on([search.click, d["question"].submit, d["mode"].input, d["k"].release], d["run"], d["inputs"],
          d["outputs"], api_visibility="private", concurrency_id="kb")


def _docs_tab(ctx: UIContext) -> None:
    kb = ctx.kb
    documents = kb.index.documents
    first = documents[0].doc_id if documents else None

    def show(doc_id: str | None) -> str:
        doc = kb.docs.get(doc_id or "")
        if doc is None:
            return '<div class="pk-empty">请选择文件。</div>'
        return render.document_html(doc, ctx.labels, kb.docs)

    def find(query: str) -> str:
        return render.document_list_html(find_documents(query or "", documents), len(documents), query or "")

    def open_doc(evt: gr.EventData):
        doc_id = str((evt._data if isinstance(evt._data, dict) else {}).get("doc", ""))
        if doc_id not in kb.docs:
            return gr.skip(), gr.skip()
        return doc_id, show(doc_id)

    with gr.Row(equal_height=True):
        query = gr.Textbox(label="查找文件", placeholder="标题、简称（民法典、银监法、担保解释）、文号（660号）或发文机关",
                           elem_id="pk-doc-search", scale=3)
        pick = gr.Dropdown(document_choices(kb), value=first, label="查看文件", elem_id="pk-doc-pick", scale=2)
    results = gr.HTML(find(""), js_on_load=CLICK_JS, elem_id="pk-doc-results", max_height=360, container=True)
    viewer = ctx.clickable(show(first), elem_id="pk-doc-view", padding=True)
    # .change, not .input: gradio 6.31's Textbox did not send .input for typed or pasted text here.
    query.change(find, query, results, api_visibility="private", queue=False, trigger_mode="always_last")
    query.submit(find, query, results, api_visibility="private", queue=False)
    for block in (results, viewer):  # the viewer's 效力状态 names the document that replaced it
        block.click(open_doc, None, [pick, viewer], api_visibility="private", queue=False)
    pick.input(show, pick, viewer, api_visibility="private", queue=False)
    gr.HTML('<h3>被引用的文件</h3><p class="pk-hint">通知中按标题引用的行动方案等文件。标为“仅被引用”的文件全文'
            '尚未收录，回答只能引用本通知中提到它们的条款。</p>')
    ctx.clickable(render.references_html(kb.index.references, ctx.labels), elem_id="pk-references")


def _training_tab(ctx: UIContext) -> None:
    from policykb.app.training import build_training_tab
    build_training_tab(list(ctx.kb.docs.values()))


def build_app(kb: KnowledgeBase, settings: Settings,
              extra_tabs: Sequence[tuple[str, TabBuilder]] = ()) -> gr.Blocks:
    """Build the Blocks app: 问答, 检索详情, 文件, 培训 (and any extra tabs), a section side panel and /ask."""
    labels = section_labels(kb)

    def open_section(evt: gr.EventData):
        data = evt._data if isinstance(evt._data, dict) else {}
        if "section" not in data:  # a click meant for another handler (a document to open)
            return gr.skip(), gr.skip()
        return panel_html(kb.docs, data), gr.Sidebar(open=True)

    def ask(question: str, mode: Mode = "hybrid", docs: list[str] | None = None) -> dict:
        """Answer one question; returns the same JSON object as `policykb ask --json`."""
        try:
            return kb.ask(question, mode=mode, doc_ids=docs or ()).to_dict()
        except PolicyKBError as exc:
            raise gr.Error(error_message(exc)) from None

    def chat(question: str, mode: Mode = "hybrid", docs: list[str] | None = None, state: dict | None = None) -> dict:
        """Answer a message of a conversation: resolved as a follow-up of the state ({} or null to
        start one); returns the object of `policykb chat --json` plus "state" for the next message."""
        try:
            conversation = Conversation(kb, json.loads(json.dumps(state or {})) or None)
            turn = conversation.ask(question, mode=mode, doc_ids=docs or ())
            return {**turn.to_dict(), "state": conversation.state}
        except PolicyKBError as exc:
            raise gr.Error(error_message(exc)) from None

    def search(question: str, mode: Mode = "hybrid", k: int = 5, docs: list[str] | None = None) -> dict:
        """Rank sections; returns the same JSON object as `policykb search --json`."""
        try:
            return kb.search(question, mode=mode, k=k, doc_ids=docs or ()).to_dict(kb.sections)
        except PolicyKBError as exc:
            raise gr.Error(error_message(exc)) from None

    with gr.Blocks(title=ui_page.PRODUCT, analytics_enabled=False) as app:
        with gr.Sidebar(label="条款全文", open=False, position="right", width=480,
                        elem_id="pk-sidebar") as sidebar:
            gr.HTML("<h3>条款全文</h3>")
            panel = gr.HTML(render.panel_placeholder_html(), js_on_load=CLICK_JS, elem_id="pk-panel")
        ctx = UIContext(kb, settings, labels, open_section, [panel, sidebar])
        # References inside the panel's text (前款, 本法第X条) open their target in the panel itself.
        panel.click(open_section, None, ctx.panel_outputs, api_visibility="private", queue=False)
        gr.HTML(f'<div class="pk-header"><h1>{TITLE}</h1><p>提问后，回答逐字引用文件条款，并给出可直接写入签报的出处'
                '（文件名、文号、第几条）；知识库中没有的规定会明确说明。</p></div>')
        _details_components(ctx)
        tabs: list[tuple[str, TabBuilder]] = [("问答", _chat_tab), ("检索详情", _details_tab), ("文件", _docs_tab),
                                              ("培训", _training_tab), *extra_tabs]
        with gr.Tabs():
            for label, build in tabs:
                with gr.Tab(label) as tab:
                    build(ctx)
                if build is _details_tab:
                    # Searched when opened, not after every chat answer: most questions never need it.
                    tab.select(ctx.details["run"], ctx.details["inputs"], ctx.details["outputs"],
                               api_visibility="private", concurrency_id="kb")
        with gr.Accordion("当前设置", open=False):
            gr.HTML(render.settings_html(settings.describe(), kb.dense_available, kb.dense_error))
        gr.api(ask, api_name="ask", concurrency_id="kb", concurrency_limit=CONCURRENCY)
        gr.api(chat, api_name="chat", concurrency_id="kb", concurrency_limit=CONCURRENCY)
        gr.api(search, api_name="search", concurrency_id="kb", concurrency_limit=CONCURRENCY)
    app.queue(default_concurrency_limit=CONCURRENCY)
    return app


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on host right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start(kb: KnowledgeBase, settings: Settings) -> tuple[gr.Blocks, str]:
    """Serve the app from a background thread (tests, benchmarks); port 0 picks a free port."""
    if not settings.port:
        settings = dataclasses.replace(settings, port=free_port(settings.host))
    app = build_app(kb, settings)
    _, url, _ = app.launch(prevent_thread_lock=True, **launch_options(settings))
    return app, url


def launch(settings: Settings, on_ingest: Callable[[str], None] | None = None) -> None:
    """Open the knowledge base and serve the app on settings.host:settings.port until interrupted."""
    kb = KnowledgeBase.open(settings, on_ingest=on_ingest)
    build_app(kb, settings).launch(**launch_options(settings))
