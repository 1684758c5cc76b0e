"""viz: the course's figures draw what they are given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from course_utils.data import CLASSES, ShapesDataset, TwoShapesDataset
from course_utils.inference import topk
from course_utils.training import History
from course_utils.viz import plot_confusion_matrix, plot_history, plot_samples, plot_topk


def test_plot_samples_titles_each_image_with_its_class():
    fig = plot_samples(ShapesDataset(10, seed=0), n=6, ncols=3)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [CLASSES[i % len(CLASSES)] for i in range(6)]
    fig2 = plot_samples(TwoShapesDataset(4, seed=0), n=4, show_masks=True)
    assert all("+" in ax.get_title() for ax in fig2.axes[:4])


# --- training plots -------------------------------------------------------------------------

def test_plot_history_draws_train_and_val_for_each_run():
    h = History([1.0, 0.5], [0.4, 0.8], [1.1, 0.7], [0.3, 0.7], [0.01, 0.01], [1.0, 2.0])
    fig = plot_history({"a": h, "b": h}, x="seconds")
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes[:2]
    assert len(acc_ax.lines) == 4 and list(acc_ax.lines[1].get_xdata()) == [1.0, 2.0]
    assert list(plot_history(h).axes[1].lines[0].get_xdata()) == [1, 2]
    with pytest.raises(ValueError, match="epoch"):
        plot_history(h, x="steps")


def test_plot_confusion_matrix_writes_every_count():
    fig = plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0", "1", "3", "4"]
    with pytest.raises(ValueError, match="classes"):
        plot_confusion_matrix([[1]], ["a", "b"])


def test_plot_topk_draws_one_image_and_one_bar_chart_per_photo():
    rows = topk(torch.softmax(torch.randn(1000), 0), [f"class {i}" for i in range(1000)], k=5)
    fig = plot_topk([torch.rand(8, 8, 3), torch.rand(8, 8, 3)], [rows, rows[:3]], titles=["a", "b"])
    axes = fig.axes
    assert len(axes) == 4
    assert len(axes[1].patches) == 5 and len(axes[3].patches) == 3
    assert [t.get_text() for t in axes[1].get_yticklabels()][-1] == rows[0].name  # most probable on top
    with pytest.raises(ValueError, match="one prediction list per image"):
        plot_topk([torch.rand(8, 8, 3)], [])
    plt.close("all")
