"""The photo chooser, without a browser: shipped photos, uploads, typed paths, Colab, saved state.

An upload is simulated the way the front end delivers one (ipywidgets 8: ``FileUpload.value`` is a
tuple of dicts, ``content`` a memoryview). The browser test (``make test-browser``) uploads a real
file through the page's file input.
"""

from __future__ import annotations

import html
import io
import sys
import types
import warnings

import ipywidgets
import pytest
from PIL import Image

from course_utils import photo_chooser as chooser_module
from course_utils.images import shipped_images
from course_utils.photo_chooser import photo_chooser
from course_utils.widgets import close_widget


def jpeg_bytes(size=(40, 30), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def upload_file(upload: ipywidgets.FileUpload, name: str, data: bytes) -> None:
    """What the front end sends when a file is picked: its state, one entry in ``value``."""
    upload.set_state({"value": [{"name": name, "type": "image/jpeg", "size": len(data),
                                 "content": memoryview(data), "last_modified": 1_700_000_000_000}]})


class Chooser:
    """A chooser whose ``draw`` records every call; its controls by name."""

    def __init__(self, **kwargs):
        self.drawn: list[tuple[Image.Image, str]] = []
        self.ui = photo_chooser(self.draw, **kwargs)
        (self.shipped, self.upload), (self.path, self.open) = (row.children for row in self.ui.children[:2])
        self.message = self.ui.children[2]

    def draw(self, photo, name):
        self.drawn.append((photo, name))


def all_widgets(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from all_widgets(child)


def holds_bytes(state) -> bool:
    if isinstance(state, (bytes, bytearray, memoryview)):
        return True
    if isinstance(state, dict):
        return any(holds_bytes(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return any(holds_bytes(v) for v in state)
    return False


@pytest.fixture
def chooser():
    c = Chooser(initial="cat")
    yield c
    close_widget(c.ui)


def test_the_first_photo_drawn_is_a_shipped_one(chooser):
    assert [name for _, name in chooser.drawn] == ["cat"]
    photo = chooser.drawn[0][0]
    assert photo.mode == "RGB" and photo.size == Image.open(shipped_images()["cat"]).size
    assert isinstance(chooser.upload, ipywidgets.FileUpload)


def test_choosing_another_shipped_photo_redraws(chooser):
    before = chooser.ui.children[-1]
    chooser.shipped.value = "rocket"
    assert chooser.drawn[-1][1] == "rocket" and "rocket" in chooser.message.value
    # the new drawing replaces the old output whole, and the old one is closed
    assert isinstance(chooser.ui.children[-1], ipywidgets.Output) and chooser.ui.children[-1] is not before
    assert before.comm is None


def test_an_upload_is_drawn_and_leaves_no_bytes_in_the_widget_state(chooser):
    upload_file(chooser.upload, "my dog.jpg", jpeg_bytes((64, 48)))
    photo, name = chooser.drawn[-1]
    assert name == "my dog.jpg" and photo.size == (64, 48) and photo.mode == "RGB"
    assert "my dog.jpg" in chooser.message.value
    assert chooser.upload.value == ()
    for widget in all_widgets(chooser.ui):  # what JupyterLab would save into the notebook
        assert not holds_bytes(widget.get_state()), f"{type(widget).__name__} still holds bytes"
    # the dropdown no longer claims a shipped photo is shown, so choosing any one of them works
    assert chooser.shipped.value is None
    chooser.shipped.value = "cat"
    assert chooser.drawn[-1][1] == "cat"


def test_a_non_image_upload_says_so_and_keeps_the_photo(chooser):
    upload_file(chooser.upload, "holiday.jpg", b"these are not the pixels you are looking for\n")
    assert len(chooser.drawn) == 1, "draw must not run for a bad file"
    assert "⚠️" in chooser.message.value and "has not changed" in chooser.message.value
    assert chooser.shipped.value == "cat"
    assert chooser.upload.value == ()  # a bad file's bytes do not stay either


def test_a_typed_path_good_and_bad(chooser, tmp_path):
    good = tmp_path / "typed.png"
    Image.new("RGB", (20, 10), "blue").save(good)
    chooser.path.value = str(good)
    chooser.open.click()
    assert chooser.drawn[-1][1] == "typed.png" and chooser.drawn[-1][0].size == (20, 10)
    chooser.path.value = str(tmp_path / "missing.jpg")
    chooser.open.click()
    assert len(chooser.drawn) == 2 and "no such file" in chooser.message.value
    chooser.path.value = "  "
    chooser.open.click()
    assert len(chooser.drawn) == 2 and "Type the path" in chooser.message.value


def test_warnings_from_load_image_are_shown(monkeypatch):
    def adjusting_load_image(source, **kwargs):
        warnings.warn("a 4000x20 strip: cropped to its centre", UserWarning, stacklevel=2)
        return Image.new("RGB", (8, 8))

    monkeypatch.setattr(chooser_module, "load_image", adjusting_load_image)
    c = Chooser()
    assert "cropped to its centre" in c.message.value and len(c.drawn) == 1
    close_widget(c.ui)


def test_showing_it_again_closes_the_one_before():
    def draw(photo, name):
        pass

    first = photo_chooser(draw)
    second = photo_chooser(draw)
    assert first.comm is None and second.comm is not None
    close_widget(second)


def test_unknown_initial_photo():
    with pytest.raises(ValueError, match="cat"):
        photo_chooser(lambda photo, name: None, initial="dog")


@pytest.fixture
def colab(monkeypatch):
    """A stand-in for Colab: ``google.colab.files.upload()`` returns what ``picked`` holds."""
    picked = {}
    files = types.SimpleNamespace(upload=lambda: dict(picked))
    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(files=files))
    return picked


def test_on_colab_the_button_uses_colabs_own_upload(colab):
    c = Chooser()
    assert isinstance(c.upload, ipywidgets.Button)
    assert any("3452" in w.value for w in all_widgets(c.ui) if isinstance(w, ipywidgets.HTML))
    colab["phone photo.jpg"] = jpeg_bytes((300, 200))  # over 1 MB would be no different here
    c.upload.click()
    assert c.drawn[-1][1] == "phone photo.jpg" and c.drawn[-1][0].size == (300, 200)
    colab.clear()
    colab["notes.jpg"] = b"plain text"
    c.upload.click()
    assert c.drawn[-1][1] == "phone photo.jpg" and "has not changed" in c.message.value
    colab.clear()  # the dialog cancelled: nothing happens
    c.upload.click()
    assert len(c.drawn) == 2
    close_widget(c.ui)


def test_a_strip_is_cropped_and_the_chooser_says_so(chooser):
    """load_image keeps the middle of a very long strip and warns; the learner reads that warning."""
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 100), "white").save(buffer, format="PNG")
    with pytest.warns(UserWarning) as caught:
        chooser_module.load_image(buffer.getvalue(), name="strip.png")
    upload_file(chooser.upload, "strip.png", buffer.getvalue())
    assert chooser.drawn[-1][1] == "strip.png"
    assert html.escape(str(caught[0].message)) in chooser.message.value


def test_when_colabs_upload_fails_the_chooser_says_what_to_do(monkeypatch):
    def upload():
        raise RuntimeError("Upload widget is only available when the cell has been executed")

    monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(files=types.SimpleNamespace(upload=upload)))
    c = Chooser()
    c.upload.click()
    assert len(c.drawn) == 1 and "Files panel" in c.message.value and "executed" in c.message.value
    close_widget(c.ui)
