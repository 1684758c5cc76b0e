"""The hook pair at the heart of Grad-CAM: one layer's activation and its gradient.

Grad-CAM needs two things from one layer of the network: its activation ``A``
(shape B, C, h, w) on the forward pass, and the gradient of the class score with
respect to it, ``dy/dA``, on the backward pass. ``LayerCapture`` gets both:

* a **forward hook** on the layer replaces its output by a fresh copy whose
  source, ``A``, is a detached tensor that *requires grad*. That copy is what the
  rest of the network sees, so an in-place ReLU further on cannot overwrite the
  ``A`` we kept (torchvision's VGG ReLUs are all ``inplace=True``);
* a **tensor hook** on ``A`` stores ``dy/dA`` the moment autograd computes it.

Because ``A`` is detached, autograd records nothing below the layer: the backward
pass from the logits *stops at the layer*. (Module backward hooks would be the
obvious tool, but they do not work with in-place ReLUs; forward hook + tensor hook
does.) The hooks are removed on exit, even when the forward pass raises.
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils.layer_names import resolve_layer


class LayerCapture:
    """Context manager that records one layer's activation and its gradient.

    >>> with LayerCapture(model, "relu5_3") as cap:
    ...     logits = model(x)
    ...     score = logits[0, 281]
    ...     grad, = torch.autograd.grad(score, cap.activation)
    >>> torch.equal(cap.gradient, grad)   # the tensor hook saw the same gradient
    """

    def __init__(self, model: nn.Module, layer: str | nn.Module | None = None) -> None:
        self.model = model
        self.module, self.name = resolve_layer(model, layer)
        self.activation: torch.Tensor | None = None
        self.gradient: torch.Tensor | None = None
        self._handles: list = []

    def _forward_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"layer {self.name!r} returns {type(output).__name__}, not a tensor; pick another layer.")
        # A leaf that requires grad: the backward pass will stop here.
        activation = output.detach().requires_grad_(True)
        self._handles.append(activation.register_hook(self._save_gradient))
        self.activation = activation
        # Hand the rest of the network a copy, so in-place ops after this layer
        # (an in-place ReLU after a conv target) change the copy, not our A.
        return activation.clone()

    def _save_gradient(self, grad: torch.Tensor) -> None:
        self.gradient = grad

    def __enter__(self) -> LayerCapture:
        self.activation = self.gradient = None
        self._handles.append(self.module.register_forward_hook(self._forward_hook))
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this capture registered (safe to call twice)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
