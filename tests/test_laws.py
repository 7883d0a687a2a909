"""Real laws in the knowledge base: the finance-laws pack read, added, cited and linked as a user would.

The pack (packs/finance-laws/) holds the official texts unchanged. One session
fixture (in conftest.py) adds the 民法典, 商业银行法, 存款保险条例, 公司法 and the 担保制度 interpretation
to the notice with a single `policykb add` over a folder, the way a user adds them.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policykb.answer.compose import format_cite, make_citation
from policykb.ingest.corpus import load_documents
from policykb.ingest.formats import read_any
from policykb.ingest.parse import parse_text
from tests.conftest import FIXTURES, NOTICE_ID, PACK, copy_corpus, env_for, policykb

LAW_FILES = sorted(p for p in PACK.glob("*.md") if p.name != "README.md")
CN = "零〇一二三四五六七八九十百千"
CITE_RE = re.compile(rf"^《[^《》]+(?:《[^《》]+》[^《》]*)?》(?:（[^（）]+）)?第[{CN}]+条(?:第[{CN}]+款(?:、第[{CN}]+款)*)?"
                     rf"(?:（[{CN}]+）)?$")


def title_line(path: Path) -> str:
    return next(line[2:].strip() for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("# "))


@pytest.fixture(scope="session")
def laws_docs(laws_env: dict) -> dict:
    return json.loads(policykb(laws_env, "docs", "--json").stdout)


def test_pack_is_in_the_repository_and_unchanged_in_layout() -> None:
    assert len(LAW_FILES) == 22
    articles = 0
    for path in LAW_FILES:
        doc = parse_text(read_any(path), "x", source=path.name)
        articles += sum(1 for s in doc.sections if s.kind == "article")
    assert articles == 2780


def test_dry_run_reads_every_document_of_the_pack_and_changes_nothing(tmp_path: Path) -> None:
    copy_corpus(tmp_path / "corpus")
    before = (tmp_path / "corpus" / "manifest.toml").read_bytes()
    out = json.loads(policykb(env_for(tmp_path), "add", str(PACK), "--dry-run", "--json").stdout)
    assert out["dry_run"] and out["failed"] == []
    assert [Path(p).name for p in out["skipped"]] == ["README.md"]
    docs = {d["title"]: d for d in out["documents"]}
    assert sorted(docs) == sorted(title_line(p) for p in LAW_FILES)  # every title is the `# ` line
    for d in out["documents"]:
        assert re.fullmatch(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", d["doc_id"]) and len(d["doc_id"]) <= 40
        assert not re.search(r"doc-[0-9a-f]{8}", d["doc_id"])  # never a hash
        assert not re.search(r"\d{4}年|通过|修正", d["title"])  # history lines never join the title
    assert len({d["doc_id"] for d in out["documents"]}) == 22
    civil = docs["中华人民共和国民法典"]
    assert (civil["doc_id"], civil["issuer"], civil["date"], civil["effective_date"]) == \
        ("minfadian", "全国人民代表大会", "2020-05-28", "2021-01-01")
    assert civil["first_article"] == "第一编 总则 › 第一章 基本规定 › 第一条"
    assert len(civil["section_nos"]) == 1260
    deposit = docs["存款保险条例"]
    assert (deposit["doc_id"], deposit["doc_number"], deposit["issuer"], deposit["date"],
            deposit["effective_date"]) == ("guowuyuanling-660", "国务院令第660号", "国务院", "2015-02-17", "2015-05-01")
    for title, number in (("征信业管理条例", "国务院令第631号"), ("融资担保公司监督管理条例", "国务院令第683号"),
                          ("个人存款账户实名制规定", "国务院令第285号")):
        assert docs[title]["doc_number"] == number
    company = docs["中华人民共和国公司法"]
    assert company["issuer"] == "全国人民代表大会常务委员会" and company["date"] == "1993-12-29"
    assert company["amendments"][-1] == "2023-12-29 第二次修订" and len(company["amendments"]) == 7
    assert docs["最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释"]["issuer"] == "最高人民法院"
    # Not recognised stays empty, never junk: this regulation's file has no history lines.
    payment = docs["非银行支付机构监督管理条例"]
    assert (payment["doc_number"], payment["issuer"], payment["date"]) == ("", "", "")
    assert (tmp_path / "corpus" / "manifest.toml").read_bytes() == before
    assert not (tmp_path / "index").exists()


def test_cite_strings_are_memo_ready_on_every_article_of_every_document() -> None:
    checked = 0
    for path in LAW_FILES:
        doc = parse_text(read_any(path), "x", source=path.name)
        number = f"（{doc.doc_number}）" if doc.doc_number else ""
        for sec in doc.sections:
            if sec.kind != "article":
                continue
            assert format_cite(doc, sec) == f"《{title_line(path)}》{number}{sec.section_no}"
            last = sec.spans[-1]
            cite = make_citation(doc, sec, last.text, last.item).cite
            assert CITE_RE.match(cite), cite
            if sec.paragraphs > 1:
                assert re.search(r"第[零一二三四五六七八九十]+款", cite), cite
            checked += 1
    assert checked == 2780


def test_added_laws_carry_their_metadata(laws_env: dict, laws_docs: dict) -> None:
    out = laws_env["_add_stdout"]
    assert "合计 summary：收录 added 5 份，失败 failed 0 份" in out
    docs = {d["doc_id"]: d for d in laws_docs["documents"]}
    assert set(docs) == {NOTICE_ID, "minfadian", "shangyeyinhangfa", "guowuyuanling-660", "gongsifa",
                         "minfadian-danbao-zhidu-jieshi"}
    bank = docs["shangyeyinhangfa"]
    assert bank["title"] == "中华人民共和国商业银行法" and bank["issuer"] == "全国人民代表大会常务委员会"
    assert [(a["date"], a["action"]) for a in bank["amendments"]] == [
        ("1995-05-10", "通过"), ("2003-12-27", "第一次修正"), ("2015-08-29", "第二次修正")]
    assert docs["guowuyuanling-660"]["doc_number"] == "国务院令第660号"
    assert docs["minfadian-danbao-zhidu-jieshi"]["effective_date"] == "2021-01-01"
    notice = docs[NOTICE_ID]
    assert notice["doc_number"] == "沪银保监发〔2023〕24号" and notice["sections"] == 15


def test_every_reference_to_a_document_in_the_knowledge_base_resolves(laws_docs: dict) -> None:
    from policykb.ingest.corpus import normalize_title
    titles = {normalize_title(d["title"]): d["doc_id"] for d in laws_docs["documents"]}
    refs = {r["title"]: r for r in laws_docs["references"]}
    assert refs["中华人民共和国公司法"]["resolved_doc_id"] == "gongsifa"
    assert any(c.startswith("shangyeyinhangfa#") for c in refs["中华人民共和国公司法"]["cited_by"])
    assert refs["中华人民共和国民法典"]["resolved_doc_id"] == "minfadian"
    for ref in laws_docs["references"]:
        assert ref["resolved_doc_id"] == titles.get(normalize_title(ref["title"]), ""), ref


def test_articles_know_their_path_paragraphs_and_links(laws_env: dict) -> None:
    shown = json.loads(policykb(laws_env, "show", "第六百八十五条", "--doc", "minfadian", "--json").stdout)
    assert shown["path"] == ["第三编 合同", "第二分编 典型合同", "第十三章 保证合同", "第一节 一般规定"]
    assert shown["section_title"] == "第三编 合同 › 第二分编 典型合同 › 第十三章 保证合同 › 第一节 一般规定"
    assert len(shown["paragraphs"]) == 2 and shown["paragraphs"][1].startswith("第三人单方以书面形式")
    assert shown["cite"] == "《中华人民共和国民法典》第六百八十五条"
    interp = json.loads(policykb(laws_env, "show", "第七条", "--doc", "minfadian-danbao-zhidu-jieshi",
                                 "--json").stdout)
    assert interp["path"] == ["一、关于一般规定"]
    assert (interp["document"]["issuer"], interp["document"]["effective_date"]) == ("最高人民法院", "2021-01-01")
    targets = {link["text"]: link["target"] for link in interp["links"]}
    assert targets["民法典第六十一条"] == "minfadian#第六十一条"
    assert targets["本解释第十七条"] == "minfadian-danbao-zhidu-jieshi#第十七条"
    assert targets["第五百零四条"] == "minfadian#第五百零四条"  # the list after 民法典第六十一条和 goes on
    first = next(link for link in interp["links"] if link["text"] == "第一款")
    assert (first["target"], first["paragraph"]) == ("minfadian-danbao-zhidu-jieshi#第七条", 1)
    bank = json.loads(policykb(laws_env, "show", "第十三条", "--doc", "shangyeyinhangfa", "--json").stdout)
    before = next(link for link in bank["links"] if link["text"] == "前款")
    assert (before["target"], before["paragraph"]) == ("shangyeyinhangfa#第十三条", 1)
    for link in interp["links"] + bank["links"]:
        assert (interp if link in interp["links"] else bank)["text"][link["start"]:link["end"]] == link["text"]
    # The closing part of the code is no 编 of its own.
    last = json.loads(policykb(laws_env, "show", "第一千二百六十条", "--doc", "minfadian", "--json").stdout)
    assert last["path"] == ["附则"] and "2020年" not in last["text"]


@pytest.mark.parametrize("question, cite, in_quote", [
    ("第三人单方以书面形式向债权人作出保证，债权人接收且未提出异议的，保证合同成立吗？",
     "《中华人民共和国民法典》第六百八十五条第二款", "债权人接收且未提出异议"),
    ("存款保险的最高偿付限额是多少？", "《存款保险条例》（国务院令第660号）第五条第一款", "50万元"),
    ("商业银行贷款，借款人应当提供担保吗？", "《中华人民共和国商业银行法》第三十六条第一款", "担保"),
])
def test_answers_cite_laws_memo_ready(laws_env: dict, question: str, cite: str, in_quote: str) -> None:
    answer = json.loads(policykb(laws_env, "ask", question, "--json").stdout)
    assert not answer["abstained"]
    top = answer["citations"][0]
    assert (top["cite"], in_quote in top["quote"]) == (cite, True)
    docs = {d.doc_id: d for d in load_documents(Path(laws_env["POLICYKB_CORPUS_DIR"]))}
    for c in answer["citations"] + answer["related"]:
        assert CITE_RE.match(c["cite"]) or c["doc_id"] == NOTICE_ID, c["cite"]
        section = docs[c["doc_id"]].section(c["section_no"])
        assert c["quote"] in section.text


def test_a_bad_file_in_a_folder_is_reported_and_the_good_ones_land(tmp_path: Path) -> None:
    copy_corpus(tmp_path / "corpus")
    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(PACK / "个人存款账户实名制规定.md", folder / "个人存款账户实名制规定.md")
    shutil.copy(FIXTURES / "rules.md", folder / "sub" / "rules.md")
    (folder / "broken.md").write_bytes(b"")
    shutil.copy(FIXTURES / "scan.pdf", folder / "scan.pdf")
    env = env_for(tmp_path)
    result = policykb(env, "add", str(folder), check=False)
    assert result.returncode == 1
    assert "broken.md" in result.stderr and "scan.pdf" in result.stderr and "已跳过" in result.stderr
    assert "收录 added 2 份，失败 failed 2 份" in result.stdout
    docs = {d["doc_id"] for d in json.loads(policykb(env, "docs", "--json").stdout)["documents"]}
    assert docs == {NOTICE_ID, "guowuyuanling-285", "shi-yin-2024-7"}
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["documents"]) == docs
    answer = json.loads(policykb(env, "ask", "个人开立存款账户要出示身份证件吗", "--json").stdout)
    assert answer["citations"][0]["doc_id"] == "guowuyuanling-285"


def _versions(tmp_path: Path) -> tuple[Path, Path]:
    """Write two versions of one regulation: the pack's text, and an earlier one."""
    text = (PACK / "个人存款账户实名制规定.md").read_text(encoding="utf-8")
    old = tmp_path / "old" / "实名制规定.md"
    old.parent.mkdir()
    old.write_text(text.replace("2000年3月20日", "1999年3月20日").replace("2000年4月1日", "1999年4月1日")
                   .replace("第一条 为了", "第一条 为", 1), encoding="utf-8")
    return old, PACK / "个人存款账户实名制规定.md"


@pytest.mark.parametrize("keep_both", [False, True])
def test_a_later_version_supersedes_the_older_one(tmp_path: Path, keep_both: bool) -> None:
    copy_corpus(tmp_path / "corpus")
    env = env_for(tmp_path)
    old, new = _versions(tmp_path)
    first = json.loads(policykb(env, "add", str(old), "--json").stdout)["documents"][0]
    second = policykb(env, "add", str(new), *(["--keep-both"] if keep_both else []))
    docs = {d["doc_id"]: d for d in json.loads(policykb(env, "docs", "--json").stdout)["documents"]}
    assert first["doc_id"] == "guowuyuanling-285" and "guowuyuanling-285-2000" in docs
    older, newer = docs["guowuyuanling-285"], docs["guowuyuanling-285-2000"]
    assert newer["validity"] == "现行有效"
    if keep_both:
        assert older["validity"] == "现行有效" and "已替代 supersedes" not in second.stdout
    else:
        assert (older["validity"], older["superseded_by"]) == ("已被替代", "guowuyuanling-285-2000")
        assert "已替代 supersedes：guowuyuanling-285" in second.stdout
        # A corrected copy of the older version replaces it under its id and stays superseded.
        fixed = tmp_path / "old" / "实名制规定-更正.md"
        fixed.write_text(old.read_text(encoding="utf-8").replace("第一条 为", "第一条 为了", 1), encoding="utf-8")
        third = json.loads(policykb(env, "add", str(fixed), "--json").stdout)["documents"][0]
        assert (third["doc_id"], third["replaced"]) == ("guowuyuanling-285", True)
        again = {d["doc_id"]: d for d in json.loads(policykb(env, "docs", "--json").stdout)["documents"]}
        assert set(again) == set(docs) and again["guowuyuanling-285"]["validity"] == "已被替代"
        answer = json.loads(policykb(env, "ask", "个人存款账户实名制规定的适用范围是什么", "--json").stdout)
        if answer["citations"] and answer["citations"][0]["doc_id"] == "guowuyuanling-285":
            assert any("已被替代" in n for n in answer["notices"])


def test_batch_refuses_single_document_flags(tmp_path: Path) -> None:
    copy_corpus(tmp_path / "corpus")
    result = policykb(env_for(tmp_path), "add", str(PACK / "存款保险条例.md"), str(PACK / "征信业管理条例.md"),
                      "--doc-id", "x", check=False)
    assert result.returncode != 0 and "--doc-id 只能用于一个文件" in result.stderr


DETERMINISM_QUESTIONS = ["已质押的股权，可以转让吗？", "保证合同怎么成立", "借款合同的利息怎么约定",
                         "续贷有什么要求？", "存款保险的偿付限额", "商业银行的资本充足率", "What is a guarantee contract?",
                         "融资租赁合同无效怎么办", "票据丢失了怎么办", "个人信息保护"]


def test_the_same_question_ranks_and_answers_alike_in_every_process(laws_env: dict) -> None:
    questions = "\n".join(DETERMINISM_QUESTIONS) + "\n"
    exe = str(Path(sys.executable).with_name("policykb"))
    outputs = []
    for seed in ("1", "2"):  # str hashes, hence set order, differ between the two processes
        env = {**laws_env, "PYTHONHASHSEED": seed}
        search = subprocess.run([exe, "search", "--k", "10"], input=questions, capture_output=True, text=True,
                                env=env, timeout=600, check=True).stdout
        ask = subprocess.run([exe, "ask"], input=questions, capture_output=True, text=True, env=env,
                             timeout=600, check=True).stdout
        outputs.append((search, ask))
    assert outputs[0] == outputs[1]
    assert len(outputs[0][0].splitlines()) == len(DETERMINISM_QUESTIONS)


@pytest.mark.parametrize("question, mode, cite_start", [
    ("民法典第六百八十五条是怎么规定的", "lookup", "《中华人民共和国民法典》第六百八十五条"),
    ("担保制度解释第二十五条", "lookup", "《最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释》第二十五条"),
    ("通知第二条", "lookup", "《上海银保监局"),
    ("在民法典里，保证合同怎么成立？", "hybrid", "《中华人民共和国民法典》"),
])
def test_look_ups_and_scopes_in_the_big_knowledge_base(laws_env: dict, question: str, mode: str,
                                                     cite_start: str) -> None:
    answer = json.loads(policykb(laws_env, "ask", question, "--json").stdout)
    assert answer["mode"] == mode and not answer["abstained"]
    assert all(c["cite"].startswith(cite_start) for c in answer["citations"])
    if mode == "lookup":
        assert answer["answer"].startswith("条文查找")
    else:
        assert any("检索范围" in n for n in answer["notices"])


def test_a_missing_article_is_a_clear_message_and_doc_flag_scopes(laws_env: dict) -> None:
    missing = json.loads(policykb(laws_env, "ask", "存款保险条例第二百条", "--json").stdout)
    assert missing["abstained"] and "《存款保险条例》共二十三条" in missing["answer"]
    scoped = json.loads(policykb(laws_env, "search", "保证", "--doc", "shangyeyinhangfa", "--json").stdout)
    assert scoped["hits"] and {h["doc_id"] for h in scoped["hits"]} == {"shangyeyinhangfa"}
    bad = policykb(laws_env, "search", "保证", "--doc", "no-such-doc", check=False)
    assert bad.returncode != 0 and "no-such-doc" in bad.stderr


def test_a_question_about_a_document_is_answered_from_its_history(laws_env: dict) -> None:
    answer = json.loads(policykb(laws_env, "ask", "存款保险条例什么时候施行的？", "--json").stdout)
    assert answer["mode"] == "document" and not answer["abstained"]
    assert "施行日期是 2015-05-01" in answer["answer"]
    assert [(c["cite"], c["quote"]) for c in answer["citations"]] == [
        ("《存款保险条例》（国务院令第660号）", "2015年5月1日 施行")]
