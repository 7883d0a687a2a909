"""Parsing: the real notice, fictional documents in other numbering styles, decoding."""
from __future__ import annotations

import pytest

from policykb.ingest.chunk import cn_to_int, split_sentences
from policykb.errors import DocumentError
from policykb.ingest.corpus import parse_file
from policykb.ingest.formats import decode_bytes
from policykb.ingest.parse import join_units, parse_text
from tests.conftest import CORPUS, NOTICE_ID

MEASURE_NOS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三"]


@pytest.fixture(scope="module")
def notice():
    return parse_file(CORPUS / f"{NOTICE_ID}.txt", NOTICE_ID)


def test_notice_metadata(notice):
    assert notice.title == "上海银保监局关于进一步完善金融服务 优化上海营商环境和支持经济高质量发展的通知"
    assert notice.doc_number == "沪银保监发〔2023〕24号"
    assert notice.issuer == "上海银保监局"
    assert notice.date == "2023-03-01"
    assert notice.addressees == "辖内各银行保险机构，上海市银行同业公会、上海市保险同业公会"


def test_notice_sections_in_order(notice):
    assert [s.section_no for s in notice.sections] == ["preamble", *MEASURE_NOS, "closing"]
    assert notice.section("preamble").text.startswith("为全面贯彻落实党的二十大精神")
    assert notice.section("closing").text.startswith("各银行保险机构要强化党建引领")
    assert notice.section("十三").text.endswith("提升城市核心竞争力。")


@pytest.mark.parametrize("no,title", [
    ("一", "保持普惠贷款增量扩面，助力实体经济稳增长"),
    ("二", "推动无缝续贷应续尽续，提振信心稳预期"),
    ("七", "服务总部经济，建设供应链金融示范区"),
    ("十三", "探索包容审慎监管，提升金融机构责任感"),
])
def test_measure_title_is_lead_phrase(notice, no, title):
    assert notice.section(no).title == title
    assert notice.section(no).heading == f"{no}、"


@pytest.mark.parametrize("no,joined", [
    ("四", "不断提升金融服务科技创新的支持力度和专业能力"),
    ("六", "聚集新材料和新能源等重点项目，加大对重点领域的融资支持"),
    ("八", "鼓励保险机构在风险可控的前提下"),
    ("十", "建立个性化、差异化、定制化数据模型提供强有力的支撑"),
    ("十三", "在日常监管和现场检查及后续处罚中"),
])
def test_page_break_artefacts_are_rejoined(notice, no, joined):
    assert joined in notice.section(no).text
    assert not any(s.text.startswith(("的支持力度", "处罚中", "力的支撑", "风险可控", "加大对重点"))
                   for s in notice.sections)


def test_spans_are_exact_offsets(notice):
    for sec in notice.sections:
        assert sec.spans, sec.id
        for span in sec.spans:
            assert sec.text[span.start:span.end] == span.text
        # The spans cover every sentence: nothing but whitespace lies between them.
        covered = "".join(sp.text for sp in sec.spans)
        assert covered.replace("\n", "") == sec.text.replace("\n", "")


def test_references_found_per_section(notice):
    refs = {s.section_no: s.references for s in notice.sections if s.references}
    assert refs == {
        "preamble": ("上海市加强集成创新持续优化营商环境行动方案",),
        "四": ("上海银行业保险业支持上海科创中心建设的行动方案（2022-2025年）",),
        "五": ("上海银行业保险业做好知识产权质押融资服务的工作方案",),
        "六": ("上海银行业保险业“十四五”期间推动绿色金融发展 服务碳达峰碳中和战略的行动方案",),
    }


@pytest.mark.parametrize("no,figure,period", [
    ("一", "11000亿元", "2023年末"),
    ("二", "12000亿元", "2023年"),
    ("三", "2023年12月底", ""),
    ("三", "700万人", "2023年末"),
    ("四", "1万亿元", "2025年末"),
    ("四", "25%", "2023年"),
    ("五", "30%", "2023年至2025年"),
    ("六", "1.5万亿元", "2025年末"),
    ("六", "1.2万亿元", "2023年"),
    ("七", "4500亿元", "2023年"),
    ("closing", "十日内", ""),
])
def test_figures_with_their_period(notice, no, figure, period):
    found = {f.text: f.period for f in notice.section(no).figures}
    assert figure in found
    assert found[figure] == period


RULES = """示例银行小微企业续贷管理办法

示银沪发〔2024〕7号

第一章 总则

第一条 为规范小微企业续贷业务，制定本办法。
第二条 本办法适用于本行各分支机构：
（一）小微企业流动资金贷款；
（二）个体工商户经营性贷款。

第二章 续贷条件

第三条 申请续贷的企业应当同时满足以下条件：（一）依法合规经营；（二）单户授信额度不超过1000万元。
第四条 续贷申请应当在贷款到期前三十日内提出。

示例银行上海分行
2024年5月6日
"""


def test_article_hierarchy_with_chapters_and_items():
    doc = parse_text(RULES, "rules")
    assert doc.title == "示例银行小微企业续贷管理办法"
    assert doc.doc_number == "示银沪发〔2024〕7号"
    assert (doc.issuer, doc.date) == ("示例银行上海分行", "2024-05-06")
    assert [s.section_no for s in doc.sections] == ["第一条", "第二条", "第三条", "第四条"]
    assert doc.section("第一条").chapter == "第一章 总则"
    assert doc.section("第三条").chapter == "第二章 续贷条件"
    second = doc.section("第二条")
    assert "（二）个体工商户经营性贷款。" in second.text
    assert [sp.item for sp in second.spans] == ["", "（一）", "（二）"]
    third = doc.section("第三条")
    assert [sp.item for sp in third.spans if "1000万元" in sp.text] == ["（二）"]
    assert {f.text for f in third.figures} == {"1000万元"}
    assert {f.text for f in doc.section("第四条").figures} == {"三十日内"}


NOTICE_WITH_HEADINGS = """关于做好示例工作的通知

各分行：

为做好示例工作，现通知如下。

一、总体要求
坚持稳中求进。
（一）提高认识。各分行要高度重视。
（二）加强领导。成立工作小组。

二、工作安排
1. 五月底前完成摸底；
2. 六月底前完成整改。

请认真贯彻执行。
"""


def test_measure_headings_on_their_own_line():
    doc = parse_text(NOTICE_WITH_HEADINGS, "n")
    assert doc.addressees == "各分行"
    assert [s.section_no for s in doc.sections] == ["preamble", "一", "二", "closing"]
    first = doc.section("一")
    assert first.title == "总体要求"
    assert "（二）加强领导。成立工作小组。" in first.text
    assert doc.section("closing").text == "请认真贯彻执行。"


def test_numbered_list_style():
    doc = parse_text("示例须知\n\n1. 客户应当本人办理。\n2. 材料不全的不予受理。\n（1）身份证件；\n（2）营业执照。\n",
                     "list")
    assert [s.section_no for s in doc.sections] == ["1", "2"]
    assert "（2）营业执照。" in doc.section("2").text


def test_hard_wrapped_lines_are_joined_but_headings_are_not():
    units = join_units(["第一章 总则", "第一条 本办法所称续贷，是指贷款到期", "前申请的新贷款。", "第二条 其他。"])
    assert units == ["第一章 总则", "第一条 本办法所称续贷，是指贷款到期前申请的新贷款。", "第二条 其他。"]


@pytest.mark.parametrize("numeral,value", [("一", 1), ("十", 10), ("十三", 13), ("二十", 20),
                                           ("二十一", 21), ("一百零五", 105), ("12", 12)])
def test_chinese_numerals(numeral, value):
    assert cn_to_int(numeral) == value


def test_sentences_split_at_semicolons_and_full_stops():
    spans = split_sentences("加大投放力度；优化信贷结构。支持消费！")
    assert [s.text for s in spans] == ["加大投放力度；", "优化信贷结构。", "支持消费！"]


@pytest.mark.parametrize("data", [
    "续贷管理办法\n第一条 测试。".encode("utf-8"),
    "续贷管理办法\n第一条 测试。".encode("utf-8-sig"),
    "续贷管理办法\n第一条 测试。".encode("gbk"),
    "续贷管理办法\n第一条 测试。".encode("gb18030"),
])
def test_decode_detects_encoding(data):
    assert decode_bytes(data, "x.txt") == "续贷管理办法\n第一条 测试。"


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary"),
])
def test_decode_rejects_empty_and_binary(data, message):
    with pytest.raises(DocumentError, match=message):
        decode_bytes(data, "bad.txt")


def test_missing_source_file_names_the_fix(tmp_path):
    with pytest.raises(DocumentError, match="policykb remove gone"):
        parse_file(tmp_path / "gone.txt", "gone")
