"""Load benchmark of the chat app's /ask API: concurrent gradio_client clients, p50/p95 latency, throughput.

    python eval/load_bench.py                      # 20 clients x 10 questions against a fresh `policykb serve`
    python eval/load_bench.py --url http://127.0.0.1:7860/ --markdown eval/load.md

Without --url it starts `policykb serve` on a free loopback port from the project directory
(POLICYKB_* variables apply; a missing index is built first). Exits non-zero on any error.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

# gradio_client reports usage to Hugging Face unless told not to; the bank's network is closed.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95 = 1.0

# Chinese, English and mixed questions, answered and abstained, as staff would ask them.
QUESTIONS = [
    "续贷有什么要求？",
    "普惠贷款余额的目标是多少？",
    "对暂时困难的企业能不能抽贷断贷？",
    "What does the notice say about green finance?",
    "知识产权质押融资 IP pledge financing 有什么安排？",
    "今天天气怎么样",
    "无缝续贷 seamless loan renewal 的目标",
    "减费让利有哪些措施？",
    "破产重整企业怎么支持？",
    "How should banks support enterprises in bankruptcy restructuring?",
    "科创中心行动方案的内容是什么？",
    "个人住房贷款利率是多少？",
    "供应链金融示范区怎么建设？",
    "Which measures cover digital financial services?",
    "首贷 信用贷 中长期贷",
    "保险理赔时限是多久？",
    "纾困融资机制有哪些措施？",
    "What is the capital adequacy ratio requirement?",
    "政银保企合作新模式是什么？",
    "包容审慎监管怎么做？",
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


def run_load(url: str, clients: int, per_client: int, questions: list[str] = QUESTIONS,
             auth: tuple[str, str] | None = None) -> dict:
    """Ask clients x per_client questions through /ask concurrently; return latencies and errors."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        try:
            client = Client(url, verbose=False, analytics_enabled=False, download_files=False, auth=auth)
        except Exception as exc:  # a client that cannot connect is an error, not a crash of the run
            with lock:
                errors.append(f"client {n}: {exc.__class__.__name__}: {exc}")
            ready.wait()
            return
        ready.wait()
        for j in range(per_client):
            question = questions[(n * per_client + j) % len(questions)]
            start = time.perf_counter()
            try:
                answer = client.predict(question, api_name="/ask")
                if not isinstance(answer, dict) or "abstained" not in answer:
                    raise ValueError(f"not an Answer: {str(answer)[:80]}")
                if not answer["abstained"] and not answer["citations"]:
                    raise ValueError("an answer without citations")
            except Exception as exc:
                with lock:
                    errors.append(f"client {n} {question!r}: {exc.__class__.__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    ready.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    return {"url": url, "clients": clients, "per_client": per_client, "requests": clients * per_client,
            "ok": len(latencies), "errors": errors, "wall_s": wall,
            "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
            "max_s": max(latencies, default=float("nan")),
            "mean_s": statistics.fmean(latencies) if latencies else float("nan"),
            "throughput_rps": len(latencies) / wall if wall else 0.0, "cpus": os.cpu_count()}


def format_text(report: dict) -> str:
    """Return the report as the lines printed to the terminal."""
    return (f"{report['requests']} requests from {report['clients']} clients: {report['ok']} ok, "
            f"{len(report['errors'])} errors\n"
            f"latency p50 {report['p50_s']:.3f} s  p95 {report['p95_s']:.3f} s  max {report['max_s']:.3f} s\n"
            f"throughput {report['throughput_rps']:.1f} requests/s over {report['wall_s']:.1f} s "
            f"on {report['cpus']} CPUs (target p95 <= {TARGET_P95:.1f} s)")


def format_markdown(report: dict) -> str:
    """Return the report as a Markdown table for README or eval/."""
    return ("| clients × questions | requests | errors | p50 | p95 | max | throughput | CPUs |\n"
            "|---|---|---|---|---|---|---|---|\n"
            f"| {report['clients']} × {report['per_client']} | {report['requests']} | {len(report['errors'])} | "
            f"{report['p50_s']:.3f} s | {report['p95_s']:.3f} s | {report['max_s']:.3f} s | "
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
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"policykb serve did not answer on {url} within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its figures; return 1 on any error."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="benchmark a running app instead of starting one")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3, help="questions asked before timing starts")
    parser.add_argument("--markdown", type=Path, help="also write the figures as a Markdown table here")
    args = parser.parse_args(argv)
    proc = None
    url = args.url
    if not url:
        proc, url = start_server()
    try:
        if args.warmup:
            run_load(url, 1, args.warmup)
        report = run_load(url, args.clients, args.per_client)
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
