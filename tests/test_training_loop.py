"""run_epoch is the plain training loop notebook 04 writes by hand, plus bookkeeping."""

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
