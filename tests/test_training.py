"""The training loop, its recipe, the small VGG's contract, and the training plots."""

from __future__ import annotations

import sys
import time

import pytest
import torch
from jupyter_client.manager import start_new_kernel
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.data import ShapesDataset
from course_utils.small_vgg import small_vgg
from course_utils.training import History, make_optimizer, make_scheduler, run_epoch, train

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


# --- run_epoch is the plain training loop notebook 06 writes by hand, plus bookkeeping. -------

def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Dropout(0.5), nn.Linear(4, 3))


def test_run_epoch_ends_with_the_weights_of_a_hand_written_sgd_loop():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, 3, 8, 8, generator=g), torch.randint(0, 3, (48,), generator=g)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=16))

    by_hand = _model()
    optimizer = torch.optim.SGD(by_hand.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    by_hand.train()
    torch.manual_seed(1)
    losses = []
    for images, labels in batches:
        loss = nn.functional.cross_entropy(by_hand(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    helper = _model()
    torch.manual_seed(1)
    mean_loss, _ = run_epoch(helper, batches, torch.device("cpu"), make_optimizer(helper, lr=0.1), progress=False)

    assert abs(mean_loss - sum(losses) / len(losses)) < 1e-6  # equal batches: the mean of the batch losses
    for (name, a), b in zip(by_hand.state_dict().items(), helper.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name
    assert not torch.equal(by_hand[0].weight, _model()[0].weight), "the loop should have moved the weights"


def _batches() -> list:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 3, 8, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
    return list(DataLoader(TensorDataset(x, y), batch_size=16))


def test_reduce_gets_the_running_sums_and_its_totals_are_divided():
    """notebook 13's all_reduce, faked: a second 'rank' that saw 32 images, all wrong, with loss 0."""
    model, seen_by_reduce = _model(), []

    def other_rank_too(sums: list[float]) -> list[float]:
        seen_by_reduce.append(list(sums))
        return [sums[0] + 0.0, sums[1] + 0, sums[2] + 32]

    alone = run_epoch(model, _batches(), torch.device("cpu"), progress=False)
    both = run_epoch(model, _batches(), torch.device("cpu"), progress=False, reduce=other_rank_too)
    loss_sum, correct, seen = seen_by_reduce[0]
    assert seen == 32 and abs(loss_sum / seen - alone[0]) < 1e-6 and correct / seen == alone[1]
    assert abs(both[0] - alone[0] / 2) < 1e-6 and abs(both[1] - alone[1] / 2) < 1e-9


def test_dtype_runs_the_forward_pass_in_that_precision_and_before_step_sees_every_batch():
    model, calls = _model(), []
    model[0].register_forward_hook(lambda module, inputs, output: calls.append(output.dtype))
    run_epoch(model, _batches(), torch.device("cpu"), make_optimizer(model, lr=0.1), progress=False,
              dtype=torch.bfloat16, before_step=calls.append)
    assert calls == [0, torch.bfloat16, 1, torch.bfloat16]
    run_epoch(model, _batches(), torch.device("cpu"), progress=False)
    assert calls[-1] == torch.float32


# --- Pressing the stop button during training is a normal way to stop (issue: nothing silently wrong). ---

TRAIN = """
import time, torch
from torch.utils.data import DataLoader, TensorDataset
from course_utils.training import train

class Slow(TensorDataset):          # 40 images at 0.05 s each: about 4 s an epoch (train + validation)
    def __getitem__(self, i):
        time.sleep(0.05)
        return super().__getitem__(i)

torch.manual_seed(0)
loader = DataLoader(Slow(torch.rand(40, 3, 8, 8), torch.randint(0, 2, (40,))), batch_size=8)
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 2))
history = train(model, loader, loader, 50, checkpoint=CKPT, device="cpu", progress=False)
print("RETURNED", history.epochs, history.interrupted)
"""


def _run(kc, code: str, timeout: float = 120, interrupt_when=None, km=None) -> tuple[str, list[str]]:
    """Execute ``code``; return (stdout, error names). ``interrupt_when()`` true -> interrupt the kernel once."""
    msg_id = kc.execute(code)
    out, errors, deadline, interrupted = [], [], time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        if interrupt_when is not None and not interrupted and interrupt_when():
            km.interrupt_kernel()
            interrupted = True
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except Exception:  # noqa: BLE001 - queue.Empty: nothing yet
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            out.append(content["text"])
        elif kind == "error":
            errors.append(content["ename"])
        elif kind == "status" and content["execution_state"] == "idle":
            return "".join(out), errors
    pytest.fail(f"the cell did not finish in {timeout} s; output so far: {''.join(out)[-2000:]}")


@pytest.mark.skipif(sys.platform == "win32", reason="interrupting a kernel is SIGINT on POSIX")
def test_stopping_a_training_cell_returns_the_history_and_keeps_the_checkpoint(tmp_path):
    ckpt = tmp_path / "run.pt"
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        _, errors = _run(kc, f"CKPT = {str(ckpt)!r}")
        assert errors == []
        out, errors = _run(kc, TRAIN, interrupt_when=ckpt.is_file, km=km)
        assert errors == [], f"the interrupt came out as {errors}: {out}"
        assert "RETURNED" in out and "True" in out.split("RETURNED")[1], out
        assert "Training stopped after" in out and "resume=True" in out, out
        check = ("from course_utils.checkpoints import load_checkpoint\n"
                 "state = load_checkpoint(CKPT)\n"
                 "assert history.epochs >= 1 and state['epoch'] >= 1\n"
                 "assert len(set(map(len, [history.train_loss, history.val_acc, history.seconds]))) == 1\n"
                 "print('OK', history.epochs, state['epoch'])")
        out, errors = _run(kc, check)
        assert errors == [] and out.startswith("OK"), (errors, out)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
