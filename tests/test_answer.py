"""Cited extractive answers over the real notice: quotes, citations, figures, abstention."""
from __future__ import annotations

import pytest

from policykb.answer.compose import (Citation, Evidence, Templates, check_figures, format_cite, is_figure_question,
                             should_abstain)
from policykb.ingest.parse import parse_text
from tests.conftest import NOTICE_ID

TITLE = "上海银保监局关于进一步完善金融服务 优化上海营商环境和支持经济高质量发展的通知"


def test_memo_ready_citation_for_measure_two(kb):
    answer = kb.ask("续贷有什么要求？")
    assert not answer.abstained
    first = answer.citations[0]
    assert (first.doc_id, first.section_no, first.doc_number) == (NOTICE_ID, "二", "沪银保监发〔2023〕24号")
    assert first.cite == f"《{TITLE}》（沪银保监发〔2023〕24号）第二条"
    assert first.section_title == "推动无缝续贷应续尽续，提振信心稳预期"
    assert first.quote in kb.section("二").text
    assert first.cite in answer.answer and first.quote in answer.answer


@pytest.mark.parametrize("question,section,figure", [
    ("2023年绿色融资余额目标是多少", "六", "1.2万亿元"),
    ("到2025年末科技型企业贷款余额要达到多少？", "四", "1万亿元"),
    ("2023年末普惠贷款余额要突破多少？", "一", "11000亿元"),
    ("纾困融资工作机制延续到什么时候？", "三", "2023年12月底"),
    ("贯彻落实措施要在多长时间内报送？", "closing", "十日内"),
    ("IP pledge financing target", "五", "100亿元"),
    ("green finance targets", "六", "1.2万亿元"),
])
def test_figure_questions_quote_the_sentence_with_the_figure(kb, question, section, figure):
    answer = kb.ask(question)
    assert not answer.abstained, answer.answer
    assert answer.citations[0].section_no == section
    assert figure in answer.citations[0].quote
    assert figure in answer.answer


@pytest.mark.parametrize("question,section", [
    ("续贷 requirements", "二"),
    ("what does the notice say about bankrupt companies getting credit", "十二"),
    ("哪一条规定了不得盲目抽贷断贷？", "三"),
    ("企业贷款到期还不上怎么办", "二"),
])
def test_english_mixed_and_paraphrased_questions(kb, question, section):
    answer = kb.ask(question)
    assert not answer.abstained
    assert answer.citations[0].section_no == section


@pytest.mark.parametrize("question", ["个人住房贷款首付比例是多少？", "美联储加息对人民币汇率有什么影响？",
                                      "今天天气怎么样？"])
def test_out_of_scope_questions_abstain_with_related_sections(kb, question):
    answer = kb.ask(question)
    assert answer.abstained
    assert answer.citations == ()
    assert answer.answer.startswith("知识库中没有相关规定")
    assert "可能相关" in answer.answer
    assert 1 <= len(answer.related) <= 3
    for rel in answer.related:
        assert rel.cite in answer.answer


def test_referenced_plan_question_cites_the_measure_and_says_the_plan_is_missing(kb):
    answer = kb.ask("科创中心建设的行动方案有哪些要求？")
    assert answer.citations[0].section_no == "四"
    assert any("上海银行业保险业支持上海科创中心建设的行动方案" in n and "尚未收录" in n for n in answer.notices)
    assert "尚未收录" in answer.answer


def test_every_number_in_an_answer_is_in_a_quote(kb):
    for question in ("2023年无缝续贷累计投放目标是多少", "纾困融资力争支持多少人稳就业？", "知识产权质押贷款余额年均增速"):
        answer = kb.ask(question)
        assert check_figures(answer.answer, answer.citations, answer.notices) == []


def test_check_figures_catches_an_unsourced_number():
    cit = Citation("d", "t", "沪银保监发〔2023〕24号", "二", "标题", "力争突破12000亿元。", "《t》第二条")
    assert check_figures("《t》第二条：“力争突破12000亿元。”", [cit]) == []
    assert check_figures("《t》第二条：“力争突破12000亿元。”另有13000亿元。", [cit]) == ["13000"]


@pytest.mark.parametrize("question,expected", [("2023年绿色融资余额目标是多少", True), ("续贷有什么要求", False),
                                               ("When is the deadline?", True), ("期限多久", True)])
def test_figure_question_detection(question, expected):
    assert is_figure_question(question) is expected


@pytest.mark.parametrize("evidence,abstain", [
    (Evidence(0.95, 0.0, 0.89), False),   # strong dense evidence
    (Evidence(0.80, 0.6, 0.89), False),   # most of the question is in the section
    (Evidence(0.85, 0.1, 0.89), True),    # weak on both
    (Evidence(None, 0.6), False),         # keyword-only, well covered
    (Evidence(None, 0.1), True),          # keyword-only, barely covered
    (Evidence(0.99, 0.0), True),          # uncalibrated model: dense alone never answers
    (Evidence(0.92, 0.6, 0.89, confidence=0.3), True),               # supported, but the ranker doubts it
    (Evidence(0.92, 0.6, 0.89, confidence=0.3, scoped=True), False),  # inside chosen documents support decides
    (Evidence(0.85, 0.1, 0.89, confidence=0.9, scoped=True), True),   # ... and unsupported still abstains
])
def test_abstention_rule(evidence, abstain):
    assert should_abstain(evidence) is abstain


@pytest.mark.parametrize("evidence,first_words,badge", [
    (Evidence(0.92, 0.6, 0.89, confidence=0.31), "未能确定答案", "未能确定答案"),  # supported; the ranker doubts it
    (Evidence(0.70, 0.1, 0.89, confidence=0.31), "知识库中没有相关规定", "知识库中没有相关规定"),  # nothing matches
    (Evidence(None, 0.1), "知识库中没有相关规定", "知识库中没有相关规定"),  # keyword-only, barely covered
])
def test_an_abstention_says_whether_nothing_matched_or_the_ranker_was_unsure(kb, evidence, first_words, badge):
    from policykb.answer.compose import compose_answer
    from policykb.app.render import answer_html

    section = kb.section("二")
    answer = compose_answer("续贷有什么要求？", "hybrid", [(section, 1.0, {})], ["续贷"], evidence, kb.docs,
                            kb.index.references, kb.templates)
    assert answer.abstained and answer.citations == ()
    first = answer.answer.split("\n")[0]
    assert first.startswith(first_words) and "续贷有什么要求？" in first
    # the unsure abstention names the confidence and the bar, and does not claim the knowledge base lacks a rule
    assert ("0.31" in first and "0.50" in first) is (first_words == "未能确定答案")
    assert "可能相关" in answer.answer and answer.related[0].section_no == "二"
    html = answer_html({**answer.to_dict(), "confidence": evidence.confidence})
    assert f'<div class="pk-abstain-badge">{badge}</div>' in html


def test_cite_formats_for_other_section_kinds():
    doc = parse_text("示例办法\n\n示银沪发〔2024〕7号\n\n第一章 总则\n第三条 应当：（一）合规；（二）审慎。\n", "rules")
    sec = doc.section("第三条")
    assert format_cite(doc, sec, "（二）") == "《示例办法》（示银沪发〔2024〕7号）第三条（二）"
    notice_like = parse_text("某通知\n\n前言。\n\n一、要求。\n\n请执行。\n", "n")
    assert format_cite(notice_like, notice_like.section("preamble")).endswith("前言部分")
    assert format_cite(notice_like, notice_like.section("closing")).endswith("结束语部分")


def test_templates_keep_unknown_placeholders_and_report_missing_files(tmp_path):
    (tmp_path / "abstain.txt").write_text("没有：{question}{typo}\n", encoding="utf-8")
    t = Templates(tmp_path)
    assert t.render("abstain", question="天气") == "没有：天气{typo}"
    from policykb.errors import CorpusError
    with pytest.raises(CorpusError, match="restore prompts"):
        t.render("related_header")


@pytest.mark.parametrize("today,expected", [
    ("2023-06-01", []),
    ("2024-06-01", ["“1.2万亿元”（2023年）"]),
    ("2026-01-01", ["“1.5万亿元”（2025年末）", "“1.2万亿元”（2023年）"]),
])
def test_targets_whose_year_has_passed_carry_a_notice(kb, today, expected):
    import datetime
    from policykb.answer.compose import expired_target_notices
    answer = kb.ask("2023年绿色融资余额目标是多少")
    sec = kb.section("六")
    notices = expired_target_notices([sec], list(answer.citations), kb.templates,
                                     datetime.date.fromisoformat(today))
    if not expected:
        assert notices == []
    else:
        assert len(notices) == 1 and all(e in notices[0] for e in expected)
        assert ("1.5万亿元" in notices[0]) == (len(expected) == 2)


@pytest.mark.parametrize("question", ["Can foreigners buy property in Shanghai?",
                                      "How much is the deposit insurance limit?",
                                      "What documents do I need for a car insurance claim?"])
def test_english_questions_need_most_of_their_words_covered(kb, question):
    """One glossary word ("insurance", "property") must not make an unrelated question look answered."""
    assert kb.ask(question).abstained


@pytest.mark.parametrize("question", ["续贷有什么要求？", "今天天气怎么样？", "IP pledge financing target"])
def test_answering_a_wider_search_gives_the_same_answer_as_ask(kb, question):
    """The scorer answers a k=10 search instead of searching twice; it must see what users see."""
    assert kb.answer(kb.search(question, k=10)) == kb.ask(question)


def test_a_scoped_answer_the_ranker_doubts_quotes_two_clauses_and_says_so(kb):
    """Inside documents the user chose, a low confidence means "which of these neighbouring clauses":
    the answer quotes two and says so. Over the whole knowledge base the same confidence abstains."""
    import dataclasses
    result = kb.search("续贷有什么要求？")
    doubted = dataclasses.replace(result, confidence=0.3, scope=(NOTICE_ID,))
    answer = kb.answer(doubted)
    assert not answer.abstained and len(answer.citations) == 2
    assert any("把握不大（置信度 0.30）" in n for n in answer.notices) and "把握不大" in answer.answer
    assert kb.answer(dataclasses.replace(result, confidence=0.3)).abstained
    sure = kb.answer(dataclasses.replace(result, confidence=0.9, scope=(NOTICE_ID,)))
    assert not sure.abstained and not any("把握不大" in n for n in sure.notices)


def test_a_scoped_search_answers_from_the_scope_only(laws_kb):
    result = laws_kb.search("在民法典里，诉讼时效是多久？")
    assert result.scope == ("minfadian",) and result.confidence is not None
    assert result.hits and {laws_kb.sections[h.section_id].doc_id for h in result.hits} == {"minfadian"}
    assert not laws_kb.answer(result).abstained


def test_the_name_of_a_scoped_document_counts_as_covered(laws_kb):
    """民法典的保证期间… keeps 民法典 as a search word, but an article says 本法, not its law's name:
    a section of the named document counts as holding it."""
    import dataclasses
    result = laws_kb.search("民法典的保证期间是多久？")
    assert result.scope == ("minfadian",)
    scoped = laws_kb.evidence(result)
    assert scoped.coverage > laws_kb.evidence(dataclasses.replace(result, scope=())).coverage
    assert scoped.coverage >= 0.5 and not laws_kb.answer(result).abstained


def test_the_scope_notice_says_who_set_the_scope(kb):
    from policykb.answer.conversation import Conversation

    named = kb.ask("通知中对续贷有什么要求？")
    assert any("问题中指明了文件" in n for n in named.notices)
    given = kb.ask("续贷有什么要求？", doc_ids=[NOTICE_ID])
    assert any("只在这些文件中检索" in n for n in given.notices)
    assert not any("问题中指明" in n for n in given.notices)
    chat = Conversation(kb)
    chat.ask("普惠贷款的目标是多少？")
    carried = chat.ask("那绿色金融呢？")
    assert carried.resolved.doc_ids and not any("问题中指明" in n for n in carried.answer.notices)
