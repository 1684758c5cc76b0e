"""course_utils.device: device choice, seeding, environment report."""

import os
import sys

import numpy as np
import pytest
import torch

from course_utils.device import environment_report, get_device, seed_everything


def test_get_device_falls_back_to_cpu_or_finds_a_gpu():
    device = get_device()
    expected = "cuda" if torch.cuda.is_available() else device.type
    assert device.type == expected and device.type in {"cpu", "cuda", "mps"}
    assert get_device("cpu") == torch.device("cpu")


def test_environment_variable_forces_the_device(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_missing_gpu_says_what_to_do():
    with pytest.raises(ValueError, match="no CUDA GPU. Use 'cpu'"):
        get_device("cuda")


def test_seed_everything_repeats_every_generator():
    seed_everything(3)
    a = (torch.rand(3), np.random.rand(3))
    seed_everything(3)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    seed_everything(4)
    assert not torch.equal(a[0], torch.rand(3))


def test_environment_report_has_the_facts_a_helper_asks_for():
    report = environment_report(torch.device("cpu"))
    assert report["torch"] == torch.__version__
    assert report["device"] == "cpu"
    assert int(report["cpu threads (torch)"]) >= 1
    assert {"python", "torchvision", "numpy"} <= set(report)


def test_cpu_threads_is_scoped_even_when_the_block_raises():
    import pytest
    import torch

    from course_utils.device import cpu_threads

    before = torch.get_num_threads()
    with cpu_threads(1) as previous:
        assert torch.get_num_threads() == 1 and previous == before
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with cpu_threads(1):
            raise RuntimeError("a failing cell")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="at least 1"):
        with cpu_threads(0):
            pass


def test_model_device_of_a_model_without_parameters_is_the_cpu():
    import torch

    from course_utils.device import model_device

    assert model_device(torch.nn.ReLU()) == torch.device("cpu")
    assert model_device(torch.nn.Linear(2, 2).to("meta")) == torch.device("meta")


# After training, glibc keeps freed CPU memory for reuse; free_memory hands it back. Measured in a fresh
# process (its resident memory now, from /proc/self/statm), on a small VGG trained for a few steps.
_FREE = """
import gc, torch, torchvision
from torch import nn
from course_utils.device import free_memory
def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 // 2**20
m = torchvision.models.vgg11(weights=None, num_classes=5)
m.avgpool = nn.AdaptiveAvgPool2d(2); m.classifier[0] = nn.Linear(2048, 4096)
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
x, y = torch.randn(25, 3, 64, 64), torch.randint(0, 5, (25,))
for _ in range(3):
    opt.zero_grad(); nn.functional.cross_entropy(m(x), y).backward(); opt.step()
del m, opt
gc.collect()
kept = rss()
free_memory()
print(kept - rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's (Linux)")
def test_free_memory_hands_back_what_the_allocator_kept():
    import subprocess

    returned = int(subprocess.run([sys.executable, "-c", _FREE], capture_output=True, text=True, check=True,
                                  env=os.environ).stdout.split()[-1])
    assert returned > 50, f"free_memory gave back only {returned} MiB after training a small VGG"
