"""One fictional rules file saved as .txt (UTF-8, BOM, GBK), .md, .html, .docx (two ways) and .pdf
must give the same sections; bad files fail with a message that names the problem."""
from __future__ import annotations

from pathlib import Path

import pytest

from policykb.errors import DocumentError
from policykb.ingest.chunk import int_to_cn
from policykb.ingest.formats import html_to_text, markdown_to_text, read_any
from policykb.ingest.glyphs import normalize_glyphs
from policykb.ingest.formats_office import format_number, read_docx
from policykb.ingest.formats_pdf import PAGE_NUMBER_RE, Line, drop_headers, join_lines, page_lines
from policykb.ingest.parse import Document, parse_text
from tests.conftest import CORPUS, FIXTURES, NOTICE_ID

RULES_ID = "rules"
FORMATS = ["rules-bom.txt", "rules-gbk.txt", "rules.md", "rules.html", "rules.docx",
           "rules-numbered.docx", "rules.pdf"]
ARTICLES = [f"第{n}条" for n in "一二三四五六七"]


def parse(name: str) -> Document:
    return parse_text(read_any(FIXTURES / name), RULES_ID, source=name)


@pytest.fixture(scope="module")
def reference() -> Document:
    return parse("rules.txt")


def test_reference_rules_have_chapters_articles_items_and_figures(reference: Document) -> None:
    assert (reference.title, reference.doc_number, reference.issuer, reference.date) == (
        "示例银行股份有限公司小微企业授信管理办法", "示银发〔2024〕7号", "示例银行股份有限公司", "2024-06-15")
    assert [s.section_no for s in reference.sections] == ARTICLES
    assert [s.chapter for s in reference.sections] == ["第一章 总则"] * 2 + ["第二章 授信额度与期限"] * 3 + \
        ["第三章 附则"] * 2
    third = reference.section("第三条")
    assert [sp.item for sp in third.spans] == ["", "（一）", "（二）", "（三）"]
    assert "1000万元" in [f.text for f in third.figures]


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_gives_the_same_sections(name: str, reference: Document) -> None:
    doc = parse(name)
    assert (doc.title, doc.doc_number, doc.issuer, doc.date) == (
        reference.title, reference.doc_number, reference.issuer, reference.date)
    assert [s.section_no for s in doc.sections] == [s.section_no for s in reference.sections]
    for got, want in zip(doc.sections, reference.sections):
        assert (got.chapter, got.title, got.text) == (want.chapter, want.title, want.text), got.section_no
        assert [sp.item for sp in got.spans] == [sp.item for sp in want.spans]


def test_text_fixtures_really_use_three_encodings() -> None:
    gbk = (FIXTURES / "rules-gbk.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    assert (FIXTURES / "rules-bom.txt").read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_any(FIXTURES / "rules-gbk.txt") == read_any(FIXTURES / "rules.txt")


def test_numbered_docx_keeps_its_numbers_only_in_word_numbering() -> None:
    import docx
    paragraphs = [p for p in docx.Document(str(FIXTURES / "rules-numbered.docx")).paragraphs if p.text]
    numbered = [p for p in paragraphs if p._p.pPr is not None and p._p.pPr.numPr is not None]
    assert len(numbered) == 3 + 7 + 3
    assert not any(p.text.startswith(("第", "（")) for p in numbered)
    lines = read_docx(FIXTURES / "rules-numbered.docx").splitlines()
    assert "第二章\u3000授信额度与期限" in lines
    assert any(line.startswith("第七条\u3000本办法自2024年7月1日起施行") for line in lines)  # continues across chapters
    assert "（一）单户授信额度不超过1000万元；" in lines  # items restart under each article


def test_pdf_fixture_has_running_header_page_numbers_and_a_sentence_split_across_pages() -> None:
    from pypdf import PdfReader
    pages = [[ln.text for ln in page_lines(p)] for p in PdfReader(str(FIXTURES / "rules.pdf")).pages]
    assert len(pages) >= 2
    assert all(p[0] == "示例银行内部制度汇编" and p[-1] == f"- {n} -" for n, p in enumerate(pages, start=1))
    assert pages[0][-2].endswith("微型企") and pages[1][1].startswith("业。"), (pages[0][-2], pages[1][1])
    text = read_any(FIXTURES / "rules.pdf")
    assert "内部制度汇编" not in text and "- 1 -" not in text
    assert "小型企业和微型企业。个体工商户" in text


def _notice_as(fmt: str, tmp_path) -> Path:
    """Write the real notice from corpus/ as .docx, .html or (via chromium) .pdf, the way offices lay it out."""
    import html as html_lib
    paragraphs = [p for p in (CORPUS / f"{NOTICE_ID}.txt").read_text(encoding="utf-8").split("\n") if p.strip()]
    path = tmp_path / f"notice.{fmt}"
    if fmt == "docx":
        import docx
        document = docx.Document()
        for p in paragraphs:
            document.add_paragraph(p)
        document.save(str(path))
        return path
    page = ("<html><head><meta charset='utf-8'><style>@page { margin: 25mm 26mm; "
            "@bottom-center { content: '- ' counter(page) ' -'; } } body { font-size: 16pt; line-height: 1.5; "
            "text-align: justify; } p { text-indent: 2em; margin: 0; }</style></head><body>"
            + "".join(f"<p>{html_lib.escape(p)}</p>" for p in paragraphs) + "</body></html>")
    if fmt == "html":
        path.write_text(page, encoding="utf-8")
    else:
        from tests.fixtures.make_fixtures import CHROMIUM, print_pdf
        if not Path(CHROMIUM).exists():
            pytest.skip("needs Debian's chromium: run `make system-deps`")
        print_pdf(page, path)
    return path


@pytest.mark.parametrize("fmt", ["docx", "html", "pdf"])
def test_the_real_notice_parses_the_same_in_office_formats(fmt: str, tmp_path) -> None:
    want = parse_text((CORPUS / f"{NOTICE_ID}.txt").read_text(encoding="utf-8"), NOTICE_ID)
    got = parse_text(read_any(_notice_as(fmt, tmp_path)), NOTICE_ID)
    assert (got.title, got.doc_number, got.issuer, got.date) == (want.title, want.doc_number, want.issuer,
                                                                   want.date)
    assert [(s.section_no, s.text) for s in got.sections] == [(s.section_no, s.text) for s in want.sections]


def test_scanned_pdf_is_refused_with_a_clear_message() -> None:
    with pytest.raises(DocumentError, match="没有文字层.*扫描件.*OCR"):
        read_any(FIXTURES / "scan.pdf")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_text_saved_as_unicode_by_notepad_is_read(tmp_path, encoding) -> None:
    text = "示例办法\n\n第一条 本办法自2024年1月1日起施行。\n"
    path = tmp_path / "rules.txt"
    path.write_bytes(text.encode("utf-16") if encoding == "utf-16" else ("\ufeff" + text).encode(encoding))
    assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    assert read_any(path).strip() == text.strip()
    path.write_bytes(b"\xff\xfe" + "  \n".encode("utf-16-le"))
    with pytest.raises(DocumentError, match="empty"):
        read_any(path)


@pytest.mark.parametrize("name, data, message", [
    ("rules.xlsx", b"PK\x03\x04 spreadsheet", "不支持的文件类型 .xlsx"),
    ("rules.doc", b"\xd0\xcf\x11\xe0 old word", "另存为 .docx"),
    ("empty.txt", b"", "空文件"),
    ("blank.md", b"  \n\n ", "empty"),
    ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    ("broken.docx", b"this is not a zip file at all", "不是有效的 Word .docx"),
    ("broken.pdf", b"%PDF-1.4\n garbage without objects", "PDF"),
])
def test_bad_files_fail_with_a_message_naming_the_problem(tmp_path, name, data, message) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DocumentError, match=message):
        read_any(path)


def test_oversized_file_names_the_limit(tmp_path) -> None:
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing on disk
    with pytest.raises(DocumentError, match=r"50\.0 MB.*上限 20 MB.*POLICYKB_MAX_FILE_MB"):
        read_any(path, max_bytes=20 * 1024 * 1024)
    with pytest.raises(DocumentError, match=r"上限 10 MB"):
        read_any(path, max_bytes=10 * 1024 * 1024)  # the limit in the message follows the setting


@pytest.mark.parametrize("n, cn", [(1, "一"), (10, "十"), (11, "十一"), (20, "二十"), (21, "二十一"),
                                   (100, "一百"), (105, "一百零五"), (110, "一百一十"), (999, "九百九十九")])
def test_int_to_cn(n: int, cn: str) -> None:
    assert int_to_cn(n) == cn


@pytest.mark.parametrize("n, fmt, out", [
    (3, "chineseCounting", "三"), (12, "chineseCountingThousand", "十二"), (3, "chineseLegalSimplified", "叁"),
    (12, "decimal", "12"), (2, "decimalEnclosedCircle", "②"), (4, "upperRoman", "IV"), (3, "lowerLetter", "c"),
    (1, "ideographTraditional", "甲"), (5, "decimalFullWidth", "５"), (1, "bullet", ""),
])
def test_word_number_formats(n: int, fmt: str, out: str) -> None:
    assert format_number(n, fmt) == out


@pytest.mark.parametrize("raw, clean", [
    ("⼀、⼯作⽬标", "一、工作目标"),           # Kangxi radicals
    ("个体⼯商⼾", "个体工商户"),               # NFKC would give the traditional 戶
    ("⻔槛与⻛险", "门槛与风险"),               # CJK Radicals Supplement, which NFKC leaves alone
    ("第一章\u2003总则", "第一章\u3000总则"),
])
def test_normalize_glyphs(raw: str, clean: str) -> None:
    assert normalize_glyphs(raw) == clean


@pytest.mark.parametrize("markdown, text", [
    ("## 第二章　授信额度 ##", "第二章　授信额度"),
    ("**第三条**　单户授信额度不超过1000万元；", "第三条　单户授信额度不超过1000万元；"),
    ("- （一）见[附件](a.pdf)", "（一）见附件"),
    ("1\\. 第一项", "1. 第一项"),
])
def test_markdown_markup_is_removed(markdown: str, text: str) -> None:
    assert markdown_to_text(markdown) == text


def test_html_blocks_become_lines_and_scripts_vanish() -> None:
    page = """<html><head><title>页面标题</title><style>p{color:red}</style></head><body>
    <script>var x = "脚本";</script>
    <h1>标题</h1><p>第一条　本办法适用于
    全行。</p><p>English words
    stay apart<br>下一行</p>
    <ol><li>第一项；</li><li>第二项。</li></ol>
    <ol style="list-style-type: cjk-ideographic"><li>总体要求</li></ol>
    <table><tr><td>项目</td><td>额度</td></tr></table></body></html>"""
    assert html_to_text(page).splitlines() == [
        "标题", "第一条　本办法适用于全行。", "English words stay apart", "下一行",
        "1.第一项；", "2.第二项。", "一、总体要求", "项目 额度"]


def test_html_declared_gbk_charset_is_honoured(tmp_path) -> None:
    page = '<html><head><meta charset="gbk"></head><body><p>第一条　授信额度不超过1000万元。</p></body></html>'
    path = tmp_path / "gbk.html"
    path.write_bytes(page.encode("gbk"))
    assert read_any(path) == "第一条　授信额度不超过1000万元。"


def _write_docx(path, rows) -> None:
    import docx
    document = docx.Document()
    for text, style in rows:
        document.add_paragraph(text, style=style)
    document.save(str(path))


def test_docx_headings_without_numbers_become_chapters_in_a_rules_file(tmp_path) -> None:
    path = tmp_path / "rules.docx"
    _write_docx(path, [("示例制度", "Title"), ("总则", "Heading 1"), ("第一条　为规范管理，制定本办法。", None),
                       ("额度", "Heading 1"), ("第二条　单户额度不超过100万元。", None)])
    doc = parse_text(read_any(path), "x")
    assert doc.title == "示例制度"
    assert [(s.section_no, s.chapter) for s in doc.sections] == [("第一条", "第一章 总则"), ("第二条", "第二章 额度")]


def test_docx_headings_without_numbers_become_measures_in_a_notice(tmp_path) -> None:
    path = tmp_path / "notice.docx"
    _write_docx(path, [("关于做好示例工作的通知", "Heading 1"), ("各分行：", None),
                       ("总体要求", "Heading 1"), ("坚持稳中求进。", None),
                       ("重点任务", "Heading 1"), ("加大信贷投放。", None), ("第三项", "Heading 1")])
    plain = "关于做好示例工作的通知\n各分行：\n一、总体要求\n坚持稳中求进。\n二、重点任务\n加大信贷投放。\n三、第三项"
    doc, want = parse_text(read_any(path), "x"), parse_text(plain, "x")
    assert doc.title == "关于做好示例工作的通知"
    assert [s.section_no for s in doc.sections] == ["一", "二", "三"]
    assert [(s.section_no, s.text) for s in doc.sections] == [(s.section_no, s.text) for s in want.sections]


@pytest.mark.parametrize("line, is_page_number", [
    ("- 1 -", True), ("— 12 —", True), ("第 3 页", True), ("第3页 共10页", True), ("3/10", True),
    ("Page 2 of 5", True), ("12", True), ("iv", True),
    ("500万元。", False), ("第三条", False), ("2024年6月15日", False), ("示例银行内部制度汇编", False),
])
def test_page_number_lines(line: str, is_page_number: bool) -> None:
    assert bool(PAGE_NUMBER_RE.match(line)) is is_page_number


def _line(text: str, x0: float = 50, x1: float | None = None, y: float = 0, size: float = 10) -> Line:
    return Line(text, x0, x1 if x1 is not None else x0 + 10 * len(text), y, size)


def test_join_lines_rejoins_wraps_but_keeps_paragraphs() -> None:
    full = 250  # 20 characters of 10 pt from x=50
    lines = [
        _line("第一条　为规范本行小微企业授信业务，防范", x1=full),
        _line("信用风险，制定本办法。"),                        # short: ends the paragraph
        _line("第二条　本条规定的额度以本行最新公布的第", x1=full),
        _line("三条为准，不得突破。"),                          # a wrap even though it looks like 第X条
        _line("第三条　本办法由普惠金融部负责解释和修订。", x1=full),
        _line("第四条　本办法自发布之日起施行。"),              # full line ended a sentence; marker starts anew
        _line("示例银行股份有限公司", x0=150, x1=full),        # right-aligned signature
        _line("2024年6月15日", x0=180, x1=full),
    ]
    assert join_lines(lines) == [
        "第一条　为规范本行小微企业授信业务，防范信用风险，制定本办法。",
        "第二条　本条规定的额度以本行最新公布的第三条为准，不得突破。",
        "第三条　本办法由普惠金融部负责解释和修订。",
        "第四条　本办法自发布之日起施行。",
        "示例银行股份有限公司",
        "2024年6月15日",
    ]


def test_drop_headers_removes_repeated_edges_and_page_numbers_only() -> None:
    pages = [[_line("示例内部制度汇编"), _line(f"第{n}条　正文内容。"), _line("示例内部制度汇编"), _line(f"- {i} -")]
             for i, n in enumerate("一二三", start=1)]
    pages[1].insert(2, _line("示例内部制度汇编是本行的制度合集。"))  # body text that merely starts alike
    kept = [[ln.text for ln in page] for page in drop_headers(pages)]
    assert kept == [["第一条　正文内容。"], ["第二条　正文内容。", "示例内部制度汇编是本行的制度合集。"],
                    ["第三条　正文内容。"]]
