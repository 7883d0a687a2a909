"""A small run of eval/load_bench.py: concurrent plain-HTTP clients get answers with no errors (no timing asserted)."""
from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from policykb.app import ui

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def load_bench():
    """Import eval/load_bench.py (eval/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("load_bench", ROOT / "eval" / "load_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_concurrent_clients_get_answers_without_errors(kb, built_settings, load_bench, monkeypatch):
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    app, url = ui.start(kb, dataclasses.replace(built_settings, port=0))
    try:
        saturation = load_bench.run_load(url, clients=5, per_client=4)
        think = load_bench.run_load(url, clients=4, per_client=2, think=(0.0, 0.2), seed=1)
    finally:
        app.close()
    assert saturation["errors"] == [] and think["errors"] == []
    assert saturation["ok"] == saturation["requests"] == 20 and think["ok"] == 8
    assert "| saturation | 5 × 4 | none | 20 | 0 |" in load_bench.format_markdown(saturation)
    assert "| think | 4 × 2 | 0–0.2 s | 8 | 0 |" in load_bench.format_markdown(think)


def test_an_error_event_is_counted_not_swallowed(load_bench):
    with pytest.raises(RuntimeError, match="server error"):
        load_bench.parse_result('event: error\ndata: {"error": "出错了"}\n')
    with pytest.raises(ValueError, match="without citations"):
        load_bench.parse_result('event: complete\ndata: [{"abstained": false, "citations": []}]\n')
    assert load_bench.parse_result('event: complete\ndata: [{"abstained": true, "citations": []}]\n')["abstained"]


def test_percentile_interpolates(load_bench):
    assert load_bench.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert load_bench.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
