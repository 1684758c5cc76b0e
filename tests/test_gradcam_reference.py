"""Our maps equal the reference libraries' within float tolerance.

Reference libraries (test extra only, pinned in pyproject): pytorch-grad-cam
(``pytorch_grad_cam``) and captum. Where they differ from us *on purpose*, the
test says so and compares the quantity that is comparable:

* pytorch-grad-cam scales a map to [0, 1] by min-max, *both* at the layer's
  resolution and again after resizing; we divide by the maximum once, after
  resizing (as the Grad-CAM paper's code does). Bilinear resizing is an affine
  average, so min-max(resize(min-max(m))) = min-max(resize(m)): we apply
  ``scale_maps(..., subtract_min=True)`` to our ReLU'd, upsampled map and compare.
  Its resize is cv2.resize(INTER_LINEAR), ours F.interpolate(bilinear,
  align_corners=False); both use half-pixel centres, so they agree.
* pytorch-grad-cam's Grad-CAM++ adds eps = 1e-6 to the denominator of alpha;
  ours defaults to the authors' 0, so we pass eps=1e-6 here.
* captum's LayerGradCam returns the raw map at the layer's resolution, before
  the ReLU (relu_attributions=False): we compare our ``raw`` with it directly.

Random-weight torchvision VGGs (seeded, weights=None) at small inputs keep it fast.
"""

import warnings

import pytest
import torch
import torch.nn.functional as F
import torchvision

from course_utils.gradcam import GradCAM, GradCAMPlusPlus, GuidedBackprop, scale_maps, upsample
from course_utils.layer_names import get_layer


# The libraries are imported when a test first needs them, not when the file is collected: they
# bring scikit-learn and SciPy (about 2 s), which every test worker would pay while collecting.
@pytest.fixture(scope="module")
def pgc():
    return pytest.importorskip("pytorch_grad_cam")


@pytest.fixture(scope="module")
def captum_attr():
    return pytest.importorskip("captum.attr")


@pytest.fixture(scope="module")
def class_target(pgc):
    """pytorch-grad-cam's way to name the class to explain: ``class_target(281)``."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    return ClassifierOutputTarget

LAST_RELU = {"vgg11": "relu5_2", "vgg16": "relu5_3"}


@pytest.fixture(scope="module", params=["vgg11", "vgg16"])
def model(request):
    torch.manual_seed(0)
    m = torchvision.models.get_model(request.param, weights=None).eval()
    m.arch = request.param
    # Speed only: pytorch-grad-cam runs a full loss.backward(). Leaving requires_grad on
    # just the first conv still makes autograd record the whole network (so the layer
    # gradient it hooks is there) but skips computing 100M+ classifier weight gradients.
    # The maps do not depend on these flags.
    for name, p in m.named_parameters():
        p.requires_grad_(name.startswith("features.0."))
    return m


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # captum warns about its ReLU hooks
        yield


def comparable(raw: torch.Tensor, size) -> torch.Tensor:
    """Our raw map post-processed the way pytorch-grad-cam does (see module docstring)."""
    return scale_maps(upsample(F.relu(raw), size), subtract_min=True)


def inputs(h, w, b=2, seed=3):
    return torch.randn(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


# (input height, width, targets): a non-square input and a batch with different targets,
# in one case to keep the run short; the square case runs once, in test_square_input.
CASES = [(96, 128, [3, 811])]


def ours_at(model, which: str, h: int, w: int, targets: list[int]):
    """(input, our Grad-CAM result, the layer's module) at ``which``: "last_relu" or "pool5"."""
    name = LAST_RELU[model.arch] if which == "last_relu" else "pool5"
    x = inputs(h, w)
    return x, GradCAM(model, name).explain(x, targets), get_layer(model, name)


@pytest.mark.parametrize("which", ["last_relu", "pool5"])
@pytest.mark.parametrize("h, w, targets", CASES)
def test_gradcam_equals_pytorch_grad_cam(model, which, h, w, targets, pgc, class_target):
    x, ours, layer = ours_at(model, which, h, w, targets)
    with pgc.GradCAM(model, [layer]) as theirs:
        expected = torch.from_numpy(theirs(x, [class_target(t) for t in targets]))
    assert expected.shape == ours.maps.shape == (2, h, w)
    torch.testing.assert_close(comparable(ours.raw, (h, w)), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("which", ["last_relu", "pool5"])
@pytest.mark.parametrize("h, w, targets", CASES)
def test_gradcam_raw_map_equals_captum(model, which, h, w, targets, captum_attr):
    x, ours, layer = ours_at(model, which, h, w, targets)
    theirs = captum_attr.LayerGradCam(model, layer).attribute(x, target=targets)
    assert theirs.shape == (2, 1) + ours.raw.shape[1:]
    scale = ours.raw.abs().max()
    torch.testing.assert_close(ours.raw / scale, theirs[:, 0] / scale, rtol=0, atol=1e-5)
    # with ReLU and captum's bilinear interpolation, the upsampled maps agree too
    theirs_up = captum_attr.LayerAttribution.interpolate(
        captum_attr.LayerGradCam(model, layer).attribute(x, target=targets, relu_attributions=True),
        (h, w), interpolate_mode="bilinear")
    torch.testing.assert_close(upsample(F.relu(ours.raw), (h, w)) / scale, theirs_up[:, 0] / scale, rtol=0, atol=1e-5)


def test_square_input_same_target(model, pgc, class_target):
    x = inputs(64, 64)
    name = LAST_RELU[model.arch]
    ours = GradCAM(model, name).explain(x, [7, 7])
    with pgc.GradCAM(model, [get_layer(model, name)]) as theirs:
        expected = torch.from_numpy(theirs(x, [class_target(7)] * 2))
    torch.testing.assert_close(comparable(ours.raw, (64, 64)), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("h, w, targets", CASES)
def test_gradcam_plus_plus_equals_pytorch_grad_cam(model, h, w, targets, pgc, class_target):
    name = LAST_RELU[model.arch]
    x = inputs(h, w)
    ours = GradCAMPlusPlus(model, name, eps=1e-6).explain(x, targets)  # their eps, see docstring
    with pgc.GradCAMPlusPlus(model, [get_layer(model, name)]) as theirs:
        expected = torch.from_numpy(theirs(x, [class_target(t) for t in targets]))
    torch.testing.assert_close(comparable(ours.raw, (h, w)), expected, rtol=0, atol=1e-4)


def test_guided_backprop_equals_captum(model, captum_attr):
    x = inputs(96, 128)
    targets = [3, 811]
    ours = GuidedBackprop(model)(x, targets)
    theirs = captum_attr.GuidedBackprop(model).attribute(x.clone(), target=targets)
    scale = ours.abs().max()
    assert scale > 0
    torch.testing.assert_close(ours / scale, theirs / scale, rtol=0, atol=1e-5)
