"""Evaluation: question and conversation sets scored against gold, and the training quiz."""
