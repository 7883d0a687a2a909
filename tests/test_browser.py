"""The chat app in Debian's headless chromium: answers, side panel (path, 款, links), scopes, documents search, title, no outside requests."""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from policykb.app import ui

from tests.conftest import NOTICE_ID

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
XSS = "<img src=x onerror=alert(1)>"
# Draw two characters in the page's own font; identical bitmaps mean both fell back to the .notdef box.
GLYPHS_DIFFER = """([a, b]) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 48;
  const g = canvas.getContext('2d');
  g.font = '40px ' + getComputedStyle(document.body).fontFamily;
  const draw = (ch) => { g.clearRect(0, 0, 48, 48); g.fillText(ch, 2, 42);
                         return Array.from(g.getImageData(0, 0, 48, 48).data).join(','); };
  const first = draw(a);
  return first !== draw(b) && /[1-9]/.test(first);
}"""
WAIT = 60_000  # ms; an answer takes about a second, more on a busy CI machine


@pytest.fixture(scope="module")
def server(kb, built_settings):
    """The app served on a free loopback port for this module."""
    app, url = ui.start(kb, dataclasses.replace(built_settings, port=0))
    yield url
    app.close()


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (Playwright's own browser download needs internet)."""
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing; run `make system-deps` (installs chromium and fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def open_page(browser, url: str):
    """Return a fresh page on the app that records every request and dialog and stops any leaving the machine.

    Every request is routed: one to a host other than 127.0.0.1/localhost is recorded in
    page.outside and aborted, so a test neither waits on the internet nor passes by luck.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = context.new_page()
    page.requests, page.dialogs, page.outside = [], [], []

    def route(route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            page.outside.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url)
    page.wait_for_selector("#pk-question textarea", timeout=WAIT)
    return page


@pytest.fixture()
def page(browser, server):
    """A fresh page on the notice's app (see open_page)."""
    page = open_page(browser, server)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def laws_server(laws_env):
    """The app over the notice plus five laws (added with `policykb add`), on a free loopback port."""
    from policykb.kb import KnowledgeBase
    from tests.conftest import make_settings
    settings = make_settings(Path(laws_env["POLICYKB_CORPUS_DIR"]), Path(laws_env["POLICYKB_INDEX_DIR"]), port=0)
    app, url = ui.start(KnowledgeBase.open(settings), settings)
    yield url
    app.close()


@pytest.fixture()
def laws_page(browser, laws_server):
    """A fresh page on the laws app (see open_page)."""
    page = open_page(browser, laws_server)
    yield page
    page.context.close()


def ask(page, question: str, turn: int):
    """Type a question, send it and return the locator of answer number `turn` (1-based)."""
    page.fill("#pk-question textarea", question)
    page.click("#pk-send")
    reply = page.locator("#pk-transcript .pk-turn").nth(turn - 1).locator(".pk-a")
    reply.wait_for(timeout=WAIT)
    return reply


def screenshot(page, name: str) -> None:
    """Save a screenshot to tests/artifacts/ once the side panel has finished sliding in."""
    page.wait_for_function("document.getAnimations().every(a => a.playState !== 'running')", timeout=WAIT)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def assert_all_requests_local(page) -> None:
    outside = [url for url in page.requests
               if urlsplit(url).scheme not in ("data", "blob") and urlsplit(url).hostname not in LOCAL_HOSTS]
    assert page.requests, "the page made no requests at all; the recorder is not working"
    assert outside == [] and page.outside == [], f"requests left the machine: {outside or page.outside}"


def test_answer_citation_opens_the_section_with_the_quote_highlighted(page, kb):
    expected = kb.ask("续贷有什么要求").citations[0]
    reply = ask(page, "续贷有什么要求", 1)
    chip = reply.locator(".pk-chip").first
    assert "第二条" in chip.inner_text()
    assert expected.quote in reply.locator(".pk-quote").first.inner_text()

    chip.click()
    mark = page.locator("#pk-panel mark.pk-hl")
    mark.wait_for(timeout=WAIT)
    assert mark.is_visible()
    assert mark.inner_text() == expected.quote
    assert "第二条" in page.locator("#pk-panel .pk-panel-cite").inner_text()

    screenshot(page, "chat_answer.png")

    page.locator("#pk-panel .pk-copy").click()
    page.wait_for_function("document.querySelector('#pk-panel .pk-copy').textContent === '已复制'",
                           timeout=WAIT)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{expected.cite}：“{expected.quote}”"

    # Chinese must render with a CJK font: without one, every character is the same empty box.
    assert page.evaluate(GLYPHS_DIFFER, ["续", "贷"])
    assert not page.dialogs
    assert_all_requests_local(page)


def test_abstention_xss_and_length_limit(page, built_settings):
    reply = ask(page, "今天天气怎么样", 1)
    assert "pk-abstain" in reply.get_attribute("class")
    text = reply.inner_text()
    assert "知识库中没有相关规定" in text and "可能相关" in text
    assert reply.locator(".pk-quote").count() == 0
    related = reply.locator(".pk-chip")
    assert related.count() >= 1
    related.first.click()
    page.locator(f'#pk-panel .pk-panel[data-section^="{NOTICE_ID}#"]').wait_for(timeout=WAIT)
    screenshot(page, "chat_abstention.png")

    ask(page, XSS, 2)
    bubble = page.locator("#pk-transcript .pk-bubble").nth(1)
    assert bubble.inner_text() == XSS
    assert page.locator('#pk-transcript img[src="x"]').count() == 0
    page.wait_for_timeout(500)  # an onerror handler would have fired by now
    assert page.dialogs == []

    limit = built_settings.max_question_chars
    reply = ask(page, "续贷有什么要求" * (limit // 7 + 5), 3)
    assert f"问题超过{limit}字" in reply.locator(".pk-notice").first.inner_text()
    assert_all_requests_local(page)


def test_retrieval_details_and_mode_switch(page):
    ask(page, "续贷有什么要求", 1)
    page.get_by_role("tab", name="检索详情").click()
    rows = page.locator("#pk-details tbody tr")
    rows.first.wait_for(timeout=WAIT)
    first = rows.first.inner_text()
    assert "第二条" in first and "续贷" in first
    assert rows.first.locator("td.pk-none").count() == 0  # both retrievers ranked it

    page.locator("#pk-details-mode").get_by_text("关键词检索 keyword").click()
    page.wait_for_function("document.querySelector('#pk-details').innerText.includes('检索模式：关键词检索')",
                           timeout=WAIT)
    assert rows.first.locator("td.pk-none").count() == 1  # no dense rank in keyword mode

    rows.first.locator(".pk-chip").click()
    page.locator("#pk-panel .pk-panel-text").wait_for(timeout=WAIT)
    assert "零门槛申请" in page.locator("#pk-panel .pk-panel-text").inner_text()
    assert_all_requests_local(page)


def test_documents_tab_shows_metadata_sections_and_plans(page, kb):
    doc = kb.docs[NOTICE_ID]
    page.get_by_role("tab", name="文件").click()
    article = page.locator(f"#pk-doc-view #pk-article-{NOTICE_ID}")
    article.wait_for(timeout=WAIT)
    text = article.inner_text()
    for value in (doc.doc_number, doc.issuer, doc.date):
        assert value in text
    assert article.locator("section.pk-doc-sec").count() == len(doc.sections)
    page.locator("#pk-doc-view .pk-toc a").nth(2).click()
    assert page.evaluate("location.hash") == f"#pk-sec-{NOTICE_ID}-2"
    plans = page.locator("#pk-references").inner_text()
    assert plans.count("全文未收录") == sum(1 for r in kb.index.references if not r.resolved_doc_id)
    assert_all_requests_local(page)


def answer_item(page, item, correct: bool) -> None:
    """Answer the quiz item on screen, rightly or wrongly, and wait for the feedback."""
    options = list(item.choices) if item.kind != "true_false" else ["对", "错"]
    if options:
        pick = item.answer if correct else next(o for o in options if o != item.answer)
        page.locator("#pk-quiz-choice").get_by_label(pick, exact=True).check()
    else:
        page.fill("#pk-quiz-text textarea", item.answer if correct else "不知道")
    page.click("#pk-quiz-submit")
    page.locator("#pk-quiz-feedback .pk-right, #pk-quiz-feedback .pk-wrong").first.wait_for(timeout=WAIT)


def test_training_tab_cards_quiz_feedback_score_and_review(page, kb):
    from policykb.evaluation.quiz import generate_quiz
    items = generate_quiz(list(kb.docs.values()), n=2, seed=7).items
    page.get_by_role("tab", name="培训").click()
    cards = page.locator("#pk-training-cards .pk-card")
    cards.first.wait_for(timeout=WAIT)
    assert cards.count() == 13
    assert "12000亿元" in page.locator("#pk-training-cards").inner_text()

    page.fill("#pk-quiz-n input", "2")
    page.fill("#pk-quiz-seed input", "7")
    page.click("#pk-quiz-start")
    page.wait_for_function("document.querySelector('#pk-quiz-status').innerText.includes('第 1 / 2 题')",
                           timeout=WAIT)
    answer_item(page, items[0], correct=True)
    feedback = page.locator("#pk-quiz-feedback")
    assert feedback.locator(".pk-right").count() == 1
    assert items[0].explanation in feedback.inner_text() and items[0].cite in feedback.inner_text()

    page.click("#pk-quiz-next")
    page.wait_for_function("document.querySelector('#pk-quiz-status').innerText.includes('第 2 / 2 题')",
                           timeout=WAIT)
    answer_item(page, items[1], correct=False)
    assert page.locator("#pk-quiz-feedback .pk-wrong").count() == 1
    result = page.locator("#pk-quiz-result")
    result.locator("h3").wait_for(timeout=WAIT)
    assert "得分：1 / 2" in result.inner_text()
    assert "错题回顾" in result.inner_text() and items[1].explanation in result.inner_text()
    screenshot(page, "training.png")
    assert not page.dialogs
    assert_all_requests_local(page)


def test_page_title_and_preview_tags_name_the_product(page):
    from policykb.app.page import PRODUCT
    assert page.title() == PRODUCT
    for selector in ('meta[property="og:title"]', 'meta[name="twitter:title"]'):
        assert page.locator(selector).get_attribute("content") == PRODUCT
    image = page.locator('meta[property="og:image"]').get_attribute("content")
    assert urlsplit(page.evaluate("(src) => new URL(src, document.baseURI).href", image)).hostname in LOCAL_HOSTS
    assert_all_requests_local(page)


def choose_scope(page, name: str) -> None:
    """Pick a document in the 检索范围 dropdown by typing part of its name."""
    page.click("#pk-scope input")
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")


def test_scope_chips_restrict_the_question_and_come_off(laws_page):
    page = laws_page
    bar = page.locator("#pk-scope-bar")
    assert "全部文件（6 份）" in bar.inner_text()
    choose_scope(page, "商业银行法")
    chip = bar.locator(".pk-scope-chip")
    chip.first.wait_for(timeout=WAIT)
    assert chip.count() == 1 and "《商业银行法》" in chip.first.inner_text()
    reply = ask(page, "贷款利率", 1)
    scope = page.locator("#pk-transcript .pk-turn").nth(0).locator(".pk-turn-scope")
    assert scope.get_attribute("data-source") == "filter" and "商业银行法" in scope.inner_text()
    assert all(c.get_attribute("data-section").startswith("shangyeyinhangfa#")
               for c in reply.locator(".pk-cite .pk-chip").all())

    chip.first.locator(".pk-scope-remove").click()
    page.wait_for_function("document.querySelector('#pk-scope-bar').innerText.includes('全部文件')", timeout=WAIT)
    # The dropdown is updated by its own event, after the bar: wait for it rather than race it.
    page.wait_for_function("document.querySelectorAll('#pk-scope .token, #pk-scope [class*=token]').length === 0",
                           timeout=WAIT)
    assert page.locator("#pk-scope .token, #pk-scope [class*=token]").count() == 0

    # A question that names its own document is answered within it, and says so.
    ask(page, "在民法典里，保证合同无效后保证人承担什么责任", 2)
    own = page.locator("#pk-transcript .pk-turn").nth(1).locator(".pk-turn-scope")
    assert own.get_attribute("data-source") == "question" and "《民法典》" in own.inner_text()
    screenshot(page, "chat_scope.png")
    assert_all_requests_local(page)


def test_side_panel_shows_the_path_marks_the_paragraph_and_follows_links(laws_page):
    page = laws_page
    reply = ask(page, "民法典第六百八十五条第二款", 1)
    reply.locator(".pk-cite .pk-chip").first.click()
    panel = page.locator("#pk-panel .pk-panel")
    page.locator('#pk-panel .pk-panel[data-section="minfadian#第六百八十五条"]').wait_for(timeout=WAIT)
    assert panel.locator(".pk-crumb").all_inner_texts() == ["第三编 合同", "第二分编 典型合同", "第十三章 保证合同",
                                                           "第一节 一般规定"]
    marked = panel.locator(".pk-para-hl")
    assert marked.count() == 1 and marked.get_attribute("data-paragraph") == "2"
    assert marked.locator(".pk-para-no").inner_text() == "第二款"
    assert marked.locator("mark.pk-hl").first.is_visible()
    assert "第二款" in panel.locator(".pk-panel-cite").inner_text()
    screenshot(page, "panel_paragraph.png")

    # A reference to another document opens that article, with its own path.
    reply = ask(page, "担保制度解释第七条", 2)
    reply.locator(".pk-cite .pk-chip").first.click()
    link = page.locator('#pk-panel .pk-link[data-section="minfadian#第六十一条"]')
    link.wait_for(timeout=WAIT)
    link.click()
    page.locator('#pk-panel .pk-panel[data-section="minfadian#第六十一条"]').wait_for(timeout=WAIT)
    assert page.locator("#pk-panel .pk-crumb").first.inner_text() == "第一编 总则"
    assert_all_requests_local(page)


def test_documents_search_finds_a_law_by_its_informal_name(laws_page):
    page = laws_page
    page.get_by_role("tab", name="文件").click()
    page.fill("#pk-doc-search textarea, #pk-doc-search input", "商行法")
    rows = page.locator("#pk-doc-results tbody tr")
    page.wait_for_function("document.querySelectorAll('#pk-doc-results tbody tr').length === 1", timeout=WAIT)
    assert "全国人民代表大会常务委员会" in rows.first.inner_text()
    rows.first.locator(".pk-doc-open").click()
    page.locator("#pk-doc-view #pk-article-shangyeyinhangfa").wait_for(timeout=WAIT)
    assert "中华人民共和国商业银行法" in page.locator("#pk-doc-view h3").first.inner_text()
    assert_all_requests_local(page)


def download(page, selector: str) -> Path:
    """Click a download button and return the path of the file the browser saved."""
    with page.expect_download(timeout=WAIT) as info:
        page.click(selector)
    return Path(info.value.path())


def test_follow_ups_are_understood_and_the_memo_downloads(laws_page, laws_kb):
    page = laws_page
    status = page.locator("#pk-memo-status .pk-memo-status")
    assert status.get_attribute("data-count") == "0" and "没有可导出的备忘录" in status.inner_text()
    page.click("#pk-memo-md")  # nothing to export yet: a message, not an empty file
    toast = page.locator(".toast-body", has_text="没有可导出的备忘录").first
    toast.wait_for(timeout=WAIT)
    toast.locator(".toast-close").click()  # its countdown would hold up the screenshot's wait for animations

    from policykb.answer.conversation import Conversation
    conversation = Conversation(laws_kb)
    messages = ["民法典第六百八十五条", "第六百八十六条呢？", "商业银行法第三十九条"]
    for n, message in enumerate(messages, start=1):
        expected = conversation.ask(message)
        reply = ask(page, message, n)
        turn = page.locator("#pk-transcript .pk-turn").nth(n - 1)
        assert expected.answer.citations[0].quote.splitlines()[0] in reply.locator(".pk-quote").first.inner_text()
        understood = turn.locator(".pk-understood")
        if n == 2:
            assert understood.inner_text() == f"理解为：{expected.resolved.understood}"
            assert "民法典第六百八十六条" in expected.resolved.understood
        else:
            assert understood.count() == 0
    cites = [c["cite"] for c in conversation.citations()]
    screenshot(page, "chat_follow_up.png")
    page.wait_for_function(f"document.querySelector('#pk-memo-status .pk-memo-status')?.dataset.count === "
                           f"'{len(cites)}'", timeout=WAIT)

    md = download(page, "#pk-memo-md").read_text(encoding="utf-8")
    assert re.findall(r"^\d+\. (.+)$", md, flags=re.M) == cites
    from docx import Document
    docx = Document(str(download(page, "#pk-memo-docx")))
    assert [p.text for p in docx.paragraphs if p.runs and p.runs[0].bold] == [
        f"{n}. {c}" for n, c in enumerate(cites, start=1)]
    assert any("第六百八十六条" in c for c in cites) and len(set(cites)) == len(cites)

    page.get_by_role("button", name="清空对话").click()
    page.wait_for_function("document.querySelector('#pk-memo-status .pk-memo-status')?.dataset.count === '0'",
                           timeout=WAIT)
    ask(page, "第六百八十七条呢？", 1)  # a new conversation has no article to follow
    assert page.locator("#pk-transcript .pk-turn").count() == 1
    assert page.locator("#pk-transcript .pk-understood").count() == 0
    assert_all_requests_local(page)
