"""Load benchmark of the chat app's /ask API: staff with think time, or saturation; p50/p95/max, throughput.

    python eval/load_bench.py                          # 20 staff, one question every 3-10 s each, seed 0
    python eval/load_bench.py --mode saturation        # 20 clients asking back to back: the server's ceiling
    POLICYKB_CORPUS_DIR=eval/artifacts/kb/corpus POLICYKB_INDEX_DIR=eval/artifacts/kb/index \\
        python eval/load_bench.py --markdown eval/load.md
    python eval/load_bench.py --url http://127.0.0.1:7860/      # a running app

Without --url it starts `policykb serve` on a free loopback port from the project directory
(POLICYKB_* variables apply; a missing index is built first) and reports the server's CPU time.
The clients are plain HTTP on gradio's queue API (POST /gradio_api/call/ask, then GET the event's
result stream), all on one asyncio loop, so the harness takes little of the CPU it measures.
Exits non-zero on any error.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95 = 1.0
THINK_S = (3.0, 10.0)  # the scenario: each member of staff asks every 3-10 s

# Chinese, English and mixed questions, answered and abstained, as staff would ask them: the notice,
# the laws of packs/finance-laws (content, article look-ups, scoped and document questions) and
# questions no document covers. Questions about a missing law are abstentions, not errors.
QUESTIONS = [
    "续贷有什么要求？",
    "普惠贷款余额的目标是多少？",
    "对暂时困难的企业能不能抽贷断贷？",
    "What does the notice say about green finance?",
    "知识产权质押融资 IP pledge financing 有什么安排？",
    "今天天气怎么样",
    "保证合同无效后保证人承担什么责任？",
    "民法典第六百八十五条是怎么规定的",
    "在商业银行法里，商业银行的资本充足率有什么要求？",
    "减费让利有哪些措施？",
    "存款保险的最高偿付限额是多少？",
    "征信业管理条例什么时候施行的？",
    "How should banks support enterprises in bankruptcy restructuring?",
    "保险法第16条",
    "借款合同的利率不得违反什么规定？",
    "个人住房贷款利率是多少？",
    "洗钱风险 反洗钱义务 客户身份识别",
    "Which measures cover digital financial services?",
    "融资租赁合同中承租人逾期支付租金怎么办？",
    "商业银行法修改过几次",
    "民间借贷的利率上限是多少？",
    "What is the capital adequacy ratio requirement?",
    "银行卡被盗刷，银行要承担责任吗？",
    "担保制度解释第二十五条",
]


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def parse_result(stream: str) -> dict:
    """Return the Answer in a /gradio_api/call/ask/{event_id} stream; raise on an error event."""
    event = ""
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            data = json.loads(line[5:].strip() or "null")
            if event == "error":
                raise RuntimeError(f"server error: {data}")
            answer = data[0] if isinstance(data, list) and data else data
            if not isinstance(answer, dict) or "abstained" not in answer:
                raise ValueError(f"not an Answer: {str(answer)[:80]}")
            if not answer["abstained"] and not answer["citations"]:
                raise ValueError("an answer without citations")
            return answer
    raise ValueError(f"no result in the stream: {stream[:120]!r}")


async def ask(client, question: str) -> dict:
    """Ask one question through gradio's queue API as a plain HTTP client; return the Answer."""
    joined = await client.post("gradio_api/call/ask", json={"data": [question, "hybrid", []]})
    joined.raise_for_status()
    result = await client.get(f"gradio_api/call/ask/{joined.json()['event_id']}")
    result.raise_for_status()
    return parse_result(result.text)


async def _login(client, auth: tuple[str, str] | None) -> None:
    if auth:
        response = await client.post("login", data={"username": auth[0], "password": auth[1]})
        response.raise_for_status()


async def _run(url: str, clients: int, per_client: int, think: tuple[float, float] | None, seed: int,
               questions: list[str], auth: tuple[str, str] | None) -> dict:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)

    async def staff(n: int, client) -> None:
        # One generator per client, seeded from the run's seed: the same seed replays the same
        # questions at the same moments.
        rng = random.Random(seed * 1000 + n)
        for j in range(per_client):
            if think:
                await asyncio.sleep(rng.uniform(*think))
            question = questions[rng.randrange(len(questions))] if think else \
                questions[(n * per_client + j) % len(questions)]
            start = time.perf_counter()
            try:
                await ask(client, question)
            except Exception as exc:  # an error is a figure of the run, not a crash of it
                errors.append(f"client {n} {question!r}: {exc.__class__.__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - start)

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits, trust_env=False) as client:
        await _login(client, auth)
        began = time.perf_counter()
        await asyncio.gather(*(staff(n, client) for n in range(clients)))
        wall = time.perf_counter() - began
    return {"latencies": latencies, "errors": errors, "wall_s": wall}


def run_load(url: str, clients: int, per_client: int, think: tuple[float, float] | None = None, seed: int = 0,
             questions: list[str] = QUESTIONS, auth: tuple[str, str] | None = None) -> dict:
    """Ask clients x per_client questions through /ask concurrently; return latencies, errors, throughput.

    Args:
        think: each client waits a random time in this range (seconds) before each question;
            None asks back to back (saturation).
    """
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    run = asyncio.run(_run(url.rstrip("/") + "/", clients, per_client, think, seed, questions, auth))
    used = resource.getrusage(resource.RUSAGE_SELF)
    latencies, wall = run["latencies"], run["wall_s"]
    return {"url": url, "mode": "think" if think else "saturation", "think_s": think, "seed": seed,
            "clients": clients, "per_client": per_client, "requests": clients * per_client,
            "ok": len(latencies), "errors": run["errors"], "wall_s": wall,
            "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
            "max_s": max(latencies, default=float("nan")),
            "mean_s": statistics.fmean(latencies) if latencies else float("nan"),
            "throughput_rps": len(latencies) / wall if wall else 0.0, "cpus": os.cpu_count(),
            "client_cpu_s": (used.ru_utime + used.ru_stime) - (cpu.ru_utime + cpu.ru_stime)}


def format_text(report: dict) -> str:
    """Return the report as the lines printed to the terminal."""
    kind = (f"think time {report['think_s'][0]:g}-{report['think_s'][1]:g} s, seed {report['seed']}"
            if report["think_s"] else "no think time (saturation)")
    server = (f"; server {report['server_cpu_s']:.1f} CPU-s ({1000 * report['server_cpu_s'] / max(report['ok'], 1):.0f} ms"
              " per request)" if "server_cpu_s" in report else "")
    return (f"{report['requests']} requests from {report['clients']} clients, {kind}: {report['ok']} ok, "
            f"{len(report['errors'])} errors\n"
            f"latency p50 {report['p50_s']:.3f} s  p95 {report['p95_s']:.3f} s  max {report['max_s']:.3f} s\n"
            f"throughput {report['throughput_rps']:.1f} requests/s over {report['wall_s']:.1f} s "
            f"on {report['cpus']} CPUs (target p95 <= {TARGET_P95:.1f} s)\n"
            f"CPU: clients {report['client_cpu_s']:.1f} s{server}")


def format_markdown(report: dict) -> str:
    """Return the report as a Markdown table for eval/LOAD.md."""
    think = f"{report['think_s'][0]:g}–{report['think_s'][1]:g} s" if report["think_s"] else "none"
    return ("| mode | clients × questions | think time | requests | errors | p50 | p95 | max | throughput | CPUs |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n"
            f"| {report['mode']} | {report['clients']} × {report['per_client']} | {think} | {report['requests']} | "
            f"{len(report['errors'])} | {report['p50_s']:.3f} s | {report['p95_s']:.3f} s | {report['max_s']:.3f} s | "
            f"{report['throughput_rps']:.1f} req/s | {report['cpus']} |\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(timeout: float = 600.0) -> tuple[subprocess.Popen, str]:
    """Start `policykb serve` on a free loopback port and wait until it answers HTTP."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "policykb.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"policykb serve exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"policykb serve did not answer on {url} within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its figures; return 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="benchmark a running app instead of starting one")
    parser.add_argument("--mode", choices=("think", "saturation"), default="think",
                        help="think: each client waits 3-10 s between questions (default); saturation: none")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, help="questions per client (default 15 think, 10 saturation)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the think times and question choice")
    parser.add_argument("--warmup", type=int, default=3, help="questions asked before timing starts")
    parser.add_argument("--markdown", type=Path, help="also write the figures as a Markdown table here")
    args = parser.parse_args(argv)
    think = THINK_S if args.mode == "think" else None
    per_client = args.per_client or (15 if think else 10)
    proc = None
    url = args.url
    if not url:
        proc, url = start_server()
    try:
        if args.warmup:
            run_load(url, 1, args.warmup)
        before = cpu_seconds(proc.pid) if proc else 0.0
        report = run_load(url, args.clients, per_client, think=think, seed=args.seed)
        if proc:
            report["server_cpu_s"] = cpu_seconds(proc.pid) - before
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print(format_text(report))
    for error in report["errors"][:10]:
        print("error:", error)
    if args.markdown:
        args.markdown.write_text(format_markdown(report), encoding="utf-8")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
