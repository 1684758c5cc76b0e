"""Hook hygiene: Grad-CAM and Guided Backprop leave the model exactly as they found it."""

import gc

import pytest
import torch
from torch import nn

from course_utils.gradcam import GradCAM, GradCAMPlusPlus, GuidedBackprop, LayerCapture, guided_relus

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture()
def model(tiny_vgg):
    return tiny_vgg()


def x_batch(b=2, size=64):
    return torch.randn(b, 3, size, size, generator=torch.Generator().manual_seed(1))


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


class Boom(RuntimeError):
    pass


def explode_in_classifier(model):
    """Make the forward pass raise *after* the target layer has run (its hook already fired)."""
    def hook(module, inputs, output):
        raise Boom("raised inside the forward pass")
    return model.classifier[0].register_forward_hook(hook)


@pytest.mark.parametrize("method", [GradCAM, GradCAMPlusPlus])
def test_hooks_and_state_restored_when_forward_raises(model, method):
    model.train()
    model.features[0].weight.requires_grad_(False)  # a mixed set of flags must come back as it was
    flags = [p.requires_grad for p in model.parameters()]
    bomb = explode_in_classifier(model)
    with pytest.raises(Boom):
        method(model)(x_batch())
    bomb.remove()
    assert hook_count(model) == 0
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(m.training for m in model.modules())  # train mode restored everywhere


def test_guided_backprop_restored_when_forward_raises(model):
    bomb = explode_in_classifier(model)
    with pytest.raises(Boom):
        GuidedBackprop(model)(x_batch())
    bomb.remove()
    assert hook_count(model) == 0


def test_layer_capture_context_removes_hooks_on_error(model):
    with pytest.raises(Boom):
        with LayerCapture(model, "relu5_2"):
            assert hook_count(model) == 1
            raise Boom()
    assert hook_count(model) == 0


def test_layer_capture_tensor_hook_sees_the_gradient(model):
    with LayerCapture(model, "relu5_2") as cap:
        score = model(x_batch(1))[0, 3]
        (grad,) = torch.autograd.grad(score, cap.activation)
    assert cap.gradient is not None
    torch.testing.assert_close(cap.gradient, grad)


def test_no_parameter_gradients_computed_or_left(model):
    x = x_batch()
    GradCAM(model)(x)
    GradCAMPlusPlus(model)(x)
    GuidedBackprop(model)(x)
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_backward_stops_at_the_target_layer(model):
    """Nothing below the layer is recorded: the activation is a leaf of the graph."""
    result = GradCAM(model, "relu5_2").explain(x_batch())
    assert result.activation.grad_fn is None and not result.activation.requires_grad
    assert result.maps.grad_fn is None and result.raw.grad_fn is None


def test_hundred_calls_leave_no_hooks_and_no_growing_memory(model):
    x = x_batch(1, size=32)
    cam = GradCAM(model)

    def live_tensors() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor))

    for _ in range(5):
        cam(x)
    before = live_tensors()
    for _ in range(100):
        cam(x)
    after = live_tensors()
    assert hook_count(model) == 0
    assert after <= before, f"{after - before} more live tensors after 100 calls"


def test_guided_backprop_keeps_the_same_inplace_relus(model):
    relus = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    assert relus and all(m.inplace for _, m in relus)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    GuidedBackprop(model)(x_batch())
    after = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    assert [n for n, _ in after] == [n for n, _ in relus]
    assert all(a is b for (_, a), (_, b) in zip(after, relus)), "a ReLU module was replaced"
    assert all(m.inplace for _, m in after)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert hook_count(model) == 0


def test_guided_relus_hooks_every_relu_and_cleans_up(model):
    n_relus = sum(isinstance(m, nn.ReLU) for m in model.modules())
    with guided_relus(model) as n:
        assert n == n_relus and hook_count(model) == n_relus
    assert hook_count(model) == 0


def test_model_output_unchanged_after_gradcam(model):
    x = x_batch()
    with torch.no_grad():
        before = model(x)
    GradCAM(model)(x)
    GuidedBackprop(model)(x)
    with torch.no_grad():
        torch.testing.assert_close(model(x), before, rtol=0, atol=0)
