"""Forest and funnel plots: the figure's content through matplotlib objects, and the saved files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import OptionError
from metareview.plots import forest_plot, funnel_plot, save_forest, save_funnel
from metareview.poolrun import PoolOptions, PoolReport, run_pool
from metareview.sheets.extraction import read_extraction

HERE = Path(__file__).parent
DATA = HERE.parent / "data"
REFERENCE = HERE / "reference" / "data"


def report(path: Path = DATA / "extraction.xlsx", **options: object) -> PoolReport:
    return run_pool(read_extraction(path), PoolOptions(**options))  # type: ignore[arg-type]


def texts(fig: object) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]  # type: ignore[attr-defined]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_forest_plot_content() -> None:
    r = report()
    fig = forest_plot(r)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Proportion"
    labels = texts(fig)
    assert "Giannotta et al." in labels and "Solomon et al." in labels
    assert "16" in labels and "17" in labels  # the counts columns
    assert "Random-effects model (REML)" in labels
    assert "Prediction interval (z)" in labels
    assert any(t.startswith("Heterogeneity: τ² = 0.365, I² = 57%") for t in labels)
    assert "0.76 [0.66, 0.83]" in labels
    assert "12.8%" in labels  # Kassell et al.'s weight
    lo, hi = ax.get_xlim()
    # ticks stay within [0, 1]; the axis has a small margin so a square at 1.0 is not cut
    assert 0 <= lo < 0.2 and 1.0 < hi <= 1.05
    assert max(ax.get_xticks()) == pytest.approx(1.0)
    squares = [line for line in ax.lines if line.get_marker() == "s"]
    assert len(squares) == 14
    sizes = {line.get_markersize() for line in squares}
    assert max(sizes) > min(sizes)  # area follows the weight
    assert len(ax.patches) == 2  # the diamond and the prediction-interval bar
    foot = fig.texts[0].get_text()
    assert "PLO" in foot and "REML" in foot and "continuity correction" in foot


def test_forest_plot_ratio_measure_uses_a_log_axis_with_a_line_at_one() -> None:
    fig = forest_plot(report(REFERENCE / "bcg.csv", measure="OR"))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "Odds ratio"
    assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.lines)
    assert "4/123" in texts(fig)
    assert [t.get_text() for t in ax.get_xticklabels()][:1] != ["$\\mathdefault{10^{-1}}$"]


def test_forest_plot_subgroups_and_percent() -> None:
    r = run_pool(read_extraction(REFERENCE / "debruin2009.csv"),
                 PoolOptions(method="DL", by="group"))
    fig = forest_plot(r, percent=True)
    labels = texts(fig)
    assert "group: no" in labels and "group: yes" in labels
    assert "Subtotal (k = 8)" in labels and "Subtotal (k = 5)" in labels
    assert any(t.startswith("Test for subgroup differences") for t in labels)
    assert fig.axes[0].get_xlabel() == "Proportion (%)"
    assert "51.0 [41.7, 60.2]" in labels  # group "no", DL: 0.5096 [0.4170, 0.6016] in metafor
    assert len(fig.axes[0].patches) == 6  # 3 diamonds and 3 prediction bars


def test_funnel_plot_content() -> None:
    fig = funnel_plot(report(bias=True))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Logit proportion (PLO)"
    assert ax.get_ylabel() == "Standard error"
    top, bottom = ax.get_ylim()
    assert top > bottom == 0  # inverted: precise studies at the top
    points = ax.collections[0].get_offsets()
    assert len(points) == 14
    assert len(ax.collections) == 2  # studies and trim-and-fill studies
    assert "continuity correction" in fig.texts[0].get_text()


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"),
                                          (".pdf", b"%PDF")])
def test_saved_files(tmp_path: Path, suffix: str, magic: bytes) -> None:
    r = report()
    out = save_forest(r, tmp_path / f"forest{suffix}")
    assert out.read_bytes().startswith(magic)
    assert out.stat().st_size > 10_000
    funnel = save_funnel(r, tmp_path / f"funnel{suffix}")
    assert funnel.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_png_has_a_sensible_size(tmp_path: Path) -> None:
    width, height = png_size(save_forest(report(), tmp_path / "f.png"))
    assert 1500 < width < 4000 and 800 < height < 2000
    assert width > height  # 14 studies: wider than tall


def test_unknown_plot_type(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="unknown plot type"):
        save_forest(report(), tmp_path / "f.gif")
    assert not list(tmp_path.iterdir())


def test_cli_plot_and_funnel(tmp_path: Path) -> None:
    forest, funnel = tmp_path / "forest.png", tmp_path / "funnel.svg"
    result = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "--plot",
                                      str(forest), "--funnel", str(funnel)])
    assert result.exit_code == 0, result.output
    assert png_size(forest)[0] > 1500
    assert b"<svg" in funnel.read_bytes()[:500]
    again = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "--plot",
                                     str(forest)])
    assert again.exit_code == 73


def test_cis_past_the_axis_end_in_arrows(tmp_path: Path) -> None:
    sheet = tmp_path / "wide.csv"
    sheet.write_text("study,events_1,total_1,events_2,total_2\nTiny,0,5,4,5\n"
                     "Big,30,100,40,100\nMid,10,50,12,50\n", encoding="utf-8")
    fig = forest_plot(report(sheet))
    ax = fig.axes[0]
    arrows = [line for line in ax.lines if line.get_marker() == "<"]
    assert len(arrows) == 1  # Tiny's lower CI bound (about 0.001) is below the axis
    assert arrows[0].get_xdata()[0] == pytest.approx(ax.get_xlim()[0])


@pytest.mark.parametrize("suffix", [".svg", ".pdf", ".png"])
def test_the_same_plot_gives_the_same_bytes(tmp_path: Path, suffix: str) -> None:
    """No creation dates or random SVG ids: report.html is the same for identical runs."""
    import time

    r = report()
    first = save_forest(r, tmp_path / f"a{suffix}").read_bytes()
    time.sleep(1.1)  # a creation date (to the second) would differ now
    second = save_forest(r, tmp_path / f"b{suffix}").read_bytes()
    assert first == second
    assert save_funnel(r, tmp_path / f"c{suffix}").read_bytes() == save_funnel(
        r, tmp_path / f"d{suffix}").read_bytes()
    if suffix == ".svg":
        assert b"<dc:date>" not in first
    if suffix == ".pdf":
        assert b"/CreationDate" not in first
