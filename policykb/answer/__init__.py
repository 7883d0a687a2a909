"""Answers: quotes, citations and abstention, questions about documents, conversations, memos."""
