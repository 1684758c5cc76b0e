"""The conclusions notebook 11 prints about the shipped small VGG, pinned with the notebook's own data.

Notebook 11 asserts them too (nbval runs it); here they fail fast, by name, without the
notebook. If a retrained ``data/small_vgg.pt`` or a change to Grad-CAM makes one false, the
notebook's wording must change with it.
"""

import pytest
import torch

from course_utils.data import ShapesDataset, TwoShapesDataset
from course_utils.gradcam import GradCAM
from course_utils.gradcam.metrics import score_shapes, score_two_shapes
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


def test_sanity_check_ordering_as_notebook_08_states_it(small, held_out):
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
