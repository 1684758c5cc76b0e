"""course_utils.layer_names: the paper's layer names and PyTorch's module names, both ways.

The expected module names are read off torchvision's own VGGs (``print(vgg16.features)``).
"""

from __future__ import annotations

import pytest
from meta_models import meta_torchvision, meta_vgg

from course_utils.architecture import CONFIGS
from course_utils.layer_names import (
    LayerNameError,
    get_layer,
    last_conv_relu,
    module_names,
    paper_names,
    resolve_layer,
    to_module_name,
)

# --- Layer names, both ways ------------------------------------------------------------------

@pytest.mark.parametrize("name,paper,module", [
    ("vgg16", "conv5_3", "features.28"),
    ("vgg16", "relu5_3", "features.29"),
    ("vgg16", "pool5", "features.30"),
    ("vgg16", "conv1_1", "features.0"),
    ("vgg16", "fc6", "classifier.0"),
    ("vgg16", "fc8", "classifier.6"),
    ("vgg11", "conv5_2", "features.18"),
    ("vgg11", "relu5_2", "features.19"),
    ("vgg11", "pool5", "features.20"),
    ("vgg16_bn", "conv5_3", "features.40"),
    ("vgg16_bn", "bn5_3", "features.41"),
    ("vgg16_bn", "relu5_3", "features.42"),
    ("vgg19", "relu5_4", "features.35"),
])
def test_paper_names_map_both_ways_on_torchvision_models(name, paper, module):
    model = meta_torchvision(name)
    assert to_module_name(model, paper) == module
    assert module_names(model)[module] == paper


@pytest.mark.parametrize("key", list(CONFIGS))
@pytest.mark.parametrize("batch_norm", [False, True])
def test_every_name_round_trips(key, batch_norm):
    model = meta_vgg(key, batch_norm)
    names = paper_names(model)
    modules = dict(model.named_modules())
    for paper, module in names.items():
        assert module_names(model)[to_module_name(model, paper)] == paper
        assert get_layer(model, paper) is modules[module] is get_layer(model, module)
    leaves = {n for n, m in model.named_modules() if n and not list(m.children())}
    assert set(names.values()) == leaves - {"avgpool"}  # every layer has a paper name


def test_vgg11_has_no_conv5_3_and_the_error_lists_its_layers():
    vgg11 = meta_vgg("vgg11")
    with pytest.raises(LayerNameError) as err:
        to_module_name(vgg11, "conv5_3")
    message = str(err.value)
    assert "conv5_3" in message and "conv5_2" in message and "relu5_2" in message and "fc8" in message
    with pytest.raises(LayerNameError, match="conv5_2"):
        get_layer(vgg11, "conv5_3")
    assert last_conv_relu(vgg11) == "relu5_2"
    assert last_conv_relu(meta_vgg("vgg16")) == "relu5_3"
    # what Grad-CAM hooks by default, and any layer given by either name or as the module
    assert resolve_layer(vgg11) == (vgg11.features[19], "relu5_2")  # VGG11: conv5_2 is features.18
    assert resolve_layer(vgg11, "features.2") == resolve_layer(vgg11, vgg11.features[2]) == (vgg11.features[2], "pool1")
