"""What each notebook requires, and workshop plans that respect it.

Notebooks are named without their number ("grad_cam" for ``10_grad_cam.ipynb``), so a
renumbering changes nothing here. Three things live in this module:

* ``REQUIRES``: the notebooks each one builds on. A title cell's **Prerequisites** line names
  them (``tests/test_plans.py`` checks it), and the README's table is generated from it.
* ``DEMOS``: a demo is a defined path through a notebook, the sections the instructor shows on
  the projector and what to say, not "five minutes" for a fifty-minute notebook. Its time is the
  course's time model (``coursesite.study_time``) applied to those sections.
* ``PLANS``: half-day and full-day workshops as 90-minute slots. ``problems`` lists what is wrong
  with a plan: a notebook before one it requires, a slot that overflows, a plan over its length.
  ``make measure`` refuses to write a plan with a problem, and so does the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coursesite import notebook_paths
from coursesite.study_time import Effort, rounded, section_number, sections, study_minutes

REQUIRES: dict[str, tuple[str, ...]] = {
    "setup": (),
    "pytorch_essentials": ("setup",),
    "vgg_architecture": ("pytorch_essentials",),
    "build_vgg_by_hand": ("vgg_architecture",),
    "pretrained_inference": ("pytorch_essentials",),
    "inference_in_depth": ("pretrained_inference", "vgg_architecture"),
    "training_vgg": ("vgg_architecture", "build_vgg_by_hand"),
    "depth_overfitting_checkpoints": ("training_vgg",),
    "transfer_learning": ("pretrained_inference", "training_vgg"),
    "feature_maps": ("vgg_architecture", "pretrained_inference"),
    "grad_cam": ("pretrained_inference", "feature_maps"),
    "checking_explanations": ("grad_cam", "training_vgg"),
    "beyond_vgg": ("vgg_architecture",),
    "scaling_up": ("depth_overfitting_checkpoints",),
}

# The README's "you leave knowing" column (scripts/sync_notebooks.py writes the table).
LEAVE_KNOWING: dict[str, str] = {
    "setup": "your environment works: versions and the PyTorch the course needs, device, weights (verified or "
             "not), data; offline, Colab, Binder",
    "pytorch_essentials": "all the PyTorch the course uses, on VGG's own pieces: tensors and batches, a 3x3 "
                          "convolution by hand equal to `nn.Conv2d`, autograd, `nn.Module` and `state_dict`, "
                          "train/eval, a forward hook, the five-line training loop",
    "vgg_architecture": "configurations A-E, why stacked 3x3, where parameters and FLOPs live, memory; the paper's "
                        "training and testing protocol",
    "build_vgg_by_hand": "VGG written from a config, proven identical to torchvision's",
    "pretrained_inference": "the weights API, inference transforms against the stretch, top-5, and what wrong "
                            "preprocessing does",
    "inference_in_depth": "eval() against train(), no_grad against inference_mode, timing a forward pass, and "
                          "VGG as a fully convolutional net (the paper's dense evaluation)",
    "training_vgg": "training a small VGG: a dataset made in code, the loop, the paper's recipe, curves, batch "
                    "norm (fairly compared)",
    "depth_overfitting_checkpoints": "depth against time, overfitting and what dropout and augmentation do, "
                                     "checkpoints that survive a crash, the shipped model's confusion matrix",
    "transfer_learning": "frozen features vs fine-tuning vs from scratch, measured",
    "feature_maps": "filters and feature maps, block by block, with forward hooks",
    "grad_cam": "CAM, then Grad-CAM from scratch with hooks, the library version, layers, variants",
    "checking_explanations": "explanations checked: ground-truth masks, the pointing game, the sanity check",
    "beyond_vgg": "VGG against ResNet, Inception, EfficientNet, ConvNeXt, measured, with each weights recipe stated",
    "scaling_up": "data parallelism with torchrun + DDP: the same script from a laptop to a cluster (optional)",
}


@dataclass(frozen=True)
class Demo:
    """The sections of a notebook an instructor shows, and the point to make while showing them."""

    sections: tuple[int, ...]
    say: str


DEMOS: dict[str, Demo] = {
    "vgg_architecture": Demo((2, 3), "One recipe, five depths: the configurations are one list each. Two stacked "
                                     "3x3 convolutions see what one 5x5 sees, with fewer weights and one more ReLU."),
    "build_vgg_by_hand": Demo((1, 8), "The whole network is a short list read by a loop; loaded with torchvision's "
                                      "weights it gives torchvision's logits, so it is VGG."),
    "pretrained_inference": Demo((1, 2), "Name the weights with the enum; use its transforms; softmax, then top-5. "
                                         "Show the stand-in warning and what it means."),
    "training_vgg": Demo((1, 3), "A dataset drawn in code, and the five-line loop: forward, loss, zero the "
                                 "gradients, backward, step. Everything else is bookkeeping."),
    "feature_maps": Demo((2, 4), "A forward hook reads any layer's output without changing the model; resolution "
                                 "falls and channels rise, block by block."),
    "transfer_learning": Demo((1, 3), "Freeze the ImageNet features, train a new head: most of the accuracy for "
                                      "a fraction of the training."),
    "checking_explanations": Demo((5,), "Randomise the weights layer by layer: a map that does not change was never "
                                        "about what the model learned."),
}

DISCUSSION_MINUTES = 10  # per hands-on notebook, for its discussion questions
SLOT_MINUTES = 90
BREAK_MINUTES = 15
LUNCH = "lunch"  # a slot list entry: the break for lunch, not counted in the plan's minutes


@dataclass(frozen=True)
class Plan:
    title: str
    minutes: int  # the teaching time, breaks included, lunch not
    before: tuple[str, ...]  # done at home or at the door
    slots: tuple  # each a tuple of ("hands_on" | "demo", name), or LUNCH


PLANS: tuple[Plan, ...] = (
    Plan("Half day (3.5 hours): from a photo to where VGG looks", 210,
         before=("setup", "pytorch_essentials"),
         slots=((("demo", "vgg_architecture"), ("hands_on", "pretrained_inference")),
                (("demo", "feature_maps"), ("hands_on", "grad_cam")))),
    Plan("Full day (6.5 hours of teaching, lunch not counted)", 390,
         before=("setup",),
         slots=((("hands_on", "pytorch_essentials"),),
                (("hands_on", "vgg_architecture"), ("demo", "build_vgg_by_hand")),
                LUNCH,
                (("hands_on", "pretrained_inference"), ("demo", "training_vgg"), ("demo", "transfer_learning")),
                (("demo", "feature_maps"), ("hands_on", "grad_cam"), ("demo", "checking_explanations")))),
)


def by_name(notebooks: list[Path] | None = None) -> dict[str, Path]:
    """{"grad_cam": notebooks/10_grad_cam.ipynb, ...} in teaching order."""
    return {p.stem[3:]: p for p in (notebook_paths() if notebooks is None else notebooks)}


def demo_effort(notebook: Path, demo: Demo) -> Effort:
    """The model's effort for the demo's sections; an unknown section number is an error."""
    found = {section_number("## " + name): effort for name, effort in sections(notebook).items()}
    missing = [n for n in demo.sections if n not in found]
    if missing:
        raise ValueError(f"{notebook.name} has no section {missing}: fix DEMOS in coursesite/plans.py")
    return sum((found[n] for n in demo.sections), Effort())


def item_minutes(kind: str, notebook: Path) -> int:
    """A hands-on notebook: its study time plus discussion. A demo: its sections, by the time model."""
    if kind == "hands_on":
        return study_minutes(notebook) + DISCUSSION_MINUTES
    return rounded(demo_effort(notebook, DEMOS[notebook.stem[3:]]).minutes)


def _slots(plan: Plan) -> list:
    return [slot for slot in plan.slots if slot != LUNCH]


def total_minutes(plan: Plan, notebooks: dict[str, Path]) -> int:
    slots = _slots(plan)
    breaks = (len(slots) - 1 - (LUNCH in plan.slots)) * BREAK_MINUTES
    return sum(item_minutes(k, notebooks[n]) for slot in slots for k, n in slot) + breaks


def problems(plan: Plan, notebooks: dict[str, Path] | None = None) -> list[str]:
    """Everything that makes ``plan`` impossible to follow, in words; [] when it is sound."""
    notebooks = by_name() if notebooks is None else notebooks
    found = []
    items = [("before", n) for n in plan.before] + [item for slot in _slots(plan) for item in slot]
    unknown = sorted({n for _, n in items} - set(notebooks))
    if unknown:
        return [f"names notebooks that do not exist: {unknown}"]
    seen: set[str] = set()
    for kind, name in items:
        if kind == "demo" and name not in DEMOS:
            found.append(f"{name} is shown as a demo but DEMOS defines no path through it")
        for needed in REQUIRES.get(name, ()):
            if needed not in seen:
                found.append(f"{name} comes before {needed}, which it requires")
        if name in seen:
            found.append(f"{name} appears twice")
        seen.add(name)
    if found:
        return found
    for i, slot in enumerate(_slots(plan), start=1):
        used = sum(item_minutes(k, notebooks[n]) for k, n in slot)
        if used > SLOT_MINUTES:
            found.append(f"slot {i} needs {used} minutes, more than its {SLOT_MINUTES}")
    total = total_minutes(plan, notebooks)
    if total > plan.minutes:
        found.append(f"needs {total} minutes, more than its {plan.minutes}")
    return found


def render(plan: Plan, notebooks: dict[str, Path] | None = None) -> list[str]:
    """The plan as Markdown for the instructor's guide; raises if the plan has a problem."""
    notebooks = by_name() if notebooks is None else notebooks
    wrong = problems(plan, notebooks)
    if wrong:
        raise ValueError(f"{plan.title}: " + "; ".join(wrong) + " (coursesite/plans.py PLANS)")
    lines = [f"### {plan.title}", "", "| slot | what | minutes |", "|---|---|---|"]
    for name in plan.before:
        nb = notebooks[name]
        lines.append(f"| before | `{nb.stem}` at home or at the door | ({study_minutes(nb)}) |")
    number = 0
    for i, slot in enumerate(plan.slots):
        if slot == LUNCH:
            lines.append("| | lunch | (not counted) |")
            continue
        if number and plan.slots[i - 1] != LUNCH:
            lines.append(f"| | break | {BREAK_MINUTES} |")
        number += 1
        for kind, name in slot:
            nb = notebooks[name]
            minutes = item_minutes(kind, nb)
            if kind == "hands_on":
                what = f"`{nb.stem}` hands-on ({study_minutes(nb)} study + {DISCUSSION_MINUTES} discussion)"
            else:
                demo = DEMOS[name]
                shown = ", ".join(str(s) for s in demo.sections)
                what = f"`{nb.stem}` demo: sections {shown}. Say: {demo.say}"
            lines.append(f"| {number} | {what} | {minutes} |")
    total = total_minutes(plan, notebooks)
    lines += [f"| | **total** | **{total}** of {plan.minutes} ({plan.minutes - total} spare for questions and "
              "set-up trouble) |", ""]
    placed = set(plan.before) | {n for slot in _slots(plan) for _, n in slot}
    homework = [p.stem for n, p in notebooks.items() if n not in placed]
    if homework:
        lines += ["After the workshop, in this order (each notebook's prerequisites come first): "
                  + ", ".join(f"`{s}`" for s in homework) + ".", ""]
    return lines
