"""Notebook 04's teaching content that nbval alone cannot pin.

* The corrected claims about ``weights.transforms()`` stay corrected.
* The prose quotes what it criticises (``pretrained=True``, ``Resize((224, 224))``) instead of pointing
  to a text the learner never sees, and the ranking of preprocessing mistakes carries the stand-in
  caveat (with random weights BGR can read as harmless).

The inference_mode demonstration moved to notebook 05 with the split: tests/test_nb05_content.py.
"""

import contextlib
import io
import re

from course_notebooks import cells, notebook, prose, source

NOTEBOOK = notebook("04")




def test_inference_transforms_are_not_called_the_training_preprocessing():
    text = prose(NOTEBOOK)
    assert "inference transforms" in text
    assert "RandomResizedCrop" in text
    for wrong in ("the preprocessing the weights were trained with", "rarely saw", "exact preprocessing the weights"):
        assert wrong not in text, f"notebook 04 still says {wrong!r}"


def test_quotes_what_it_criticises_instead_of_an_unseen_text():
    text = prose(NOTEBOOK)
    everything = "\n".join(source(c) for c in cells(NOTEBOOK)).lower()  # code cells build prose too
    for unseen in (r"seed text", r"\bthe seed\b", r"the text this course started from", r"started from"):
        assert not re.search(unseen, everything), f"notebook 04 points to {unseen!r}, which a learner never sees"
    assert "pretrained=True" in text and "Resize((224, 224))" in text


def test_ranking_of_mistakes_depends_on_whether_the_weights_are_real():
    ranking = [source(c) for c in cells(NOTEBOOK)
               if c["cell_type"] == "code" and "max(damage" in source(c)]
    assert len(ranking) == 1, "expected one cell that ranks the preprocessing mistakes"
    assert "status.verified" in ranking[0] and "stand-in" in ranking[0]


def _check_says(check, answer) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert check(answer) is False
    return out.getvalue()


def test_exercise_checks_name_the_mistake_of_common_wrong_answers():
    """Wrong answers a learner writes get a message that says what to change, not only "differs"."""
    from torchvision import transforms as T

    from course_utils.exercises import nb04
    from course_utils.images import IMAGENET_MEAN, IMAGENET_STD
    from course_utils.weights import get_weights

    normalise = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    own = get_weights("vgg11").transforms()
    assert "yourself" in _check_says(nb04.check_transform, own)  # torchvision's own transform is not the exercise
    stretched = T.Compose([T.Resize((256, 256)), T.CenterCrop(224), T.ToTensor(), normalise])
    assert "stretches" in _check_says(nb04.check_transform, stretched)
    normalise_first = T.Compose([T.Resize(256), T.CenterCrop(224), normalise, T.ToTensor()])
    assert "after ToTensor" in _check_says(nb04.check_transform, normalise_first)
    no_resize = lambda bgr: normalise(T.ToTensor()(bgr[:, :, ::-1].copy()))  # noqa: E731
    assert "centre-crop 224" in _check_says(nb04.check_bgr_to_tensor, no_resize)
    array_to_transform = lambda bgr: own(bgr[:, :, ::-1])  # noqa: E731 - a NumPy array, not a PIL image
    assert "Image.fromarray" in _check_says(nb04.check_bgr_to_tensor, array_to_transform)
