"""Stand-in weights files for hermetic tests.

``make test`` has no network, so it cannot use torchvision's real checkpoints. It
writes *stand-ins* instead: the real architecture, seeded random values, saved
under the official file name in a private TORCH_HOME. The course's real loading
code then runs unchanged, its hash check fails (as it must), and every notebook
shows the stand-in warning. The files are kept between runs in ``.cache/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torchvision

from course_utils.weights import COURSE_WEIGHTS, file_name, get_weights

REPO = Path(__file__).resolve().parent.parent
STANDIN_TORCH_HOME = REPO / ".cache" / "standin-torch-home"


def write_standins(torch_home: Path = STANDIN_TORCH_HOME, seed: int = 0) -> list[Path]:
    """Write any missing stand-in file; return the paths of all of them."""
    folder = torch_home / "hub" / "checkpoints"
    paths = []
    for arch, name in COURSE_WEIGHTS.items():
        path = folder / file_name(get_weights(arch, name))
        if not path.is_file():
            torch.manual_seed(seed)
            model = torchvision.models.get_model(arch, weights=None)
            # A plain state dict, like torchvision's own files (not the course's fingerprinted
            # checkpoint format), written atomically: a temporary name, then a rename.
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            torch.save(model.state_dict(), partial)
            os.replace(partial, path)
        paths.append(path)
    return paths
