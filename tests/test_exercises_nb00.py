"""The exercise machinery, and notebook 00's checks run against their own solutions."""

import pytest

from course_utils.exercises import reveal, solution_source
from course_utils.exercises import nb00


def test_solutions_pass_their_checks(capsys):
    assert nb00.check_cache_folder(nb00.solution_cache_folder()) is True
    assert nb00.check_vgg16_megabytes(nb00.solution_vgg16_megabytes()) is True
    assert capsys.readouterr().out.count("✅ Correct!") == 2


def test_wrong_answers_fail_with_a_hint(tmp_path, capsys):
    assert nb00.check_cache_folder(tmp_path) is False
    assert nb00.check_vgg16_megabytes(138) is False
    assert nb00.check_vgg16_megabytes("lots") is False
    out = capsys.readouterr().out
    assert out.count("❌ Not yet") == 3 and "Hint" in out


def test_unattempted_exercises_do_not_raise(capsys):
    assert nb00.check_cache_folder(None) is False
    assert nb00.check_vgg16_megabytes(None) is False
    assert capsys.readouterr().out.count("Not attempted yet") == 2


def _solution_example():
    """Docstrings are not shown."""
    x = 2
    return x * 3


def test_solution_source_is_runnable_notebook_code():
    src = solution_source(_solution_example)
    assert src == "x = 2\nanswer = x * 3"
    scope = {}
    exec(src, scope)
    assert scope["answer"] == 6
    assert "return" not in solution_source(nb00.solution_cache_folder)


def test_reveal_shows_a_button_not_the_answer(capsys):
    reveal(nb00.solution_vgg16_megabytes)  # outside Jupyter the display is a no-op repr
    assert "num_params" not in capsys.readouterr().out
