"""Dense evaluation (course_utils.dense): VGG's classifier as convolutions gives the same logits.

The expected values come from the original model's own forward pass (AdaptiveAvgPool2d,
flatten, Linear layers), a different code path from the converted convolutions.
"""

import pytest
import torch
import torchvision
from torch import nn

from course_utils.architecture import build_vgg
from course_utils.dense import fully_convolutional, linear_to_conv


def _narrow_vgg(config: str = "A", seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_vgg(config, width=0.125).eval()  # 8..64 channels, 512-wide FC layers: fast on a CPU
    for p in model.classifier.parameters():  # the default N(0, 0.01) init makes tiny logits; larger ones test more
        nn.init.normal_(p, 0, 0.05)
    return model


def _close(dense: torch.Tensor, reference: torch.Tensor) -> bool:
    # Different kernels (a matrix multiply against a 7x7 convolution) add floats in a different order.
    return torch.allclose(dense, reference, rtol=1e-4, atol=1e-5 * reference.abs().max().item())


def test_same_logits_at_224_narrow_vgg():
    model = _narrow_vgg()
    x = torch.randn(3, 3, 224, 224)
    with torch.inference_mode():
        reference = model(x)
        score_map = fully_convolutional(model)(x)
    assert score_map.shape == (3, 1000, 1, 1)  # 224 / 32 = 7, and a 7x7 window fits once
    assert _close(score_map.flatten(1), reference)
    assert reference.abs().max() > 0.1  # not a trivially tiny comparison


def test_same_logits_at_224_full_vgg16_shapes():
    torch.manual_seed(1)
    model = torchvision.models.vgg16().eval()  # torchvision's own VGG16, random weights
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        reference = model(x)
        dense = fully_convolutional(model)(x).flatten(1)
    assert _close(dense, reference)


def test_each_position_of_the_score_map_is_the_classifier_on_one_7x7_window():
    model = _narrow_vgg("D", seed=2)
    x = torch.randn(1, 3, 256, 320)  # pool5 is 8 x 10, so the 7x7 windows give a 2 x 4 score map
    with torch.inference_mode():
        score_map = fully_convolutional(model)(x)
        pool5 = model.features(x)
        by_window = torch.stack([
            torch.stack([model.classifier(pool5[:, :, i:i + 7, j:j + 7].flatten(1))[0] for j in range(4)], dim=-1)
            for i in range(2)
        ], dim=-2)
    assert score_map.shape == (1, 1000, 2, 4)
    assert _close(score_map[0], by_window)


def test_converted_layers_share_the_linear_weights():
    model = _narrow_vgg()
    dense = fully_convolutional(model)
    fc6 = dense.head[0]
    assert fc6.weight.shape == (512, 64, 7, 7) and fc6.kernel_size == (7, 7)
    assert fc6.weight.data_ptr() == model.classifier[0].weight.data_ptr()  # a view: no 400 MB copy for VGG16
    assert dense.features is model.features
    assert [m.kernel_size for m in dense.head if isinstance(m, nn.Conv2d)] == [(7, 7), (1, 1), (1, 1)]


def test_bad_inputs_say_what_to_do():
    dense = fully_convolutional(_narrow_vgg())
    with pytest.raises(ValueError, match="at least 224"):
        dense(torch.randn(1, 3, 200, 300))
    with pytest.raises(ValueError, match="check in_channels"):
        linear_to_conv(nn.Linear(100, 10), in_channels=3, kernel_size=7)
    with pytest.raises(ValueError, match="expects a VGG"):
        fully_convolutional(nn.Sequential(nn.Linear(3, 3)))


def test_filters_read_in_place_restores_onednn_even_after_an_error():
    from course_utils.dense import filters_read_in_place

    before = torch.backends.mkldnn.enabled
    with pytest.raises(RuntimeError), filters_read_in_place():
        assert torch.backends.mkldnn.enabled is False
        raise RuntimeError("inside")
    assert torch.backends.mkldnn.enabled == before


# fc6 as a convolution: oneDNN would copy its 392 MiB of filters before the first window. Run in a
# fresh process, where the peak resident memory belongs to this measurement alone.
_DENSE_PEAK = """
import torch
def hwm():  # this process's peak resident memory in KiB (ru_maxrss would include the parent's, from fork)
    return int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")))
from torch import nn
from course_utils.dense import fully_convolutional
with torch.device("meta"):
    import torchvision
    model = torchvision.models.vgg16()
model = model.to_empty(device="cpu").eval()
for p in model.parameters():
    nn.init.normal_(p, std=0.01)
dense = fully_convolutional(model)
with torch.inference_mode():
    dense.features(torch.zeros(1, 3, 224, 224))  # the features' own cost, out of the way
    before = hwm()
    dense(torch.zeros(1, 3, 224, 224))
print((hwm() - before) // 1024)
"""


def test_the_dense_head_does_not_copy_fc6():
    import os
    import subprocess
    import sys

    grown = int(subprocess.run([sys.executable, "-c", _DENSE_PEAK], capture_output=True, text=True,
                               check=True, env=os.environ).stdout.split()[-1])
    assert grown < 100, f"running the dense head grew the peak by {grown} MiB (fc6's filters are 392 MiB)"
