"""The chat app: rendering, escaping, abstention, the /ask API over HTTP, auth and `serve`."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from policykb.app import page as ui_page, render as ui_render, ui
from policykb.answer.compose import format_cite
from policykb.cli import _settings, build_parser
from policykb.config import load_settings
from policykb.ingest.formats import read_any
from policykb.kb import KnowledgeBase
from policykb.ingest.links import Link, find_links
from policykb.ingest.parse import Amendment, parse_text

from tests.conftest import NOTICE_ID, ROOT

XSS = "<img src=x onerror=alert(1)>"
PACK = ROOT / "packs" / "finance-laws"
LAWS = {"minfadian": "中华人民共和国民法典.md", "shangyeyinhangfa": "商业银行法.md",
        "danbao-jieshi": "最高人民法院关于适用《民法典》有关担保制度的解释.md"}


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


@pytest.fixture(scope="module")
def laws() -> dict:
    """The 民法典, 商业银行法 and 担保制度解释 parsed from the finance-laws pack, by doc id."""
    return {doc_id: parse_text(read_any(PACK / name), doc_id) for doc_id, name in LAWS.items()}


def labels_of(*docs) -> dict[str, str]:
    """Return section id -> short label, as the app's section_labels does for the knowledge base."""
    return {s.id: ui_render.short_cite(format_cite(d, s), d.title, d.doc_number) for d in docs for s in d.sections}


def panel_meta(html: str) -> str:
    return re.search(r'<div class="pk-panel-meta">(.*?)</div>', html).group(1)


def crumbs(html: str) -> list[str]:
    return re.findall(r'<span class="pk-crumb">(.*?)</span>', html)


def chip_links(html: str) -> list[tuple[str, str, str]]:
    """Return (data-section, data-paragraph, text) of each reference link in some HTML."""
    return [(m.group(1), m.group(2) or "", re.sub(r"<[^>]+>", "", m.group(3))) for m in re.finditer(
        r'<button type="button" class="pk-chip pk-link" data-section="([^"]*)"(?: data-paragraph="(\d+)")?'
        r'[^>]*>(.*?)</button>', html)]


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
    assert public == {"ask", "chat", "search", "quiz_start", "quiz_submit", "quiz_next"}
    assert not Path(ui.__file__).with_suffix(".pyi").exists()  # gradio writes one beside a component subclass


def test_side_panel_opens_the_sections_its_own_links_point_to(kb, built_settings):
    config = ui.build_app(kb, built_settings).get_config_file()
    panel = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == "pk-panel")
    assert any((panel, "click") in map(tuple, d["targets"]) for d in config["dependencies"])
    assert "paragraph: chip.dataset.paragraph" in ui.CLICK_JS


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
    evil = dataclasses.replace(sec, text=sec.text + XSS, title=XSS, path=(XSS, XSS))
    evil_doc = dataclasses.replace(doc, title=XSS, issuer=XSS, doc_number=XSS, effective_date=XSS,
                                   status=XSS, superseded_by=XSS, amendments=(Amendment(XSS, XSS, XSS),),
                                   sections=(evil,))
    pieces = [ui_render.document_html(evil_doc, {}),
              ui_render.section_panel_html(evil_doc, evil, format_cite(evil_doc, evil), XSS),
              ui_render.section_chip(XSS, XSS, XSS, XSS)]
    for html in pieces:
        assert "<img" not in html
        assert "&lt;img" in html
    assert pieces[0].count("&lt;img") >= 8 and pieces[1].count("&lt;img") >= 5


def test_reference_links_and_quotes_are_escaped(laws):
    doc = laws["minfadian"]
    sec = doc.section("第八百二十七条")
    # A 款 of hostile text ahead of the 前款 reference: the link and the quote both cross it.
    text = sec.text.replace("\n托运人违反前款", f"{XSS}\n托运人违反前款")
    evil = dataclasses.replace(sec, text=text, paragraph_starts=(0, text.index("\n") + 1))
    evil_doc = dataclasses.replace(doc, sections=tuple(evil if s is sec else s for s in doc.sections))
    html = ui_render.section_panel_html(evil_doc, evil, XSS, XSS + "\n托运人违反前款规定")
    assert "<img" not in html and html.count("&lt;img") == 4  # text, cite, and the copied cite and quote
    assert ("minfadian#第八百二十七条", "1", "前款") in chip_links(html)
    # The quote runs over two 款: each gets its own <mark>, and both 款 are marked.
    assert (f'<mark class="pk-hl">{ui_render.esc(XSS)}</mark></div><div class="pk-para pk-para-hl" data-paragraph="2">'
            '<span class="pk-para-no">第二款</span><mark class="pk-hl">托运人违反<button') in html
    # A link's own text (a 《title》 may hold anything) is escaped, whole or split by the quote.
    text = f"见《{XSS}》第一条"
    link = Link(text[1:], 1, len(text), "d", "第一条")
    for quote in ("", text, "见《<img", "onerror"):
        html = ui_render.linked_text(text, quote, [link], {link: XSS})
        assert "<img" not in html and html.count("&lt;img") == 2


def test_section_panel_highlights_the_verbatim_quote_only(kb):
    sec = kb.section("二", NOTICE_ID)
    doc = kb.docs[NOTICE_ID]
    quote = sec.spans[1].text
    html = ui_render.section_panel_html(doc, sec, format_cite(doc, sec), quote)
    assert f'<mark class="pk-hl">{ui_render.esc(quote)}</mark>' in html
    assert "第二条" in html and doc.doc_number in html
    assert "<mark" not in ui_render.section_panel_html(doc, sec, format_cite(doc, sec), "不在本条中的句子")


def test_notice_panel_meta_names_number_issuer_and_dates_and_has_no_path(kb):
    doc = kb.docs[NOTICE_ID]
    sec = kb.section("二", NOTICE_ID)
    html = ui_render.section_panel_html(doc, sec, format_cite(doc, sec), documents=kb.docs)
    assert panel_meta(html) == (f"{ui_render.esc(doc.doc_number)} · {doc.issuer} · {doc.date} 成文 · "
                                f"{doc.effective_date} 施行")
    assert "pk-breadcrumb" not in html and "pk-link" not in html


def test_law_panel_shows_the_path_once_and_skips_the_missing_doc_number(laws):
    doc = laws["minfadian"]
    sec = doc.section("第六百八十六条")
    html = ui.panel_html(laws, {"section": sec.id})
    assert crumbs(html) == ["第三编 合同", "第二分编 典型合同", "第十三章 保证合同", "第一节 一般规定"]
    assert html.count("第十三章 保证合同") == 1
    assert doc.doc_number == "" and panel_meta(html) == "全国人民代表大会 · 2020-05-28 通过 · 2021-01-01 施行"
    assert '<div class="pk-panel-cite">《中华人民共和国民法典》第六百八十六条</div>' in html
    assert chip_links(html) == [] and "<mark" not in html


def test_amended_law_panel_names_its_latest_amendment(laws):
    html = ui.panel_html(laws, {"section": "shangyeyinhangfa#第一条"})
    assert panel_meta(html) == "全国人民代表大会常务委员会 · 1995-05-10 通过 · 2015-08-29 第二次修正"
    assert crumbs(html) == ["第一章 总则"]
    gone = dataclasses.replace(laws["shangyeyinhangfa"], status="已被替代", superseded_by="minfadian")
    meta = panel_meta(ui_render.section_panel_html(gone, gone.sections[0], "", documents=laws))
    assert meta.endswith('<span class="pk-status pk-status-ref">已被替代（由《中华人民共和国民法典》替代）</span>')


def test_law_panel_links_this_laws_articles_and_its_previous_paragraph(laws):
    doc = laws["minfadian"]
    sec = doc.section("第八百二十七条")
    html = ui.panel_html(laws, {"section": sec.id})
    assert chip_links(html) == [("minfadian#第六百一十九条", "", "本法第六百一十九条"),
                                ("minfadian#第八百二十七条", "1", "前款")]
    assert len(chip_links(html)) == len(find_links(doc, sec, laws))
    assert 'title="查看：本条第一款"' in html
    # Following 前款 opens the same article with that paragraph highlighted and cited.
    opened = ui.panel_html(laws, {"section": "minfadian#第八百二十七条", "paragraph": "1"})
    first = ui_render.paragraph_text(sec, 1)
    assert first.startswith("托运人应当按照约定的方式包装货物") and first.endswith("的规定。")
    assert '<div class="pk-panel-cite">《中华人民共和国民法典》第八百二十七条第一款</div>' in opened
    assert opened.count("<mark") == 1
    assert re.sub(r"<button[^>]*>|</button>", "", opened).count(f'<mark class="pk-hl">{first}</mark>') == 1


def test_interpretation_links_to_the_civil_code_only_when_it_is_loaded(laws):
    doc = laws["danbao-jieshi"]
    sec = doc.section("第七条")
    html = ui.panel_html(laws, {"section": sec.id})
    assert ("minfadian#第六十一条", "", "民法典第六十一条") in chip_links(html)
    assert 'title="查看：《中华人民共和国民法典》第六十一条"' in html
    assert ("danbao-jieshi#第十七条", "", "本解释第十七条") in chip_links(html)
    alone = ui.panel_html({doc.doc_id: doc}, {"section": sec.id})
    assert [target for target, _, _ in chip_links(alone)] == ["danbao-jieshi#第十七条", "danbao-jieshi#第七条"]
    assert "民法典第六十一条" in alone
    # The linked article opens in the panel like any chip's section.
    target = ui.panel_html(laws, {"section": "minfadian#第六十一条"})
    assert '<div class="pk-panel-cite">《中华人民共和国民法典》第六十一条</div>' in target
    assert crumbs(target)[0] == "第一编 总则"


def test_panel_for_an_unknown_section_is_a_placeholder(laws):
    for data in ({"section": "minfadian#第九千条"}, {"section": "nope#第一条"}, {}):
        assert "找不到该条款" in ui.panel_html(laws, data)
    # A paragraph the article does not have falls back to the whole article.
    html = ui.panel_html(laws, {"section": "minfadian#第六百八十六条", "paragraph": "9"})
    assert "<mark" not in html and "第六百八十六条</div>" in html


def _shape(html: str) -> str:
    """Reduce linked text to its structure: [link], {mark}; and check the tags nest."""
    stack = []
    for m in re.finditer(r"<(/?)(mark|button)\b[^>]*>", html):
        if m.group(1):
            assert stack and stack.pop() == m.group(2), html
        else:
            stack.append(m.group(2))
    assert not stack, html
    return (re.sub(r"<button[^>]*>", "[", html).replace("</button>", "]")
            .replace('<mark class="pk-hl">', "{").replace("</mark>", "}"))


@pytest.mark.parametrize("quote, links, shape", [
    ("", [(2, 4)], "ab[cd]efgh"),
    ("bcdef", [(2, 4)], "a{b[cd]ef}gh"),       # a link inside the quote sits in its one <mark>
    ("cd", [(2, 4)], "ab{[cd]}efgh"),
    ("c", [(1, 4)], "a[b{c}d]efgh"),           # a quote inside a link is marked inside it
    ("abc", [(2, 5)], "{ab}[{c}de]fgh"),       # the quote ends inside a link
    ("defg", [(2, 5)], "ab[c{de}]{fg}h"),      # the quote starts inside a link
    ("bcdefg", [(1, 3), (5, 7)], "a{[bc]de[fg]}h"),
    ("cdef", [(1, 3), (5, 7)], "a[b{c}]{de}[{f}g]h"),  # both ends inside links
    ("", [(1, 4), (2, 6)], "a[bcd]efgh"),      # an overlapping link is left as text
    ("", [(0, 8)], "[abcdefgh]"),
    ("xyz", [(2, 4)], "ab[cd]efgh"),           # a quote not in the text marks nothing
])
def test_linked_text_nests_links_and_the_quote(quote, links, shape):
    text = "abcdefgh"
    made = [Link(text[a:b], a, b, "d", f"第{a}条") for a, b in links]
    assert _shape(ui_render.linked_text(text, quote, made)) == shape


def test_linked_text_skips_links_that_do_not_match_the_text():
    stale = [Link("前款", 0, 2, "d", "第一条"), Link("ab", 6, 9, "d", "第二条")]
    assert ui_render.linked_text("abcdefgh", "", stale) == "abcdefgh"


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
    assert f"<tr><th>成文日期</th><td>{doc.date}</td></tr>" in html
    assert f"<tr><th>施行日期</th><td>{doc.effective_date}</td></tr>" in html
    assert '<tr><th>效力状态</th><td><span class="pk-status pk-status-ok">现行有效</span></td></tr>' in html
    assert "修改沿革" not in html and "pk-toc-path" not in html
    refs = ui_render.references_html(kb.index.references, labels)
    assert refs.count("全文未收录") == sum(1 for r in kb.index.references if not r.resolved_doc_id) > 0


def test_documents_tab_shows_a_laws_history_and_each_path_once(laws):
    doc = laws["shangyeyinhangfa"]
    html = ui_render.document_html(doc, labels_of(doc), laws)
    rows = dict(re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", html))
    assert "文号" not in rows and "施行日期" not in rows
    assert rows["发文机关"] == "全国人民代表大会常务委员会" and rows["通过日期"] == "1995-05-10"
    assert "现行有效" in rows["效力状态"]
    history = re.findall(r"<li><time>(.*?)</time> (.*?)[ <]", rows["修改沿革"])
    assert history == [("1995-05-10", "通过"), ("2003-12-27", "第一次修正"), ("2015-08-29", "第二次修正")]
    assert "《关于修改&lt;中华人民共和国商业银行法&gt;的决定》" in rows["修改沿革"]
    chapters = list(dict.fromkeys(s.chapter for s in doc.sections))
    assert len(chapters) > 5
    for chapter in chapters:
        assert html.count(chapter) == 2  # once in the contents, once above its first article
    assert re.search(r"</a> 第一条 <button", html)
    assert html.count('<li><a href="#pk-sec-') == len(doc.sections)
    assert '<details class="pk-toc">' in html  # 95 articles: the contents start folded


def test_documents_tab_names_dates_and_what_replaced_a_document(laws):
    code = laws["minfadian"]
    html = ui_render.document_html(code, labels_of(code), laws)
    rows = dict(re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", html))
    assert rows["通过日期"] == "2020-05-28" and rows["施行日期"] == "2021-01-01"
    assert html.count(ui_render.esc(code.section("第六百八十六条").chapter)) == 1  # contents; crumbs above text
    gone = dataclasses.replace(laws["shangyeyinhangfa"], status="已被替代", superseded_by="minfadian")
    rows = dict(re.findall(r"<tr><th>(.*?)</th><td>(.*?)</td></tr>", ui_render.document_html(gone, {}, laws)))
    assert rows["效力状态"] == ('<span class="pk-status pk-status-ref">已被替代（由<button type="button" '
                            'class="pk-doc-open" data-doc="minfadian">《中华人民共和国民法典》</button>替代）</span>')


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


def test_served_page_names_the_product_and_points_nowhere_outside(server):
    html = httpx.get(server).text
    head = html[:html.index("</head>")]
    assert re.findall(r"<title>(.*?)</title>", html) == [ui_page.PRODUCT]
    tags = dict(re.findall(r'<meta\s+(?:property|name)="((?:og|twitter):[^"]*)"\s+content="([^"]*)"', head))
    assert tags["og:title"] == tags["twitter:title"] == ui_page.PRODUCT
    assert tags["og:description"] == tags["twitter:description"] == ui_page.DESCRIPTION
    assert len(re.findall(r'property="og:title"', head)) == 1  # Gradio's own tags are gone, not shadowed
    contents = re.findall(r'<meta\b[^>]*\bcontent="([^"]*)"', head)
    assert not [c for c in contents if "Gradio" in c or "Click to try" in c]
    for name in ("og:image", "twitter:image"):
        assert httpx.get(server + tags[name]).headers["content-type"] == "image/svg+xml"
    hosts = {urlsplit(u).hostname for u in re.findall(r'(?:https?:)?//[\w.-]+(?::\d+)?', html)}
    assert hosts <= {"127.0.0.1", "localhost"}, hosts
    assert 'lang="zh-CN"' in head


def test_panel_marks_the_quoted_paragraph_of_a_several_paragraph_article(laws):
    doc = laws["minfadian"]
    sec = doc.section("第六百八十五条")
    second = ui_render.paragraph_text(sec, 2)
    quote = second[2:20]
    html = ui.panel_html(laws, {"section": sec.id, "quote": quote,
                                "cite": "《中华人民共和国民法典》第六百八十五条第二款"})
    paras = re.findall(r'<div class="pk-para( pk-para-hl)?" data-paragraph="(\d)">', html)
    assert paras == [("", "1"), (" pk-para-hl", "2")]
    assert html.count('<span class="pk-para-no">') == 1 and "第二款</span>" in html
    assert html.count(f'<mark class="pk-hl">{quote}</mark>') == 1
    assert '<div class="pk-panel-cite">《中华人民共和国民法典》第六百八十五条第二款</div>' in html
    # A one-paragraph article (a notice measure) has no 款 blocks.
    notice = ui_render.section_panel_html(doc, doc.section("第一条"), "c", "")
    assert "pk-para" not in notice


@pytest.mark.parametrize("query, first", [
    ("民法典", "minfadian"), ("商行法", "shangyeyinhangfa"), ("担保解释", "danbao-jieshi"),
    ("担保制度", "danbao-jieshi"), ("24号文", NOTICE_ID), ("沪银保监发〔2023〕24号", NOTICE_ID),
    ("上海银保监局", NOTICE_ID), ("最高人民法院", "danbao-jieshi"), ("全国人民代表大会常务委员会 2015", "shangyeyinhangfa"),
])
def test_document_search_finds_by_name_number_issuer_and_date(kb, laws, query, first):
    from policykb.retrieval.lookup import find_documents
    documents = [kb.docs[NOTICE_ID], *laws.values()]
    found = find_documents(query, documents)
    assert found and found[0].doc_id == first
    assert find_documents("", documents) == documents
    assert find_documents("不存在的文件名称", documents) == []


def test_document_list_shows_metadata_and_opens_each_document(kb, laws):
    documents = [kb.docs[NOTICE_ID], *laws.values()]
    html = ui_render.document_list_html(documents, len(documents))
    assert "共 4 份文件" in html and html.count('class="pk-doc-open"') == 4
    notice = kb.docs[NOTICE_ID]
    row = re.search(rf'<tr data-doc="{NOTICE_ID}">(.*?)</tr>', html).group(1)
    for value in (notice.doc_number, notice.issuer, notice.date, notice.effective_date, "现行有效"):
        assert ui_render.esc(value) in row
    assert "找到 1 份文件（共 4 份）" in ui_render.document_list_html(documents[:1], 4, "通知")
    assert "没有找到与“&lt;img" in ui_render.document_list_html([], 4, XSS)


def test_scope_bar_shows_removable_chips_or_all_documents():
    assert "全部文件（23 份）" in ui_render.scope_bar_html([], 23)
    html = ui_render.scope_bar_html([("minfadian", "中华人民共和国民法典"), ("x", XSS)], 23)
    assert "检索范围（2/23）" in html and "《民法典》" in html and "<img" not in html
    assert re.findall(r'class="pk-scope-remove[^"]*" data-scope="([^"]*)"', html) == ["minfadian", "x", "*"]


def test_a_turn_names_the_scope_the_question_set_or_the_filter_chose(kb, built_settings):
    question = "在通知中，续贷有什么要求"
    own = ui.turn_scope(kb, question, [])
    assert own == {"source": "question", "docs": [{"doc_id": NOTICE_ID, "title": kb.docs[NOTICE_ID].title}]}
    assert ui.turn_scope(kb, "续贷有什么要求", []) is None
    assert ui.turn_scope(kb, "续贷有什么要求", [NOTICE_ID])["source"] == "filter"
    html = ui_render.transcript_html([{"question": question, "answer": kb.ask(question).to_dict(), "scope": own}])
    assert '<div class="pk-turn-scope" data-source="question">问题中指明，仅在其中检索：<b>《上海银保监局' in html
    assert "已选检索范围" in ui_render.turn_scope_html(ui.turn_scope(kb, "续贷", [NOTICE_ID]))


def chat_handler(app: gr.Blocks, name: str):
    """Return the chat tab's handler called `name` (respond, clear, memo_click) as wired in the app."""
    return next(f.fn for f in app.fns.values() if getattr(f.fn, "__name__", "") == name)


def test_a_follow_up_is_resolved_against_the_previous_turn_and_shows_what_was_understood(kb, built_settings):
    respond = chat_handler(ui.build_app(kb, built_settings), "respond")
    out = respond("普惠贷款的目标是多少？", [], None, "hybrid", [])
    _, history, state, _, _, _, _, _, _ = out
    assert history[0]["understood"] == "" and state["question"] == "普惠贷款的目标是多少？"
    json.dumps(state)  # the gr.State must stay JSON-serialisable

    _, history, state, html, details, _, md, docx, status = respond("那绿色金融呢？", history, state, "hybrid", [])
    follow = history[1]
    assert follow["question"] == "那绿色金融呢？" and follow["kind"] == "elliptical"
    assert follow["understood"].startswith("绿色金融") and follow["answer"]["question"] == details
    assert f'<div class="pk-understood">理解为：{ui_render.esc(follow["understood"])}</div>' in html
    assert html.count("pk-understood") == 1  # the first question was taken as typed
    assert follow["answer"]["citations"] == json.loads(json.dumps(kb.ask(details).to_dict()))["citations"]
    assert Path(md).suffix == ".md" and Path(docx).suffix == ".docx" and 'data-count="' in status


def test_clear_starts_a_new_conversation_and_the_chosen_scope_still_applies(kb, built_settings):
    app = ui.build_app(kb, built_settings)
    respond, clear = chat_handler(app, "respond"), chat_handler(app, "clear")
    _, history, state, *_ = respond("普惠贷款的目标是多少？", [], None, "hybrid", [])
    history, state, html, md, docx, status = clear()
    assert history == [] and state == ui.new_state() and md is None and docx is None
    assert ui.EMPTY_MEMO in status and "pk-empty" in html
    _, history, state, *_ = respond("那绿色金融呢？", history, state, "hybrid", [NOTICE_ID])
    assert history[0]["understood"] == "" and history[0]["kind"] == "fresh"  # nothing to follow after /new
    assert history[0]["scope"]["source"] == "filter"


def test_memo_lists_the_citations_of_two_turns_in_order_each_once(kb, tmp_path):
    first, state = ui.chat_turn(kb, "续贷有什么要求", "hybrid", [], None)
    second, state = ui.chat_turn(kb, "续贷有什么要求？", "hybrid", [], state)  # the same clause again
    third, state = ui.chat_turn(kb, "那绿色金融呢？", "hybrid", [], state)
    cites = [c["cite"] for t in (first, second, third) for c in t["answer"]["citations"]]
    expected = list(dict.fromkeys(cites))
    assert len(expected) < len(cites) and len(expected) >= 2
    assert ui.export_memo(ui.new_state(), tmp_path) == {}
    paths = ui.export_memo(state, tmp_path)
    assert set(paths) == {".md", ".docx"} and all(p.is_relative_to(tmp_path) for p in paths.values())
    md = paths[".md"].read_text(encoding="utf-8")
    numbered = re.findall(r"^\d+\. (.+)$", md, flags=re.M)
    assert numbered == expected
    assert all(f"“{c['quote']}" in md for t in (first, third) for c in t["answer"]["citations"])
    from docx import Document
    bold = [p.text for p in Document(str(paths[".docx"])).paragraphs if p.runs and p.runs[0].bold]
    assert bold == [f"{n}. {c}" for n, c in enumerate(expected, start=1)]
    assert ui.export_memo(state, tmp_path) == paths  # the same citations are written once
    assert not ui.memo_dir().is_relative_to(ROOT)


def test_chat_api_answers_follow_ups_and_ask_stays_one_question(server, kb):
    api = client(server)
    first = api.predict("普惠贷款的目标是多少？", "hybrid", [], {}, api_name="/chat")
    assert first["understood"] == "" and first["state"]["question"] == "普惠贷款的目标是多少？"
    follow = api.predict("那绿色金融呢？", "hybrid", [], first["state"], api_name="/chat")
    assert follow["kind"] == "elliptical" and follow["understood"].startswith("绿色金融")
    alone = api.predict("那绿色金融呢？", api_name="/ask")
    assert "state" not in alone and alone == json.loads(json.dumps(kb.ask("那绿色金融呢？").to_dict()))


def test_ask_over_plain_http_takes_the_three_values_it_always_took(server):
    """A script that posts [question, mode, doc ids] to /ask, as before conversations existed."""
    import httpx
    joined = httpx.post(server + "gradio_api/call/ask", json={"data": ["续贷有什么要求？", "hybrid", []]})
    stream = httpx.get(server + f"gradio_api/call/ask/{joined.json()['event_id']}", timeout=60).text
    assert "event: complete" in stream and "citations" in stream
