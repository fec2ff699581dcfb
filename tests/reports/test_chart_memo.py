"""Chart images are remembered by their data: the same chart is drawn once, a different one
(even one whose values only compare equal) is drawn again."""

import io

import pytest
from PIL import Image

from workbench.reports import render
from workbench.reports.context import Chart


@pytest.fixture(autouse=True)
def empty_memo():
    render.clear_chart_memo()
    yield
    render.clear_chart_memo()


def chart(values, title="各一级指标得分率"):
    return Chart(title, ["决策", "过程"], {"得分率": values})


def test_the_same_chart_is_drawn_once(monkeypatch):
    drawn = []
    draw = render._draw_chart
    monkeypatch.setattr(render, "_draw_chart", lambda c: drawn.append(c) or draw(c))
    first = render.chart_png(chart([83.87, 86.6]))
    again = render.chart_png(chart([83.87, 86.6]))  # a new, equal Chart object
    assert again == first and len(drawn) == 1
    assert Image.open(io.BytesIO(first)).format == "PNG"
    other = render.chart_png(chart([83.87, 86.7]))
    assert other != first and len(drawn) == 2
    render.chart_png(chart([83.87, 86.6], title="各题满意度分布（%）"))
    assert len(drawn) == 3


def test_values_that_compare_equal_but_print_differently_are_not_confused():
    # 0.0 == -0.0, but the bar label reads "0.00%" and "-0.00%"
    assert render.chart_png(chart([0.0, 50.0])) != render.chart_png(chart([-0.0, 50.0]))


def test_the_memo_keeps_the_most_recently_used_charts(monkeypatch):
    monkeypatch.setattr(render, "CHART_MEMO", 2)
    drawn = []
    draw = render._draw_chart
    monkeypatch.setattr(render, "_draw_chart", lambda c: drawn.append(c) or draw(c))
    for values in ([10.0, 20.0], [30.0, 40.0], [10.0, 20.0], [50.0, 60.0]):
        render.chart_png(chart(values))
    assert len(drawn) == 3  # [10, 20] came from the memo the second time
    render.chart_png(chart([10.0, 20.0]))  # used more recently than [30, 40]: still there
    assert len(drawn) == 3
    render.chart_png(chart([30.0, 40.0]))  # dropped when [50, 60] came in
    assert len(drawn) == 4


def test_the_png_has_the_pixels_savefig_writes():
    # charts are encoded from the drawn canvas (RGB, zlib level 3), not by savefig: the
    # image a reader sees must be the same, pixel for pixel
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 1.5), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.barh(["a", "b"], [30.0, 70.0], color="#2f5597")
    ax.set_title("t")
    fig.tight_layout()
    canvas.draw()
    ours = Image.open(io.BytesIO(render._png(canvas)))
    out = io.BytesIO()
    fig.savefig(out, format="png")
    theirs = Image.open(io.BytesIO(out.getvalue()))
    assert ours.size == theirs.size == (300, 150)
    assert ours.mode == "RGB" and theirs.mode == "RGBA"
    assert np.array_equal(np.asarray(ours), np.asarray(theirs.convert("RGB")))
    assert np.asarray(theirs)[..., 3].min() == 255  # opaque: RGB drops nothing


def test_a_drawn_chart_is_a_png_of_the_figure_size():
    png = render.chart_png(chart([83.87, 86.6]))
    image = Image.open(io.BytesIO(png))
    # 6.3 in wide at 200 dpi; 0.5 + 0.45 per label in high
    assert image.format == "PNG" and image.size == (1260, 280)
