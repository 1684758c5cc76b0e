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

from coursesite import REPO, notebook_paths
from coursesite.executed import executed_path, source_sha256, weights_kind

JSON_PATH = REPO / "docs" / "measurements.json"
MD_PATH = REPO / "docs" / "measurements.md"

# Workshop plans, by notebook name (numbers change when notebooks are added); the minutes
# come from the measurements. "demo": the instructor shows it for a few minutes instead of
# hands-on. "*" is every notebook not named elsewhere in the plan, in teaching order.
PLANS = {
    "Half day (3.5 hours)": {
        "minutes": 210,
        "before": ["setup"],  # done at home or at the door: the set-up check
        "hands_on": ["vgg_architecture", "feature_maps", "grad_cam"],
        "demo": ["build_vgg_by_hand", "pretrained_inference", "training_vgg", "transfer_learning",
                 "checking_explanations"],
    },
    "Full day (6.5 hours of teaching, lunch not counted)": {
        "minutes": 390,
        "before": ["setup"],
        "hands_on": ["vgg_architecture", "pretrained_inference", "training_vgg", "feature_maps", "grad_cam"],
        "demo": ["build_vgg_by_hand", "transfer_learning", "checking_explanations", "beyond_vgg"],
    },
}
DISCUSSION_MIN = 10  # per hands-on notebook, for its discussion questions
DEMO_MIN = 5
BREAK_MIN = 15  # one per 90-minute slot after the first


def study_minutes(notebook: Path) -> int:
    """The "Time: about N minutes" the notebook's title cell promises."""
    title = nbformat.read(str(notebook), as_version=4).cells[0].source
    match = re.search(r"Time:?\**:?\s*about (\d+)", title)
    if not match:
        raise ValueError(f"{notebook.name}: its title cell has no 'Time: about N minutes'")
    return int(match.group(1))


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
            "child_peak_rss_mb": meta.get("child_peak_rss_mb", 0), "study_minutes": study_minutes(nb),
            "downloads": downloads(nb), "load_before": meta["load_before"],
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "source_sha256": meta["source_sha256"],
        })
        print(f"{nb.name}: {meta['seconds']:.0f} s, peak {meta['peak_rss_mb']:,} MiB", flush=True)
    return {"machine": machine, "python": platform.python_version(), "torch": torch.__version__,
            "weights": weights, "notebooks": rows}


def _plan_rows(plan: dict, by_name: dict) -> dict[str, list[dict]]:
    """The plan's notebooks by part, "*" expanded; a name that is no notebook is an error."""
    named = {n for part in ("before", "hands_on", "demo") for n in plan[part] if n != "*"}
    unknown = named - set(by_name)
    if unknown:
        raise ValueError(f"PLANS names notebooks that do not exist: {sorted(unknown)}; have {sorted(by_name)}")
    rest = [n for n in by_name if n not in named]
    return {part: [by_name[n] for name in plan[part] for n in (rest if name == "*" else [name])]
            for part in ("before", "hands_on", "demo")}


def _plan_table(name: str, plan: dict, by_name: dict) -> list[str]:
    lines = [f"### {name}", "", "| slot | what | minutes |", "|---|---|---|"]
    total, slot_used = 0, 0
    parts = _plan_rows(plan, by_name)
    for row in parts["before"]:
        what = f"`{row['notebook']}` at home or at the door (the set-up check)"
        lines.append(f"| before | {what} | ({row['study_minutes']}) |")
    for kind in ("hands_on", "demo"):
        for row in parts[kind]:
            minutes = row["study_minutes"] + DISCUSSION_MIN if kind == "hands_on" else DEMO_MIN
            if slot_used and slot_used + minutes > 90:
                lines.append(f"| | break | {BREAK_MIN} |")
                total += BREAK_MIN
                slot_used = 0
            what = (f"`{row['notebook']}` hands-on ({row['study_minutes']} study + {DISCUSSION_MIN} discussion)"
                    if kind == "hands_on" else f"`{row['notebook']}` as an instructor demo")
            lines.append(f"| | {what} | {minutes} |")
            total += minutes
            slot_used += minutes
    left_out = [r["notebook"] for r in by_name.values() if not any(r in p for p in parts.values())]
    spare = plan["minutes"] - total
    if spare < 0:
        raise ValueError(f"{name}: the plan needs {total} minutes, {-spare} more than its {plan['minutes']}; "
                         "move a notebook to 'demo' in coursesite/measure.py PLANS")
    lines += [f"| | **total** | **{total}** of {plan['minutes']} ({spare} spare for questions and set-up trouble) |",
              ""]
    if left_out:
        lines += [f"Not in this plan (homework): {', '.join(f'`{n}`' for n in left_out)}.", ""]
    return lines


def _when(rows: list[dict]) -> str:
    dates = sorted({r.get("measured", "") for r in rows} - {""})
    return dates[0] if len(dates) == 1 else f"between {dates[0]} and {dates[-1]}" if dates else "(no date)"


def render(data: dict, plans: dict | None = None) -> str:
    """The Markdown the guide includes: the measured table, then the plans (``PLANS`` by default)."""
    rows = data["notebooks"]
    by_name = {r["notebook"][3:]: r for r in rows}  # "02_vgg_architecture" -> "vgg_architecture"
    lines = [
        "<!-- Written by `make measure` (coursesite/measure.py) from docs/measurements.json. Do not edit. -->",
        "",
        f"Measured {_when(rows)} on {data['machine']}; Python {data['python']}, torch {data['torch']}, "
        f"{data['weights']} weights. Each notebook ran top to bottom in a fresh kernel (`make measure`). "
        "*Run* is the wall time of all its cells; *peak memory* is the kernel's maximum resident set size; "
        "*largest process it started* is the peak of the biggest child process (worker processes, "
        "helpers), which needs memory of its own while it runs; "
        "*study* is the time the notebook's title promises for reading and running it.",
        "",
        "| notebook | run (CPU) | peak memory | largest process it started | study | downloads (first use) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        dl = ", ".join(f"`{d['file']}` ({d['mb']} MB)" for d in r["downloads"]) or "none"
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
        f"whole course: {sum(files.values()):,} MB in {len(files)} files (`make prefetch`). The machine's load "
        f"average before each notebook ranged {min(loads):.1f} to {max(loads):.1f}"
        + (f" (above the {os.cpu_count()} cores: other work competed, so the times are pessimistic)."
           if max(loads) > (os.cpu_count() or 1) else " (an idle machine)."),
        "",
        "### Prerequisites, as each notebook states them",
        "",
        *[f"- `{r['notebook']}`: {_stated_prerequisites(r['notebook'])}" for r in rows],
        "",
        "## Workshop plans, from these numbers",
        "",
        f"Each hands-on notebook gets its study time plus {DISCUSSION_MIN} minutes for its discussion questions; "
        f"a demo notebook gets {DEMO_MIN} minutes on the projector; a {BREAK_MIN}-minute break follows each "
        "90-minute slot. `make measure` refuses to write a plan that does not fit.",
        "",
    ]
    for name, plan in (PLANS if plans is None else plans).items():
        lines += _plan_table(name, plan, by_name)
    return "\n".join(lines)


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
