"""Notebook 04's teaching content that nbval alone cannot pin.

* The corrected claims about ``weights.transforms()`` stay corrected.
* The prose quotes what it criticises (``pretrained=True``, ``Resize((224, 224))``) instead of pointing
  to a text the learner never sees, and the ranking of preprocessing mistakes carries the stand-in
  caveat (with random weights BGR can read as harmless).

The inference_mode demonstration moved to notebook 05 with the split: tests/test_nb05_content.py.
"""

import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_pretrained_inference.ipynb"


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text())["cells"]


def _prose() -> str:
    return "\n".join("".join(c["source"]) for c in _cells() if c["cell_type"] == "markdown")


def test_inference_transforms_are_not_called_the_training_preprocessing():
    text = _prose()
    assert "inference transforms" in text
    assert "RandomResizedCrop" in text
    for wrong in ("the preprocessing the weights were trained with", "rarely saw", "exact preprocessing the weights"):
        assert wrong not in text, f"notebook 04 still says {wrong!r}"


def test_quotes_what_it_criticises_instead_of_an_unseen_text():
    text = _prose()
    for unseen in ("seed text", "the text this course started from"):
        assert unseen not in text, f"notebook 04 points to {unseen!r}, which a learner never sees"
    assert "pretrained=True" in text and "Resize((224, 224))" in text


def test_ranking_of_mistakes_depends_on_whether_the_weights_are_real():
    ranking = [("".join(c["source"])) for c in _cells()
               if c["cell_type"] == "code" and "max(damage" in "".join(c["source"])]
    assert len(ranking) == 1, "expected one cell that ranks the preprocessing mistakes"
    assert "status.verified" in ranking[0] and "stand-in" in ranking[0]
