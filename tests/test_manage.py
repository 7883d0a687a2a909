"""policykb add / remove: the corpus, manifest.toml, Chroma vectors and BM25 change together, and
only together. Counts are compared before and after every operation; nothing stale may remain."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policykb.config import Settings
from policykb.errors import (CorpusError, DocumentError, DuplicateDocumentError, EmbeddingUnavailableError,
                             IndexLockedError, NotFoundError)
from policykb.ingest.docid import derive_doc_id
from policykb.manage import add_document, remove_document
from policykb.retrieval.store import VectorStores, index_lock, read_index_manifest, unit_id, vector_units
from tests.conftest import FIXTURES, NOTICE_ID, ROOT, copy_corpus, make_settings

RULES_ID = "shi-yin-2024-7"
# Plans without a 文号 are named from their titles (pypinyin), never from the file name.
IP_ID = "shanghai-yinhangye-baoxianye-zuohao"
GREEN_ID = "shanghai-yinhangye-baoxianye-shisiwu"
QUESTION = "小微企业单户授信额度上限是多少？"


def index_state(settings: Settings) -> dict:
    """Return everything add/remove may change: corpus files, manifest, vector ids, BM25 size."""
    import bm25s
    stores = VectorStores.open(settings)
    manifest = read_index_manifest(settings.index_dir)
    bm25 = bm25s.BM25.load(str(settings.index_dir / "bm25"))
    return {
        "manifest.toml": (settings.corpus_dir / "manifest.toml").read_text(encoding="utf-8"),
        "corpus files": sorted(p.name for p in settings.corpus_dir.iterdir()),
        "index manifest": {k: manifest[k] for k in ("documents", "counts", "section_ids")},
        "vector counts": stores.counts(),
        "section vectors": sorted(stores.collections[False].get(include=[])["ids"]),
        "span vectors": sorted(stores.collections[True].get(include=[])["ids"]),
        "bm25 docs": int(bm25.scores["num_docs"]),
    }


def assert_consistent(settings: Settings) -> dict:
    """Check that vectors, BM25 and the index manifest describe exactly the corpus documents."""
    from policykb.ingest.corpus import load_documents
    state = index_state(settings)
    sections = {s.id: s for d in load_documents(settings.corpus_dir) for s in d.sections}
    spans = {unit_id(s, a, b) for s in sections.values() for a, b in vector_units(s)}
    assert state["section vectors"] == sorted(sections)
    assert state["span vectors"] == sorted(spans)
    assert state["bm25 docs"] == len(sections) == len(state["index manifest"]["section_ids"])
    assert state["vector counts"] == (len(sections), len(spans))
    return state


def vectors_of(state: dict, doc_id: str) -> list[str]:
    return [i for i in state["section vectors"] + state["span vectors"] if i.startswith(f"{doc_id}#")]


@pytest.fixture(scope="module")
def embedder(built_settings: Settings):
    from policykb.retrieval.embed import create_embedding
    return create_embedding(built_settings)


@pytest.fixture()
def kb_settings(tmp_path: Path, built_settings: Settings) -> Settings:
    """A private corpus + index copied from the session's built index (no re-embedding of the notice)."""
    shutil.copytree(built_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(built_settings.index_dir, tmp_path / "index", ignore=shutil.ignore_patterns(".lock"))
    return make_settings(tmp_path / "corpus", tmp_path / "index")


def ask(settings: Settings, question: str = QUESTION):
    from policykb.kb import KnowledgeBase
    return KnowledgeBase.open(settings, auto_ingest=False).ask(question)


def test_add_ask_remove_leaves_no_stale_entry(kb_settings: Settings, embedder) -> None:
    before = assert_consistent(kb_settings)
    report = add_document(kb_settings, FIXTURES / "rules-gbk.txt", embedder=embedder)
    assert (report.doc_id, report.title, report.doc_number, report.issuer, report.date) == (
        RULES_ID, "示例银行股份有限公司小微企业授信管理办法", "示银发〔2024〕7号", "示例银行股份有限公司", "2024-06-15")
    assert report.section_nos == tuple(f"第{n}条" for n in "一二三四五六七") and not report.replaced
    assert report.chapters == ("第一章 总则", "第二章 授信额度与期限", "第三章 附则")
    copied = kb_settings.corpus_dir / f"{RULES_ID}.txt"
    assert copied.read_bytes() == (FIXTURES / "rules-gbk.txt").read_bytes()
    assert f'doc_id = "{RULES_ID}"' in (kb_settings.corpus_dir / "manifest.toml").read_text(encoding="utf-8")
    assert "# Documents cited by title" in (kb_settings.corpus_dir / "manifest.toml").read_text(encoding="utf-8")

    added = assert_consistent(kb_settings)
    assert added["bm25 docs"] == before["bm25 docs"] + 7
    assert len([i for i in vectors_of(added, RULES_ID) if ":" not in i]) == 7

    answer = ask(kb_settings)
    assert not answer.abstained
    top = answer.citations[0]
    assert (top.doc_id, top.section_no) == (RULES_ID, "第三条")
    assert "1000万元" in top.quote and top.cite.startswith("《示例银行股份有限公司小微企业授信管理办法》（示银发〔2024〕7号）第三条（一）")
    from policykb.ingest.corpus import load_documents
    rules = next(d for d in load_documents(kb_settings.corpus_dir) if d.doc_id == RULES_ID)
    assert top.quote in rules.section("第三条").text  # verbatim

    removed = remove_document(kb_settings, RULES_ID, embedder=embedder)
    assert (removed.doc_id, removed.sections) == (RULES_ID, 7)
    after = assert_consistent(kb_settings)
    assert after == before  # manifest.toml byte for byte, files, vectors, BM25
    assert vectors_of(after, RULES_ID) == []
    again = ask(kb_settings)
    assert all(c.doc_id != RULES_ID for c in again.citations + again.related)


def test_replacing_by_doc_id_replaces_every_chunk(kb_settings: Settings, embedder, tmp_path: Path) -> None:
    before = assert_consistent(kb_settings)
    add_document(kb_settings, FIXTURES / "rules.txt", embedder=embedder)
    newer = tmp_path / "rules-2025.md"
    text = (FIXTURES / "rules.md").read_text(encoding="utf-8")
    text = text.replace("不超过1000万元", "不超过800万元").replace("〔2024〕7号", "〔2025〕3号")
    newer.write_text(text.split("**第七条**")[0] + "示例银行股份有限公司\n\n2025年1月2日\n", encoding="utf-8")

    # The new 文号 gives another id; the same id with another title is refused, not silently replaced.
    with pytest.raises(DuplicateDocumentError, match=f"--doc-id {RULES_ID}"):
        add_document(kb_settings, newer, doc_id=None, embedder=embedder, doc_number="示银发〔2024〕7号",
                     title="另一份制度")
    report = add_document(kb_settings, newer, doc_id=RULES_ID, embedder=embedder)
    assert report.replaced and report.section_nos[-1] == "第六条" and report.doc_number == "示银发〔2025〕3号"
    files = sorted(p.name for p in kb_settings.corpus_dir.iterdir())
    assert f"{RULES_ID}.md" in files and f"{RULES_ID}.txt" not in files  # the old source is gone

    state = assert_consistent(kb_settings)
    assert state["bm25 docs"] == before["bm25 docs"] + 6
    assert not any(i.startswith(f"{RULES_ID}#第七条") for i in vectors_of(state, RULES_ID))
    stores = VectorStores.open(kb_settings)
    texts = [t for col in stores.collections.values()
             for t in col.get(where={"doc_id": RULES_ID}, include=["documents"])["documents"]]
    assert any("800万元" in t for t in texts) and not any("1000万元" in t for t in texts)
    answer = ask(kb_settings)
    assert answer.citations[0].doc_id == RULES_ID and "800万元" in answer.citations[0].quote


def test_file_already_in_corpus_dir_and_status_kept_across_versions(kb_settings: Settings, embedder) -> None:
    inside = kb_settings.corpus_dir / f"{RULES_ID}.txt"
    shutil.copy(FIXTURES / "rules.txt", inside)
    add_document(kb_settings, inside, embedder=embedder, status="已被替代", superseded_by="shi-yin-2025-1")
    assert inside.read_bytes() == (FIXTURES / "rules.txt").read_bytes()
    report = add_document(kb_settings, FIXTURES / "rules.docx", doc_id=RULES_ID, embedder=embedder)
    assert report.replaced
    manifest = (kb_settings.corpus_dir / "manifest.toml").read_text(encoding="utf-8")
    assert 'status = "已被替代"' in manifest and 'superseded_by = "shi-yin-2025-1"' in manifest
    assert not inside.exists() and (kb_settings.corpus_dir / f"{RULES_ID}.docx").exists()
    assert_consistent(kb_settings)


def test_not_current_document_answers_carry_a_warning(kb_settings: Settings, embedder) -> None:
    add_document(kb_settings, FIXTURES / "rules.html", embedder=embedder, status="已废止",
                 effective_date="2024-07-01")
    manifest = (kb_settings.corpus_dir / "manifest.toml").read_text(encoding="utf-8")
    assert 'status = "已废止"' in manifest and 'effective_date = "2024-07-01"' in manifest
    answer = ask(kb_settings)
    assert answer.citations[0].doc_id == RULES_ID
    assert any("已废止" in n for n in answer.notices) and "已废止" in answer.answer


def test_adding_the_cited_plans_resolves_the_notices_references(kb_settings: Settings, embedder, capsys) -> None:
    from policykb.cli import main
    from policykb.ingest.corpus import load_documents, load_references

    def refs() -> dict[str, str]:
        return {r.title: r.resolved_doc_id for r in
                load_references(kb_settings.corpus_dir, load_documents(kb_settings.corpus_dir))}
    ip = "上海银行业保险业做好知识产权质押融资服务的工作方案"
    green = "上海银行业保险业“十四五”期间推动绿色金融发展 服务碳达峰碳中和战略的行动方案"
    assert refs()[ip] == "" and refs()[green] == ""
    # Half-width brackets with a year range in one title, half-width quotes in the other.
    ip_report = add_document(kb_settings, FIXTURES / "ip-plan.txt", embedder=embedder)
    green_report = add_document(kb_settings, FIXTURES / "green-plan.md", embedder=embedder)
    assert ip_report.title.endswith("(2023-2025年)") and '"十四五"' in green_report.title
    assert ip_report.resolves == (ip,) and green_report.resolves == (green,)
    resolved = refs()
    assert resolved[ip] == ip_report.doc_id == IP_ID and resolved[green] == GREEN_ID
    assert resolved["上海市加强集成创新持续优化营商环境行动方案"] == ""

    assert main(["--corpus-dir", str(kb_settings.corpus_dir), "--index-dir", str(kb_settings.index_dir),
                 "docs", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    status = {r["title"]: (r["status"], r["resolved_doc_id"]) for r in listing["references"]}
    assert status[ip] == ("indexed", IP_ID) and status[green] == ("indexed", GREEN_ID)
    assert status["上海市加强集成创新持续优化营商环境行动方案"] == ("referenced-only", "")
    assert {d["doc_id"]: d["sections"] for d in listing["documents"]}[IP_ID] == 4  # preamble + 一、二、三
    assert_consistent(kb_settings)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_INPUTS = {
    "unsupported extension": (lambda d: _write(d / "rules.xlsx", b"PK\x03\x04"), "不支持的文件类型 .xlsx"),
    "empty file": (lambda d: _write(d / "empty.txt", b""), "空文件"),
    "binary renamed .txt": (lambda d: _write(d / "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00IHDR" * 50), "binary"),
    "scanned pdf": (lambda d: shutil.copy(FIXTURES / "scan.pdf", d / "scan.pdf") and d / "scan.pdf", "没有文字层"),
    "title only": (lambda d: _write(d / "title.txt", "示例银行制度\n".encode()), "没有可收录的正文"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_and_changes_nothing(case: str, kb_settings: Settings, embedder,
                                                  tmp_path: Path) -> None:
    make, message = BAD_INPUTS[case]
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    before = index_state(kb_settings)
    with pytest.raises(DocumentError, match=message):
        add_document(kb_settings, make(incoming), embedder=embedder)
    assert index_state(kb_settings) == before


def test_oversized_file_is_refused_naming_the_limit(kb_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    before = index_state(kb_settings)
    with pytest.raises(DocumentError, match="超过单个文件上限 20 MB"):
        add_document(kb_settings, path)
    assert index_state(kb_settings) == before


def test_same_file_twice_and_unknown_ids_change_nothing(kb_settings: Settings, embedder, tmp_path: Path) -> None:
    add_document(kb_settings, FIXTURES / "rules.txt", embedder=embedder)
    before = index_state(kb_settings)
    renamed = tmp_path / "copy-of-rules.txt"
    shutil.copy(FIXTURES / "rules.txt", renamed)
    for path in (FIXTURES / "rules.txt", renamed):
        with pytest.raises(DuplicateDocumentError, match=f"已收录的 {RULES_ID}"):
            add_document(kb_settings, path, embedder=embedder)
    with pytest.raises(NotFoundError, match="没有 doc_id 为 'no-such-doc'.*policykb docs"):
        remove_document(kb_settings, "no-such-doc", embedder=embedder)
    with pytest.raises(CorpusError, match="YYYY-MM-DD"):
        add_document(kb_settings, FIXTURES / "rules.md", date="2024/6/15")
    with pytest.raises(CorpusError, match="doc_id"):
        add_document(kb_settings, FIXTURES / "rules.md", doc_id="示例 制度")
    assert index_state(kb_settings) == before


def test_the_last_document_cannot_be_removed(tmp_path: Path) -> None:
    settings = make_settings(copy_corpus(tmp_path / "corpus"), tmp_path / "index")
    with pytest.raises(CorpusError, match="唯一的文件"):
        remove_document(settings, NOTICE_ID)
    assert (settings.corpus_dir / f"{NOTICE_ID}.txt").exists()


def test_a_held_lock_makes_add_fail_cleanly(kb_settings: Settings, embedder) -> None:
    impatient = make_settings(kb_settings.corpus_dir, kb_settings.index_dir, lock_timeout=0.2)
    before = index_state(kb_settings)
    with index_lock(kb_settings):
        with pytest.raises(IndexLockedError, match="another policykb process"):
            add_document(impatient, FIXTURES / "rules.txt", embedder=embedder)
        with pytest.raises(IndexLockedError):
            remove_document(impatient, NOTICE_ID, embedder=embedder)
    assert index_state(kb_settings) == before


class FailingEmbedder:
    """Wraps the real model and fails like an unavailable backend (to test the rollback)."""

    def __init__(self, real) -> None:
        self.dim = real.dim

    def embed_passages(self, texts):
        raise EmbeddingUnavailableError("the embedding backend stopped")


def test_failed_indexing_restores_the_corpus(kb_settings: Settings, embedder) -> None:
    before = index_state(kb_settings)
    with pytest.raises(EmbeddingUnavailableError, match="stopped.*未做任何更改"):
        add_document(kb_settings, FIXTURES / "rules.docx", embedder=FailingEmbedder(embedder))
    assert index_state(kb_settings) == before
    assert ask(kb_settings, "续贷有什么要求？").citations  # the index still loads and answers


def _cli(settings: Settings, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "policykb.cli", "--corpus-dir", str(settings.corpus_dir),
           "--index-dir", str(settings.index_dir), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})},
                          timeout=900)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_two_adds_at_the_same_time_both_land_consistently(kb_settings: Settings) -> None:
    before = index_state(kb_settings)
    cmd = [sys.executable, "-m", "policykb.cli", "--corpus-dir", str(kb_settings.corpus_dir),
           "--index-dir", str(kb_settings.index_dir), "add"]
    env = {**os.environ, "POLICYKB_LOCK_TIMEOUT": "600"}
    procs = [subprocess.Popen(cmd + [str(FIXTURES / name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=ROOT, env=env) for name in ("rules-gbk.txt", "ip-plan.txt")]
    results = [p.communicate(timeout=900) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0], [r[1] for r in results]
    state = assert_consistent(kb_settings)
    assert state["bm25 docs"] == before["bm25 docs"] + 7 + 4
    manifest = state["manifest.toml"]
    assert f'doc_id = "{RULES_ID}"' in manifest and f'doc_id = "{IP_ID}"' in manifest


def test_cli_add_ask_remove_with_a_gbk_rules_file(kb_settings: Settings) -> None:
    added = _cli(kb_settings, "add", str(FIXTURES / "rules-gbk.txt")).stdout
    assert f"已收录 added {RULES_ID}" in added
    assert "示例银行股份有限公司小微企业授信管理办法" in added and "示银发〔2024〕7号" in added
    assert "7 节（第一条 … 第七条）" in added

    answer = _cli(kb_settings, "ask", QUESTION).stdout
    assert "《示例银行股份有限公司小微企业授信管理办法》（示银发〔2024〕7号）第三条（一）" in answer
    assert "“（一）单户授信额度不超过1000万元；" in answer

    docs = json.loads(_cli(kb_settings, "docs", "--json").stdout)
    assert {d["doc_id"]: d["sections"] for d in docs["documents"]}[RULES_ID] == 7

    again = _cli(kb_settings, "add", str(FIXTURES / "rules-gbk.txt"), check=False)
    assert again.returncode == 1 and again.stderr.startswith("错误：") and RULES_ID in again.stderr

    removed = _cli(kb_settings, "remove", RULES_ID).stdout
    assert f"已删除 removed {RULES_ID}" in removed
    after = _cli(kb_settings, "ask", QUESTION).stdout
    assert "示例银行" not in after and "第三条（一）" not in after

    unknown = _cli(kb_settings, "remove", RULES_ID, check=False)
    assert unknown.returncode == 1 and "没有 doc_id" in unknown.stderr
    assert_consistent(kb_settings)


@pytest.mark.server
def test_chroma_server_mode_add_ask_remove(chroma_server, tmp_path: Path, embedder) -> None:
    host, port = chroma_server
    settings = make_settings(copy_corpus(tmp_path / "corpus"), tmp_path / "index",
                             chroma_host=host, chroma_port=port)
    report = add_document(settings, FIXTURES / "rules.docx", embedder=embedder)  # first add builds the index
    assert set(report.ingest.added) == {NOTICE_ID, RULES_ID}
    assert read_index_manifest(settings.index_dir)["chroma"] == f"{host}:{port}"
    assert not (settings.index_dir / "chroma").exists()  # vectors live in the server
    state = assert_consistent(settings)
    assert vectors_of(state, RULES_ID)

    answer = ask(settings)
    assert answer.citations[0].doc_id == RULES_ID and "1000万元" in answer.citations[0].quote

    remove_document(settings, RULES_ID, embedder=embedder)
    state = assert_consistent(settings)
    assert vectors_of(state, RULES_ID) == [] and vectors_of(state, NOTICE_ID)
    assert all(c.doc_id != RULES_ID for c in ask(settings).citations)


def test_doc_ids_are_readable_and_stable() -> None:
    assert derive_doc_id("示银沪发〔2024〕7号", "", "whatever", b"x") == "shi-yin-hu-2024-7"
    assert derive_doc_id("沪银保监发〔2023〕24号", "", "x", b"x") == "hu-yin-bao-jian-2023-24"
    assert derive_doc_id("鑫宝发〔2024〕7号", "小微制度", "x", b"x") == "xin-bao-2024-7"  # pypinyin knows every character
    assert derive_doc_id("法释〔2020〕28号", "", "x", b"x") == "fa-shi-2020-28"
    assert derive_doc_id("中华人民共和国国务院令第660号", "存款保险条例", "x", b"x") == "guowuyuanling-660"
    assert derive_doc_id("国务院令第660号", "", "x", b"x") == "guowuyuanling-660"
    assert derive_doc_id("中华人民共和国主席令第三十四号", "", "x", b"x") == "zhuxiling-34"
    assert derive_doc_id("银保监会令2023年第3号", "", "x", b"x") == "yinbaojianhuiling-2023-3"
    assert derive_doc_id("", "中华人民共和国商业银行法", "x", b"x") == "shangyeyinhangfa"
    assert derive_doc_id("", "中华人民共和国民法典", "x", b"x") == "minfadian"
    assert derive_doc_id("", "最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释", "x", b"x") \
        == "minfadian-danbao-zhidu-jieshi"
    assert derive_doc_id("", "最高人民法院关于适用《中华人民共和国保险法》若干问题的解释（三）", "x", b"x") \
        == "baoxianfajieshi-3"
    assert derive_doc_id("", "", "Credit Rules (v2)", b"x") == "credit-rules-v2"
    assert derive_doc_id("", "", "小微", b"same") == derive_doc_id("", "", "另一个", b"same")
    assert derive_doc_id("", "", "小微", b"same").startswith("doc-")
    # Short and legible: never a hash when there is a title, never longer than 40 characters.
    long_title = "最高人民法院关于审理融资租赁合同纠纷案件适用法律问题的解释" * 3
    assert len(derive_doc_id("", long_title, "x", b"x")) <= 40


def test_a_question_while_another_process_adds_a_document_is_answered_without_it(kb_settings: Settings, embedder,
                                                                                   tmp_path: Path) -> None:
    from policykb.kb import KnowledgeBase
    # What the index directory holds halfway through `policykb add`: the new file in corpus/ and its vectors
    # already in Chroma, while the manifest and BM25 still describe the index without it.
    done = make_settings(copy_corpus(tmp_path / "done" / "corpus"), tmp_path / "done" / "index")
    shutil.copytree(kb_settings.index_dir, done.index_dir, ignore=shutil.ignore_patterns(".lock"))
    add_document(done, FIXTURES / "rules.txt", embedder=embedder)
    shutil.rmtree(kb_settings.corpus_dir)
    shutil.copytree(done.corpus_dir, kb_settings.corpus_dir)
    shutil.rmtree(kb_settings.index_dir / "chroma")
    shutil.copytree(done.index_dir / "chroma", kb_settings.index_dir / "chroma")
    manifest = read_index_manifest(kb_settings.index_dir)
    notes: list[str] = []
    with index_lock(kb_settings):  # the adding process
        kb = KnowledgeBase.open(kb_settings, on_ingest=notes.append)
        assert kb.index.pending == (RULES_ID,) and RULES_ID in notes[0] and "answering without" in notes[0]
        result = kb.search(QUESTION, k=10)
        assert result.hits and not any(h.section_id.startswith(RULES_ID) for h in result.hits)
        assert kb.ask("续贷有什么要求？").citations[0].doc_id == NOTICE_ID
        assert read_index_manifest(kb_settings.index_dir) == manifest  # the reader wrote nothing
    # once the writer has finished, the document is served
    shutil.rmtree(kb_settings.index_dir)
    shutil.copytree(done.index_dir, kb_settings.index_dir, ignore=shutil.ignore_patterns(".lock"))
    kb = KnowledgeBase.open(kb_settings, auto_ingest=False)
    assert kb.index.pending == () and kb.ask(QUESTION).citations[0].doc_id == RULES_ID
