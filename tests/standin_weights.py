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

REPO = Path(__file__).resolve().parent.parent
STANDIN_TORCH_HOME = REPO / ".cache" / "standin-torch-home"


def write_standins(torch_home: Path = STANDIN_TORCH_HOME, seed: int = 0, first: int = 0) -> list[Path]:
    """Write any missing stand-in file; return the paths of all of them.

    ``first`` is the file to start with: two test workers that start with different files write
    both at once, and each then finds the other's file there (or writes it too, harmlessly: the
    rename is atomic and the contents are the same).
    """
    import torch
    import torchvision

    from course_utils.weights import COURSE_WEIGHTS, file_name, get_weights

    folder = torch_home / "hub" / "checkpoints"
    archs = list(COURSE_WEIGHTS)
    for arch in archs[first % len(archs):] + archs[:first % len(archs)]:
        path = folder / file_name(get_weights(arch, COURSE_WEIGHTS[arch]))
        if not path.is_file():
            torch.manual_seed(seed)
            model = torchvision.models.get_model(arch, weights=None)
            # A plain state dict, like torchvision's own files (not the course's fingerprinted
            # checkpoint format), written atomically: into a folder of this process's own, then
            # renamed into place.
            partial = folder / f".partial-{os.getpid()}" / f"{path.name}.partial"
            partial.parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), partial)
            os.replace(partial, path)
            partial.parent.rmdir()
    return [folder / file_name(get_weights(arch, name)) for arch, name in COURSE_WEIGHTS.items()]
