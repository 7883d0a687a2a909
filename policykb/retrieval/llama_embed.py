"""A PolicyEmbedding as a llama-index embedding model, for llama-index's own indexes.

Kept apart from embed.py so that answering a question never imports llama-index.
"""
from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr


class LlamaIndexEmbedding(BaseEmbedding):
    """llama-index's BaseEmbedding over a loaded PolicyEmbedding (the model is shared, not reloaded)."""

    _embedder: Any = PrivateAttr(default=None)

    def __init__(self, embedder: Any, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.model_id, embed_batch_size=16, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "PolicyEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_queries([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_passages([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_passages(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)
