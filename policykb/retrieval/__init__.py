"""Retrieval: the index (Chroma + BM25), the retrievers, the learned ranker and look-ups."""
