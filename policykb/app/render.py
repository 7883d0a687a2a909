"""HTML for the chat app: pure functions from public JSON and library objects to escaped HTML.

Every piece of question or document text goes through `esc` (html.escape), because
gr.HTML inserts its value with innerHTML: an unescaped `<img onerror=…>` would run.
"""
from __future__ import annotations

import dataclasses
from html import escape
from typing import Any, Iterable, Mapping, Sequence

from policykb.ingest.chunk import int_to_cn
from policykb.ingest.corpus import Reference
from policykb.ingest.links import Link, find_links
from policykb.ingest.parse import Amendment, Document, Section

MODE_LABELS = {"hybrid": "混合检索", "keyword": "关键词检索", "dense": "向量检索"}
RETRIEVER_LABELS = (("keyword", "关键词"), ("dense", "向量"))
SETTING_LABELS = {
    "corpus_dir": "文件目录", "index_dir": "索引目录", "prompts_dir": "话术模板目录",
    "embed_backend": "向量模型后端", "embed_model": "向量模型", "chroma_host": "Chroma 服务器",
    "chroma_port": "Chroma 端口", "max_question_chars": "问题长度上限（字）",
    "max_file_mb": "单个文件上限（MB）", "top_k": "返回条数", "host": "监听地址", "port": "端口",
    "auth": "登录账号", "lock_timeout": "索引锁等待（秒）",
}
# A law's contents (the 民法典 has 1,260 articles) start folded; a notice's few measures start open.
TOC_OPEN_MAX = 60


def esc(text: Any) -> str:
    """Escape text for HTML element content and quoted attributes."""
    return escape(str(text), quote=True)


def copy_text(cite: str, quote: str) -> str:
    """Return what 复制引用 puts on the clipboard: the memo-ready citation and the verbatim quote."""
    return f"{cite}：“{quote}”" if quote else cite


def short_cite(cite: str, doc_title: str, doc_number: str) -> str:
    """Return the part of a citation after 《文件名》（文号）, e.g. 第二条."""
    prefix = f"《{doc_title}》" + (f"（{doc_number}）" if doc_number else "")
    return cite[len(prefix):] if cite.startswith(prefix) and len(cite) > len(prefix) else cite


def section_chip(section_id: str, label: str, quote: str = "", title: str = "", cite: str = "",
                 paragraph: int = 0) -> str:
    """Return a clickable chip that opens a section in the side panel (with the citation's cite and 款)."""
    hint = f"{label} {title}".strip()
    extra = (f' data-cite="{esc(cite)}"' if cite else "") + (f' data-paragraph="{paragraph}"' if paragraph else "")
    return (f'<button type="button" class="pk-chip" data-section="{esc(section_id)}" '
            f'data-quote="{esc(quote)}"{extra} title="查看条款全文：{esc(hint)}">{esc(label)}'
            + (f'<span class="pk-chip-title">{esc(title)}</span>' if title else "") + "</button>")


def copy_button(text: str, label: str = "复制引用") -> str:
    """Return a button that copies `text` to the clipboard (handled by the page script)."""
    return f'<button type="button" class="pk-copy" data-copy="{esc(text)}">{esc(label)}</button>'


def notices_html(notices: Iterable[str]) -> str:
    """Return the library's notices (truncation, keyword fallback, plans not indexed) as banners."""
    return "".join(f'<div class="pk-notice" role="note">{esc(n)}</div>' for n in notices)


def _citation_card(c: Mapping[str, Any]) -> str:
    section_id = f"{c['doc_id']}#{c['section_no']}"
    label = short_cite(c["cite"], c["doc_title"], c["doc_number"])
    chip = section_chip(section_id, label, c["quote"], c["section_title"], c["cite"], c.get("paragraph", 0))
    return ('<div class="pk-cite">'
            f'<div class="pk-cite-head">{chip}'
            f'{copy_button(copy_text(c["cite"], c["quote"]))}</div>'
            f'<blockquote class="pk-quote">“{esc(c["quote"])}”</blockquote>'
            f'<div class="pk-cite-line">{esc(c["cite"])}</div></div>')


def answer_html(answer: Mapping[str, Any]) -> str:
    """Render one Answer.to_dict(): quoted clauses with chips, or a visibly different abstention."""
    mode = f'<div class="pk-mode">检索模式：{esc(MODE_LABELS.get(answer["mode"], answer["mode"]))}</div>'
    first_line = str(answer["answer"]).split("\n", 1)[0]
    if answer["abstained"]:
        related = "".join(
            "<li>" + section_chip(f"{r['doc_id']}#{r['section_no']}",
                                  short_cite(r["cite"], r["doc_title"], r["doc_number"]), "",
                                  r["section_title"]) + "</li>"
            for r in answer["related"])
        badge = "未能确定答案" if answer.get("supported") else "知识库中没有相关规定"
        body = (f'<div class="pk-abstain-badge">{badge}</div>'
                f'<p class="pk-abstain-text">{esc(first_line)}</p>'
                + (f'<div class="pk-related"><div class="pk-related-head">可能相关（仅供参考，不是答案）</div>'
                   f'<ul>{related}</ul></div>' if related else ""))
        return f'<div class="pk-a pk-abstain">{notices_html(answer["notices"])}{body}{mode}</div>'
    cards = "".join(_citation_card(c) for c in answer["citations"])
    return (f'<div class="pk-a pk-answer">{notices_html(answer["notices"])}'
            f'<p class="pk-intro">{esc(first_line)}</p>{cards}{mode}</div>')


def error_html(message: str) -> str:
    """Render a short error message in place of an answer."""
    return f'<div class="pk-a pk-error" role="alert">{esc(message)}</div>'


def short_title(title: str) -> str:
    """Return a document's title as staff say it: without 中华人民共和国."""
    return title.removeprefix("中华人民共和国")


def scope_bar_html(chosen: Sequence[tuple[str, str]], total: int) -> str:
    """Render the active 检索范围 above the transcript: one removable chip per chosen document."""
    if not chosen:
        return (f'<div class="pk-scope-bar"><span class="pk-scope-label">检索范围：</span>'
                f'<span class="pk-scope-all">全部文件（{total} 份）</span></div>')
    chips = "".join(f'<span class="pk-scope-chip" data-doc="{esc(doc_id)}">《{esc(short_title(title))}》'
                    f'<button type="button" class="pk-scope-remove" data-scope="{esc(doc_id)}" '
                    f'title="从检索范围中移除" aria-label="移除《{esc(short_title(title))}》">×</button></span>'
                    for doc_id, title in chosen)
    return (f'<div class="pk-scope-bar"><span class="pk-scope-label">检索范围（{len(chosen)}/{total}）：</span>{chips}'
            '<button type="button" class="pk-scope-remove pk-scope-clear" data-scope="*">清除，检索全部文件</button></div>')


def turn_scope_html(scope: Mapping[str, Any] | None) -> str:
    """Render the scope one question was answered in: chosen in 检索范围, or named in the question."""
    if not scope or not scope.get("docs"):
        return ""
    names = "、".join(f"《{esc(short_title(d['title']))}》" for d in scope["docs"])
    how = {"question": "问题中指明，仅在其中检索", "context": "沿用上文的范围"}.get(scope.get("source"), "已选检索范围")
    return f'<div class="pk-turn-scope" data-source="{esc(scope.get("source", ""))}">{how}：<b>{names}</b></div>'


def transcript_html(turns: Sequence[Mapping[str, Any]]) -> str:
    """Render the whole conversation, oldest first; an empty chat shows a short guide."""
    if not turns:
        return ('<div class="pk-empty">请输入问题，或点击下方的示例问题。回答只引用知识库中文件的原文，'
                '并给出可直接写入签报的出处；知识库没有的规定会明确说明。</div>')
    out = []
    for turn in turns:
        reply = answer_html(turn["answer"]) if "answer" in turn else error_html(turn["error"])
        out.append(f'<div class="pk-turn"><div class="pk-q"><span class="pk-role">问</span>'
                   f'<div class="pk-bubble">{esc(turn["question"])}</div></div>'
                   f'{understood_html(turn.get("understood", ""))}{turn_scope_html(turn.get("scope"))}{reply}</div>')
    return "".join(out)


def understood_html(understood: str) -> str:
    """Render how a follow-up was understood (理解为：…); nothing for a message taken as typed."""
    return f'<div class="pk-understood">理解为：{esc(understood)}</div>' if understood else ""


def memo_status_html(n: int, empty: str) -> str:
    """Render the line beside the memo buttons: the number of citations, or the message for none."""
    if not n:
        return f'<div class="pk-memo-status pk-hint" data-count="0">{esc(empty)}</div>'
    return (f'<div class="pk-memo-status pk-hint" data-count="{n}">备忘录含本次对话引用的 {n} 条出处及原文'
            '（按引用顺序，不重复）；清空对话即重新开始。</div>')


def highlighted_text(text: str, quote: str) -> str:
    """Return escaped text with the first verbatim occurrence of `quote` wrapped in <mark>."""
    return linked_text(text, quote)


def link_chip(link: Link, inner_html: str, hint: str = "") -> str:
    """Return an inline reference (前款, 本法第X条) that opens its target in the side panel.

    Args:
        inner_html: the reference text, already escaped (it may hold part of a <mark>).
    """
    paragraph = f' data-paragraph="{link.paragraph}"' if link.paragraph else ""
    return (f'<button type="button" class="pk-chip pk-link" data-section="{esc(link.target)}"{paragraph} '
            f'data-quote="" title="查看：{esc(hint or link.text)}">{inner_html}</button>')


def linked_text(text: str, quote: str = "", links: Sequence[Link] = (),
                hints: Mapping[Link, str] | None = None, quote_at: int | None = None) -> str:
    """Return escaped text with the first occurrence of `quote` in <mark> and each link as a chip.

    A link that lies inside the quote sits inside its one <mark>; a link that straddles
    an end of the quote carries its own <mark> for the quoted part, so elements always nest.
    Links that overlap an earlier link or do not match the text are left as plain text.

    Args:
        quote_at: where the quote starts in text, when not at its first occurrence.
    """
    hints = hints or {}
    if quote and quote_at is not None and text[quote_at:quote_at + len(quote)] == quote:
        at = quote_at
    else:
        at = text.find(quote) if quote else -1
    qs, qe = (at, at + len(quote)) if at >= 0 else (0, 0)
    kept: list[Link] = []
    for link in sorted(links, key=lambda k: (k.start, k.end)):
        if (kept and link.start < kept[-1].end) or not (0 <= link.start < link.end <= len(text)) \
                or text[link.start:link.end] != link.text:
            continue
        kept.append(link)
    ms, me = qs, qe  # the outer <mark>: shrunk to whole links
    for link in kept:
        if link.start < ms < link.end:
            ms = min(link.end, me)
        if link.start < me < link.end:
            me = max(link.start, ms)

    def chip(link: Link, marked: bool) -> str:
        s, e = max(link.start, qs), min(link.end, qe)
        if not marked or s >= e:
            return link_chip(link, esc(link.text), hints.get(link, ""))
        inner = (esc(text[link.start:s]) + f'<mark class="pk-hl">{esc(text[s:e])}</mark>'
                 + esc(text[e:link.end]))
        return link_chip(link, inner, hints.get(link, ""))

    def run(a: int, b: int, marked: bool) -> str:
        out, pos = [], a
        for link in kept:
            if a <= link.start and link.end <= b:
                out += [esc(text[pos:link.start]), chip(link, marked)]
                pos = link.end
        return "".join(out) + esc(text[pos:b])

    if ms >= me:
        return run(0, len(text), True)
    return (run(0, ms, True) + f'<mark class="pk-hl">{run(ms, me, False)}</mark>' + run(me, len(text), True))


def paragraph_text(section: Section, paragraph: int) -> str:
    """Return the text of an article's 1-based paragraph (款), or '' when it has no such paragraph."""
    if not 1 <= paragraph <= section.paragraphs:
        return ""
    starts = section.paragraph_starts
    end = starts[paragraph] if paragraph < len(starts) else len(section.text)
    return section.text[starts[paragraph - 1]:end].strip("\n")


def issued(doc: Document) -> tuple[str, str]:
    """Return (what, date) for a document's date: 公布, 发布 or 通过 from its history, else 成文 (a signed notice)."""
    if not doc.date:
        return "", ""
    actions = {a.action for a in doc.amendments if a.date == doc.date}
    what = next((a for a in ("公布", "发布", "通过") if a in actions), "公布" if doc.amendments else "成文")
    return what, doc.date


def latest_amendment(doc: Document) -> Amendment | None:
    """Return the latest 修正/修订 of a document, or None when its text was never amended."""
    changes = [a for a in doc.amendments if a.action.endswith(("修正", "修订")) and a.date]
    return max(changes, key=lambda a: a.date, default=None)


def _superseding(doc: Document, documents: Mapping[str, Document], anchor: bool) -> str:
    newer = documents.get(doc.superseded_by)
    if newer is None:
        return esc(doc.superseded_by)
    title = f"《{esc(newer.title)}》"
    # In the 文件 tab one document is shown at a time: the button opens the newer one there.
    return (f'<button type="button" class="pk-doc-open" data-doc="{esc(newer.doc_id)}">{title}</button>'
            if anchor else title)


def status_html(doc: Document, documents: Mapping[str, Document] | None = None, anchor: bool = False) -> str:
    """Return a document's 效力状态, marked when it is no longer in force, with what replaced it."""
    documents = documents or {}
    by = f"（由{_superseding(doc, documents, anchor)}替代）" if doc.superseded_by else ""
    kind = "pk-status-ok" if doc.status == "现行有效" else "pk-status-ref"
    return f'<span class="pk-status {kind}">{esc(doc.status)}{by}</span>'


def meta_line(doc: Document, documents: Mapping[str, Document] | None = None) -> str:
    """Return 文号 · 发文机关 · 公布 · 施行 (· latest amendment · status when not in force), skipping empty parts."""
    what, date = issued(doc)
    latest = latest_amendment(doc)
    parts = [esc(doc.doc_number), esc(doc.issuer), f"{esc(date)} {what}" if date else "",
             f"{esc(doc.effective_date)} 施行" if doc.effective_date else "",
             f"{esc(latest.date)} {esc(latest.action)}" if latest else "",
             status_html(doc, documents) if doc.status and doc.status != "现行有效" else ""]
    return " · ".join(p for p in parts if p)


def breadcrumb_html(section: Section) -> str:
    """Return a section's place in the hierarchy (第三编 合同 › … › 第一节 一般规定), or '' when it has none."""
    if not section.path:
        return ""
    crumbs = '<span class="pk-crumb-sep" aria-hidden="true"> › </span>'.join(
        f'<span class="pk-crumb">{esc(p)}</span>' for p in section.path)
    return f'<nav class="pk-chapter pk-breadcrumb" aria-label="所在章节">{crumbs}</nav>'


def _link_hint(link: Link, doc: Document, section: Section, documents: Mapping[str, Document]) -> str:
    where = "本条" if link.target == section.id else link.section_no
    if link.doc_id != doc.doc_id and link.doc_id in documents:
        where = f"《{documents[link.doc_id].title}》{link.section_no}"
    return where + (f"第{int_to_cn(link.paragraph)}款" if link.paragraph else "")


def paragraph_bounds(section: Section) -> list[tuple[int, int]]:
    """Return the (start, end) offsets of each paragraph (款) of a section's text, without line breaks."""
    text, starts = section.text, section.paragraph_starts
    bounds = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(text)
        while end > start and text[end - 1] == "\n":
            end -= 1
        bounds.append((start, end))
    return bounds


def body_html(section: Section, quote: str = "", links: Sequence[Link] = (),
              hints: Mapping[Link, str] | None = None) -> str:
    """Render a section's text paragraph by paragraph: the quote in <mark>, its 款 marked, links as chips.

    An article of several paragraphs gets one block per 款 (data-paragraph="N"); the 款 the
    quote lies in carries pk-para-hl and a 第N款 label, so a reader sees which 款 is cited.
    """
    text = section.text
    at = text.find(quote) if quote else -1
    qs, qe = (at, at + len(quote)) if at >= 0 else (0, 0)
    bounds = paragraph_bounds(section)
    several = len(bounds) > 1
    out = []
    for n, (a, b) in enumerate(bounds, start=1):
        s, e = max(qs, a), min(qe, b)
        # Links move to the paragraph's own offsets, keeping their hints.
        local_hints = {dataclasses.replace(k, start=k.start - a, end=k.end - a): (hints or {}).get(k, "")
                       for k in links if a <= k.start and k.end <= b}
        local = list(local_hints)
        marked = s < e
        html = linked_text(text[a:b], text[s:e] if marked else "", local, local_hints,
                           quote_at=s - a if marked else None)
        heading = f'<span class="pk-heading">{esc(section.heading)}</span>' if n == 1 else ""
        if not several:
            out.append(heading + html)
            continue
        label = f'<span class="pk-para-no">第{int_to_cn(n)}款</span>' if marked else ""
        out.append(f'<div class="pk-para{" pk-para-hl" if marked else ""}" data-paragraph="{n}">'
                   f'{heading}{label}{html}</div>')
    return "".join(out)


def section_panel_html(doc: Document, section: Section, cite: str, quote: str = "",
                       documents: Mapping[str, Document] | None = None) -> str:
    """Render one section in full for the side panel: its path, the quote and its 款 highlighted, links.

    Args:
        documents: the knowledge base's documents by id; references to articles of other
            documents are linked only when those documents are here.
    """
    documents = documents if documents is not None else {doc.doc_id: doc}
    quote = quote if quote and quote in section.text else ""
    links = find_links(doc, section, documents)
    hints = {link: _link_hint(link, doc, section, documents) for link in links}
    return ('<div class="pk-panel" data-section="' + esc(section.id) + '">'
            f'<div class="pk-panel-cite">{esc(cite)}</div>'
            f'<div class="pk-panel-meta">{meta_line(doc, documents)}</div>{breadcrumb_html(section)}'
            f'<div class="pk-panel-text">{body_html(section, quote, links, hints)}</div>'
            f'<div class="pk-panel-actions">{copy_button(copy_text(cite, quote or section.text))}</div></div>')


def panel_placeholder_html(message: str = "点击回答中的条款标签，在这里查看该条全文，引用的原文会高亮显示。") -> str:
    """Render the side panel before any section is opened (or when one cannot be found)."""
    return f'<div class="pk-panel pk-panel-empty">{esc(message)}</div>'


def _retriever_cell(hit: Mapping[str, Any], name: str) -> str:
    if name not in hit["ranks"]:
        return '<td class="pk-num pk-none">—</td>'
    return f'<td class="pk-num">#{esc(hit["ranks"][name])}<br><small>{hit["scores"][name]:.3f}</small></td>'


def search_html(result: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """Render SearchResult.to_dict(): ranked sections with per-retriever ranks, scores and matched terms.

    Args:
        labels: section id -> short label such as 第二条.
    """
    terms = "".join(f'<span class="pk-term">{esc(t)}</span>' for t in result["terms"]) or "（无）"
    head = (f'<div class="pk-search-head"><div>问题：{esc(result["question"])}</div>'
            f'<div>检索模式：{esc(MODE_LABELS.get(result["mode"], result["mode"]))}</div>'
            f'<div>检索词：{terms}</div></div>')
    rows = []
    for rank, hit in enumerate(result["hits"], start=1):
        sid = f'{hit["doc_id"]}#{hit["section_no"]}'
        matched = "".join(f'<span class="pk-term pk-term-hit">{esc(t)}</span>' for t in hit["matched_terms"])
        rows.append(f'<tr><td class="pk-num">{rank}</td>'
                    f'<td>{section_chip(sid, labels.get(sid, hit["section_no"]), "", hit["section_title"])}</td>'
                    f'<td class="pk-num">{hit["score"]:.3f}</td>'
                    + "".join(_retriever_cell(hit, name) for name, _ in RETRIEVER_LABELS)
                    + f'<td>{matched or "—"}</td></tr>')
    header = "".join(f"<th>{label}<br><small>排名 / 得分</small></th>" for _, label in RETRIEVER_LABELS)
    table = ('<table class="pk-table"><thead><tr><th>名次</th><th>条款</th><th>综合得分</th>'
             f'{header}<th>命中的检索词</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
             if rows else '<div class="pk-empty">没有检索到条款。</div>')
    return f'<div class="pk-search">{notices_html(result["notices"])}{head}{table}</div>'


def _label_title(labels: Mapping[str, str], section: Section) -> str:
    label = labels.get(section.id, section.section_no)
    # An article's title is its path, which is shown once as a heading above its articles.
    if not section.title or section.title == section.chapter or section.title in label:
        return label
    return f"{label} {section.title}"


def _history_html(amendments: Sequence[Amendment]) -> str:
    rows = []
    for a in amendments:
        detail = f' <span class="pk-hint">{esc(a.text)}</span>' if a.text and a.text != a.action else ""
        rows.append(f"<li><time>{esc(a.date)}</time> {esc(a.action)}{detail}</li>")
    return f'<ol class="pk-history">{"".join(rows)}</ol>'


def document_html(doc: Document, labels: Mapping[str, str],
                  documents: Mapping[str, Document] | None = None) -> str:
    """Render a document section by section, numbered and anchored, with its metadata and history.

    Args:
        documents: the knowledge base's documents by id, to name the document that replaced this one.
    """
    anchor = {s.id: f"pk-sec-{doc.doc_id}-{i}" for i, s in enumerate(doc.sections)}
    what, date = issued(doc)
    meta_rows = (("文号", esc(doc.doc_number)), ("发文机关", esc(doc.issuer)), (f"{what}日期", esc(date)),
                 ("施行日期", esc(doc.effective_date)),
                 ("效力状态", status_html(doc, documents, anchor=True) if doc.status else ""),
                 ("主送", esc(doc.addressees)),
                 ("修改沿革", _history_html(doc.amendments) if doc.amendments else ""))
    meta = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in meta_rows if v)
    # Sections under one path (编 › 章 › 节) are grouped under it, in the contents and in the text.
    groups: list[tuple[str, list[tuple[int, Section]]]] = []
    for n, s in enumerate(doc.sections, start=1):
        if not groups or groups[-1][0] != s.chapter:
            groups.append((s.chapter, []))
        groups[-1][1].append((n, s))
    toc = "".join(
        (f'<div class="pk-toc-path">{esc(chapter)}</div>' if chapter else "")
        + f'<ol start="{members[0][0]}">'
        + "".join(f'<li><a href="#{esc(anchor[s.id])}">{esc(_label_title(labels, s))}</a></li>'
                  for _, s in members) + "</ol>"
        for chapter, members in groups)
    sections = []
    for chapter, members in groups:
        if chapter:
            sections.append(breadcrumb_html(members[0][1]))
        for n, s in members:
            sections.append(
                f'<section class="pk-doc-sec" id="{esc(anchor[s.id])}">'
                f'<h4><a class="pk-anchor" href="#{esc(anchor[s.id])}">{n}.</a> '
                f'{esc(_label_title(labels, s))} {section_chip(s.id, "在侧栏打开")}</h4>'
                f'<p>{esc(s.display)}</p></section>')
    return (f'<article class="pk-doc" id="pk-article-{esc(doc.doc_id)}"><h3>{esc(doc.title)}</h3>'
            f'<table class="pk-meta">{meta}</table>'
            f'<details class="pk-toc"{" open" if len(doc.sections) <= TOC_OPEN_MAX else ""}>'
            f'<summary>目录（共 {len(doc.sections)} 节）</summary>{toc}</details>'
            f'{"".join(sections)}</article>')


def document_list_html(found: Sequence[Document], total: int, query: str = "") -> str:
    """Render the 文件 search results: each document's title (a button that opens it), 文号, issuer, dates and status."""
    if not found:
        return f'<div class="pk-empty">没有找到与“{esc(query)}”相符的文件（共 {total} 份）。可输入标题、简称、文号或发文机关。</div>'
    head = f"找到 {len(found)} 份文件（共 {total} 份）" if query.strip() else f"共 {total} 份文件"
    rows = []
    for doc in found:
        what, date = issued(doc)
        status = status_html(doc) if doc.status else ""
        rows.append(f'<tr data-doc="{esc(doc.doc_id)}"><td><button type="button" class="pk-doc-open" '
                    f'data-doc="{esc(doc.doc_id)}" title="查看全文">《{esc(doc.title)}》</button></td>'
                    f'<td>{esc(doc.doc_number) or "—"}</td><td>{esc(doc.issuer) or "—"}</td>'
                    f'<td>{f"{esc(date)} {what}" if date else "—"}</td><td>{esc(doc.effective_date) or "—"}</td>'
                    f'<td>{status or "—"}</td><td class="pk-num">{len(doc.sections)}</td></tr>')
    return (f'<div class="pk-doc-list"><div class="pk-hint">{head}</div>'
            '<table class="pk-table"><thead><tr><th>文件</th><th>文号</th><th>发文机关</th><th>日期</th>'
            f'<th>施行</th><th>效力</th><th>条款数</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def references_html(references: Sequence[Reference], labels: Mapping[str, str]) -> str:
    """Render the documents the notice cites by title, and whether their full text is indexed."""
    if not references:
        return '<div class="pk-empty">没有被引用的其他文件。</div>'
    rows = []
    for ref in references:
        where = " ".join(section_chip(sid, labels.get(sid, sid)) for sid in ref.cited_by)
        state = (f'<span class="pk-status pk-status-ok">已收录（{esc(ref.resolved_doc_id)}）</span>'
                 if ref.resolved_doc_id else
                 '<span class="pk-status pk-status-ref">仅被引用，全文未收录进知识库</span>')
        rows.append(f"<tr><td>《{esc(ref.title)}》</td><td>{state}</td><td>{where}</td></tr>")
    return ('<table class="pk-table pk-refs"><thead><tr><th>被引用的文件</th><th>状态</th><th>引用位置</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def settings_html(described: Mapping[str, str], dense_available: bool, dense_error: str) -> str:
    """Render the effective settings (password hidden by Settings.describe) and retrieval status."""
    reason = f"（{esc(dense_error)}）" if dense_error else ""
    dense = "可用" if dense_available else f"不可用，已改用关键词检索{reason}"
    rows = "".join(f"<tr><th>{esc(SETTING_LABELS.get(k, k))}</th><td><code>{esc(k)}</code></td>"
                   f"<td>{esc(v) or '—'}</td></tr>" for k, v in described.items())
    return (f'<div class="pk-settings"><p>向量检索：{dense}</p>'
            f'<table class="pk-table"><tbody>{rows}</tbody></table>'
            '<p class="pk-hint">修改方式：命令行参数或 POLICYKB_* 环境变量，见 README。</p></div>')


def dense_banner_html(dense_available: bool, dense_error: str) -> str:
    """Return the keyword-fallback banner shown above the chat when vector search is off."""
    if dense_available:
        return ""
    reason = f"（{esc(dense_error)}）" if dense_error else ""
    return (f'<div class="pk-notice pk-fallback" role="status">向量检索暂不可用{reason}，'
            '当前仅按关键词检索，结果可能不完整。</div>')
