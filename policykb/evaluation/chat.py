"""Scorer for conversation sets: every turn of every conversation through the chat, per-turn accuracy by kind.

A conversation set is JSON Lines, one conversation per line:

    {"id": "civil-periods", "turns": [
      {"message": "在民法典里，保证期间是多久？", "kind": "fresh", "expect": ["minfadian#第六百九十二条"]},
      {"message": "那诉讼时效呢？", "kind": "elliptical", "expect": ["minfadian#第一百八十八条"]},
      {"message": "这部法律什么时候施行的？", "kind": "document", "expect_doc": "minfadian", "must": ["2021年1月1日"]}]}

A turn is correct when the top citation's section is one of `expect`, when it
abstains and `abstain` is true, or, for `expect_doc`, when it is answered from that
document's own lines and the answer contains every `must` string.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterable

from policykb.config import Settings
from policykb.errors import CorpusError
from policykb.evaluation.evaluate import read_jsonl

TURN_KEYS = {"message", "kind", "expect", "abstain", "expect_doc", "must"}


def is_conversation_set(path: str | Path) -> bool:
    """Return True when a JSON Lines file holds conversations (objects with "turns")."""
    try:
        with open(path, encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
        return "turns" in json.loads(first)
    except (OSError, ValueError, TypeError):
        return False


def load_conversations(path: str | Path) -> list[dict]:
    """Read a conversation set and check its schema."""
    out = []
    for n, conv in read_jsonl(path, "conversation set"):
        turns = conv.get("turns") if isinstance(conv, dict) else None
        if not turns or not all(isinstance(t, dict) and "message" in t and not set(t) - TURN_KEYS
                                and ({"expect", "abstain", "expect_doc"} & set(t)) for t in turns):
            raise CorpusError(f"{path}:{n} needs turns, each with message and one of expect, abstain, "
                              "expect_doc (and optionally kind, must)")
        out.append({"id": conv.get("id", f"line-{n}"), "turns": turns})
    return out


def conversation_documents(conversation: dict) -> set[str]:
    """Return the doc ids a conversation's gold names."""
    docs = {e.split("#", 1)[0] for t in conversation["turns"] for e in t.get("expect", [])}
    return docs | {t["expect_doc"] for t in conversation["turns"] if t.get("expect_doc")}


def score_turn(gold: dict, result: dict) -> bool:
    """Return True when a chat turn's answer (the `chat --json` object) meets the turn's gold."""
    if "error" in result:
        return False
    citations = result.get("citations", [])
    if gold.get("abstain"):
        return bool(result["abstained"])
    if gold.get("expect_doc"):
        from_doc = result["mode"] == "document" and not result["abstained"] and all(
            c["doc_id"] == gold["expect_doc"] for c in citations)
        return from_doc and all(m in result["answer"] for m in gold.get("must", []))
    if result["abstained"] or not citations:
        return False
    top = citations[0]
    return f"{top['doc_id']}#{top['section_no']}" in gold["expect"] and all(
        m in result["answer"] for m in gold.get("must", []))


def score_results(conversations: list[dict], results: Iterable[list[dict]]) -> dict[str, Any]:
    """Score each conversation's turn results; return accuracy overall, per kind and per conversation."""
    rows = []
    for conv, turn_results in zip(conversations, results):
        for n, (gold, result) in enumerate(zip(conv["turns"], turn_results), start=1):
            top = (result.get("citations") or [{}])[0]
            rows.append({"conversation": conv["id"], "turn": n, "message": gold["message"],
                         "kind": gold.get("kind", ""), "resolved_kind": result.get("kind", ""),
                         "resolved_question": result.get("resolved_question", ""),
                         "correct": score_turn(gold, result), "abstained": result.get("abstained"),
                         "top": top.get("cite", result.get("error", "")),
                         "gold": gold.get("expect") or ("abstain" if gold.get("abstain") else gold.get("expect_doc"))})
    kinds: dict[str, dict] = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], {"turns": 0, "correct": 0, "kind_agrees": 0})
        k["turns"] += 1
        k["correct"] += r["correct"]
        k["kind_agrees"] += r["kind"] == r["resolved_kind"]
    for k in kinds.values():
        k["accuracy"] = k["correct"] / k["turns"]
    whole = {}
    for r in rows:
        whole[r["conversation"]] = whole.get(r["conversation"], True) and r["correct"]
    return {"turns": len(rows), "accuracy": sum(r["correct"] for r in rows) / len(rows) if rows else 0.0,
            "conversations": len(whole), "conversation_accuracy": sum(whole.values()) / len(whole) if whole else 0.0,
            "kinds": dict(sorted(kinds.items())), "rows": rows}


def run_chat_eval(settings: Settings, path: str | Path, mode: str = "hybrid") -> dict[str, Any]:
    """Run every conversation of a set through a Conversation (as `policykb chat --json` does) and score it."""
    from policykb.answer.conversation import Conversation
    from policykb.kb import KnowledgeBase
    conversations = load_conversations(path)
    kb = KnowledgeBase.open(settings, dense=(mode != "keyword"))
    started = time.perf_counter()
    results = []
    for conv in conversations:
        chat = Conversation(kb)
        results.append([chat.ask(t["message"], mode=mode).to_dict() for t in conv["turns"]])
    report = score_results(conversations, results)
    report.update({"file": str(path), "mode": report.get("mode", mode), "documents": len(kb.docs),
                   "seconds": round(time.perf_counter() - started, 1)})
    return report


def format_chat_table(report: dict[str, Any]) -> str:
    """Return the per-kind accuracy table as Markdown."""
    lines = ["| kind | turns | correct | accuracy | resolver kind agrees |", "|---|---:|---:|---:|---:|"]
    for kind, k in report["kinds"].items():
        lines.append(f"| {kind} | {k['turns']} | {k['correct']} | {k['accuracy']:.1%} | {k['kind_agrees']}/{k['turns']} |")
    lines.append(f"| **all** | {report['turns']} | {sum(r['correct'] for r in report['rows'])} | "
                 f"{report['accuracy']:.1%} | |")
    return "\n".join(lines)


def write_chat_report(report: dict[str, Any], out: str | Path) -> Path:
    """Write report.md (per-kind table, per-conversation result, failures) to the out directory."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    failures = [r for r in report["rows"] if not r["correct"]]
    lines = [f"# Conversation set: {report['file']}", "",
             f"{report['conversations']} conversations, {report['turns']} turns, mode {report['mode']}, "
             f"{report['documents']} documents in the knowledge base, {report['seconds']} s.", "",
             f"Per-turn accuracy **{report['accuracy']:.1%}**; conversations with every turn right "
             f"{report['conversation_accuracy']:.1%}.", "",
             "A turn is correct when the top citation's section is in the turn's gold, when it abstains and the "
             "gold is an abstention, or, for a question about a document, when it is answered from that "
             "document's own lines with the expected fact. Kinds are the gold's; the last column counts turns the "
             "resolver gave the same kind.", "", format_chat_table(report), "", "## Failures", ""]
    if not failures:
        lines.append("None.")
    for r in failures:
        lines.append(f"- {r['conversation']} turn {r['turn']} ({r['kind']}, resolved as {r['resolved_kind']}): "
                     f"{r['message']} → {r['resolved_question']} — top: {r['top'] or 'abstained'}; gold: {r['gold']}")
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
