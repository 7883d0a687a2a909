"""The policykb command, run as a user runs it (subprocesses against a built tmp index)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import NOTICE_ID, ROOT

CITE_KEYS = {"doc_id", "doc_title", "doc_number", "section_no", "section_title", "quote", "cite", "path", "paragraph"}


def run(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYKB_")}
    env.update(POLICYKB_CORPUS_DIR=str(settings.corpus_dir), POLICYKB_INDEX_DIR=str(settings.index_dir))
    return subprocess.run([sys.executable, "-m", "policykb.cli", *args], input=stdin, text=True,
                          capture_output=True, env=env, timeout=300)


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_a_gbk_question_is_read_and_a_line_that_is_no_text_is_reported_while_the_batch_goes_on(built_settings, locale):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYKB_", "LC_", "LANG", "PYTHONIOENCODING"))}
    env.update(POLICYKB_CORPUS_DIR=str(built_settings.corpus_dir), POLICYKB_INDEX_DIR=str(built_settings.index_dir),
               LC_ALL=locale)
    lines = "续贷有什么要求？\n".encode("gbk") + b"\xff\xfe\x80\n" + "2023年绿色融资余额目标是多少\n".encode("utf-8")
    proc = subprocess.run([sys.executable, "-m", "policykb.cli", "ask"], input=lines, capture_output=True, env=env,
                          timeout=300)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode("utf-8", "replace")
    rows = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    # the line that is no text comes back as JSON escapes of what was read (\\udcff …), not as a crash
    assert [r["question"] for r in rows] == ["续贷有什么要求？", "\udcff\udcfe\udc80", "2023年绿色融资余额目标是多少"]
    assert rows[0]["citations"][0]["section_no"] == "二" and rows[2]["citations"][0]["section_no"] == "六"
    assert "neither UTF-8 nor GBK" in rows[1]["error"] and proc.returncode == 2


def test_invisible_characters_are_no_question(built_settings):
    proc = run(built_settings, "ask", "\u200b\u3000\u00a0\ufeff")
    assert proc.returncode == 2 and "the question is empty" in proc.stderr and proc.stdout == ""


def test_ask_json_object(built_settings):
    proc = run(built_settings, "ask", "续贷有什么要求？", "--json")
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert {"question", "answer", "abstained", "mode", "citations"} <= set(obj)
    assert obj["mode"] == "hybrid" and obj["abstained"] is False
    assert set(obj["citations"][0]) == CITE_KEYS
    assert obj["citations"][0]["section_no"] == "二"
    assert obj["citations"][0]["doc_id"] == NOTICE_ID
    assert obj["supported"] is True and 0.5 <= obj["confidence"] <= 1
    schema = (ROOT / "README.md").read_text(encoding="utf-8").split("`ask --json` prints `", 1)[1].split("`,", 1)[0]
    assert set(re.findall(r'"(\w+)"', schema)) == set(obj) | CITE_KEYS, "README's ask --json schema is out of step"


def test_ask_reads_questions_from_stdin_as_json_lines(built_settings):
    proc = run(built_settings, "ask", "--mode", "keyword",
               stdin="续贷有什么要求？\n\n2023年绿色融资余额目标是多少\n今天天气怎么样\n")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["question"] for o in lines] == ["续贷有什么要求？", "2023年绿色融资余额目标是多少", "今天天气怎么样"]
    assert [o["mode"] for o in lines] == ["keyword"] * 3
    assert lines[1]["citations"][0]["section_no"] == "六" and "1.2万亿元" in lines[1]["answer"]
    assert lines[2]["abstained"] is True


def test_plain_ask_prints_the_cited_answer(built_settings):
    proc = run(built_settings, "ask", "green finance targets")
    assert proc.returncode == 0, proc.stderr
    assert "第六条" in proc.stdout and "1.2万亿元" in proc.stdout


@pytest.mark.parametrize("question", ["", "   ", "\t\n"])
def test_empty_question_exits_2(built_settings, question):
    proc = run(built_settings, "ask", question)
    assert proc.returncode == 2
    assert proc.stderr.startswith("错误：") and "empty" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_huge_question_is_truncated_with_a_notice(built_settings):
    proc = run(built_settings, "ask", "续贷有什么要求" * 1500, "--json")
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert len(obj["question"]) == 500
    assert any("已截取前500字" in n for n in obj["notices"])


def test_search_json_lists_each_retrievers_rank_and_score(built_settings):
    proc = run(built_settings, "search", "IP pledge financing target", "--k", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["question"] == "IP pledge financing target"
    assert len(obj["hits"]) == 3
    top = obj["hits"][0]
    assert top["section_no"] == "五"
    assert set(top["scores"]) == {"keyword", "dense", "ranker"} and set(top["ranks"]) == {"keyword", "dense"}
    assert 0.0 <= obj["confidence"] <= 1.0
    assert "知识产权" in top["matched_terms"]


def test_show_prints_a_section_in_full(built_settings):
    proc = run(built_settings, "show", "十三")
    assert proc.returncode == 0, proc.stderr
    assert "第十三条" in proc.stdout
    assert "十三、探索包容审慎监管" in proc.stdout and "提升城市核心竞争力。" in proc.stdout
    proc = run(built_settings, "show", "closing", "--json")
    assert json.loads(proc.stdout)["text"].startswith("各银行保险机构要强化党建引领")


def test_show_unknown_section_is_a_clear_error(built_settings):
    proc = run(built_settings, "show", "十四")
    assert proc.returncode == 1
    assert "no section '十四'" in proc.stderr and "Traceback" not in proc.stderr


def test_ingest_on_unchanged_corpus_is_a_no_op(built_settings):
    proc = run(built_settings, "ingest")
    assert proc.returncode == 0, proc.stderr
    assert "index up to date" in proc.stdout


def test_docs_lists_the_notice_and_the_referenced_plans(built_settings):
    proc = run(built_settings, "docs", "--json")
    obj = json.loads(proc.stdout)
    assert obj["documents"][0]["doc_id"] == NOTICE_ID and obj["documents"][0]["sections"] == 15
    refs = {r["title"]: r for r in obj["references"]}
    assert len(refs) == 4 and all(r["status"] == "referenced-only" for r in refs.values())
    assert refs["上海银行业保险业做好知识产权质押融资服务的工作方案"]["cited_by"] == [f"{NOTICE_ID}#五"]


def test_gbk_corpus_file_is_decoded(tmp_path):
    from tests.conftest import copy_corpus, make_settings
    corpus = copy_corpus(tmp_path / "corpus")
    src = corpus / f"{NOTICE_ID}.txt"
    src.write_bytes(src.read_text(encoding="utf-8").encode("gbk"))
    settings = make_settings(corpus, tmp_path / "index")
    proc = run(settings, "show", "二", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["text"].startswith("推动无缝续贷应续尽续")


def test_undecodable_corpus_file_is_named(tmp_path):
    from tests.conftest import copy_corpus, make_settings
    corpus = copy_corpus(tmp_path / "corpus")
    (corpus / f"{NOTICE_ID}.txt").write_bytes(bytes(range(128, 256)) * 50)
    proc = run(make_settings(corpus, tmp_path / "index"), "ask", "续贷")
    assert proc.returncode == 1
    assert f"{NOTICE_ID}" in proc.stderr and "UTF-8" in proc.stderr


def test_cold_ask_does_not_import_gradio_sentence_transformers_or_llama_index(built_settings):
    code = ("import sys, policykb.cli as c; c.main(['ask','续贷有什么要求','--json']);"
            "print(sorted(m for m in ('gradio','sentence_transformers','torch','llama_index') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYKB_")}
    env.update(POLICYKB_CORPUS_DIR=str(built_settings.corpus_dir), POLICYKB_INDEX_DIR=str(built_settings.index_dir))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_readme_documents_every_command_and_variable():
    from policykb.cli import build_parser
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps subcommands here
    for name in commands:
        assert f"policykb {name}" in readme, f"README does not mention `policykb {name}`"
    from policykb.config import Settings
    import dataclasses
    for field in dataclasses.fields(Settings):
        assert f"POLICYKB_{field.name.upper()}" in readme, f"README lacks POLICYKB_{field.name.upper()}"
    help_text = parser.format_help()
    for var in re.findall(r"POLICYKB_[A-Z_]+", help_text):
        assert var in readme


def test_chat_resolves_follow_ups_starts_over_on_new_and_writes_the_memo(built_settings, tmp_path):
    memo = tmp_path / "memo.docx"
    proc = run(built_settings, "chat", "--memo", str(memo),
               stdin="普惠贷款的目标是多少？\n\n那绿色金融呢？\n/new\n普惠贷款的目标是多少？\n那绿色金融呢？\n")
    assert proc.returncode == 0, proc.stderr
    # The follow-up stays in the notice, which answered the first question, and says so.
    assert proc.stdout.count("理解为：绿色金融的目标是多少？（范围：《上海银保监局关于进一步完善金融服务") == 2
    assert "已开始新对话" in proc.stdout and "第六条" in proc.stdout
    from docx import Document
    texts = [p.text for p in Document(str(memo)).paragraphs]
    cites = [t for t in texts if t[:1].isdigit()]
    assert len(cites) == 2 and "第一条" in cites[0] and "第六条" in cites[1]  # the second conversation's quotes again


def test_chat_json_adds_how_each_message_was_understood(built_settings):
    proc = run(built_settings, "chat", "--json", stdin="通知第二条\n第三条呢？\n/new\n")
    assert proc.returncode == 0, proc.stderr
    first, second, new = [json.loads(line) for line in proc.stdout.splitlines()]
    assert first["understood"] == "" and first["kind"] == "fresh" and first["mode"] == "lookup"
    assert second["question"] == "第三条呢？" and second["kind"] == "article"
    assert second["resolved_question"].endswith("第三条") and second["understood"].startswith(second["resolved_question"])
    assert second["citations"][0]["section_no"] == "三" and set(second["citations"][0]) == CITE_KEYS
    assert new["command"] == "/new"


def test_a_failing_message_is_reported_and_the_chat_goes_on(built_settings):
    proc = run(built_settings, "chat", "--json", "--doc", "no-such-doc", stdin="续贷有什么要求？\n那首贷呢？\n")
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["question"] for o in lines] == ["续贷有什么要求？", "那首贷呢？"]
    assert all("no-such-doc" in o["error"] for o in lines)


def test_chat_refuses_a_memo_it_cannot_write_before_chatting(built_settings, tmp_path):
    proc = run(built_settings, "chat", "--memo", str(tmp_path / "memo.txt"), stdin="续贷有什么要求？\n")
    assert proc.returncode == 2 and proc.stderr.startswith("错误：") and ".docx" in proc.stderr
    assert proc.stdout == "" and not (tmp_path / "memo.txt").exists()
    proc = run(built_settings, "chat", "--memo", str(tmp_path / "no" / "such" / "memo.md"), stdin="续贷有什么要求？\n")
    assert proc.returncode == 2 and "does not exist" in proc.stderr and proc.stdout == ""


def test_a_chat_that_cites_nothing_leaves_an_earlier_memo_as_it_was(built_settings, tmp_path):
    memo = tmp_path / "memo.md"
    memo.write_text("# 上周的引用附录\n", encoding="utf-8")
    proc = run(built_settings, "chat", "--memo", str(memo), stdin="")
    assert proc.returncode == 0 and "未改动" in proc.stderr
    assert memo.read_text(encoding="utf-8") == "# 上周的引用附录\n"
    proc = run(built_settings, "chat", "--memo", str(memo), stdin="续贷有什么要求？\n")
    assert proc.returncode == 0 and "（沪银保监发〔2023〕24号）第二条" in memo.read_text(encoding="utf-8")
