"""Ground-truth metrics and the sanity check's statistics, on synthetic maps and masks."""

import pytest
import torch

from course_utils.gradcam.metrics import (
    Discrimination,
    class_discrimination,
    dilate,
    energy_in_mask,
    mask_area,
    peak_location,
    pointing_game,
    score_shapes,
    score_two_shapes,
)
from course_utils.gradcam.sanity import cascade_order, cascading_randomization, rank, spearman


def square_mask(r0, r1, c0, c1, size=16):
    m = torch.zeros(size, size)
    m[r0:r1, c0:c1] = 1
    return m


def blob(row, col, size=16, sigma=2.0):
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return torch.exp(-((yy - row) ** 2 + (xx - col) ** 2) / (2 * sigma**2))


def test_peak_location_row_col():
    m = torch.zeros(2, 5, 7)
    m[0, 3, 6] = 1
    m[1, 0, 2] = 1
    assert peak_location(m).tolist() == [[3, 6], [0, 2]]


def test_pointing_game_hits_and_misses():
    mask = square_mask(4, 8, 4, 8)
    maps = torch.stack([blob(5, 6), blob(12, 12), torch.zeros(16, 16)])
    hits = pointing_game(maps, mask.expand(3, -1, -1))
    assert hits.tolist() == [True, False, False]  # inside, outside, no peak at all


def test_pointing_game_tolerance():
    mask = square_mask(4, 8, 4, 8)
    near = blob(8, 6)  # one row below the mask (rows 4-7)
    assert not pointing_game(near, mask).item()
    assert pointing_game(near, mask, tolerance=1).item()
    assert dilate(mask[None], 1).sum() == 36


def test_energy_in_mask():
    mask = square_mask(0, 8, 0, 16)  # top half
    top = torch.zeros(16, 16)
    top[:8] = 1
    half = torch.ones(16, 16)
    e = energy_in_mask(torch.stack([top, half, torch.zeros(16, 16)]), mask.expand(3, -1, -1))
    torch.testing.assert_close(e, torch.tensor([1.0, 0.5, 0.0]))
    assert mask_area(mask).item() == 0.5  # a flat map scores the area: the chance level


def test_energy_rejects_negative_maps_and_shape_mismatch():
    with pytest.raises(ValueError, match="non-negative"):
        energy_in_mask(-torch.ones(4, 4), torch.ones(4, 4))
    with pytest.raises(ValueError, match="same"):
        pointing_game(torch.ones(4, 4), torch.ones(8, 8))


def test_class_discrimination():
    left, right = square_mask(4, 12, 0, 6), square_mask(4, 12, 10, 16)
    masks = torch.stack([left, right])[None].expand(2, -1, -1, -1)
    good = torch.stack([blob(8, 3), blob(8, 13)])  # each class's map on its own object
    swapped = good.flip(0)  # each on the other object
    d = class_discrimination(torch.stack([good, swapped]), masks)
    assert d.own_hit.tolist() == [[True, True], [False, False]]
    assert d.other_hit.tolist() == [[False, False], [True, True]]
    assert d.own_rate == 0.5 and d.both_rate == 0.5
    assert (d.own_energy[0] > d.other_energy[0]).all() and (d.own_energy[1] < d.other_energy[1]).all()
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        class_discrimination(good, masks[0])


def test_score_shapes_and_two_shapes_with_oracle():
    size = 16
    masks = [square_mask(2, 7, 2, 7), square_mask(9, 14, 9, 14)]
    images = torch.rand(4, 3, size, size, generator=torch.Generator().manual_seed(0))
    one = [(images[i], i % 2, masks[i % 2]) for i in range(4)]

    def oracle(x, labels):  # peak at the centre of the true object's mask
        return torch.stack([blob(4, 4) if int(t) == 0 else blob(11, 11) for t in labels])

    scores = score_shapes(oracle, one, batch_size=3)
    assert scores.hit_rate == 1.0 and scores.hits.shape == (4,)
    assert scores.chance == pytest.approx(25 / 256)
    assert scores.mean_energy > scores.chance

    two = [(images[i], torch.tensor([0, 1]), torch.stack(masks)) for i in range(3)]
    d = score_two_shapes(oracle, two, batch_size=2)
    assert isinstance(d, Discrimination) and d.own_hit.shape == (3, 2)
    assert d.own_rate == 1.0 and d.other_rate == 0.0
    flipped = score_two_shapes(lambda x, t: oracle(x, 1 - t), two)
    assert flipped.own_rate == 0.0 and flipped.other_rate == 1.0


# ---------------------------------------------------------------- sanity statistics

def test_rank_averages_ties():
    r = rank(torch.tensor([3.0, 1.0, 1.0, 2.0, 5.0, 5.0, 5.0]))
    assert r.tolist() == [4.0, 1.5, 1.5, 3.0, 6.0, 6.0, 6.0]


def test_spearman_known_values():
    a = torch.arange(20.0)
    assert spearman(a, a**3) == pytest.approx(1.0)  # monotone: perfect rank agreement
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, torch.zeros(20)) == 0.0  # a flat map has no order
    # textbook example: ranks (1,2,3,4,5) vs (2,1,4,3,5): rho = 1 - 6*4/(5*24) = 0.8
    assert spearman(torch.tensor([1.0, 2, 3, 4, 5]), torch.tensor([2.0, 1, 4, 3, 5])) == pytest.approx(0.8)
    with pytest.raises(ValueError):
        spearman(torch.zeros(3), torch.zeros(4))


def test_cascade_order_top_down_with_batch_norm(tiny_vgg):
    model = tiny_vgg(num_classes=5, hidden=32, batch_norm=True)
    order = cascade_order(model)
    names = [n for n, _ in order]
    assert names[:3] == ["fc8", "fc7", "fc6"] and names[-1] == "conv1_1"
    assert len(order[-1][1]) == 2  # conv1_1 goes with bn1_1


def test_cascading_randomization_mechanics(tiny_vgg):
    model = tiny_vgg(num_classes=5, hidden=32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))

    def input_times_gradient(m, x, t):
        x = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(m(x).gather(1, t.view(-1, 1)).sum(), x)
        return (g * x).abs().sum(1)

    result = cascading_randomization(model, x, torch.tensor([1, 2]), input_times_gradient, stop_after="fc6")
    assert result.steps == ["original", "fc8", "fc7", "fc6"]
    assert result.correlations.shape == (4, 2)
    assert result.correlations[0].tolist() == [1.0, 1.0]
    assert result.mean()[-1] < 0.99  # randomising the classifier changed the gradients
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # original untouched
