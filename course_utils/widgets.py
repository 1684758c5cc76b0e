"""ipywidgets explorers: change a control, see the figure change.

Each explorer is split in two: a plain ``*_view(...)`` function that takes the
control values and returns what to show (a table, a Figure), and a small
``*_explorer(...)`` that lists its controls and hands them to ``explorer``, the
one piece of wiring they share. The plain functions are what the tests call, so
every view is tested without a browser; the browser test (``make test-browser``)
moves the real controls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML, Markdown, display
from matplotlib.figure import Figure

from course_utils.architecture import CONFIGS, DEPTH, build_vgg, config_key
from course_utils.counting import LayerTable, layer_table
from course_utils.gradcam import GradCAM, GradCAMPlusPlus, GuidedBackprop, overlay, to_image
from course_utils.viz import plot_layer_costs


def show_figure(fig: Figure) -> None:
    """Display a figure once and close it, so Jupyter does not draw it a second time."""
    display(fig)
    plt.close(fig)


# The explorer each cell showed last, by (kind, cell): running the cell again closes the old one.
# An open widget stays alive in ipywidgets' registry, and with it its callbacks and everything
# they hold (a VGG16, its batch, its gradients): without this, every re-run kept one more model.
_shown: dict[tuple[str, str | None], widgets.VBox] = {}


def _cell_id() -> str | None:
    """The id of the notebook cell running now (JupyterLab sends it), or None."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell.get_parent().get("metadata", {}).get("cellId") if shell is not None else None
    except Exception:  # noqa: BLE001 - outside a kernel there is no cell
        return None


def close_widget(widget: widgets.Widget) -> None:
    """Close a widget and everything inside it, so that nothing keeps their callbacks alive."""
    for child in getattr(widget, "children", ()):
        close_widget(child)
    widget.close()


def show_once_per_cell(kind: str, build: Callable[[], widgets.VBox]) -> widgets.VBox:
    """Display the widget ``build()`` makes, first closing the one of this ``kind`` the cell showed before.

    Run a cell again and its old explorer is closed before the new one is built (see ``_shown``).
    """
    key = (kind, _cell_id())
    if key in _shown:
        close_widget(_shown.pop(key))
    ui = build()
    _shown[key] = ui
    display(ui)
    return ui


def explorer(rows: list[list[widgets.Widget]], draw: Callable[[], None]) -> widgets.VBox:
    """Lay the controls out in rows above an output area; redraw into it whenever one changes.

    ``draw()`` reads the controls' values and displays what to show; it runs once at
    the start and again, into a cleared output, after every change. Showing an explorer
    again from the same cell (a re-run) first closes the one it showed before.
    """
    def build() -> widgets.VBox:
        out = widgets.Output()

        def redraw(_=None) -> None:
            with out:
                out.clear_output(wait=True)
                draw()

        for row in rows:
            for control in row:
                control.observe(redraw, names="value")
        redraw()
        return widgets.VBox([widgets.HBox(row) for row in rows] + [out])

    return show_once_per_cell(draw.__qualname__, build)


# --- How big is each configuration? ----------------------------------------------------

@dataclass
class ArchitectureView:
    """What the architecture explorer shows for one choice of controls."""

    config: str  # "A".."E"
    batch_norm: bool
    input_size: int
    table: LayerTable
    summary: str  # one paragraph of Markdown
    figure: Figure  # from viz.plot_layer_costs


def architecture_view(config: str = "D", batch_norm: bool = False, input_size: int = 224) -> ArchitectureView:
    """Count one VGG configuration at one input size: the table, a summary and the plots.

    The model is built on the "meta" device (shapes only), so this takes milliseconds
    for any configuration and any size, and allocates none of VGG's 500+ MB.
    """
    key = config_key(config)
    with torch.device("meta"):
        model = build_vgg(key, batch_norm=batch_norm, init_weights=False)
    table = layer_table(model, (3, input_size, input_size))
    split = table.split()
    name = f"configuration {key} (VGG{DEPTH[key]}{', batch norm' if batch_norm else ''})"
    summary = (
        f"**{name}** at {input_size}x{input_size}: {table.params:,} parameters "
        f"({table.weight_bytes / 2**20:,.0f} MiB as float32), {table.gmacs:.2f} G multiply-adds per image, "
        f"{table.activation_bytes / 2**20:,.1f} MiB of layer outputs per image. "
        f"The FC layers hold {split['fc']['params'] / table.params:.1%} of the parameters; "
        f"the convolutions do {split['conv']['macs'] / table.macs:.1%} of the multiply-adds."
    )
    figure = plot_layer_costs(table, title=f"{name}, one {input_size}x{input_size} image")
    return ArchitectureView(key, batch_norm, input_size, table, summary, figure)


def architecture_explorer(config: str = "D", batch_norm: bool = False, input_size: int = 224) -> widgets.VBox:
    """Controls for configuration, batch norm and input size; redraws ``architecture_view``."""
    config_box = widgets.Dropdown(options=list(CONFIGS), value=config_key(config), description="config")
    bn_box = widgets.Checkbox(value=batch_norm, description="batch norm")
    size_box = widgets.IntSlider(value=input_size, min=32, max=512, step=32, description="input size",
                                 continuous_update=False)

    def draw() -> None:
        view = architecture_view(config_box.value, bn_box.value, size_box.value)
        display(Markdown(view.summary))
        show_figure(view.figure)
        display(HTML(view.table._repr_html_()))

    return explorer([[config_box, bn_box, size_box]], draw)


# --- One channel of one layer ------------------------------------------------------------

def feature_map_view(maps: dict, layer: str, channel: int) -> Figure:
    """One channel of one captured layer, next to the mean activation of all its channels.

    ``maps`` is ``{layer name: (1, C, H, W)}`` as ``course_utils.features.capture`` returns.
    Raises ValueError for an unknown layer or channel.
    """
    if layer not in maps:
        raise ValueError(f"no captured layer {layer!r}; captured: {', '.join(maps)}")
    fm = maps[layer][0]
    if not 0 <= channel < fm.shape[0]:
        raise ValueError(f"{layer} has {fm.shape[0]} channels: choose a channel from 0 to {fm.shape[0] - 1}, "
                         f"got {channel}")
    fig, (ax_map, ax_bar) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [1, 1.6]})
    im = ax_map.imshow(fm[channel].cpu().numpy(), cmap="viridis")
    fig.colorbar(im, ax=ax_map, fraction=0.046)
    active = (fm[channel] > 0).float().mean().item()
    ax_map.set_title(f"{layer} channel {channel}\n{fm.shape[1]}x{fm.shape[2]}, {active:.0%} of positions "
                     "active", fontsize=9)
    ax_map.axis("off")
    means = fm.mean(dim=(1, 2)).cpu().numpy()
    ax_bar.bar(range(len(means)), means, width=1.0, color="0.55")
    ax_bar.bar([channel], [means[channel]], width=max(1.0, len(means) / 80), color="tab:red")
    ax_bar.set_xlabel("channel")
    ax_bar.set_ylabel("mean activation")
    ax_bar.set_title(f"all {len(means)} channels of {layer} (red: the one shown)", fontsize=9)
    fig.tight_layout()
    return fig


def feature_map_explorer(maps: dict, layer: str | None = None, channel: int = 0) -> widgets.VBox:
    """A layer dropdown and a channel slider over ``feature_map_view``."""
    names = list(maps)
    layer_box = widgets.Dropdown(options=names, value=layer or names[0], description="layer")
    channel_box = widgets.IntSlider(value=channel, min=0, max=maps[layer_box.value].shape[1] - 1,
                                    description="channel", continuous_update=False)

    def draw() -> None:
        channel_box.max = maps[layer_box.value].shape[1] - 1
        show_figure(feature_map_view(maps, layer_box.value, min(channel_box.value, channel_box.max)))

    return explorer([[layer_box, channel_box]], draw)


# --- Where does the network look? ------------------------------------------------------

GRADCAM_METHODS = ("Grad-CAM", "Grad-CAM++", "Guided Grad-CAM", "Guided Backprop", "counterfactual Grad-CAM")


def gradcam_view(model, images: dict, image: str, layer: str, target: int | None, method: str = "Grad-CAM",
                 categories=None) -> tuple[Figure, dict]:
    """Explain one image with one method at one layer, for one class (None = top class).

    ``images`` is ``{name: (x, picture)}``: ``x`` the model's (3, H, W) input,
    ``picture`` the same image in [0, 1] as (H, W, 3) for display. Returns
    ``(figure, info)`` where ``info`` holds the class explained and its score.
    """
    if image not in images:
        raise ValueError(f"no image {image!r}; choose one of {', '.join(images)}")
    if method not in GRADCAM_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(GRADCAM_METHODS)}")
    x, picture = images[image]
    cam = GradCAMPlusPlus(model, layer) if method == "Grad-CAM++" else GradCAM(model, layer)
    result = cam.explain(x, None if target is None else [target], counterfactual=method.startswith("counterfactual"))
    t = int(result.targets[0])
    name = categories[t] if categories is not None else f"class {t}"
    if method in ("Guided Grad-CAM", "Guided Backprop"):
        guided = GuidedBackprop(model)(x, result.targets)[0]
        shown = to_image(guided * result.maps[0] if method == "Guided Grad-CAM" else guided)
    else:
        shown = overlay(picture, result.maps[0])
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    axes[0].imshow(picture)
    axes[0].set_title(image, fontsize=9)
    axes[1].imshow(shown)
    axes[1].set_title(f"{method} at {cam.layer_name}\nfor '{name}' (logit {result.logits[0, t]:.2f})", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return fig, {"target": t, "name": name, "logit": float(result.logits[0, t]), "layer": cam.layer_name,
                 "map": result.maps[0]}


def gradcam_explorer(model, images: dict, layers: list[str], categories=None,
                     classes: dict | None = None) -> widgets.VBox:
    """Dropdowns for image, layer, class and method over ``gradcam_view``.

    ``classes`` maps a label to a class index (None = each image's top class);
    by default only "top class" is offered.
    """
    classes = {"top class": None, **(classes or {})}
    image_box = widgets.Dropdown(options=list(images), description="image")
    layer_box = widgets.Dropdown(options=layers, description="layer")
    class_box = widgets.Dropdown(options=list(classes), description="class")
    method_box = widgets.Dropdown(options=GRADCAM_METHODS, description="method")

    def draw() -> None:
        fig, _ = gradcam_view(model, images, image_box.value, layer_box.value, classes[class_box.value],
                              method_box.value, categories)
        show_figure(fig)

    return explorer([[image_box, layer_box], [class_box, method_box]], draw)
