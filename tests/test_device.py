"""course_utils.device: device choice, seeding, environment report."""

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
