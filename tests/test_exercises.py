"""Every exercise of every notebook: found, paired, solved, and never fooled or crashed.

The ``check_xxx`` / ``solution_xxx`` pairs are discovered in ``course_utils.exercises.nbNN``,
not listed here, so a new exercise is tested the moment it exists. Each solution must pass
its check, both as a function and as the code "Show solution" reveals; each check must
answer ``None`` and a row of junk answers with a "not yet" and never raise. The hint tests
at the end pin the messages that tell a learner what is wrong.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import math
import pkgutil
import re
import types
from pathlib import Path

import pytest
import torch
import torchvision
from course_notebooks import NOTEBOOKS, cells, source
from torch import nn
from torchvision import transforms as T

import course_utils.exercises as exercises
from course_utils.exercises import (
    NOT_ATTEMPTED,
    as_number,
    nb00,
    nb02,
    nb03,
    nb04,
    nb05,
    nb06,
    nb07,
    nb08,
    nb09,
    nb10,
    nb11,
    nb12,
    nb13,
    reveal,
    solution_source,
)

CORRECT, WRONG = "✅ Correct!", "❌ Not yet"


def _modules() -> list[types.ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(exercises.__path__) if re.fullmatch(r"nb\d\d", m.name)]
    return [importlib.import_module(f"{exercises.__name__}.{name}") for name in sorted(names)]


def _defined(module: types.ModuleType, prefix: str) -> dict[str, object]:
    """{exercise key: function} for the functions named ``prefix + key`` defined in ``module`` itself."""
    return {name[len(prefix):]: obj for name, obj in vars(module).items()
            if name.startswith(prefix) and callable(obj) and getattr(obj, "__module__", None) == module.__name__}


def _unpaired(module: types.ModuleType) -> list[str]:
    """The check_/solution_ functions of ``module`` that lack their other half."""
    checks, solutions = _defined(module, "check_"), _defined(module, "solution_")
    return sorted([f"check_{k} (no solution_{k})" for k in checks.keys() - solutions.keys()]
                  + [f"solution_{k} (no check_{k})" for k in solutions.keys() - checks.keys()])


MODULES = _modules()
PAIRS = [pytest.param(m, _defined(m, "check_")[k], _defined(m, "solution_")[k], id=f"{m.__name__.split('.')[-1]}.{k}")
         for m in MODULES for k in sorted(_defined(m, "check_").keys() & _defined(m, "solution_").keys())]


def _verdict(capsys) -> str:
    return capsys.readouterr().out


# --- discovery ----------------------------------------------------------------------------------

def test_every_exercise_module_is_found():
    assert len(MODULES) >= 9, [m.__name__ for m in MODULES]
    assert {p.values[0] for p in PAIRS} == set(MODULES), "a module with no exercise pair"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_every_check_has_a_solution_and_back(module):
    assert _defined(module, "check_"), f"{module.__name__} holds no check_ function"
    assert _unpaired(module) == []


def test_an_unpaired_check_or_solution_is_reported():
    fake = types.ModuleType("course_utils.exercises.nb99")
    for name in ("check_a", "solution_a", "check_lonely", "solution_orphan"):
        fn = types.FunctionType((lambda: None).__code__, {}, name)
        fn.__module__ = fake.__name__
        setattr(fake, name, fn)
    fake.check_imported = len  # not defined in the module: ignored
    assert _unpaired(fake) == ["check_lonely (no solution_lonely)", "solution_orphan (no check_orphan)"]


def _notebook_imports() -> list[tuple[str, str, list[str]]]:
    """(notebook, exercise module, names) for every ``from course_utils.exercises.nbNN import ...``."""
    found = []
    for path in NOTEBOOKS:
        for cell in cells(path, "code"):
            text = source(cell)
            if "course_utils.exercises.nb" not in text:
                continue
            for node in ast.walk(ast.parse("\n".join(line for line in text.splitlines()
                                                     if not line.lstrip().startswith(("%", "!"))))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils.exercises.nb"):
                    found.append((path.name, node.module, [a.name for a in node.names]))
    return found


def test_notebooks_import_exercises_that_exist():
    imports = _notebook_imports()
    assert imports, "no notebook imports an exercise module"
    for notebook, module_name, names in imports:
        module = importlib.import_module(module_name)
        assert notebook[:2] == module_name[-2:], f"{notebook} should use exercises.nb{notebook[:2]}, not {module_name}"
        missing = [n for n in names if not hasattr(module, n)]
        assert not missing, f"{notebook} imports {missing} from {module_name}, which has no such names"


# --- every pair ---------------------------------------------------------------------------------

@pytest.mark.parametrize("module, check, solution", PAIRS)
def test_solution_passes_its_check(module, check, solution, capsys):
    assert check(solution()) is True
    assert CORRECT in _verdict(capsys)


@pytest.mark.parametrize("module, check, solution", PAIRS)
def test_revealed_solution_runs_as_notebook_code(module, check, solution, capsys):
    """What 'Show solution' shows runs in a fresh namespace (plus what the notebook itself
    defines, e.g. notebook 03's hand-built ``VGG``) and leaves a correct ``answer``."""
    src = solution_source(solution)
    assert not src.splitlines()[-1].startswith("return ")
    scope = {name: getattr(module, name) for name in getattr(module, "NOTEBOOK_DEFINES", ())}
    exec(src, scope)
    assert check(scope["answer"]) is True


@pytest.mark.parametrize("module, check, solution", PAIRS)
def test_none_means_not_attempted(module, check, solution, capsys):
    assert check(None) is False
    assert _verdict(capsys).strip() == NOT_ATTEMPTED


def _raises(*args):
    raise RuntimeError("learner bug")


JUNK = {
    "zero": 0, "minus one": -1, "huge": 10**30, "nan": math.nan, "inf": math.inf, "True": True,
    "a word": "wrong", "empty string": "", "empty tuple": (), "empty list": [], "object": object(),
    "a 2x2 tensor": torch.zeros(2, 2), "a 0-d tensor": torch.tensor(3.0), "nn.Identity": nn.Identity(),
    "a function returning None": lambda *args: None, "a function that raises": _raises,
    "a function returning a 2x2 tensor": lambda *args: torch.zeros(2, 2),
    "a function returning a module": lambda *args: nn.Identity(),
}


@pytest.mark.parametrize("module, check, solution", PAIRS)
def test_junk_answers_fail_politely(module, check, solution, capsys):
    for what, junk in JUNK.items():
        try:
            verdict = check(junk)
        except Exception as err:  # noqa: BLE001 - the point: name the junk that crashed the check
            pytest.fail(f"{check.__name__}({what}) raised {type(err).__name__}: {err}")
        out = _verdict(capsys)
        assert verdict is False and WRONG in out, f"{check.__name__}({what}) said {verdict}: {out}"


@pytest.mark.parametrize("module, check, solution", PAIRS)
def test_every_exercise_has_one_or_two_hints_before_its_solution(module, check, solution):
    hints = exercises.hints_for(solution)
    assert 1 <= len(hints) <= 2, f"{module.__name__}.HINTS[{solution.__name__[9:]!r}] should hold 1 or 2 hints"
    code = solution_source(solution)
    for hint in hints:
        assert isinstance(hint, str) and len(hint.split()) >= 5, f"a hint of a few words at least: {hint!r}"
        assert code not in hint, "a hint that holds the whole solution is the solution"
    labels = [label for label, _ in exercises.ladder(solution)]
    assert labels == [f"Hint {i} of {len(hints)}" for i in range(1, len(hints) + 1)] + ["Show solution"]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_hints_belong_to_exercises_that_exist(module):
    stray = set(getattr(module, "HINTS", {})) - set(_defined(module, "solution_"))
    assert not stray, f"{module.__name__}.HINTS has hints for no exercise: {sorted(stray)}"


def test_report_points_a_recognised_mistake_to_its_hint(capsys):
    assert exercises.report(False, "the shape is wrong.", hint=2) is False
    assert "Hint 2" in capsys.readouterr().out
    assert exercises.report(True, "well done.", hint=2) is True
    assert "Hint" not in capsys.readouterr().out


def test_a_callable_check_only_sees_functions(capsys):
    """callable_check answers None and non-functions itself; the check runs only on something callable."""
    seen = []

    @exercises.callable_check("a function f(x)", hint=1)
    def check_twice(answer) -> bool:
        seen.append(answer)
        return exercises.report(answer(2) == 4, "f(2) should be 4.")

    assert check_twice(None) is False and NOT_ATTEMPTED in capsys.readouterr().out
    assert check_twice(42) is False
    out = capsys.readouterr().out
    assert "your answer should be a function f(x), got int." in out and "Hint 1" in out
    assert seen == []
    assert check_twice(lambda x: 2 * x) is True and len(seen) == 1
    assert check_twice.__name__ == "check_twice"  # the tests find checks by name


LADDER_MODULE = '''
HINTS = {"double": ("Think about what doubling a number means.", "Multiply the number by two, then return it.")}


def solution_double():
    """Twice 21."""
    return 2 * 21
'''


def test_reveal_climbs_the_ladder_one_click_at_a_time(monkeypatch, tmp_path):
    """Click by click: hint 1, hint 2, then the solution, and the button is spent."""
    import IPython.display
    import ipywidgets

    shown, boxes = [], []
    monkeypatch.setattr(IPython.display, "display", lambda obj: boxes.append(obj) if isinstance(obj, ipywidgets.Box)
                        else shown.append(obj.data))
    (tmp_path / "ladder_example.py").write_text(LADDER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    solution = importlib.import_module("ladder_example").solution_double
    reveal(solution)
    button = boxes[0].children[0]
    assert button.description == "Hint 1 of 2" and shown == []
    button.click()
    assert button.description == "Hint 2 of 2" and shown[-1].startswith("**Hint 1.**")
    button.click()
    assert button.description == "Show solution" and shown[-1].startswith("**Hint 2.**")
    button.click()
    assert button.disabled and solution_source(solution) in shown[-1]


# --- the machinery ------------------------------------------------------------------------------

def _solution_example():
    """Docstrings are not shown."""
    x = 2
    return x * 3


def test_solution_source_is_runnable_notebook_code():
    src = solution_source(_solution_example)
    assert src == "x = 2\nanswer = x * 3"
    scope = {}
    exec(src, scope)
    assert scope["answer"] == 6


def test_reveal_shows_a_button_not_the_answer(capsys):
    reveal(nb00.solution_vgg16_megabytes)  # outside Jupyter the display is a no-op repr
    assert "num_params" not in capsys.readouterr().out


@pytest.mark.parametrize("answer, expected", [
    (3, 3), (2.5, 2.5), (torch.tensor(7), 7), (torch.tensor([0.25]), 0.25), (torch.zeros(()).numpy() + 4, 4.0),
    (True, None), ("5", None), (torch.zeros(2), None), (None, None), ([1], None),
])
def test_as_number(answer, expected):
    assert as_number(answer) == expected and type(as_number(answer)) is type(expected)


@pytest.mark.parametrize("answer, expected", [(5, 5), (5.0, 5), (torch.tensor(5.0), 5), (5.5, None),
                                              (math.nan, None), (math.inf, None)])
def test_as_number_whole(answer, expected):
    assert as_number(answer, whole=True) == expected and type(as_number(answer, whole=True)) is type(expected)


# --- facts the checks rely on, established independently -----------------------------------------

def test_flop_ratio_is_two_on_a_real_resnet18():
    """nb12 pins the ratio FlopCounterMode / torchvision's "_ops" to 2: measure it on the CPU model."""
    from torch.utils.flop_counter import FlopCounterMode

    model = torchvision.models.resnet18().eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    meta = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["_ops"]
    assert counter.get_total_flops() / (meta * 1e9) == pytest.approx(2.0, abs=0.01)


def test_nb02_gmacs_at_112_by_hand():
    """At 112x112 the convolutions do a quarter of their 224x224 work; fc6-fc8 the same as ever."""
    from course_utils.architecture import build_vgg
    from course_utils.counting import layer_table
    from course_utils.exercises import nb02

    with torch.device("meta"):
        split = layer_table(build_vgg("D", init_weights=False)).split()
    assert nb02.solution_gmacs_at_112() == pytest.approx((split["conv"]["macs"] / 4 + split["fc"]["macs"]) / 1e9)
    assert nb02.solution_layers_for_11x11() == 5
    assert 0.89 < nb02.solution_fc_share() < 0.90


# --- the hints: each wrong answer is told what is wrong -------------------------------------------

def _vgg(config: str, **kwargs) -> nn.Module:
    """A VGG with shapes but no memory (meta device): enough for the structural checks."""
    from course_utils.architecture import build_vgg

    with torch.device("meta"):
        return build_vgg(config, init_weights=False, **kwargs)


def _vgg11_meta(head: int = 1000, frozen: bool = False) -> nn.Module:
    with torch.device("meta"):
        model = torchvision.models.vgg11()
        model.requires_grad_(not frozen)
        model.classifier[6] = nn.Linear(4096, head)
    return model


@functools.cache
def _nb03_solution(name: str) -> nn.Module:
    """nb03's solution model, built once: initialising its 133 million weights is the slow part."""
    return getattr(nb03, f"solution_{name}")()


def _solved(name: str) -> nn.Module:
    """A copy of nb03's solution that a wrong answer may change (0.5 s to copy here, 1.6-2.5 s to build)."""
    return copy.deepcopy(_nb03_solution(name))


def _config_c_padded() -> nn.Module:
    """Configuration C whose 1x1 conv3_3 pads by 1: the right weights, a map that grows."""
    model = _solved("config_c")
    model.features[14].padding = (1, 1)
    return model


class _NoFlatten(nn.Module):
    def __init__(self):
        super().__init__()
        vgg13 = _solved("vgg13")
        self.features, self.avgpool, self.classifier = vgg13.features, vgg13.avgpool, vgg13.classifier

    def forward(self, x):  # forgot torch.flatten
        return self.classifier(self.avgpool(self.features(x)))


# Wrong answers the old nb03 checks passed: a 32x32 probe left pool5 at 1x1 (max = average there),
# and dropout is off in eval(), so neither p nor the dropout's place changed the logits.
def _vgg13_adaptive_max_pool() -> nn.Module:
    model = _solved("vgg13")
    model.avgpool = nn.AdaptiveMaxPool2d((7, 7))
    return model


def _vgg13_dropout(p: float) -> nn.Module:
    model = _solved("vgg13")
    model.classifier[2], model.classifier[5] = nn.Dropout(p), nn.Dropout(p)
    return model


def _vgg13_dropout_before_relu() -> nn.Module:
    model = _solved("vgg13")
    c = model.classifier
    model.classifier = nn.Sequential(c[0], c[2], c[1], c[3], c[5], c[4], c[6])
    return model


def _config_c_adaptive_max_pool() -> nn.Module:
    model = _solved("config_c")
    model.avgpool = nn.AdaptiveMaxPool2d((7, 7))
    return model


def _no_clone_record(model, module, x):
    stored = {}
    handle = module.register_forward_hook(lambda m, i, o: stored.setdefault("out", o))
    with torch.no_grad():
        model(x)
    handle.remove()
    return stored["out"]


def _leaky_record(model, module, x):
    stored = {}
    module.register_forward_hook(lambda m, i, o: stored.setdefault("out", o.clone()))
    with torch.no_grad():
        model(x)
    return stored["out"]


def _record_without_finally(model, module, x):
    """Clones and removes its hook, but not in a finally: a model that raises leaves the hook behind.
    (It passed nb09.check_record before the check ran a model that raises.)"""
    stored = {}

    def hook(mod, inputs, output):
        stored["out"] = output.detach().clone()

    handle = module.register_forward_hook(hook)
    with torch.no_grad():
        model(x)
    handle.remove()
    return stored["out"]


def _predict_leaves_eval(m, x):
    m.eval()
    with torch.no_grad():
        return m(x).softmax(1)


def _predict_no_softmax(m, x):
    m.eval()
    with torch.no_grad():
        return m(x)


def _predict_always_train(m, x):
    """Restores train() whatever the mode was: right only for a model that started in train mode."""
    m.eval()
    with torch.no_grad():
        out = m(x).softmax(1)
    m.train()
    return out


def _predict_tracks_grad(m, x):
    was = m.training
    m.eval()
    out = m(x).softmax(1)
    m.train(was)
    return out


def _flip_in_place(x):
    x[0] = x[0].flip(-1)
    return x


# Wrong answers to notebook 07's exercise 1 that its old check passed (it looked at one call only):
def _flip_first_half(x):
    """The same images (the first half) every call: no coin at all."""
    out = x.clone()
    out[: len(x) // 2] = x[: len(x) // 2].flip(-1)
    return out


def _flip_exactly_half(x):
    """Exactly half the batch, a random half: each image 1/2, but the coins are not independent."""
    out, chosen = x.clone(), torch.randperm(len(x))[: len(x) // 2]
    out[chosen] = x[chosen].flip(-1)
    return out


def _flip_in_pairs(x):
    """One coin per pair of neighbouring images."""
    flip = (torch.rand(len(x) // 2) < 0.5).repeat_interleave(2)
    out = x.clone()
    out[flip] = x[flip].flip(-1)
    return out


def _flip_one_time_coins(x):
    """Coins drawn from a generator seeded anew at every call: random-looking, but the same set every call."""
    flip = torch.rand(len(x), generator=torch.Generator().manual_seed(0)) < 0.5
    out = x.clone()
    out[flip] = x[flip].flip(-1)
    return out


class _UnusedBranch(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1))

    def forward(self, x):
        return x.relu()


class _NanBranch(_UnusedBranch):
    def forward(self, x):
        return (x + self.f(x) * math.nan).relu()


class _NoFinalRelu(_UnusedBranch):
    """x + F(x) with the ReLU left out after the sum: the old check passed it (it accepted x when switched off)."""

    def forward(self, x):
        return x + self.f(x)


class _ReluBeforeSum(_UnusedBranch):
    """relu(F(x)) + x: the ReLU on the branch, not on the sum (passed the old check the same way)."""

    def forward(self, x):
        return self.f(x).relu() + x


def _sgd(block5_lr, head_lr, **kwargs):
    """Two groups: block 5, and the whole classifier (the old exercise 3's answer at 0.001 and 0.01)."""
    return lambda m: torch.optim.SGD([{"params": m.features[16:].parameters(), "lr": block5_lr},
                                      {"params": m.classifier.parameters(), "lr": head_lr}], lr=0.01, **kwargs)


def _sgd3(block5_lr, fc_lr, head_lr, **kwargs):
    """Three groups, as notebook 08's lesson: block 5, pretrained fc6/fc7, the new head."""
    return lambda m: torch.optim.SGD([{"params": m.features[16:].parameters(), "lr": block5_lr},
                                      {"params": m.classifier[:6].parameters(), "lr": fc_lr},
                                      {"params": m.classifier[6].parameters(), "lr": head_lr}], lr=0.01, **kwargs)


def _bn(i: int) -> int:
    return nb06._bn_parameters()[i]  # (parameters, layers, channels)


_NORMALISE = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
_VGG16_GMACS_224 = 15.47  # VGG16_Weights.IMAGENET1K_V1 "GFLOPS" in torchvision's documentation (multiply-adds)

HINTS = [
    (nb00.check_cache_folder, lambda: Path("/not/the/torch/cache"), "Hint"),
    (nb00.check_vgg16_megabytes, lambda: 138, "Hint"),
    (nb00.check_vgg16_megabytes, lambda: "lots", "give a number of MiB"),
    (nb02.check_layers_for_11x11, lambda: 4, "only 9x9"),
    (nb02.check_layers_for_11x11, lambda: 6, "more than 11x11"),
    (nb02.check_layers_for_11x11, lambda: 2.5, "whole number"),
    (nb02.check_layers_for_11x11, lambda: "five", "whole number"),
    (nb02.check_fc_share, lambda: 89.4, "percentage"),
    (nb02.check_fc_share, lambda: 0.743, "fc6 alone"),
    (nb02.check_fc_share, lambda: [0.9], "between 0 and 1"),
    (nb02.check_gmacs_at_112, lambda: _VGG16_GMACS_224 / 4, "quarter"),
    (nb02.check_gmacs_at_112, lambda: _VGG16_GMACS_224, "is not it"),
    (nb02.check_gmacs_at_112, lambda: 3.96e9, "raw count"),
    (nb03.check_vgg13, lambda: _vgg("A"), "state_dict names differ"),
    (nb03.check_vgg13, lambda: _vgg("B", batch_norm=True), "Batch norm"),
    (nb03.check_vgg13, lambda: _vgg("B"), "'meta' device"),
    (nb03.check_vgg13, lambda: "vgg13", "nn.Module"),
    (nb03.check_vgg13, _NoFlatten, "raised"),
    (nb03.check_config_c, lambda: _vgg("D"), "1x1"),
    (nb03.check_config_c, _config_c_padded, "different logits"),
    (nb03.check_vgg13, _vgg13_adaptive_max_pool, "AdaptiveAvgPool2d"),
    (nb03.check_vgg13, lambda: _vgg13_dropout(0.2), "p=0.5"),
    (nb03.check_vgg13, lambda: _vgg13_dropout(0.0), "p=0.5"),
    (nb03.check_vgg13, _vgg13_dropout_before_relu, "where torchvision has ReLU"),
    (nb03.check_config_c, _config_c_adaptive_max_pool, "AdaptiveAvgPool2d"),
    (nb04.check_transform, lambda: 42, "call on a PIL image"),
    (nb04.check_transform, lambda: T.Compose([T.Resize((224, 224)), T.ToTensor()]), "Normalize"),
    (nb04.check_transform, lambda: T.Compose([T.Resize((224, 224)), T.ToTensor(), _NORMALISE]), "differs"),
    (nb04.check_transform, lambda: T.Compose([T.Resize(256), T.ToTensor()]), "shape"),
    (nb04.check_transform, lambda: T.Resize(256), "must return a tensor"),
    (nb04.check_transform, lambda: lambda img: 1 / 0, "ZeroDivisionError"),
    (nb04.check_transform, lambda: lambda img: torch.full((3, 224, 224), math.nan), "differs"),
    (nb04.check_bgr_to_tensor, lambda: _bgr_without_swap, "swapped"),
    (nb04.check_bgr_to_tensor, lambda: lambda bgr: torch.zeros(3, 10, 10), "shape"),
    (nb04.check_bgr_to_tensor, lambda: lambda bgr: bgr, "shape"),
    (nb04.check_bgr_to_tensor, lambda: lambda bgr: torch.full((3, 224, 224), math.nan), "differs"),
    (nb05.check_safe_predict, lambda: lambda m, x: m(x).softmax(1).detach(), "dropout is still on"),
    (nb05.check_safe_predict, lambda: _predict_no_softmax, "softmax"),
    (nb05.check_safe_predict, lambda: _predict_leaves_eval, "put it back"),
    (nb05.check_safe_predict, lambda: _predict_tracks_grad, "gradients"),
    (nb05.check_safe_predict, lambda: _predict_always_train, "left it in train() mode"),  # passed before issue 16
    (nb05.check_safe_predict, lambda: lambda m, x: torch.full((len(x), 4), 0.25), "not the model's"),  # so did this
    (nb06.check_bn_parameters, lambda: "many", "give a number"),
    (nb06.check_bn_parameters, lambda: _bn(1), "number of batch-norm layers"),
    (nb06.check_bn_parameters, lambda: _bn(2), "two learnable"),
    (nb06.check_bn_parameters, lambda: 4 * _bn(2), "buffers"),
    (nb06.check_bn_parameters, lambda: 7, "is not it"),
    (nb07.check_flip_augment, lambda: 3, "function"),
    (nb07.check_flip_augment, lambda: lambda x: x.flip(-1), "every image"),
    (nb07.check_flip_augment, lambda: lambda x: x.clone(), "no image"),
    (nb07.check_flip_augment, lambda: lambda x: x.flip(-2), "top-bottom"),
    (nb07.check_flip_augment, lambda: lambda x: x + 1, "neither"),
    (nb07.check_flip_augment, lambda: T.RandomHorizontalFlip(), "whole batch"),
    (nb06.check_bn_parameters, lambda: 1384, "state_dict"),
    (nb12.check_residual_block, lambda: nb12.solution_residual_block()(8), "already built"),
    (nb13.check_scaled_lr, lambda: 0.2, "Goyal"),
    (nb13.check_shard, lambda: lambda n, r, w: list(range(r, (n // w) * w, w)), "drop_last"),
    (nb07.check_flip_augment, lambda: lambda x: x[:3], "shape"),
    (nb07.check_flip_augment, lambda: _flip_in_place, "in place"),
    (nb07.check_flip_augment, lambda: _flip_first_half, "the same images every call"),
    (nb07.check_flip_augment, lambda: _flip_exactly_half, "should vary from call to call"),
    (nb07.check_flip_augment, lambda: _flip_in_pairs, "depends on whether image"),
    (nb07.check_flip_augment, lambda: _flip_one_time_coins, "the same images every call"),
    (nb07.check_flip_augment, lambda: lambda x: x.flip(-1) if torch.rand(()) < 0.5 else x.clone(), "every image"),
    (nb07.check_most_confused, lambda: "circle", "pair of class names"),
    (nb07.check_most_confused, lambda: ("circle", "hexagon"), "not in the classes"),
    (nb07.check_most_confused, lambda: ("star", "star"), "diagonal"),
    (nb07.check_most_confused, lambda: (), "name the most common"),
    (nb08.check_frozen_with_new_head, lambda: "vgg", "model itself"),
    (nb08.check_frozen_with_new_head, lambda: _vgg11_meta(head=1000, frozen=True), "outputs"),
    (nb08.check_frozen_with_new_head, lambda: _vgg11_meta(head=5), "requires_grad_(False)"),
    (nb08.check_frozen_with_new_head, lambda: _vgg11_meta(head=5, frozen=True).requires_grad_(False), "nothing is"),
    (nb08.check_block5_parameters, lambda: "lots", "give a number"),
    (nb08.check_block5_parameters, lambda: 132_863_336, "blocks 1-4 stay frozen"),
    (nb08.check_block5_parameters, lambda: 1000, "is not it"),
    (nb08.check_block5_parameters, lambda: 128_362_472, "1000-class"),  # counted with ImageNet's fc8
    (nb08.check_block5_parameters, lambda: 2 * (512 * 512 * 9 + 512), "block 5 alone"),
    (nb08.check_param_groups, lambda: 0.01, "function"),
    (nb08.check_param_groups, lambda: lambda m: torch.optim.Adam(m.parameters()), "SGD"),
    (nb08.check_param_groups, lambda: lambda m: torch.optim.SGD(m.parameters(), lr=0.01), "1 parameter group"),
    (nb08.check_param_groups, lambda: _sgd(0.01, 0.001, momentum=0.9), "block 5 (features[16:]): found lr 0.01"),
    (nb08.check_param_groups, lambda: _sgd(0.001, 0.01, momentum=0.9), "fc6 and fc7 got 0.01"),  # passed the old check
    (nb08.check_param_groups, lambda: _sgd3(0.001, 0.001, 0.001, momentum=0.9), "the new head (classifier[6])"),
    (nb08.check_param_groups, lambda: lambda m: torch.optim.SGD([{"params": m.features.parameters(), "lr": 0.001},
                                                                 {"params": m.classifier[:6].parameters(), "lr": 0.001},
                                                                 {"params": m.classifier[6].parameters(), "lr": 0.01}]),
     "blocks 1-4"),
    (nb08.check_param_groups, lambda: _sgd3(0.001, 0.001, 0.01), "momentum"),
    (nb08.check_param_groups, lambda: lambda m: 1 / 0, "ZeroDivisionError"),
    (nb09.check_output_shape, lambda: (20, 20, 512), "order"),
    (nb09.check_output_shape, lambda: (1, 512, 20, 20), "batch"),
    (nb09.check_output_shape, lambda: (512, 40, 40), "pools"),
    (nb09.check_output_shape, lambda: "big", "three integers"),
    (nb09.check_record, lambda: _no_clone_record, "clone"),
    (nb09.check_record, lambda: _leaky_record, "remove"),
    (nb09.check_record, lambda: _raises, "raised"),
    (nb09.check_record, lambda: _record_without_finally, "finally"),  # passed the old check
    (nb09.check_shrink_factor, lambda: 1024, "positions"),
    (nb09.check_shrink_factor, lambda: 1 / 128, "upside down"),
    (nb09.check_shrink_factor, lambda: 32, "relu5_3"),
    (nb10.check_gradcam_map, lambda: lambda a, g: (g.mean((1, 2))[:, None, None] * a).sum(0), "negative"),
    (nb10.check_gradcam_map, lambda: lambda a, g: (g.sum((1, 2))[:, None, None] * a).sum(0).relu(), "mean"),
    (nb10.check_gradcam_map, lambda: lambda a, g: (g.mean((1, 2))[:, None, None] * a).relu(), "shape"),
    (nb10.check_gradcam_map, lambda: _raises, "raised"),
    (nb10.check_layer_for_28, lambda: "pool4", "pool"),
    (nb10.check_layer_for_28, lambda: "relu5_3", "block 5"),
    (nb10.check_layer_for_28, lambda: 22, "string"),
    (nb10.check_layer_for_28, lambda: "conv4_3", "Hint 2"),       # the conv, not its ReLU
    (nb10.check_layer_for_28, lambda: "relu4_2", "not the *last*"),
    (nb10.check_layer_for_28, lambda: "relu3_3", "56 x 56"),
    (nb10.check_gradcam_map, lambda: lambda a, g: (g.mean((1, 2))[:, None, None] * a).sum(0), "Hint 1"),
    (nb11.check_energy, lambda: lambda h, m: float(m.mean()), "Hint 1"),
    (nb11.check_spearman, lambda: _argsort_spearman, "Hint 1"),
    (nb10.check_cam_map, lambda: lambda a, w, c: (w[c][:, None, None] * a).sum(0) / 20, "Grad-CAM's map"),
    (nb10.check_cam_map, lambda: lambda a, w, c: (w[c][:, None, None] * a).sum(0).relu(), "no ReLU"),
    (nb10.check_cam_map, lambda: lambda a, w, c: (w[:, c][:3, None, None] * a[:3]).sum(0), "differ"),
    (nb10.check_cam_map, lambda: _raises, "raised"),
    (nb11.check_pointing, lambda: lambda h, m: bool(m[int(h.argmax()) // 6, int(h.argmax()) % 6] > 0), "row"),
    (nb11.check_pointing, lambda: _raises, "raised"),
    (nb11.check_energy, lambda: lambda h, m: float((h * m).sum() / h.sum()), "NaN"),
    (nb11.check_energy, lambda: lambda h, m: float(m.mean()), "area share"),
    (nb11.check_energy, lambda: lambda h, m: (h * m), "one number"),
    (nb11.check_spearman, lambda: lambda a, b: float(torch.corrcoef(torch.cat([a, b]))[0, 1]), "ranks"),
    (nb11.check_spearman, lambda: _argsort_spearman, "average rank"),
    (nb11.check_spearman, lambda: _raises, "raised"),
    (nb12.check_better_and_cheaper, lambda: "resnet50", "set or list"),
    (nb12.check_better_and_cheaper, lambda: {"ResNet-50"}, "not zoo keys"),
    (nb12.check_better_and_cheaper, lambda: {"resnet50"}, "missing"),
    (nb12.check_better_and_cheaper, lambda: {"resnet50", "efficientnet_b0", "convnext_tiny", "inception_v3"},
     "do not qualify"),
    (nb12.check_flop_ratio, lambda: 0.5, "upside down"),
    (nb12.check_flop_ratio, lambda: 1.0, "is off"),
    (nb12.check_flop_ratio, lambda: "two", "give a number"),
    (nb12.check_residual_block, lambda: lambda c: nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(),
                                                                nn.Conv2d(c, c, 3, padding=1)), "skip connection"),
    (nb12.check_residual_block, lambda: lambda c: nn.Sequential(nn.Conv2d(c, c, 3), nn.Conv2d(c, c, 3)), "padding=1"),
    (nb12.check_residual_block, lambda: lambda c: nn.Identity(), "two 3x3 convolutions"),
    (nb12.check_residual_block, lambda: lambda c: 3, "nn.Module"),
    (nb12.check_residual_block, lambda: _UnusedBranch, "not used"),
    (nb12.check_residual_block, lambda: _NanBranch, "NaN"),
    (nb12.check_residual_block, lambda: _NoFinalRelu, "ReLU after the sum"),
    (nb12.check_residual_block, lambda: _ReluBeforeSum, "ReLU after the sum"),
    (nb12.check_flop_ratio, lambda: 2.0e9, "giga"),
    (nb00.check_cache_folder, lambda: Path(torch.hub.get_dir()), "hub folder"),
    (nb00.check_vgg16_megabytes, lambda: 138_357_544 * 4 / 1e6, "MB (millions of bytes)"),
]


def _argsort_spearman(a, b):
    """Spearman with argsort ranks: ties get distinct ranks (the slip check_spearman must catch)."""
    ra, rb = a.flatten().argsort().argsort().double(), b.flatten().argsort().argsort().double()
    return float(torch.corrcoef(torch.stack([ra, rb]))[0, 1])


def _bgr_without_swap(bgr):
    from PIL import Image

    from course_utils.weights import get_weights

    return get_weights("vgg11").transforms()(Image.fromarray(bgr))


@pytest.mark.parametrize("check, make_answer, hint", HINTS,
                         ids=[f"{c.__name__}-{hint}" for c, _, hint in HINTS])
def test_wrong_answer_gets_its_hint(check, make_answer, hint, capsys):
    assert check(make_answer()) is False
    out = _verdict(capsys)
    assert WRONG in out and hint in out, out


def test_most_confused_hints_rows_and_columns(capsys):
    from course_utils.data import CLASSES

    mistakes, _ = nb07._mistakes()
    worst = max(mistakes.values())
    true, pred = next(pair for pair, n in mistakes.items() if n == worst)
    if mistakes.get((pred, true), 0) < worst:  # not a tie: the reversed pair mixes up rows and columns
        assert nb07.check_most_confused((CLASSES[pred], CLASSES[true])) is False
        assert "swap" in _verdict(capsys)
    rare = [(t, p) for t in range(len(CLASSES)) for p in range(len(CLASSES))
            if t != p and mistakes.get((t, p), 0) < worst and mistakes.get((p, t), 0) < worst]
    assert nb07.check_most_confused((CLASSES[rare[0][0]], CLASSES[rare[0][1]])) is False
    assert "most common mistake" in _verdict(capsys)


def test_most_confused_with_no_mistakes_wants_no_pair(monkeypatch, capsys):
    """A model that makes no mistake confused no pair: the old check passed any pair then."""
    monkeypatch.setattr(nb07, "_mistakes", lambda: ({}, 1000))
    assert nb07.check_most_confused(("star", "circle")) is False
    assert "the answer is ()" in _verdict(capsys)
    assert nb07.check_most_confused(()) is True


def test_flip_check_leaves_the_learners_random_state_alone():
    state = torch.get_rng_state()
    assert nb07.check_flip_augment(nb07.solution_flip_augment()) is True
    assert torch.equal(torch.get_rng_state(), state)


def test_a_count_given_as_a_tensor_is_accepted(capsys):
    assert nb08.check_block5_parameters(torch.tensor(nb08.solution_block5_parameters())) is True


def test_nb03_revealed_code_uses_the_notebooks_own_functions():
    src = solution_source(nb03.solution_config_c)
    assert "(256, 1)" in src and src.splitlines()[-1] == "answer = VGG(make_features(cfg_c))"
    scope = {"VGG": lambda features: features, "make_features": lambda cfg: cfg}  # stand-ins for the notebook's own
    exec(src, scope)
    assert scope["answer"].count("M") == 5
