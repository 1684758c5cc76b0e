"""run_epoch is the plain training loop notebook 06 writes by hand, plus bookkeeping."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_utils.training import make_optimizer, run_epoch


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
