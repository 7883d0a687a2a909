"""Article look-ups: a question that names a document and an article finds that article (no index needed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from policykb.ingest.corpus import load_documents
from policykb.ingest.formats import read_any
from policykb.retrieval.lookup import find_lookup, looked_up_text, resolve_document
from policykb.ingest.parse import Document, parse_text
from tests.conftest import CORPUS, NOTICE_ID, ROOT

PACK = ROOT / "packs" / "finance-laws"
LAWS = {"minfadian": "中华人民共和国民法典.md", "baoxianfa": "保险法.md", "piaojufa": "票据法.md",
        "minfadian-danbao-zhidu-jieshi": "最高人民法院关于适用《民法典》有关担保制度的解释.md",
        "shangyeyinhangfa": "商业银行法.md", "guowuyuanling-660": "存款保险条例.md"}


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    laws = [parse_text(read_any(PACK / name), doc_id) for doc_id, name in LAWS.items()]
    return load_documents(CORPUS) + laws


@pytest.mark.parametrize("question, doc_id, section_no, paragraph, item", [
    ("民法典第六百八十五条是怎么规定的", "minfadian", "第六百八十五条", 0, ""),
    ("票据法第九十一条", "piaojufa", "第九十一条", 0, ""),
    ("保险法第16条", "baoxianfa", "第十六条", 0, ""),
    ("请问担保制度解释第二十五条怎么说？", "minfadian-danbao-zhidu-jieshi", "第二十五条", 0, ""),
    ("通知第二条", NOTICE_ID, "二", 0, ""),
    ("24号文第十条", NOTICE_ID, "十", 0, ""),
    ("第六百八十五条第二款", "minfadian", "第六百八十五条", 2, ""),
    ("商业银行法第三条（二）", "shangyeyinhangfa", "第三条", 0, "（二）"),
    ("在《中华人民共和国商业银行法》中，第三十九条", "shangyeyinhangfa", "第三十九条", 0, ""),
    ("存款保险条例第 5 条第 1 款", "guowuyuanling-660", "第五条", 1, ""),
    # English names are translated through the dictionary into the words of the titles.
    ("Article 16 of the Insurance Law", "baoxianfa", "第十六条", 0, ""),
    ("What does Article 39 of the Commercial Banking Law say?", "shangyeyinhangfa", "第三十九条", 0, ""),
    ("Article 13, paragraph 2 of the Commercial Banking Law", "shangyeyinhangfa", "第十三条", 2, ""),
    ("Article 688 of the Civil Code", "minfadian", "第六百八十八条", 0, ""),
    ("article 5 of the Deposit Insurance Regulations", "guowuyuanling-660", "第五条", 0, ""),
    ("Article 91 of the Negotiable Instruments Law", "piaojufa", "第九十一条", 0, ""),
    ("Article 2 of the notice", NOTICE_ID, "二", 0, ""),
    ("Article 685", "minfadian", "第六百八十五条", 0, ""),
    # The name next to the article counts, not a later word that names a kind (the notice period, the law).
    ("What does Article 16 of the Insurance Law say about the notice period?", "baoxianfa", "第十六条", 0, ""),
    ("Is Article 2 of the notice still in force under the law?", NOTICE_ID, "二", 0, ""),
    ("Article 39 of the Commercial Banking Law: does it apply under the regulations?", "shangyeyinhangfa",
     "第三十九条", 0, ""),
    ("the Insurance Law, Article 16", "baoxianfa", "第十六条", 0, ""),
    ("Article 16 of 保险法", "baoxianfa", "第十六条", 0, ""),
])
def test_a_named_article_is_found(docs: list[Document], question: str, doc_id: str, section_no: str,
                                  paragraph: int, item: str) -> None:
    lookup = find_lookup(question, docs)
    assert lookup is not None and not lookup.missing
    assert [(s.doc_id, s.section_no) for s in lookup.sections] == [(doc_id, section_no)]
    assert (lookup.paragraph, lookup.item) == (paragraph, item)


@pytest.mark.parametrize("question, missing", [
    ("保险法第二百条", "《中华人民共和国保险法》共一百八十五条"),
    ("担保法第十条", "知识库中没有《担保法》"),
    ("第九千条", "知识库中没有哪份文件有第九千条"),
    ("Article 16 of the Securities Law", "知识库中找不到英文名 “Securities Law” 所指的文件（可用中文名查询，如 保险法第十六条）"),
])
def test_a_missing_article_or_document_says_so(docs: list[Document], question: str, missing: str) -> None:
    lookup = find_lookup(question, docs)
    assert lookup is not None and lookup.sections == () and lookup.missing == missing


def test_questions_without_an_article_are_no_look_ups(docs: list[Document]) -> None:
    for question in ("续贷有什么要求？", "保证合同怎么成立", "2023年绿色融资余额目标是多少",
                     "What does the Insurance Law say about disclosure?", "an article about insurance law"):
        assert find_lookup(question, docs) is None


def test_an_unnamed_article_in_several_documents_lists_them_all(docs: list[Document]) -> None:
    lookup = find_lookup("违反本法第三十九条会怎样", docs)
    assert lookup is not None and len(lookup.sections) >= 3
    assert all(s.section_no in ("第三十九条", "三十九") for s in lookup.sections)
    only_items = find_lookup("第三条（十四）", docs)
    assert [s.doc_id for s in only_items.sections] == ["shangyeyinhangfa"]  # only it has that item


def test_documents_are_known_by_short_and_informal_names(docs: list[Document]) -> None:
    def ids(mention: str) -> list[str]:
        return [d.doc_id for d in resolve_document(mention, docs)]
    assert ids("民法典") == ["minfadian"]
    assert ids("中华人民共和国民法典") == ["minfadian"]
    assert ids("担保制度解释") == ["minfadian-danbao-zhidu-jieshi"]
    assert ids("担保制度的司法解释") == ["minfadian-danbao-zhidu-jieshi"]  # a court's 解释 is a 司法解释
    assert ids("存款保险条例") == ["guowuyuanling-660"]
    assert ids("沪银保监发〔2023〕24号") == [NOTICE_ID]
    assert ids("请问保险法") == ["baoxianfa"]
    assert ids("公司法") == []


def test_the_quoted_text_is_the_article_paragraph_or_item_verbatim(docs: list[Document]) -> None:
    civil = next(d for d in docs if d.doc_id == "minfadian").section("第六百八十五条")
    assert looked_up_text(civil, 0, "") == civil.text
    assert looked_up_text(civil, 2, "") == "第三人单方以书面形式向债权人作出保证，债权人接收且未提出异议的，保证合同成立。"
    bank = next(d for d in docs if d.doc_id == "shangyeyinhangfa").section("第三条")
    assert looked_up_text(bank, 0, "（二）") == "（二）发放短期、中期和长期贷款；"
    for text in (looked_up_text(civil, 2, ""), looked_up_text(bank, 0, "（二）")):
        assert text in (civil.text + bank.text)


@pytest.mark.parametrize("question, doc_id, aspect, value, printed", [
    ("存款保险条例什么时候施行的？", "guowuyuanling-660", "effective_date", "2015-05-01", ("2015年5月1日 施行",)),
    ("存款保险条例的文号是什么", "guowuyuanling-660", "doc_number", "国务院令第660号",
     ("2015年2月17日 中华人民共和国国务院令第660号公布",)),
    ("商业银行法是哪个部门发布的", "shangyeyinhangfa", "issuer", "全国人民代表大会常务委员会",
     ("1995年5月10日 第八届全国人民代表大会常务委员会第十三次会议通过",)),
    ("这个通知的文号是什么", NOTICE_ID, "doc_number", "沪银保监发〔2023〕24号", ()),
    ("保险法修改过几次", "baoxianfa", "history",
     "1995-06-30 通过；2002-10-28 第一次修正；2009-02-28 修订；2014-08-31 第二次修正；2015-04-24 第三次修正", None),
    ("票据法现在还有效吗", "piaojufa", "status", "现行有效", ()),
    ("这份通知的文号是多少？我写报告要引用。", NOTICE_ID, "doc_number", "沪银保监发〔2023〕24号", ()),  # one asks
    ("存款保险条例是国务院令第几号？", "guowuyuanling-660", "doc_number", "国务院令第660号", None),
    ("民法典最近一次修改是什么时候", "minfadian", "history", "2020-05-28 通过；2021-01-01 施行", None),  # never amended
    ("票据法后来修改过没有？最近一次是哪年？", "piaojufa", "latest", "2004-08-28 修正", None),
    ("保险法最近一次修正是什么时候？", "baoxianfa", "latest", "2015-04-24 第三次修正",
     ("2015年4月24日 第十二届全国人民代表大会常务委员会第十四次会议《关于修改<中华人民共和国计量法>等五部法律的决定》第三次修正",)),
])
def test_questions_about_a_document_get_its_metadata_and_printed_lines(
        docs: list[Document], question: str, doc_id: str, aspect: str, value: str, printed) -> None:
    from policykb.answer.docinfo import find_document_question
    fact = find_document_question(question, docs)
    assert (fact.doc.doc_id, fact.aspect, fact.value) == (doc_id, aspect, value)
    if printed is not None:
        assert fact.printed == printed
    source = {d: (PACK / n).read_text(encoding="utf-8") for d, n in LAWS.items()}
    for line in fact.printed:
        assert line in source[doc_id]  # quoted as printed


def test_content_questions_naming_a_document_are_not_document_questions(docs: list[Document]) -> None:
    from policykb.answer.docinfo import find_document_question
    for question in ("民法典规定的保证合同什么时候生效", "续贷有什么要求？", "保险合同什么时候成立",
                     "民法典什么时候施行的？保证合同什么时候生效？",  # the second sentence asks something else
                     "民法典什么时候施行的？请介绍一下保证合同。"):
        assert find_document_question(question, docs) is None


def test_the_words_naming_a_scope_are_not_search_terms(kb) -> None:
    from policykb.retrieval.lookup import without_scope
    docs = kb.index.documents
    assert without_scope("在通知里，续贷有什么要求？", docs) == "续贷有什么要求？"
    assert without_scope("续贷有什么要求？", docs) == "续贷有什么要求？"
    assert without_scope("在一部不存在的法里，续贷有什么要求？", docs) == "在一部不存在的法里，续贷有什么要求？"
    scoped = kb.search("在通知里，续贷有什么要求？")
    assert scoped.terms == kb.search("续贷有什么要求？").terms


@pytest.mark.parametrize("question,doc_id,rest", [
    ("通知的总体原则是什么？", NOTICE_ID, "通知的总体原则是什么？"),  # the name is part of what is asked
    ("这份通知的总体原则是什么？", NOTICE_ID, "这份通知的总体原则是什么？"),
    ("商业银行法的立法目的是什么？", "shangyeyinhangfa", "商业银行法的立法目的是什么？"),
    ("民法典里保证合同的内容", "minfadian", "保证合同的内容"),               # 民法典里 only says where to look
    ("沪惠保这块通知里是怎么说的？", NOTICE_ID, "沪惠保这块是怎么说的？"),     # the words before the name are asked
    ("请问民法典里保证合同的内容", "minfadian", "请问保证合同的内容"),
    # A clause after the first can open with the name too; the words before it are still asked.
    ("我们支行今年续贷压力挺大，上海银保监局那个优化营商环境的通知里，对无还本续贷是怎么要求的？", NOTICE_ID,
     "我们支行今年续贷压力挺大，上海银保监局那个优化营商环境的，对无还本续贷是怎么要求的？"),
    ("客户问：民法典里保证合同的内容", "minfadian", "客户问：保证合同的内容"),
    # …对 and …规定 after a name say where to look as …里 does.
    ("商业银行法对关系人贷款有什么规定？", "shangyeyinhangfa", "关系人贷款有什么规定？"),
    ("再问个别的，保险法规定投保人要如实告知什么？", "baoxianfa", "再问个别的，投保人要如实告知什么？"),
    ("What does the notice say about first loans?", NOTICE_ID, "What does say about first loans?"),
    ("According to the notice, what is the target for inclusive loans?", NOTICE_ID,
     "what is the target for inclusive loans?"),
    ("The notice requires what of banks?", NOTICE_ID, "requires what of banks?"),
    # A named law, as 在保险法里… names one: the English name is translated into a title.
    ("Under the Insurance Law, what must the insurer explain?", "baoxianfa", "what must the insurer explain?"),
    ("What does the Commercial Banking Law say about loans to insiders?", "shangyeyinhangfa",
     "What does say about loans to insiders?"),
    ("The Civil Code says what about guarantee periods?", "minfadian", "says what about guarantee periods?"),
    # The name starts after its "the": the question's words before it are asked, not read as part of the name.
    ("Insurance agents and the Insurance Law say what?", "baoxianfa", "Insurance agents and say what?"),
    ("Can a bank guarantee a bill under the Negotiable Instruments Law?", "piaojufa", "Can a bank guarantee a bill ?"),
])
def test_a_question_or_clause_that_opens_with_a_document_or_names_the_notice_in_english_is_scoped(
        docs: list[Document], question: str, doc_id: str, rest: str) -> None:
    from policykb.retrieval.lookup import find_scope, without_scope
    assert [d.doc_id for d in find_scope(question, docs)] == [doc_id]
    assert without_scope(question, docs) == rest


@pytest.mark.parametrize("question", [
    "保证合同的内容是什么？",
    "合同法的违约责任是什么？",          # a part of 中华人民共和国民法典's words, no document of its own
    "银行法的规定有哪些？",              # only a part of 商业银行法's name
    "民法典和商业银行法的关系是什么？",  # two documents compared: no one scope
    "借款人违反商业银行法的责任是什么？",
    "客户说，合同里写的利率太高了",      # a clause that opens with a word no document is named by
    "请问，民法典和商业银行法的关系是什么？",
    "客户对我们的服务不满意，怎么处理？",
    "对方当事人违约怎么办？",
    "What is the notice period for a loan?",
    "What is the penalty under the law?",                    # a kind with no name names nothing
    "What does the Securities Law say about insider trading?",  # a law the knowledge base lacks
    "Please notice the date.",
])
def test_words_that_only_look_like_a_document_are_no_scope(docs: list[Document], question: str) -> None:
    from policykb.retrieval.lookup import find_scope
    assert find_scope(question, docs) == []


def test_the_longest_opening_that_names_a_document_wins(docs: list[Document]) -> None:
    """…的规定里 names the regulation although the title itself holds an earlier 的."""
    from policykb.retrieval.lookup import _leading_scope
    title = "最高人民法院关于适用《中华人民共和国民法典》有关担保制度的解释"
    found, span = _leading_scope(f"{title.replace('《', '').replace('》', '')}里，保证人的责任", docs)
    assert [d.doc_id for d in found] == ["minfadian-danbao-zhidu-jieshi"] and span is not None


@pytest.fixture(scope="module")
def regulations(docs: list[Document]) -> list[Document]:
    """The docs plus the three 管理条例 and two court interpretations, for names several titles share."""
    more = {"guowuyuanling-631": "征信业管理条例.md", "guowuyuanling-683": "融资担保公司监督管理条例.md",
            "feiyinhang-zhifu-jigou-jiandu": "非银行支付机构监督管理条例.md",
            "yinhangka-minshijiufen-guiding": "最高人民法院关于审理银行卡民事纠纷案件若干问题的规定.md",
            "minjianjiedaiguiding": "最高人民法院关于审理民间借贷案件适用法律若干问题的规定.md",
            "baoxianfajieshi-3": "最高人民法院关于适用《保险法》若干问题的解释（三）.md"}
    return docs + [parse_text(read_any(PACK / name), doc_id) for doc_id, name in more.items()]


@pytest.mark.parametrize("mention, doc_ids", [
    # A shortened name: the title's words in order, close together, and its kind or its court.
    ("民间借贷规定", ["minjianjiedaiguiding"]),
    ("银行卡纠纷规定", ["yinhangka-minshijiufen-guiding"]),
    ("最高法银行卡纠纷", ["yinhangka-minshijiufen-guiding"]),
    ("民间借贷司法解释", ["minjianjiedaiguiding"]),     # 司法解释: the court's 规定 as well
    ("这个民间借贷规定", ["minjianjiedaiguiding"]),       # from a word boundary inside the mention
    ("担保制度司法解释", ["minfadian-danbao-zhidu-jieshi"]),
    ("保险法司法解释三", ["baoxianfajieshi-3"]),
    # Not a name: a tail several titles share (管理条例), words far apart, or a law the knowledge base lacks.
    ("外汇管理条例", []),
    ("证券监督管理条例", []),
    ("银行管理条例", []),
    ("证券法", []),
    ("最高法", []),
    ("社会保险法", []),                                   # 保险法 is no word of it
    ("银行规定", []), ("银行条例", []), ("征信条例", []),   # one word is too little to shorten a title
])
def test_a_shortened_name_resolves_and_a_shared_tail_does_not(regulations: list[Document], mention: str,
                                                              doc_ids: list[str]) -> None:
    from policykb.retrieval.lookup import resolve_document
    assert [d.doc_id for d in resolve_document(mention, regulations)] == doc_ids


def test_a_document_question_names_the_longest_document(regulations: list[Document]) -> None:
    from policykb.answer.docinfo import find_document_question
    for question in ("保险法解释三什么时候施行", "保险法司法解释（三）什么时候施行"):
        assert find_document_question(question, regulations).doc.doc_id == "baoxianfajieshi-3"
    assert find_document_question("保险法什么时候施行", regulations).doc.doc_id == "baoxianfa"



@pytest.mark.parametrize("question,asked", [
    ("柜面有客户问存款保险最多能赔多少钱？", "存款保险最多能赔多少钱？"),
    ("柜面有位阿姨问，万一银行倒闭了怎么办？", "万一银行倒闭了怎么办？"),
    ("做支付业务的同事问：备付金能不能挪用？", "备付金能不能挪用？"),
    ("换个话题，消保法对个人信息有什么要求？", "消保法对个人信息有什么要求？"),
    ("另外问一下，民间借贷的利率上限是多少？", "民间借贷的利率上限是多少？"),
    ("柜面有客户问：另外问一下，续贷的要求？", "续贷的要求？"),  # frames in a row
    ("换个话题吧，续贷呢", "续贷呢"),  # after 换个话题 even a short question
    ("话说回来，刚才那个续贷的条件呢？", "刚才那个续贷的条件呢？"),
    # 问 inside a word (询问, 问询函, 问责, 问题), or nothing left to ask: kept as typed.
    ("客户问询函怎么回复？", "客户问询函怎么回复？"),
    ("客户问题怎么处理？", "客户问题怎么处理？"),
    ("责任人问责有什么规定？", "责任人问责有什么规定？"),
    ("有客户问", "有客户问"),
    ("换个话题", "换个话题"),
    # A party of the law who asks (借款人, 保险人) or 咨询 without a pause is part of the question.
    ("借款人问银行要求提前还款，银行能拒绝吗？", "借款人问银行要求提前还款，银行能拒绝吗？"),
    ("个人咨询服务收费标准是什么？", "个人咨询服务收费标准是什么？"),
    ("客户咨询投诉处理有什么要求？", "客户咨询投诉处理有什么要求？"),
    ("问下一条是什么？", "问下一条是什么？"),
    ("问问题的时候要注意什么？", "问问题的时候要注意什么？"),
])
def test_who_asks_is_not_part_of_the_question(question: str, asked: str) -> None:
    from policykb.retrieval.lookup import without_preamble
    assert without_preamble(question) == asked


def test_an_effective_date_stated_only_in_an_article_is_answered_with_that_article():
    from policykb.answer.docinfo import find_document_question
    stated = parse_text("示例银行小微企业授信管理办法\n\n第一条 为规范授信，制定本办法。\n"
                        "第二条 本办法由总行解释。本办法自2024年1月1日起施行。\n", "rules")
    silent = parse_text("示例银行授信审批办法\n\n第一条 为规范授信，制定本办法。\n第二条 授信应当审慎。\n", "review")
    # no history line gives the date, but 第二条 does: the answer quotes it, not that the date is missing
    fact = find_document_question("示例银行小微企业授信管理办法什么时候施行的？", [stated, silent])
    assert fact.value == "2024-01-01" and fact.clause == (stated.section("第二条"), "本办法自2024年1月1日起施行。")
    fact = find_document_question("示例银行授信审批办法什么时候施行的？", [stated, silent])
    assert fact is not None and fact.value == "" and fact.clause is None


def test_an_interpretation_in_force_by_its_last_article_is_answered_with_it(regulations: list[Document]) -> None:
    from policykb.answer.compose import make_citation
    from policykb.answer.docinfo import find_document_question
    fact = find_document_question("保险法解释三什么时候施行", regulations)
    section, sentence = fact.clause
    assert fact.doc.doc_id == "baoxianfajieshi-3" and section == fact.doc.sections[-1]
    assert sentence == "本解释自2015年12月1日起施行。" and sentence in section.text and fact.value == "2015-12-01"
    cite = make_citation(fact.doc, section, sentence)
    assert cite.cite.endswith(section.section_no) and cite.quote == sentence


@pytest.mark.parametrize("typed,doc_id,expected", [
    ("第685条", "minfadian", "第六百八十五条"), ("685", "minfadian", "第六百八十五条"), ("2", NOTICE_ID, "二"),
    ("第二条", "minfadian", "第二条"), ("二", NOTICE_ID, "二"), ("第2条", NOTICE_ID, "二"), ("第二条", NOTICE_ID, "二"),
])
def test_show_takes_arabic_numerals_as_staff_type_them(docs: list[Document], typed, doc_id, expected) -> None:
    from policykb.ingest.corpus import find_section
    assert find_section(docs, typed, doc_id).section_no == expected


def test_an_arabic_section_number_that_several_documents_have_asks_for_the_document(docs: list[Document]) -> None:
    from policykb.errors import NotFoundError
    from policykb.ingest.corpus import find_section
    with pytest.raises(NotFoundError, match="several documents"):
        find_section(docs, "2")
    assert find_section(docs, "二").doc_id == NOTICE_ID  # a number as printed is found as before


@pytest.mark.parametrize("question,is_document_question", [
    ("保理商作出的债权转让通知是否有效？", False),  # a notice of assignment, not the notice
    ("这份通知的文号是多少？", True), ("该通知现在还有效吗", True), ("上海银保监局的通知是哪天发布的", True),
])
def test_a_kind_word_joined_to_other_words_does_not_name_the_notice(docs: list[Document], question,
                                                                    is_document_question) -> None:
    from policykb.answer.docinfo import find_document_question
    fact = find_document_question(question, docs)
    assert (fact is not None and fact.doc.doc_id == NOTICE_ID) is is_document_question
