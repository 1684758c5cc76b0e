"""``make measure``: what each notebook costs, measured, for the instructor's guide.

    python -m coursesite.measure

Runs every notebook top to bottom in a fresh kernel, one after another, exactly as
``make test`` does (nbval, through ``coursesite.execute``), and records its wall time and
the kernel's peak resident memory. Writes ``docs/measurements.json`` (the
numbers) and ``docs/measurements.md`` (the tables and the workshop plans built from them),
which ``docs/instructors.md`` includes. The executed notebooks also go to
``.cache/executed/``, so a ``make site`` afterwards reuses them.

Only notebooks changed since their last measurement are run again (`--all` runs every one;
`--render` only rewrites the Markdown). Run it on an otherwise idle machine: the load average
is recorded next to the numbers.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import nbformat

from coursesite import REPO, notebook_paths, plans, study_time
from coursesite.executed import executed_path, source_sha256, weights_kind

JSON_PATH = REPO / "docs" / "measurements.json"
MD_PATH = REPO / "docs" / "measurements.md"


def study_minutes(notebook: Path) -> int:
    """The study time the time model gives the notebook (``coursesite.study_time``)."""
    return study_time.study_minutes(notebook)


def prerequisites(notebook: Path) -> str:
    """The "**Prerequisites:** ..." paragraph of the notebook's title cell, or "" if it has none."""
    title = nbformat.read(str(notebook), as_version=4).cells[0].source
    match = re.search(r"\*\*Prerequisites:?\*\*:?\s*(.+?)(?:\n\s*\n|$)", title, re.S)
    return " ".join(match.group(1).split()) if match else ""


def _stated_prerequisites(stem: str) -> str:
    path = REPO / "notebooks" / f"{stem}.ipynb"
    return (prerequisites(path) if path.is_file() else "") or "(the notebook does not state them)"


def downloads(notebook: Path) -> list[dict]:
    """The pretrained weights files the notebook loads (first use downloads them)."""
    from course_utils.weights import approx_size_mb, file_name, get_weights

    code = "\n".join(c.source for c in nbformat.read(str(notebook), as_version=4).cells if c.cell_type == "code")
    archs = sorted(set(re.findall(r"""load_pretrained\(\s*["'](\w+)["']""", code)))
    return [{"arch": a, "file": file_name(get_weights(a)), "mb": round(approx_size_mb(get_weights(a)))} for a in archs]


def _machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return f"{os.cpu_count()} CPU cores ({platform.machine()}), {torch.get_num_threads()} torch threads, no GPU"


def measure(notebooks: list[Path], previous: dict | None = None) -> dict:
    """Run each notebook whose source changed since ``previous`` (all when it is None); return the numbers."""
    import torch

    from coursesite.execute import execute

    weights = weights_kind()
    kept = {r["notebook"]: r for r in (previous or {}).get("notebooks", [])}
    machine = _machine()
    same_machine = previous is not None and previous.get("machine") == machine

    def unchanged(nb: Path) -> bool:
        return same_machine and kept.get(nb.stem, {}).get("source_sha256") == source_sha256(nb)

    stale = [nb for nb in notebooks if not unchanged(nb)]
    for nb in notebooks:
        if nb not in stale:
            print(f"unchanged {nb.name}: keeping its measurement", flush=True)
    for nb in stale:  # one pytest each: an interrupted run keeps the notebooks it finished
        execute([nb], weights)
    rows = []
    for nb in notebooks:
        if nb not in stale:
            rows.append(kept[nb.stem])
            continue
        # What was run: if the notebook was edited meanwhile, its copy records the sha it ran.
        meta = nbformat.read(str(executed_path(nb)), as_version=4).metadata["course_site"]
        rows.append({
            "notebook": nb.stem, "seconds": meta["seconds"], "peak_rss_mb": meta["peak_rss_mb"],
            "child_peak_rss_mb": meta.get("child_peak_rss_mb", 0),
            "downloads": downloads(nb), "load_before": meta["load_before"],
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "source_sha256": meta["source_sha256"],
        })
        print(f"{nb.name}: {meta['seconds']:.0f} s, peak {meta['peak_rss_mb']:,} MiB", flush=True)
    return {"machine": machine, "python": platform.python_version(), "torch": torch.__version__,
            "weights": weights, "notebooks": rows}


def _when(rows: list[dict]) -> str:
    dates = sorted({r.get("measured", "") for r in rows} - {""})
    return dates[0] if len(dates) == 1 else f"between {dates[0]} and {dates[-1]}" if dates else "(no date)"


def render(data: dict, workshop_plans: tuple | None = None) -> str:
    """The Markdown the guide includes: the measured table, then the plans (``plans.PLANS`` by default)."""
    rows = [dict(r, study_minutes=study_minutes(REPO / "notebooks" / f"{r['notebook']}.ipynb"))
            for r in data["notebooks"]]
    lines = [
        "<!-- Written by `make measure` (coursesite/measure.py) from docs/measurements.json. Do not edit. -->",
        "",
        f"Measured {_when(rows)} on {data['machine']}; Python {data['python']}, torch {data['torch']}, "
        f"{data['weights']} weights. Each notebook ran top to bottom in a fresh kernel (`make measure`). "
        "*Run* is the wall time of all its cells; *peak memory* is the kernel's maximum resident set size; "
        "*largest process it started* is the peak of the biggest child process (worker processes, "
        "helpers), which needs memory of its own while it runs; "
        "*study* is the course's time model applied to the notebook (see *How long a notebook takes*).",
        "",
        "| notebook | run (CPU) | peak memory | largest process it started | study | downloads (first use) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        dl = ", ".join(f"`{d['file']}` ({d['mb']} MiB)" for d in r["downloads"]) or "none"
        child = f"{r['child_peak_rss_mb']:,} MiB" if r.get("child_peak_rss_mb") else "none"
        lines.append(f"| `{r['notebook']}` | {r['seconds']:.0f} s | {r['peak_rss_mb']:,} MiB | {child} | "
                     f"{r['study_minutes']} min | {dl} |")
    total_run = sum(r["seconds"] for r in rows)
    peak = max(rows, key=lambda r: r["peak_rss_mb"])
    files = {d["file"]: d["mb"] for r in rows for d in r["downloads"]}
    loads = [r["load_before"] for r in rows]
    lines += [
        "",
        f"All notebooks together: {total_run / 60:.1f} minutes of running, {sum(r['study_minutes'] for r in rows)} "
        f"minutes of study. The most memory: `{peak['notebook']}`, {peak['peak_rss_mb']:,} MiB. Downloads for the "
        f"whole course: {sum(files.values()):,} MiB in {len(files)} files (`make prefetch`). The machine's load "
        f"average before each notebook ranged {min(loads):.1f} to {max(loads):.1f}"
        + (f" (above the {os.cpu_count()} cores: other work competed, so the times are pessimistic)."
           if max(loads) > (os.cpu_count() or 1) else " (an idle machine)."),
        "",
        "### Prerequisites, as each notebook states them",
        "",
        *[f"- `{r['notebook']}` requires {_required(r['notebook'])}. Its title cell: "
          f"{_stated_prerequisites(r['notebook'])}" for r in rows],
        "",
        "## Workshop plans, from these numbers",
        "",
        f"Slots of {plans.SLOT_MINUTES} minutes with a {plans.BREAK_MINUTES}-minute break between them. A hands-on "
        f"notebook gets its study time plus {plans.DISCUSSION_MINUTES} minutes for its discussion questions; a demo "
        "shows the listed sections on the projector, and takes the time model's minutes for those sections. Every "
        "notebook comes after the notebooks it requires (`coursesite/plans.py`; `make measure` and "
        "`tests/test_plans.py` refuse a plan that breaks the order or overflows a slot).",
        "",
    ]
    for plan in (plans.PLANS if workshop_plans is None else workshop_plans):
        lines += plans.render(plan)
    return "\n".join(lines)


def _required(stem: str) -> str:
    names = plans.REQUIRES.get(stem[3:], ())
    found = plans.by_name()
    return ", ".join(f"`{found[n].stem}`" if n in found else f"`{n}`" for n in names) or "nothing"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    previous = json.loads(JSON_PATH.read_text()) if JSON_PATH.is_file() else None
    if argv == ["--render"]:  # re-render the Markdown from the stored numbers, without measuring
        data = previous
    else:
        data = measure(notebook_paths(), None if "--all" in argv else previous)
        JSON_PATH.write_text(json.dumps(data, indent=1) + "\n")
    MD_PATH.write_text(render(data) + "\n")
    print(f"wrote {JSON_PATH.relative_to(REPO)} and {MD_PATH.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
