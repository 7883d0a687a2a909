"""Shared fixtures: the real notice, real jieba, real Chroma and the real bundled model, in tmp dirs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policykb.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NOTICE_ID = "hu-yinbaojian-2023-24"
PACK = ROOT / "packs" / "finance-laws"
PICKED = ("中华人民共和国民法典.md", "商业银行法.md", "存款保险条例.md", "公司法.md",
          "最高人民法院关于适用《民法典》有关担保制度的解释.md")


def make_settings(corpus_dir: Path, index_dir: Path, **overrides) -> Settings:
    """Return Settings for a tmp corpus and index, ignoring the caller's POLICYKB_* variables."""
    return load_settings({"corpus_dir": corpus_dir, "index_dir": index_dir, **overrides}, environ={})


def copy_corpus(target: Path) -> Path:
    """Copy the repository's corpus/ to target and return it."""
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's POLICYKB_* variables out of the tests."""
    import os
    for key in list(os.environ):
        if key.startswith("POLICYKB_"):
            monkeypatch.delenv(key)


@pytest.fixture()
def fresh_settings(tmp_path: Path) -> Settings:
    """Settings over a private copy of the corpus and an empty index dir (per test)."""
    return make_settings(copy_corpus(tmp_path / "corpus"), tmp_path / "index")


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over a corpus copy whose index is built once per session (do not modify it)."""
    base = tmp_path_factory.mktemp("kb")
    settings = make_settings(copy_corpus(base / "corpus"), base / "index")
    from policykb.retrieval.store import ingest
    ingest(settings)
    return settings


@pytest.fixture(scope="session")
def kb(built_settings: Settings):
    """A KnowledgeBase over the session's built index, with dense retrieval on."""
    from policykb.kb import KnowledgeBase
    return KnowledgeBase.open(built_settings)


def policykb(env: dict, *args: str, check: bool = True, stdin: str | None = None):
    """Run the installed `policykb` command as a user would; return the CompletedProcess."""
    import subprocess
    import sys
    exe = Path(sys.executable).with_name("policykb")
    result = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=1500, input=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"policykb {' '.join(args)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result


def env_for(base: Path) -> dict:
    """Return the environment that points `policykb` at base/corpus and base/index, and nothing else of ours."""
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYKB_")}
    return {**env, "POLICYKB_CORPUS_DIR": str(base / "corpus"), "POLICYKB_INDEX_DIR": str(base / "index")}


@pytest.fixture(scope="session")
def laws_env(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A knowledge base of the notice plus five laws, added with one `policykb add FOLDER` (do not modify)."""
    base = tmp_path_factory.mktemp("laws")
    copy_corpus(base / "corpus")
    folder = base / "incoming"
    folder.mkdir()
    for name in PICKED + ("README.md",):
        shutil.copy(PACK / name, folder / name)
    env = env_for(base)
    result = policykb(env, "add", str(folder))
    env["_add_stdout"] = result.stdout
    return env


@pytest.fixture(scope="session")
def laws_kb(laws_env: dict):
    """The KnowledgeBase of laws_env, opened in this process."""
    from policykb.config import load_settings
    from policykb.kb import KnowledgeBase
    return KnowledgeBase.open(load_settings({"corpus_dir": laws_env["POLICYKB_CORPUS_DIR"],
                                             "index_dir": laws_env["POLICYKB_INDEX_DIR"]}))


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    """Start a real `chroma run` server on loopback for the session; yield (host, port)."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    exe = Path(sys.executable).with_name("chroma")
    log = open(data / "server.log", "wb")
    proc = subprocess.Popen([str(exe), "run", "--path", str(data / "db"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**__import__("os").environ, "ANONYMIZED_TELEMETRY": "False"})
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"chroma run did not start; see {data / 'server.log'}")
            time.sleep(0.3)
    yield "127.0.0.1", port
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
