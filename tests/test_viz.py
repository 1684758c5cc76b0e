"""viz: the course's figures draw what they are given."""

from __future__ import annotations

from matplotlib.figure import Figure

from course_utils.data import CLASSES, ShapesDataset, TwoShapesDataset
from course_utils.viz import plot_samples


def test_plot_samples_titles_each_image_with_its_class():
    fig = plot_samples(ShapesDataset(10, seed=0), n=6, ncols=3)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [CLASSES[i % len(CLASSES)] for i in range(6)]
    fig2 = plot_samples(TwoShapesDataset(4, seed=0), n=4, show_masks=True)
    assert all("+" in ax.get_title() for ax in fig2.axes[:4])
