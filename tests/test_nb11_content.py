"""The conclusions notebook 11 prints about the shipped small VGG, pinned with the notebook's own data.

Notebook 11 asserts them too (nbval runs it); here they fail fast, by name, without the
notebook. If a retrained ``data/small_vgg.pt`` or a change to Grad-CAM makes one false, the
notebook's wording must change with it. Another test pins the meaning of the own / other /
both measures, as notebook 11 defines them in prose, on maps whose answers are planted; the
last, that exercise 3's check rejects two wrong ways to rank (one used to pass).
"""

import pytest
import torch

from course_utils.data import ShapesDataset, TwoShapesDataset
from course_utils.gradcam import GradCAM
from course_utils.gradcam.metrics import class_discrimination, score_shapes, score_two_shapes
from course_utils.gradcam.sanity import cascading_randomization, gradcam_explainer, guided_backprop_explainer
from course_utils.small_vgg import RECIPE, SMALL_VGG_INPUT, load_small_vgg

pytestmark = pytest.mark.usefixtures("one_thread")
LAYERS = ["relu3_2", "relu4_2", "relu5_2"]


@pytest.fixture(scope="module")
def small():
    return load_small_vgg(device="cpu")


@pytest.fixture(scope="module")
def held_out():
    """The notebook's held-out images: 200 one-shape and 200 two-shape images from the recipe's test seed."""
    seed = RECIPE["test_seed"]
    return ShapesDataset(200, seed=seed, size=SMALL_VGG_INPUT), TwoShapesDataset(200, seed=seed, size=SMALL_VGG_INPUT)


def test_one_block_before_the_last_conv_layer_locates_objects_best(small, held_out):
    one, two = held_out
    scores = {n: score_shapes(GradCAM(small, n), one) for n in LAYERS}
    discrimination = {n: score_two_shapes(GradCAM(small, n), two) for n in LAYERS}
    best = max(LAYERS, key=lambda n: discrimination[n].both_rate)
    assert best == "relu4_2", {n: d.both_rate for n, d in discrimination.items()}
    assert scores["relu4_2"].hit_rate > scores["relu5_2"].hit_rate
    assert scores["relu4_2"].mean_energy > scores["relu5_2"].mean_energy
    assert discrimination["relu4_2"].own_rate > discrimination["relu5_2"].own_rate
    assert scores["relu4_2"].hit_rate > 2 * scores["relu4_2"].chance


def test_sanity_check_ordering_as_notebook_11_states_it(small, held_out):
    one, _ = held_out
    images = torch.stack([one[i][0] for i in range(24)])
    labels = torch.tensor([one[i][1] for i in range(24)])
    gradcam_run = cascading_randomization(small, images, labels, gradcam_explainer("relu4_2"))
    gc, gb = gradcam_run.mean(), cascading_randomization(small, images, labels, guided_backprop_explainer()).mean()
    steps = gradcam_run.steps
    after_fc, deep = steps.index("fc6"), steps.index("conv4_1")
    assert gb[after_fc] > gc[after_fc]
    assert gb[deep] > gc[deep] + 0.3
    assert gc[-1] < 0.5


def test_own_other_both_mean_what_notebook_11_says():
    """own: the map's peak on the object of the class it explains; other: on the other object;
    both: per image, both maps on their own objects; energy margin: own energy minus other, averaged."""
    masks = torch.zeros(2, 2, 8, 8)              # (image, class, H, W)
    masks[:, 0, :4, :4] = 1                      # class 0's object, top left
    masks[:, 1, 4:, 4:] = 1                      # class 1's object, bottom right
    maps = torch.zeros(2, 2, 8, 8)
    maps[0, 0, 1, 1] = maps[0, 1, 6, 6] = 1.0    # image 0: each map on its own object
    maps[1, 0, 6, 6] = 1.0                       # image 1: class 0's map on the other object ...
    maps[1, 1, 0, 7] = 1.0                       # ... and class 1's on the background
    d = class_discrimination(maps, masks)
    assert d.own_hit.tolist() == [[True, True], [False, False]]
    assert d.other_hit.tolist() == [[False, False], [True, False]]
    assert (d.own_rate, d.other_rate, d.both_rate) == (0.5, 0.25, 0.5)
    assert d.energy_margin == pytest.approx((1 + 1 - 1 + 0) / 4)


def test_spearman_check_rejects_dense_and_argsort_ranks(capsys):
    """Exercise 3 of notebook 11: dense ranks (torch.unique's inverse) used to pass check_spearman."""
    from course_utils.exercises import nb11

    def pearson_of(rank):
        def spearman_corr(a, b):
            ra, rb = rank(a.flatten()).double(), rank(b.flatten()).double()
            ra, rb = ra - ra.mean(), rb - rb.mean()
            return float(ra @ rb / (ra.norm() * rb.norm()))
        return spearman_corr

    assert nb11.check_spearman(pearson_of(lambda v: torch.unique(v, return_inverse=True)[1])) is False
    assert "ranks must skip" in capsys.readouterr().out
    assert nb11.check_spearman(pearson_of(lambda v: v.argsort())) is False
    assert "*positions*" in capsys.readouterr().out


# --- what the course's metrics say of the shipped model ---------------------------------------

def test_gradcam_points_at_the_object_well_above_chance(small, held_out):
    one, two = held_out
    cam = GradCAM(small, "relu4_2")
    scores = score_shapes(cam, one)
    assert scores.hit_rate > 2 * scores.chance, (scores.hit_rate, scores.chance)
    assert scores.mean_energy > scores.chance + 0.1
    d = score_two_shapes(cam, two)
    assert d.own_rate > d.other_rate + 0.2, (d.own_rate, d.other_rate)
    assert d.energy_margin > 0


def test_sanity_check_gradcam_decorrelates_guided_backprop_does_not(small, held_out):
    one, _ = held_out
    x = torch.stack([one[i][0] for i in range(12)])
    y = torch.tensor([one[i][1] for i in range(12)])
    gc = cascading_randomization(small, x, y, gradcam_explainer("relu4_2"))
    gb = cascading_randomization(small, x, y, guided_backprop_explainer())
    steps = gc.steps
    assert steps == gb.steps and steps[0] == "original" and steps[-1] == "conv1_1"
    at = steps.index("conv4_2")
    assert gc.mean()[-1] < 0.5  # everything random: Grad-CAM's map has changed
    assert gb.mean()[steps.index("fc6")] > 0.9  # classifier random: Guided Backprop has not
    assert gb.mean()[at] > gc.mean()[at] + 0.3
