"""Memo appendix: Markdown and Word, in order, each citation once, written whole or not at all."""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from policykb.errors import MemoError
from policykb.answer.memo import memo_docx, memo_markdown, unique_citations, write_memo

CITATIONS = [
    {"cite": "《中华人民共和国民法典》第六百八十五条第二款", "quote": "第三人单方以书面形式向债权人作出保证，债权人接收且未提出异议的，保证合同成立。"},
    {"cite": "《存款保险条例》（国务院令第660号）第五条第一款", "quote": "存款保险实行限额偿付，最高偿付限额为人民币50万元。"},
    {"cite": "《中华人民共和国民法典》第六百八十五条第二款", "quote": "第三人单方以书面形式向债权人作出保证，债权人接收且未提出异议的，保证合同成立。"},
    {"cite": "《中华人民共和国商业银行法》第十三条", "quote": "设立全国性商业银行的注册资本最低限额为十亿元人民币。\n注册资本应当是实缴资本。"},
]


def test_citations_keep_their_order_and_appear_once() -> None:
    assert [c["cite"] for c in unique_citations(CITATIONS)] == [CITATIONS[0]["cite"], CITATIONS[1]["cite"],
                                                                 CITATIONS[3]["cite"]]


def test_markdown_lists_each_cite_with_its_quote() -> None:
    text = memo_markdown(CITATIONS)
    assert text.startswith("# 引用附录\n")
    assert text.count("《中华人民共和国民法典》第六百八十五条第二款") == 1
    assert "1. 《中华人民共和国民法典》第六百八十五条第二款\n\n> “第三人单方" in text
    assert "3. 《中华人民共和国商业银行法》第十三条\n\n> “设立全国性商业银行" in text
    assert "> 注册资本应当是实缴资本。”" in text  # every line of a multi-paragraph quote stays quoted
    assert text.index("第六百八十五条") < text.index("第五条第一款") < text.index("第十三条")


def test_an_empty_conversation_says_so() -> None:
    assert "没有引用" in memo_markdown([])


def test_docx_is_a_word_document_with_every_cite_and_quote() -> None:
    from docx import Document
    doc = Document(io.BytesIO(memo_docx(CITATIONS)))
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "引用附录"
    assert texts[1] == "1. 《中华人民共和国民法典》第六百八十五条第二款" and doc.paragraphs[1].runs[0].bold
    assert texts[2].startswith("“第三人单方")
    assert sum("第六百八十五条" in t for t in texts) == 1
    assert "3. 《中华人民共和国商业银行法》第十三条" in texts


@pytest.mark.parametrize("name", ["memo.md", "memo.docx", "MEMO.DOCX"])
def test_write_memo_chooses_the_format_by_suffix(tmp_path: Path, name: str) -> None:
    path = write_memo(CITATIONS, tmp_path / name)
    data = path.read_bytes()
    if name.lower().endswith(".docx"):
        assert data[:2] == b"PK"  # a zip container
    else:
        assert data.decode("utf-8") == memo_markdown(CITATIONS)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp file left behind
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("name", ["memo.txt", "memo", "memo.pdf"])
def test_other_suffixes_are_refused_with_the_fix(tmp_path: Path, name: str) -> None:
    with pytest.raises(MemoError, match=r"\.md or \.docx"):
        write_memo(CITATIONS, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(MemoError, match="cannot write the memo"):
        write_memo(CITATIONS, blocker / "memo.md")
    with pytest.raises(MemoError, match="cannot write the memo"):
        write_memo(CITATIONS, tmp_path / "no-such-folder" / "memo.docx")


def test_a_failed_write_leaves_the_old_memo_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_memo(CITATIONS[:1], tmp_path / "memo.md")
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(MemoError, match="No space left"):
        write_memo(CITATIONS, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["memo.md"]
