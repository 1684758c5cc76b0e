"""course_utils.inference: predictions, readable top-k, clear errors, and the preprocessing variants."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torch import nn
from torchvision import transforms as T

from course_utils.images import denormalize, load_image, shipped_images, stretch_transform
from course_utils.inference import (
    Prediction,
    class_indices,
    class_name,
    compare_predictions,
    logits,
    predict,
    preprocess_batch,
    preprocessing_variants,
    topk,
    topk_markdown,
)
from course_utils.weights import get_weights

CATEGORIES = get_weights("vgg11").meta["categories"]


class TinyNet(nn.Module):
    """A 10-class image classifier with dropout, fast enough for unit tests."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(12, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.pool(x))


def test_channels_last_images_get_a_permute_hint():
    with pytest.raises(ValueError, match=r"permute\(2, 0, 1\)"):
        predict(TinyNet(), torch.zeros(8, 8, 3))


def test_a_pil_image_is_not_a_tensor():
    with pytest.raises(ValueError, match="Preprocess the image first"):
        predict(TinyNet(), Image.new("RGB", (8, 8)))


def test_predict_gives_probabilities_in_eval_mode_and_restores_the_mode():
    model = TinyNet().train()
    x = torch.randn(4, 3, 8, 8)
    p1, p2 = predict(model, x), predict(model, x)
    assert p1.shape == (4, 10)
    assert torch.allclose(p1.sum(dim=1), torch.ones(4), atol=1e-6)
    assert torch.equal(p1, p2), "dropout must be off during predict"
    assert model.training, "predict must put the model back in the mode it found it"
    assert not p1.requires_grad and p1.device.type == "cpu"
    model.eval()
    with torch.no_grad():
        assert torch.allclose(p1, model(x).softmax(dim=1), atol=1e-6)
    assert torch.allclose(logits(model, x).softmax(dim=1), p1)


def test_predict_on_one_image_equals_the_batch_row():
    model = TinyNet()
    x = torch.randn(3, 3, 8, 8)
    assert torch.allclose(predict(model, x[1]), predict(model, x)[1:2], atol=1e-6)


def test_class_name_and_its_range_error():
    assert class_name(281, CATEGORIES) == "tabby"
    assert class_name(torch.tensor(0), CATEGORIES) == "tench"
    for bad in (1000, -1):
        with pytest.raises(ValueError, match="out of range: there are 1000 classes, so valid indices are 0 to 999"):
            class_name(bad, CATEGORIES)
    with pytest.raises(ValueError, match="must be an integer"):
        class_name(2.5, CATEGORIES)


def test_class_indices_finds_names():
    assert class_indices("espresso", CATEGORIES) == [550, 967]  # espresso maker, espresso
    assert class_indices("no such thing", CATEGORIES) == []
    assert 281 in class_indices("TABBY", CATEGORIES)


def test_topk_rows_are_ranked_and_named():
    probs = torch.zeros(1000)
    probs[[281, 967, 5]] = torch.tensor([0.2, 0.5, 0.3])
    rows = topk(probs.unsqueeze(0), CATEGORIES, k=3)
    assert rows == [
        Prediction(1, 967, "espresso", pytest.approx(0.5)),
        Prediction(2, 5, CATEGORIES[5], pytest.approx(0.3)),
        Prediction(3, 281, "tabby", pytest.approx(0.2)),
    ]
    table = topk_markdown(rows)
    assert "| 1 | 967 | espresso | 50.00% |" in table and table.count("\n") == 4


def test_topk_errors_are_clear():
    with pytest.raises(ValueError, match="one image"):
        topk(torch.rand(2, 1000), CATEGORIES)
    with pytest.raises(ValueError, match="10 probabilities but 1000 category names"):
        topk(torch.rand(10), CATEGORIES)
    with pytest.raises(ValueError, match="k must be between 1 and 1000"):
        topk(torch.rand(1000), CATEGORIES, k=0)


def test_preprocess_batch_stacks_and_checks_sizes():
    images = [Image.new("RGB", (40, 30)), Image.new("RGB", (30, 50))]
    batch = preprocess_batch(images, T.Compose([T.Resize(32), T.CenterCrop(24), T.ToTensor()]))
    assert batch.shape == (2, 3, 24, 24)
    with pytest.raises(ValueError, match="different sizes.*CenterCrop"):
        preprocess_batch(images, T.Compose([T.Resize(32), T.ToTensor()]))
    with pytest.raises(ValueError, match=r"image 0 into \(1, 30, 40\)"):
        preprocess_batch(images[:1], T.Compose([T.Grayscale(), T.ToTensor()]))
    with pytest.raises(ValueError, match="no images"):
        preprocess_batch([], T.ToTensor())


def test_compare_predictions():
    a = torch.tensor([0.7, 0.2, 0.1, 0.0])
    assert compare_predictions(a, a, k=2) == {"top1_same": 1.0, "topk_overlap": 2.0, "total_variation": 0.0}
    b = torch.tensor([0.0, 0.1, 0.2, 0.7])
    d = compare_predictions(a, b, k=2)
    assert d["top1_same"] == 0.0 and d["topk_overlap"] == 0.0
    assert d["total_variation"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="shapes"):
        compare_predictions(a, torch.rand(5))


def test_preprocessing_variants_are_what_they_claim():
    weights = get_weights("vgg11")
    path = shipped_images()["cat"]
    v = preprocessing_variants(path, weights)
    assert list(v) == ["correct", "no normalisation", "BGR (cv2.imread)", "0-255 values"]
    assert all(t.shape == (3, 224, 224) for t in v.values())
    correct = v["correct"]
    assert torch.equal(correct, weights.transforms()(load_image(path)))
    # no normalisation: the [0, 1] image the correct one was normalised from
    assert torch.allclose(v["no normalisation"], denormalize(correct), atol=1e-5)
    # BGR: the same picture with red and blue swapped
    assert torch.allclose(denormalize(v["BGR (cv2.imread)"]), denormalize(correct).flip(0), atol=0.02)
    assert not torch.allclose(v["BGR (cv2.imread)"], correct, atol=0.1)
    # 0-255: 255 times too large before normalising
    assert v["0-255 values"].max() > 100
    mean = torch.tensor(weights.transforms().mean).view(3, 1, 1)
    std = torch.tensor(weights.transforms().std).view(3, 1, 1)
    assert torch.allclose((v["0-255 values"] * std + mean) / 255, v["no normalisation"], atol=1e-3)


def test_stretch_and_crop_batches_differ_for_a_wide_photo():
    img = load_image(shipped_images()["rocket"])
    assert img.size[0] / img.size[1] > 1.2
    crop = preprocess_batch([img], get_weights("vgg11").transforms())
    stretch = preprocess_batch([img], stretch_transform(224))
    assert crop.shape == stretch.shape == (1, 3, 224, 224)
    assert (crop - stretch).abs().mean() > 0.05
