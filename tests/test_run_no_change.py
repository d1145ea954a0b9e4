"""`review run` with nothing changed computes no statistics; the pool's inputs (study
table and options) decide whether it pools again, not its results."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metareview import poolrun
from metareview.config import load_config
from metareview.project import output_path, run

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example-review"
pytestmark = pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    return target


def test_a_run_with_nothing_changed_does_not_pool(example: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(example)
    first = run(config)
    assert any(line.startswith("pooled ") for line in first.actions)
    pooled: list[int] = []
    real = poolrun.run_pool

    def counting(*args: object, **kwargs: object) -> poolrun.PoolReport:
        pooled.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(poolrun, "run_pool", counting)
    second = run(load_config(example))
    assert second.actions == () and pooled == []

    # the report gone but the pool current: the report is written again, pooling once
    report = output_path(config, "report_html")
    before = report.read_bytes()
    report.unlink()
    third = run(load_config(example))
    assert pooled == [1] and report.read_bytes() == before
    assert not any(line.startswith("pooled ") for line in third.actions)


def test_changed_options_pool_again(example: Path) -> None:
    run(load_config(example))
    toml = example / "review.toml"
    text = toml.read_text(encoding="utf-8")
    assert 'method = "DL"' in text
    toml.write_text(text.replace('method = "DL"', 'method = "REML"', 1), encoding="utf-8")
    again = run(load_config(example))
    assert any(line.startswith("pooled ") and "REML" in line for line in again.actions)
