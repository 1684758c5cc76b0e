"""Bring your own photo: one of the course's, one you upload, or one you name by its path.

``photo_chooser(draw)`` shows three ways to pick a photo above an output area. Whatever the
way, the photo goes through ``load_image`` (upright, RGB, a clear ``ValueError`` for a file that
is no photo), then ``draw(photo, name)`` redraws the output, as the explorers in
``course_utils.widgets`` do. Underneath it is one line::

    photo = load_image(upload.value[0]["content"], name=upload.value[0]["name"])   # the file's bytes

Three things make it more than that line:

* **A bad file changes nothing.** The message says what is wrong; the photo shown stays.
* **The uploaded file's bytes never land in the notebook file.** JupyterLab can save the widgets'
  state into the ``.ipynb`` (Settings > Save Widget State Automatically, off by default), and an
  upload widget's state is the file's bytes. Once read, the upload is cleared (``upload.value = ()``).
  What ``draw`` shows of the photo (a figure, its name) is output like any other: with that setting
  on, it is saved too.
* **Colab.** There, ipywidgets' ``FileUpload`` silently drops files of 1 MB or more (ipywidgets
  issue 3452), and a phone photo is several MB, so the button uses Colab's own
  ``google.colab.files.upload()``; the Files panel and a typed path always work.

The first photo drawn is a shipped one (``initial``), so every run of a notebook starts from the
same output. A view without widgets (GitHub, a handout) shows none of it: the notebooks follow the
chooser with a cell that draws one fixed choice. Only the JupyterLab route is tested; the Colab
route follows Colab's documented ``files.upload()`` and is tested with a stand-in.
"""

from __future__ import annotations

import html
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
from PIL import Image

from course_utils.images import load_image, shipped_images
from course_utils.widgets import show_once_per_cell

# Colab's own upload: what the chooser says there, next to its button.
COLAB_HELP = ("On Colab, ipywidgets' upload button drops photos of 1 MB or more (ipywidgets issue 3452), "
              "so this button uses Colab's own upload. Or put the photo in the Files panel (the folder icon "
              "on the left) and type its path, e.g. <code>/content/my_photo.jpg</code>.")
# What the file dialog offers: images, HEIC (iPhones) included.
ACCEPT = "image/*,.heic,.heif"


def on_colab() -> bool:
    """True inside Google Colab (its ``google.colab`` module is loaded in every Colab kernel)."""
    return "google.colab" in sys.modules


def photo_chooser(draw: Callable[[Image.Image, str], None], photos: dict[str, Path] | None = None,
                  initial: str | None = None) -> widgets.VBox:
    """A shipped photo (dropdown), an upload, or a typed path; each choice calls ``draw(photo, name)``.

    ``photos`` maps names to files (default: the shipped photos); ``initial`` is the one drawn
    first (default: the first). ``draw`` runs inside the chooser's output area, which shows the
    new drawing once it is complete.
    Showing a chooser again from the same cell (a re-run) closes the one shown before.
    """
    photos = dict(shipped_images() if photos is None else photos)
    initial = initial or next(iter(photos))
    if initial not in photos:
        raise ValueError(f"no photo {initial!r}; choose one of {', '.join(photos)}")
    shipped = widgets.Dropdown(options=list(photos), value=initial, description="photo")
    if on_colab():
        upload = widgets.Button(description="upload (Colab)", icon="upload")
    else:
        upload = widgets.FileUpload(accept=ACCEPT, multiple=False, description="upload")
    path_box = widgets.Text(placeholder="or type a path: ~/Pictures/dog.jpg", description="path")
    open_button = widgets.Button(description="open")
    message = widgets.HTML()  # what was shown, or what was wrong
    colab_area = widgets.Output()  # where Colab's upload dialog appears
    colab_parts = [widgets.HTML(COLAB_HELP), colab_area] if on_colab() else []
    out = widgets.Output()  # where draw's output goes (a new one each time)

    def choose(source: Path | bytes | memoryview, name: str, what: str) -> bool:
        """Load the photo and redraw; on a bad file say why and keep what is shown."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                photo = load_image(source) if isinstance(source, Path) else load_image(source, name=name)
            except ValueError as err:
                message.value = f"⚠️ {html.escape(str(err))}<br>The photo shown has not changed."
                return False
        drawn = widgets.Output()  # drawn in full, then put in place of the last one: never half a redraw
        with drawn:
            draw(photo, name)
        *controls, last = ui.children
        ui.children = (*controls, drawn)
        last.close()
        notes = [html.escape(str(w.message)) for w in caught if issubclass(w.category, UserWarning)]
        message.value = "<br>".join([f"Showing {what} <b>{html.escape(name)}</b>."] + notes)
        return True

    def on_shipped(change) -> None:
        if change["new"] is not None:  # None: the dropdown was blanked because an upload is shown
            choose(photos[change["new"]], change["new"], "the course's photo")

    def shown_elsewhere() -> None:
        """A photo not from the dropdown is shown: blank it, so that any shipped photo can be chosen."""
        shipped.unobserve(on_shipped, names="value")
        shipped.value = None
        shipped.observe(on_shipped, names="value")

    def on_upload(change) -> None:
        if not change["new"]:  # our own reset below
            return
        file = change["new"][0]
        name, content = file["name"], file["content"]  # content: a memoryview of the file's bytes
        upload.value = ()  # the bytes leave the widget's state: a saved notebook never holds them
        if choose(content, name, "your upload"):
            shown_elsewhere()

    def on_colab_upload(_button) -> None:
        from google.colab import files  # only inside Colab

        with colab_area:
            try:
                uploaded = files.upload()  # {name: bytes}; it also saves the file in Colab's /content
            except Exception as err:  # noqa: BLE001 - whatever Colab's page says, the learner reads it
                message.value = (f"⚠️ Colab's upload did not work ({html.escape(str(err))}). Put the photo "
                                 "in the Files panel and type its path instead.")
                return
            finally:
                colab_area.clear_output()
        if not uploaded:
            message.value = "No file chosen: the photo shown has not changed."
        for name, content in list(uploaded.items())[:1]:  # one photo at a time: the first one chosen
            if choose(content, name, "your upload"):
                shown_elsewhere()

    def on_open(_button) -> None:
        text = path_box.value.strip()
        if not text:
            message.value = "Type the path of a photo first, then press <b>open</b>."
        elif choose(Path(text).expanduser(), Path(text).name, "the photo"):
            shown_elsewhere()

    shipped.observe(on_shipped, names="value")
    if on_colab():
        upload.on_click(on_colab_upload)
    else:
        upload.observe(on_upload, names="value")
    open_button.on_click(on_open)

    ui = widgets.VBox([widgets.HBox([shipped, upload]), widgets.HBox([path_box, open_button]), message,
                       *colab_parts, out])

    def build() -> widgets.VBox:  # runs after the cell's previous chooser is closed
        choose(photos[initial], initial, "the course's photo")
        # The upload travels to the kernel in one websocket message, and Jupyter's server (tornado's
        # websocket_max_message_size, 10 MiB by default; ServerApp.tornado_settings raises it) drops a
        # bigger one without a word: measured here, 8.3 MiB arrived, 10.9 MiB did not.
        if not on_colab():
            message.value += (" Or bring your own: upload a photo (up to about 10 MB; a bigger one fails "
                              "silently: type its path instead) or type its path.")
        return ui

    return show_once_per_cell(f"photo_chooser {draw.__qualname__}", build)
