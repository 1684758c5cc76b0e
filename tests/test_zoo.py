"""course_utils.zoo: metadata read right, offline; latency measured on the real architecture."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
import torchvision

from course_utils.benchmark import Timing
from course_utils.counting import count_parameters
from course_utils.zoo import (
    ZOO,
    build_random,
    cards_markdown,
    measure_latency,
    model_card,
    plot_latency,
    plot_tradeoff,
    recipes_markdown,
    zoo_cards,
)


def test_the_zoo_has_the_architectures_the_course_compares():
    assert set(ZOO) == {"vgg11", "vgg16", "vgg19", "resnet18", "resnet50",
                        "inception_v3", "efficientnet_b0", "convnext_tiny"}


def test_vgg16_card_matches_torchvisions_documentation():
    c = model_card("vgg16")
    assert (c.acc1, c.acc5, c.params, c.gflops, c.input_size) == (71.592, 90.382, 138_357_544, 15.47, 224)
    assert c.weights == "VGG16_Weights.IMAGENET1K_V1" and c.name == "VGG16"


def test_inception_wants_299_and_the_rest_224():
    sizes = {c.arch: c.input_size for c in zoo_cards()}
    assert sizes.pop("inception_v3") == 299
    assert set(sizes.values()) == {224}


def test_each_card_states_its_recipe_as_torchvision_documents_it():
    """IMAGENET1K_V1 is a name, not a recipe: VGG/ResNet trained by torchvision, Inception/EfficientNet
    ported, ConvNeXt from the modern recipe (torchvision's references/classification README)."""
    cards = {c.arch: c for c in zoo_cards()}
    for arch in ("vgg11", "vgg16", "vgg19"):
        assert cards[arch].recipe.endswith("references/classification#alexnet-and-vgg")
        assert "simplified training recipe" in cards[arch].provenance
    for arch in ("inception_v3", "efficientnet_b0"):
        assert "ported" in cards[arch].provenance
    assert "new training recipe" in cards["convnext_tiny"].provenance
    assert cards["convnext_tiny"].recipe.endswith("#convnext")
    # reStructuredText link markup is stripped to its text: no backticks, no bare URL in the sentence
    assert all("`" not in c.provenance and "<http" not in c.provenance for c in cards.values())


def test_recipes_table_has_one_row_per_card_with_the_link():
    cards = zoo_cards(["vgg16", "convnext_tiny"])
    table = recipes_markdown(cards)
    assert table.count("\n") == 3
    assert "| VGG16 | `VGG16_Weights.IMAGENET1K_V1` | 71.6 | These weights were trained from scratch" in table
    assert "(https://github.com/pytorch/vision/tree/main/references/classification#convnext)" in table


def test_the_weights_choice_is_honoured():
    assert model_card("resnet50").acc1 == 76.13
    assert model_card("resnet50", "IMAGENET1K_V2").acc1 == 80.858


@pytest.mark.parametrize("arch", list(ZOO))
def test_metadata_parameter_counts_match_the_built_architecture(arch):
    model = build_random(arch, device="meta")  # shapes only: instant, no memory
    assert count_parameters(model) == model_card(arch).params


@pytest.mark.filterwarnings("ignore:The default weight initialization of inception_v3:FutureWarning")
@pytest.mark.parametrize("arch", list(ZOO))
def test_build_options_change_only_the_initialisation(arch):
    """The same layers, names and shapes as torchvision's own build of ``arch``."""
    with torch.device("meta"):
        plain = torchvision.models.get_model(arch, weights=None)
    shapes = {name: t.shape for name, t in plain.state_dict().items()}
    assert {name: t.shape for name, t in build_random(arch, device="meta").state_dict().items()} == shapes
    assert str(build_random(arch, device="meta")) == str(plain.eval())


def test_unknown_architecture_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown architecture 'vgg20'.*vgg11, vgg16"):
        model_card("vgg20")
    with pytest.raises(ValueError, match="unknown architecture"):
        build_random("alexnet")


def test_build_random_gives_a_working_eval_model():
    model = build_random("resnet18")
    assert not model.training
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_measure_latency_times_the_right_input(monkeypatch):
    seen = []
    original = torch.nn.Conv2d.forward

    def spy(self, x):
        seen.append(tuple(x.shape))
        return original(self, x)

    monkeypatch.setattr(torch.nn.Conv2d, "forward", spy)
    timing = measure_latency("efficientnet_b0", batch_size=2, warmup=1, repeats=1)
    assert isinstance(timing, Timing) and timing.repeats == 1 and timing.median_s > 0
    assert seen[0] == (2, 3, 224, 224)
    first_convs = [s for s in seen if s[1:] == (3, 224, 224)]
    assert len(first_convs) == 2  # one warm-up + one timed call


def test_markdown_table_has_one_row_per_model_and_optional_latency():
    cards = zoo_cards(["vgg11", "resnet18"])
    table = cards_markdown(cards)
    assert table.count("\n") == 3 and "| VGG11 | 2014 | 69.0 | 88.6 | 132.9 | 7.61 | 224 |" in table
    with_latency = cards_markdown(cards, {"vgg11": 812.4})
    assert "| 812 |" in with_latency and "| - |" in with_latency
    assert "| cuda latency (ms) |" in cards_markdown(cards, {}, latency_label="cuda latency (ms)")


def test_plots_draw_one_point_or_bar_per_model():
    cards = zoo_cards()
    fig = plot_tradeoff(cards, "params")
    ax = fig.axes[0]
    assert len(ax.collections) == len(cards) and ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="'gflops' or 'params'"):
        plot_tradeoff(cards, "latency")
    fig = plot_latency(cards, {c.arch: 10.0 * (i + 1) for i, c in enumerate(cards)})
    assert len(fig.axes[0].patches) == len(cards)
    with pytest.raises(ValueError, match="no latency measured"):
        plot_latency(cards, {})
    plt.close("all")
