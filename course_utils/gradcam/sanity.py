"""The model-randomisation sanity check of Adebayo et al. (2018), "Sanity Checks for Saliency Maps".

If an explanation really explains *the model*, then destroying what the model
learned must change the explanation. The cascading test destroys it one layer at
a time, from the top (the logits) down: re-initialise fc8, explain again,
re-initialise fc7 as well, explain again, ... down to conv1_1. After each step
we compare the new map with the original by **Spearman rank correlation** (do
the pixels keep their order from most to least important?).

* A method that depends on the learned weights decorrelates quickly (Grad-CAM).
* Guided Backprop was the paper's surprise: its maps stay highly correlated even
  when most of the network is random. It mostly shows edges of the input, a bit
  like an edge detector, whatever the weights.

Ranks are computed with torch (ties share their average rank), so no SciPy needed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from course_utils.architecture import init_vgg_weights
from course_utils.layer_names import paper_names

Explainer = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def rank(values: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n of a flattened tensor, in float64 on the CPU; tied values share their average rank.

    On the CPU because float64 is what keeps ranks of large maps exact, and Apple's MPS
    has no float64.
    """
    x = values.detach().flatten().cpu()
    sorted_values, order = torch.sort(x, stable=True)
    _, group, counts = torch.unique_consecutive(sorted_values, return_inverse=True, return_counts=True)
    last = counts.cumsum(0).double()  # rank of the last member of each group of ties
    average = last - (counts.double() - 1) / 2
    ranks = torch.empty(x.numel(), dtype=torch.float64, device=x.device)
    ranks[order] = average[group]
    return ranks


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two maps of the same shape, in [-1, 1].

    It is the Pearson correlation of the ranks. A constant map (e.g. all zero)
    has no order at all; we score it 0 (no agreement) rather than NaN.
    """
    if a.shape != b.shape:
        raise ValueError(f"maps must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    ra, rb = rank(a), rank(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = ra.norm() * rb.norm()
    return 0.0 if denom == 0 else float((ra @ rb) / denom)


def cascade_order(model: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """Layers with weights, from the output down: [("fc8", [Linear]), ..., ("conv1_1", [Conv2d, BN])].

    A batch-norm layer is randomised together with the conv it follows.
    """
    modules = dict(model.named_modules())
    steps: list[tuple[str, list[nn.Module]]] = []
    for name, dotted in paper_names(model).items():
        module = modules[dotted]
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            steps.append((name, [module]))
        elif isinstance(module, nn.BatchNorm2d) and steps:
            steps[-1][1].append(module)
    return steps[::-1]


def randomize_(modules: list[nn.Module], generator_seed: int) -> None:
    """Re-initialise ``modules`` in place the way a fresh VGG is initialised (seeded).

    The global random state is put back afterwards, on the CPU and on any CUDA device the
    modules live on (``nn.init`` draws on the generator of the parameters' device).
    """
    cuda = sorted({p.device.index or 0 for m in modules for p in m.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(generator_seed)
        for module in modules:
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                nn.init.uniform_(module.weight, 0.5, 1.5)
                nn.init.normal_(module.bias, 0, 0.1)
            else:
                init_vgg_weights(module)


@dataclass
class SanityResult:
    """Rank correlation with the original map after each cascading step.

    ``steps[0]`` is "original" (correlation 1); ``steps[k]`` names the lowest
    layer randomised so far. ``correlations`` is (steps, B); ``maps`` is a list of
    (B, H, W) maps, one per step, for figures.
    """

    steps: list[str]
    correlations: torch.Tensor
    maps: list[torch.Tensor]

    def mean(self) -> list[float]:
        """Mean correlation over the images, one number per step."""
        return self.correlations.mean(dim=1).tolist()


def cascading_randomization(
    model: nn.Module, x: torch.Tensor, targets: torch.Tensor, explain: Explainer,
    seed: int = 0, stop_after: str | None = None,
) -> SanityResult:
    """Run Adebayo et al.'s cascading test with ``explain(model, x, targets) -> (B, H, W)`` maps.

    ``model`` itself is never touched: the test randomises a deep copy.
    ``stop_after`` (a paper name such as "conv4_1") ends the cascade early.
    The same ``targets`` (usually the true labels) are explained at every step.
    """
    targets = torch.as_tensor(targets)
    work = copy.deepcopy(model).eval()
    original = explain(work, x, targets).detach()
    steps, maps = ["original"], [original]
    rows = [[1.0] * len(x)]
    for k, (name, modules) in enumerate(cascade_order(work)):
        randomize_(modules, seed + k)
        current = explain(work, x, targets).detach()
        steps.append(name)
        maps.append(current)
        rows.append([spearman(original[i], current[i]) for i in range(len(x))])
        if name == stop_after:
            break
    return SanityResult(steps, torch.tensor(rows), maps)


def gradcam_explainer(layer: str | None = None) -> Explainer:
    """Grad-CAM maps at ``layer`` (default: the last conv ReLU) as an explainer."""
    from course_utils.gradcam.gradcam import GradCAM

    return lambda model, x, targets: GradCAM(model, layer)(x, targets)


def guided_backprop_explainer() -> Explainer:
    """Guided Backprop as (B, H, W): absolute value, maximum over the colour channels."""
    from course_utils.gradcam.guided import GuidedBackprop

    return lambda model, x, targets: GuidedBackprop(model)(x, targets).abs().amax(dim=1)
