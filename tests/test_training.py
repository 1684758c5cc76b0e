"""The training loop, its recipe, the small VGG's contract, and the training plots."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.utils.data import DataLoader

from course_utils.data import CLASSES, ShapesDataset
from course_utils.layer_names import get_layer, last_conv_relu, paper_names
from course_utils.small_vgg import RECIPE, SMALL_VGG_INPUT, load_small_vgg, small_vgg
from course_utils.training import History, make_optimizer, make_scheduler, train
from course_utils.viz import plot_confusion_matrix, plot_history

# --- the loop ------------------------------------------------------------------------

def test_train_learns_and_records_one_entry_per_epoch(blobs, mlp):
    torch.manual_seed(0)
    model = mlp()
    history = train(model, DataLoader(blobs(), 32, shuffle=True), DataLoader(blobs(seed=1), 64), 4,
                    lr=0.05, device="cpu", progress=False)
    assert history.epochs == 4
    h = history
    for series in (h.train_loss, h.train_acc, h.val_loss, h.val_acc, h.lr, h.seconds):
        assert len(series) == 4
    assert history.val_acc[-1] >= 0.95
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.seconds == sorted(history.seconds)
    assert not model.training, "train() should hand the model back in eval mode"


def test_stop_at_ends_training_early(blobs, mlp):
    torch.manual_seed(0)
    history = train(mlp(), DataLoader(blobs(), 32, shuffle=True), DataLoader(blobs(seed=1), 64), 20,
                    lr=0.05, device="cpu", progress=False, stop_at=0.9)
    assert history.epochs < 20 and history.val_acc[-1] >= 0.9
    assert history.time_to(0.9) == history.seconds[-1]
    assert history.time_to(1.01) is None


def test_the_papers_recipe_is_the_default(mlp):
    opt = make_optimizer(mlp())
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD)
    assert group["momentum"] == 0.9 and group["weight_decay"] == 5e-4 and group["lr"] == 0.01
    assert small_vgg().classifier[2].p == 0.5 and small_vgg().classifier[5].p == 0.5  # dropout


def test_make_optimizer_skips_frozen_parameters_and_accepts_groups(mlp):
    model = mlp()
    model[0].requires_grad_(False)
    opt = make_optimizer(model)
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert ids == {id(p) for p in model[3].parameters()}
    groups = make_optimizer([{"params": model[0].parameters(), "lr": 0.001}, {"params": model[3].parameters()}], lr=0.1)
    assert [g["lr"] for g in groups.param_groups] == [0.001, 0.1]


def test_scheduler_divides_the_rate_by_ten_when_validation_accuracy_stalls(mlp):
    opt = make_optimizer(mlp(), lr=0.1)
    sched = make_scheduler(opt, patience=1)
    for acc in (0.5, 0.6, 0.6, 0.6):
        sched.step(acc)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)
    sched.step(0.7)  # improving again: no further drop
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def test_train_on_images_returns_the_model_in_the_usual_memory_layout():
    torch.manual_seed(0)
    ds = ShapesDataset(16, seed=0, size=32)
    model = small_vgg()
    train(model, DataLoader(ds, 8), DataLoader(ds, 8), 1, device="cpu", progress=False)
    conv = model.features[0]
    assert conv.weight.is_contiguous(), "train() should undo channels_last when it finishes"


def test_history_round_trips_through_a_plain_dict():
    h = History([1.0], [0.5], [0.9], [0.6], [0.01], [2.0])
    d = h.as_dict()
    assert all(isinstance(v, list) for k, v in d.items() if k != "interrupted") and d["interrupted"] is False
    assert History.from_dict(d) == h
    h.interrupted = True
    assert History.from_dict(h.as_dict()).interrupted is True
    assert h.best_val_acc() == 0.6 and h.epochs == 1


# --- the small VGG's contract (notebooks 09 and 10 rely on it) ---------------------------

def test_small_vgg_contract():
    model = small_vgg().eval()
    x = torch.rand(2, 3, SMALL_VGG_INPUT, SMALL_VGG_INPUT)
    assert model(x).shape == (2, len(CLASSES))
    names = paper_names(model)
    assert "pool5" not in names and "pool4" in names
    assert last_conv_relu(model) == "relu5_2" and names["relu5_2"] == "features.27"
    seen = {}

    def hook(module, inputs, output):
        seen["shape"] = output.shape

    handle = get_layer(model, "relu5_2").register_forward_hook(hook)
    model(x)
    handle.remove()
    assert seen["shape"][-2:] == (4, 4), "the last conv map should be 4x4 at 64x64 input (pool5 removed)"
    assert sum(p.numel() for p in model.parameters()) < 500_000


def test_small_vgg_variants_for_the_comparisons():
    no_bn = small_vgg(batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in no_bn.modules())
    deep = small_vgg(config="D")
    convs = lambda m: sum(isinstance(x, nn.Conv2d) for x in m.modules())  # noqa: E731
    assert convs(deep) == 13 and convs(small_vgg()) == 8
    assert small_vgg(dropout=0.0).classifier[2].p == 0.0


def test_load_small_vgg_says_how_to_rebuild_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_small_vgg"):
        load_small_vgg(tmp_path / "nope.pt")


def test_recipe_is_the_papers_scaled_down():
    assert RECIPE["lr"] > 0 and RECIPE["n_train"] >= 1000 and RECIPE["epochs"] >= 1
    assert RECIPE["train_seed"] != RECIPE["val_seed"] != RECIPE["test_seed"]


# --- plots -------------------------------------------------------------------------

def test_plot_history_draws_train_and_val_for_each_run():
    h = History([1.0, 0.5], [0.4, 0.8], [1.1, 0.7], [0.3, 0.7], [0.01, 0.01], [1.0, 2.0])
    fig = plot_history({"a": h, "b": h}, x="seconds")
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes[:2]
    assert len(acc_ax.lines) == 4 and list(acc_ax.lines[1].get_xdata()) == [1.0, 2.0]
    assert list(plot_history(h).axes[1].lines[0].get_xdata()) == [1, 2]
    with pytest.raises(ValueError, match="epoch"):
        plot_history(h, x="steps")


def test_plot_confusion_matrix_writes_every_count():
    fig = plot_confusion_matrix([[3, 1], [0, 4]], ["a", "b"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0", "1", "3", "4"]
    with pytest.raises(ValueError, match="classes"):
        plot_confusion_matrix([[1]], ["a", "b"])
