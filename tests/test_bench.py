"""The benchmark's scaling builder: a tiny synthetic index over the notice's real sentences."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
N = 200


@pytest.fixture(scope="module")
def bench():
    """Import eval/bench.py (eval/ is not a package)."""
    spec = importlib.util.spec_from_file_location("policykb_bench", ROOT / "eval" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_synthetic_corpus_is_deterministic_and_recombines_real_sentences(bench, kb):
    sentences, vectors = bench.sentence_pool(kb)
    assert len(sentences) == len(vectors) > 10
    first = bench.synthesize(N, sentences, vectors, seed=7)
    again = bench.synthesize(N, sentences, vectors, seed=7)
    assert first.texts == again.texts and (first.vectors == again.vectors).all()
    assert len(set(first.section_ids)) == N
    assert abs(float((first.vectors ** 2).sum(axis=1).mean()) - 1.0) < 1e-4
    assert all(any(s in text for s in sentences) for text in first.texts)


def test_scaling_builder_indexes_every_section_and_answers_a_query(bench, kb, tmp_path):
    sentences, vectors = bench.sentence_pool(kb)
    times = bench.build_synthetic_index(tmp_path, N, sentences, vectors)
    assert set(times) >= {"tokenize (jieba)", "Chroma add", "total"}

    index = bench.open_synthetic_index(tmp_path)
    assert index.stores.collections[False].count() == N
    assert int(index.bm25.scores["num_docs"]) == N
    assert len(index.section_ids) == N

    question = "续贷有什么要求？"
    vector = kb.embedder.embed_queries([question])[0].tolist()
    hits, timings = bench.retrieve_once(index, question, vector)
    assert hits and all(h.section_id in index.section_ids for h in hits)
    assert any("keyword" in h.ranks for h in hits) and any("dense" in h.ranks for h in hits)
    assert set(timings) >= {"BM25", "vector search (sections)", "total"}
    assert bench.dir_mb(tmp_path / "chroma") > 0 and bench.dir_mb(tmp_path / "bm25") > 0
