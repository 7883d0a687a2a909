"""The chat app: rendering, escaping, abstention, the /ask API over HTTP, auth and `serve`."""
from __future__ import annotations

import dataclasses
import json

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from policykb import ui, ui_render
from policykb.answer import format_cite
from policykb.cli import _settings, build_parser
from policykb.config import load_settings
from policykb.kb import KnowledgeBase

from tests.conftest import NOTICE_ID

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(autouse=True)
def _no_client_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """gradio_client reports usage unless told not to; these tests stay on loopback."""
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def server(kb, built_settings):
    """The app served on a free loopback port for this module."""
    app, url = ui.start(kb, dataclasses.replace(built_settings, port=0))
    yield url
    app.close()


def client(url: str, **kwargs) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=False, **kwargs)


def test_build_app_has_the_tabs_side_panel_and_only_public_api(kb, built_settings):
    app = ui.build_app(kb, built_settings)
    assert isinstance(app, gr.Blocks)
    assert app.analytics_enabled is False
    config = app.get_config_file()
    labels = {c["props"].get("label") for c in config["components"]}
    assert {"问答", "检索详情", "文件", "培训", "当前设置", "条款全文"} <= labels
    public = {d["api_name"] for d in config["dependencies"] if d.get("api_visibility") == "public"}
    assert public == {"ask", "search", "quiz_start", "quiz_submit", "quiz_next"}


def test_extra_tabs_are_added_after_the_built_in_ones(kb, built_settings):
    built = []
    app = ui.build_app(kb, built_settings, extra_tabs=[("附加", lambda ctx: built.append(ctx.kb))])
    tabs = [c["props"]["label"] for c in app.get_config_file()["components"] if c["type"] == "tabitem"]
    assert tabs == ["问答", "检索详情", "文件", "培训", "附加"]
    assert built == [kb]


@pytest.mark.parametrize("question, mode", [
    ("续贷有什么要求", "hybrid"),
    ("今天天气怎么样", "hybrid"),
    ("What does the notice say about green finance?", "hybrid"),
    ("续贷有什么要求", "keyword"),
])
def test_ask_api_returns_answer_to_dict(server, kb, question, mode):
    got = client(server).predict(question, mode, api_name="/ask")
    assert got == json.loads(json.dumps(kb.ask(question, mode=mode).to_dict()))


def test_ask_api_mode_defaults_to_hybrid(server, kb):
    got = client(server).predict("续贷有什么要求", api_name="/ask")
    assert got["mode"] == "hybrid"
    assert [c["section_no"] for c in got["citations"]][:1] == ["二"]


def test_ask_api_empty_question_is_a_short_chinese_error(server):
    with pytest.raises(Exception) as info:
        client(server).predict("   ", api_name="/ask")
    assert ui.EMPTY_QUESTION in str(info.value)
    assert "Traceback" not in str(info.value)


def test_answer_html_quotes_each_citation_with_a_chip_and_copy_text(kb):
    answer = kb.ask("续贷有什么要求").to_dict()
    html = ui_render.answer_html(answer)
    cite = answer["citations"][0]
    assert 'class="pk-a pk-answer"' in html
    assert f'data-section="{NOTICE_ID}#二"' in html
    assert ui_render.esc(cite["quote"]) in html
    assert ui_render.esc(ui_render.copy_text(cite["cite"], cite["quote"])) in html
    assert "知识库中没有相关规定" not in html


def test_abstention_looks_different_and_lists_related_sections(kb):
    answer = kb.ask("今天天气怎么样").to_dict()
    html = ui_render.answer_html(answer)
    assert answer["abstained"]
    assert 'class="pk-a pk-abstain"' in html
    assert "知识库中没有相关规定" in html and "可能相关" in html
    assert html.count('class="pk-chip"') == len(answer["related"]) > 0
    assert "pk-copy" not in html and "pk-quote" not in html


def test_question_and_answer_text_are_escaped(kb):
    turn = {"question": XSS, "answer": kb.ask(XSS).to_dict()}
    html = ui_render.transcript_html([turn, {"question": XSS, "error": XSS}])
    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 3


def test_document_text_is_escaped(kb):
    doc = kb.docs[NOTICE_ID]
    sec = doc.sections[1]
    evil = dataclasses.replace(sec, text=sec.text + XSS, title=XSS, chapter=XSS)
    evil_doc = dataclasses.replace(doc, title=XSS, issuer=XSS, sections=(evil,))
    pieces = [ui_render.document_html(evil_doc, {}),
              ui_render.section_panel_html(evil_doc, evil, format_cite(evil_doc, evil), XSS),
              ui_render.section_chip(XSS, XSS, XSS, XSS)]
    for html in pieces:
        assert "<img" not in html
        assert "&lt;img" in html


def test_section_panel_highlights_the_verbatim_quote_only(kb):
    sec = kb.section("二", NOTICE_ID)
    doc = kb.docs[NOTICE_ID]
    quote = sec.spans[1].text
    html = ui_render.section_panel_html(doc, sec, format_cite(doc, sec), quote)
    assert f'<mark class="pk-hl">{ui_render.esc(quote)}</mark>' in html
    assert "第二条" in html and doc.doc_number in html
    assert "<mark" not in ui_render.section_panel_html(doc, sec, format_cite(doc, sec), "不在本条中的句子")


def test_long_question_shows_the_truncation_notice(kb, built_settings):
    limit = built_settings.max_question_chars
    answer = kb.ask("续贷有什么要求" * (limit // 7 + 5)).to_dict()
    html = ui_render.answer_html(answer)
    assert len(answer["question"]) == limit
    assert any(str(limit) in n for n in answer["notices"])
    assert f'<div class="pk-notice" role="note">{ui_render.esc(answer["notices"][0])}</div>' in html


def test_keyword_fallback_is_announced(built_settings):
    kb = KnowledgeBase.open(built_settings, dense=False)
    answer = kb.ask("续贷有什么要求")
    assert answer.mode == "keyword" and answer.notices
    assert "pk-notice" in ui_render.answer_html(answer.to_dict())
    banner = [c for c in ui.build_app(kb, built_settings).get_config_file()["components"]
              if c["props"].get("elem_id") == "pk-fallback"][0]
    assert banner["props"]["visible"] is True
    assert "仅按关键词检索" in banner["props"]["value"]


def test_search_html_shows_ranks_scores_and_matched_terms(kb):
    result = kb.search("续贷有什么要求", mode="hybrid", k=5).to_dict(kb.sections)
    html = ui_render.search_html(result, ui.section_labels(kb))
    top = result["hits"][0]
    assert f'#{top["ranks"]["keyword"]}<br><small>{top["scores"]["keyword"]:.3f}</small>' in html
    assert f'#{top["ranks"]["dense"]}<br><small>{top["scores"]["dense"]:.3f}</small>' in html
    assert '<span class="pk-term pk-term-hit">续贷</span>' in html
    assert html.count("<tr>") == len(result["hits"]) + 1


def test_documents_tab_lists_metadata_sections_and_referenced_plans(kb):
    labels = ui.section_labels(kb)
    doc = kb.docs[NOTICE_ID]
    html = ui_render.document_html(doc, labels)
    for value in (doc.doc_number, doc.issuer, doc.date):
        assert ui_render.esc(value) in html
    assert html.count('<section class="pk-doc-sec"') == len(doc.sections)
    assert html.count('<li><a href="#pk-sec-') == len(doc.sections)
    refs = ui_render.references_html(kb.index.references, labels)
    assert refs.count("全文未收录") == sum(1 for r in kb.index.references if not r.resolved_doc_id) > 0


def test_settings_panel_hides_the_password(built_settings):
    settings = dataclasses.replace(built_settings, auth="staff:s3cret")
    html = ui_render.settings_html(settings.describe(), True, "")
    assert "staff:***" in html and "s3cret" not in html


def test_launch_binds_loopback_without_share_or_web_fonts():
    options = ui.launch_options(load_settings({}, environ={}))
    assert options["server_name"] == "127.0.0.1" and options["server_port"] == 7860
    assert options["share"] is False and options["auth"] is None
    assert options["theme"]._stylesheets == []


def test_auth_refuses_requests_without_credentials(kb, built_settings):
    app, url = ui.start(kb, dataclasses.replace(built_settings, port=0, auth="staff:s3cret"))
    try:
        assert httpx.get(url + "config").status_code == 401
        assert httpx.post(url + "gradio_api/call/ask", json={"data": ["续贷有什么要求"]}).status_code == 401
        with pytest.raises(Exception):
            client(url)
        with pytest.raises(Exception):
            client(url, auth=("staff", "wrong"))
        got = client(url, auth=("staff", "s3cret")).predict("续贷有什么要求", api_name="/ask")
        assert got["citations"][0]["section_no"] == "二"
    finally:
        app.close()


def test_serve_subcommand_maps_host_and_port():
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "8123"])
    settings = _settings(args)
    assert (settings.host, settings.port) == ("0.0.0.0", 8123)
    assert args.func.__name__ == "cmd_serve"
