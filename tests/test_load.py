"""A small run of eval/load_bench.py: concurrent gradio_client clients get answers with no errors."""
from __future__ import annotations

import dataclasses
import importlib.util

import pytest

from policykb import ui

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
        report = load_bench.run_load(url, clients=5, per_client=4)
    finally:
        app.close()
    assert report["errors"] == []
    assert report["ok"] == report["requests"] == 20
    assert "| 5 × 4 | 20 | 0 |" in load_bench.format_markdown(report)


def test_percentile_interpolates(load_bench):
    assert load_bench.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert load_bench.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == pytest.approx(4.8)
