"""course.py, the launcher: venv paths on every OS, the pip commands it forms, the Makefile as a
thin alias of it, and the USB-stick bundle (its commands, its weights, its pyproject reader).

Nothing here installs anything or touches the network: pip commands are checked as lists, and
the two real runs of course.py (--help, and an install that finds the stamp fresh) do nothing.
Those runs have a `make` on PATH that fails, as in .ci/run: the launcher must not need make.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

REPO = Path(__file__).resolve().parent.parent
FAKE_MAKE = "#!/bin/sh\necho 'make was called: the launcher must not need make' >&2\nexit 1\n"


def _load_launcher():
    spec = importlib.util.spec_from_file_location("course_launcher", REPO / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course = _load_launcher()
ALL_SCHEMES = ("nt", "nt_venv", "posix_prefix", "posix_venv", "venv")  # Python 3.11+
OLD_SCHEMES = ("nt", "nt_user", "posix_prefix", "posix_home", "posix_user")  # Python 3.10


# --- Where a venv keeps its Python ----------------------------------------------------------------

@pytest.mark.parametrize("schemes", [ALL_SCHEMES, OLD_SCHEMES], ids=["3.11+", "3.10"])
def test_windows_venv_layout(schemes):
    venv = PureWindowsPath(r"C:\Users\ada\vgg\.venv")
    assert course.venv_python(venv, "nt", schemes) == PureWindowsPath(r"C:\Users\ada\vgg\.venv\Scripts\python.exe")
    assert course.venv_scripts(venv, "nt", schemes) == PureWindowsPath(r"C:\Users\ada\vgg\.venv\Scripts")


@pytest.mark.parametrize("schemes", [ALL_SCHEMES, OLD_SCHEMES], ids=["3.11+", "3.10"])
def test_posix_venv_layout(schemes):
    venv = PurePosixPath("/home/ada/vgg/.venv")
    assert course.venv_python(venv, "posix", schemes) == PurePosixPath("/home/ada/vgg/.venv/bin/python")


def test_the_scheme_is_sysconfigs_venv_one_where_there_is_one():
    assert course.venv_scheme("nt", ALL_SCHEMES) == "nt_venv"
    assert course.venv_scheme("posix", ALL_SCHEMES) == "posix_venv"
    assert course.venv_scheme("nt", OLD_SCHEMES) == "nt"
    assert course.venv_scheme("posix", OLD_SCHEMES) == "posix_prefix"


def test_this_machines_venv_python_is_where_venv_puts_it(tmp_path):
    """Against the real thing: the path the launcher computes for this OS is the one venv makes."""
    created = REPO / ".venv"
    if not created.exists():
        pytest.skip("no .venv here")
    assert course.python_of(created).exists()
    assert course.python_of(created).parent.name == ("Scripts" if os.name == "nt" else "bin")


# --- The pip commands -----------------------------------------------------------------------------

PINS = ["torch>=2.3,<3", "torchvision>=0.18,<1"]


def _has(cmd: list[str], *words: str) -> bool:
    """Whether cmd holds these words next to each other, in this order."""
    return any(cmd[i:i + len(words)] == list(words) for i in range(len(cmd)))


def test_default_install_is_the_makefiles():
    commands = course.install_commands("py", "test", torch_pins=PINS)
    assert commands == [["py", "-m", "pip", "install", "--quiet", "--no-compile", "--upgrade", "pip"],
                        ["py", "-m", "pip", "install", "--quiet", "--no-compile", "-e", ".[test]"]]


def test_every_command_runs_with_pythons_bytecode_cache_on(tmp_path, monkeypatch):
    """PYTHONDONTWRITEBYTECODE (set on some machines) is dropped: a Python the launcher starts writes
    __pycache__ for what it imports, so the second `import torch` reads it instead of compiling."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    (tmp_path / "lesson.py").write_text("x = 1\n")

    def command(opts):
        return course.run([sys.executable, "-c", "import lesson"], cwd=tmp_path)

    parser = argparse.ArgumentParser()
    parser.set_defaults(function=command)
    monkeypatch.setattr(course, "build_parser", lambda: parser)
    assert course.main([]) == 0
    assert [p.name.split(".")[0] for p in (tmp_path / "__pycache__").iterdir()] == ["lesson"]


def test_cpu_takes_torch_from_pytorchs_cpu_index_first_then_the_rest():
    commands = course.install_commands("py", "test", cpu=True, torch_pins=PINS)
    (torch_step,) = [c for c in commands if _has(c, "--index-url", "https://download.pytorch.org/whl/cpu")]
    rest = commands[-1]
    assert torch_step[-2:] == PINS and commands.index(torch_step) < commands.index(rest)
    assert _has(rest, "-e", ".[test]") and "--index-url" not in rest
    # the rest keeps the CPU index as an extra one, so grad-cam's and captum's torch stay the CPU build
    assert _has(rest, "--extra-index-url", course.CPU_INDEX)


def test_latest_upgrades_everything_eagerly():
    commands = course.install_commands("py", "test", latest=True, cpu=True, torch_pins=PINS)
    for cmd in commands[1:]:  # the torch step and the rest; pip itself is always upgraded
        assert _has(cmd, "--upgrade", "--upgrade-strategy", "eager"), cmd
    assert not any("eager" in c for c in course.install_commands("py", "test", torch_pins=PINS)[1])


def test_from_a_bundle_installs_from_its_wheels_only(tmp_path):
    commands = course.install_commands("py", "", cpu=True, bundle=tmp_path, torch_pins=PINS)
    for cmd in commands:
        assert _has(cmd, "--no-index", "--find-links", str(tmp_path / "wheels")), cmd
        assert "--index-url" not in cmd and "--extra-index-url" not in cmd, cmd
    assert commands[-1][-2:] == ["-e", "."]  # a bundle without the test packages: the course alone


def test_a_bundle_install_ignores_the_machines_pip_configuration(tmp_path):
    environ = {"PATH": "/bin", "PIP_INDEX_URL": "https://mirror.example/simple", "PIP_FIND_LINKS": "/wheels"}
    env = course.pip_env(tmp_path, environ)
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["PATH"] == "/bin"
    assert not any(k.startswith("PIP_") and k != "PIP_CONFIG_FILE" for k in env)
    assert course.pip_env(None, environ) == environ


def test_download_commands_for_another_platform_and_the_cpu_build(tmp_path):
    reqs = ["pip", "torch>=2.3,<3", "torchvision>=0.18,<1", "numpy>=1.24"]
    (here,) = course.download_commands("py", tmp_path, reqs)
    assert here[:4] == ["py", "-m", "pip", "download"] and "--only-binary=:all:" in here
    assert "--platform" not in here and "--implementation" not in here and here[-4:] == reqs
    torch_step, rest = course.download_commands("py", tmp_path, reqs, platforms=["win_amd64"],
                                                python_version="3.11", cpu=True)
    for cmd in (torch_step, rest):
        assert _has(cmd, "--platform", "win_amd64") and _has(cmd, "--python-version", "3.11")
        assert _has(cmd, "--implementation", "cp") and "--only-binary=:all:" in cmd
        assert _has(cmd, "--dest", str(tmp_path))
    assert _has(torch_step, "--index-url", course.CPU_INDEX) and torch_step[-2:] == reqs[1:3]
    assert _has(rest, "--extra-index-url", course.CPU_INDEX) and rest[-2:] == ["pip", "numpy>=1.24"]


@pytest.mark.parametrize("host, tags, foreign", [
    ("linux", ["manylinux_2_28_x86_64", "manylinux2014_x86_64"], []),
    ("linux", ["win_amd64", "macosx_11_0_arm64"], ["win_amd64", "macosx_11_0_arm64"]),
    ("win32", ["win_amd64", "manylinux_2_28_x86_64"], ["manylinux_2_28_x86_64"]),
    ("darwin", ["macosx_11_0_arm64", "macosx_10_15_x86_64"], []),
])
def test_a_bundle_for_another_os_is_refused(host, tags, foreign):
    """pip reads dependency markers for the host (pypa/pip#11664): torch's Linux-only CUDA packages."""
    assert course.foreign_platforms(tags, host) == foreign


def test_bundle_for_another_os_stops_before_downloading(monkeypatch, tmp_path):
    ran = _fake_bundle_world(monkeypatch, tmp_path)
    monkeypatch.setattr(course.sys, "platform", "linux")
    with pytest.raises(SystemExit, match="11664"):
        course.make_bundle(tmp_path / "stick", ["win_amd64"], "3.11", cpu=False, with_tests=False,
                           venv=tmp_path / "venv")
    assert ran == []


def test_a_bundle_holds_pip_the_build_backend_the_course_and_jupyterlab():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    names = {course.requirement_name(r) for r in course.bundle_requirements(pyproject, with_tests=False)}
    assert {"pip", "setuptools", "torch", "torchvision", "jupyterlab", "opencv-python-headless"} <= names
    assert "pytest" not in names and "nbval" not in names
    with_tests = {course.requirement_name(r) for r in course.bundle_requirements(pyproject, with_tests=True)}
    assert {"pytest", "nbval", "grad-cam"} <= with_tests


@pytest.mark.parametrize("requirement, name", [
    ("torch>=2.3,<3", "torch"), ("opencv_python-headless >= 4.8", "opencv-python-headless"),
    ("grad-cam==1.5.7", "grad-cam"), ("Pillow; python_version>'3'", "pillow"), ("course-utils[test]", "course-utils")])
def test_requirement_name(requirement, name):
    assert course.requirement_name(requirement) == name


# --- pyproject.toml without tomllib (Python 3.10) -------------------------------------------------

def _the_launchers_keys(data: dict) -> dict:
    project = data["project"]
    return {"requires": data["build-system"]["requires"], "dependencies": project["dependencies"],
            "extras": project["optional-dependencies"]}


def test_the_310_reader_agrees_with_tomllib_on_the_real_pyproject():
    text = (REPO / "pyproject.toml").read_text()
    assert _the_launchers_keys(course.parse_pyproject_arrays(text)) == _the_launchers_keys(tomllib.loads(text))


def test_the_310_reader_on_comments_one_line_arrays_and_brackets_in_strings():
    text = '''
[build-system]
requires = ["setuptools>=61", "wheel"]  # "quoted" in a comment
[project]
name = "x"
classifiers = ["not this one"]
dependencies = [
    "torch>=2.3,<3",  # a comment, with a ] in it
    # a whole line of comment, "with quotes"
    "course-utils[test]>=0.1",
    "pkg @ https://example.org/p.whl#sha256=00",
]
[project.optional-dependencies]
test = ["pytest>=7.4"]
"site" = [
  "jupyter-book>=1.0.4,<2",
]
[tool.ruff]
select = ["E"]
'''
    assert _the_launchers_keys(course.parse_pyproject_arrays(text)) == _the_launchers_keys(tomllib.loads(text))


def test_load_pyproject_without_tomllib_uses_the_small_reader(monkeypatch):
    monkeypatch.setitem(sys.modules, "tomllib", None)  # `import tomllib` now fails, as on 3.10
    data = course.load_pyproject(REPO / "pyproject.toml")
    assert course.torch_requirements(data) == course.torch_requirements(tomllib.loads((REPO / "pyproject.toml")
                                                                                      .read_text()))


# --- torch's weights cache and the bundle's weights -----------------------------------------------

def test_the_weights_cache_is_found_as_torch_hub_finds_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    hub = Path("hub", "checkpoints")
    assert course.torch_hub_checkpoints({"TORCH_HOME": "/t", "XDG_CACHE_HOME": "/x"}) == Path("/t") / hub
    assert course.torch_hub_checkpoints({"XDG_CACHE_HOME": "/x"}) == Path("/x", "torch") / hub
    assert course.torch_hub_checkpoints({}) == tmp_path / ".cache" / "torch" / hub
    try:
        import torch.hub
    except ImportError:
        return
    for env in ({"TORCH_HOME": str(tmp_path / "t")}, {"XDG_CACHE_HOME": str(tmp_path / "x")}, {}):
        with monkeypatch.context() as m:
            m.delenv("TORCH_HOME", raising=False)
            m.delenv("XDG_CACHE_HOME", raising=False)
            for k, v in env.items():
                m.setenv(k, v)
            assert course.torch_hub_checkpoints() == Path(torch.hub.get_dir()) / "checkpoints", env


def test_weights_are_copied_once_and_partial_downloads_left_out(tmp_path):
    source, target = tmp_path / "cache", tmp_path / "stick" / "weights"
    source.mkdir()
    (source / "vgg16-397923af.pth").write_bytes(b"w" * 100)
    (source / "vgg11-8a719046.pth").write_bytes(b"v" * 50)
    (source / "vgg11-8a719046.pth.partial").write_bytes(b"v" * 10)  # a download cut short
    copied = course.copy_weights(source, target)
    assert sorted(p.name for p in copied) == ["vgg11-8a719046.pth", "vgg16-397923af.pth"]
    assert sorted(p.name for p in target.iterdir()) == ["vgg11-8a719046.pth", "vgg16-397923af.pth"]
    assert (target / "vgg16-397923af.pth").read_bytes() == b"w" * 100
    assert course.copy_weights(source, target) == []  # already there, same size
    (target / "vgg11-8a719046.pth").write_bytes(b"v")  # truncated: copied again
    assert [p.name for p in course.copy_weights(source, target)] == ["vgg11-8a719046.pth"]
    assert course.copy_weights(tmp_path / "none", target) == []


def test_the_course_copy_leaves_out_venv_cache_git_and_a_bundle_inside_it(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    for name in ("course.py", "notebooks/00_setup.ipynb", ".venv/bin/python", ".cache/x", "stick/wheels/a.whl",
                 "course_utils/__pycache__/a.pyc"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x")
    monkeypatch.setattr(course.shutil, "which", lambda name: None)  # no git: the walk
    assert course.copy_course(repo / "stick" / "course", repo) == 2
    copied = sorted(str(p.relative_to(repo / "stick" / "course")) for p in (repo / "stick" / "course").rglob("*")
                    if p.is_file())
    assert copied == ["course.py", str(Path("notebooks", "00_setup.ipynb"))]


def test_the_course_copy_is_gits_list_with_new_files(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and the course's clone")
    files = {p.as_posix() for p in course.course_files(REPO)}
    assert {"course.py", "pyproject.toml", "notebooks/00_setup.ipynb", "tests/test_launcher.py"} <= files
    assert not any(f.startswith((".venv/", ".cache/", ".git/")) for f in files)


def _fake_bundle_world(monkeypatch, tmp_path):
    """course.py with pip replaced by a recorder that writes the wheel files pip would."""
    ran: list[list[str]] = []

    def fake_check(cmd, env=None, cwd=course.REPO):
        cmd = [str(c) for c in cmd]
        ran.append(cmd)
        if "download" in cmd or "wheel" in cmd:
            dest = Path(cmd[cmd.index("--dest" if "download" in cmd else "--wheel-dir") + 1])
            (dest / f"pkg{len(ran)}-1.0-py3-none-any.whl").write_bytes(b"wheel")

    monkeypatch.setattr(course, "check", fake_check)
    monkeypatch.setattr(course, "ensure_venv", lambda venv: Path(venv) / "bin" / "python")
    monkeypatch.setattr(course, "copy_course", lambda target, repo=course.REPO: 0)
    torch_home = tmp_path / "torch"
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    (torch_home / "hub" / "checkpoints" / "vgg16-397923af.pth").write_bytes(b"w" * 10)
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    return ran


HERE = {"win32": "win_amd64", "darwin": "macosx_11_0_arm64"}.get(sys.platform, "manylinux_2_28_x86_64")


def test_a_bundle_has_wheels_weights_readme_and_is_reused_when_complete(monkeypatch, tmp_path):
    ran = _fake_bundle_world(monkeypatch, tmp_path)
    stick = tmp_path / "stick"
    course.make_bundle(stick, [HERE], "3.11", cpu=False, with_tests=False, venv=tmp_path / "venv")
    assert [c[3] for c in ran] == ["download", "wheel"]
    # the course's wheel is built from a copy outside the course's folder, which may be in use meanwhile
    assert _has(ran[0], "--platform", HERE) and "--no-deps" in ran[1]
    assert Path(ran[1][-1]).name == "course" and not Path(ran[1][-1]).is_relative_to(course.REPO)
    assert (stick / "weights" / "vgg16-397923af.pth").read_bytes() == b"w" * 10
    manifest = json.loads((stick / "bundle.json").read_text())
    assert manifest["platforms"] == [HERE] and len(manifest["wheels"]) == 2 and not manifest["with_tests"]
    readme = (stick / "README.txt").read_text()
    assert "--from" in readme and "py course.py lab" in readme and HERE in readme
    ran.clear()
    course.make_bundle(stick, [HERE], "3.11", cpu=False, with_tests=False, venv=tmp_path / "venv")
    assert ran == [], "a complete bundle is downloaded again"
    course.make_bundle(stick, [HERE], "3.11", cpu=False, with_tests=True, venv=tmp_path / "venv")
    assert [c[3] for c in ran] == ["download", "wheel"], "other options: the bundle is not complete for them"
    ran.clear()
    next((stick / "wheels").glob("*.whl")).unlink()
    course.make_bundle(stick, [HERE], "3.11", cpu=False, with_tests=True, venv=tmp_path / "venv")
    assert ran, "a wheel is missing: the bundle is not complete"


def test_install_from_a_bundle_is_offline_and_copies_its_weights(monkeypatch, tmp_path):
    ran = _fake_bundle_world(monkeypatch, tmp_path)
    stick = tmp_path / "stick"
    course.make_bundle(stick, [], None, cpu=False, with_tests=False, venv=tmp_path / "venv")
    ran.clear()
    envs = []
    monkeypatch.setattr(course, "check", lambda cmd, env=None, cwd=course.REPO: (ran.append(cmd), envs.append(env)))
    monkeypatch.setattr(course, "repair_opencv", lambda python, env, bundle: None)
    learner_torch = tmp_path / "learner-torch"
    monkeypatch.setenv("TORCH_HOME", str(learner_torch))
    venv = tmp_path / "learner-venv"
    venv.mkdir()
    opts = course.build_parser().parse_args(["install", "--venv", str(venv), "--from", str(stick)])
    course.set_up(opts)
    pip_commands = [c for c in ran if _has(c, "-m", "pip")]
    assert pip_commands and all(_has(c, "--no-index", "--find-links", str(stick.resolve() / "wheels"))
                                for c in pip_commands)
    assert all(env["PIP_CONFIG_FILE"] == os.devnull for env in envs)
    assert (learner_torch / "hub" / "checkpoints" / "vgg16-397923af.pth").exists()
    assert (venv / course.STAMP).read_text() == "runtime"
    with pytest.raises(SystemExit, match="--with-tests"):  # `test` needs what this bundle lacks
        course.set_up(course.build_parser().parse_args(["test", "--venv", str(venv), "--from", str(stick)]),
                      needs_tests=True)


# --- The Makefile and .ci/run: aliases, nothing more ----------------------------------------------

def _make_rules() -> dict[str, list[str]]:
    """Target -> its recipe lines, from the Makefile."""
    rules: dict[str, list[str]] = {}
    target = None
    for line in (REPO / "Makefile").read_text().splitlines():
        if line.startswith("\t") and target:
            rules[target].append(line.strip())
        elif m := re.match(r"^([a-z][a-z-]*):(?!=)", line):
            target = m.group(1)
            rules[target] = []
        elif not line.startswith("\t"):
            target = None
    return rules


def test_the_makefile_is_a_thin_alias_of_the_launcher():
    text = (REPO / "Makefile").read_text()
    rules = _make_rules()
    assert set(rules) == set(course.COMMANDS), "one make target per launcher command, no more, no less"
    for target, recipe in rules.items():
        assert len(recipe) == 1, f"make {target}: one line, calling course.py"
        assert re.fullmatch(rf'(CHROMIUM="\$\(CHROMIUM\)" )?\$\(PYTHON\) course\.py {target}( .*)?', recipe[0]), \
            f"make {target} runs {recipe[0]!r}, not `$(PYTHON) course.py {target} ...`"
    code = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    for word in ("pip", "venv", "STAMP", "bin/", ".installed", "touch", "rm -rf"):
        assert word not in code, f"the Makefile still does set-up work ({word!r}): that is course.py's job"
    for variable in ("PORT", "IP", "LAB_ARGS", "SITE_ARGS", "CHROMIUM", "PYTHON"):
        assert f"$({variable})" in code, f"the Makefile lost its {variable} variable"
    phony = re.search(r"^\.PHONY:(.*)$", text.replace("\\\n", " "), re.M).group(1).split()
    assert set(phony) == set(rules)


def _gnu_make() -> str | None:
    """A real GNU make on PATH, skipping the failing stand-in that .ci/run puts first (it hides make)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("make", path=folder)
        if candidate:
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout
            if version.startswith("GNU Make"):
                return candidate
    return None


@pytest.mark.skipif(_gnu_make() is None, reason="needs GNU make to expand the Makefile")
def test_make_passes_its_variables_to_the_launchers_options():
    make = _gnu_make()

    def dry(*args: str) -> str:
        return subprocess.run([make, "-s", "-n", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    assert dry("lab") == "python3 course.py lab --port 8888 --ip localhost --"
    assert dry("lab", "PORT=9000", "IP=0.0.0.0", "LAB_ARGS=--no-browser") == \
        "python3 course.py lab --port 9000 --ip 0.0.0.0 -- --no-browser"
    assert dry("site", "SITE_ARGS=--only 03", "PYTHON=py") == "py course.py site -- --only 03"
    assert dry("test-browser", "CHROMIUM=/opt/chromium") == 'CHROMIUM="/opt/chromium" python3 course.py test-browser'


def test_ci_calls_the_launcher_in_order_and_hides_make():
    ci = (REPO / ".ci" / "run").read_text()
    steps = re.findall(r"^python3 course\.py (\S+)", ci, re.M)
    assert steps == ["test", "test-browser", "test-rerun", "test-offline", "test-site"]
    assert not re.search(r"^\s*make\b", ci, re.M), ".ci/run calls make"
    assert "make was called: the launcher must not need make" in ci and 'export PATH="$no_make:$PATH"' in ci
    assert ci.index("export PATH") < ci.index("python3 course.py test")
    assert "apt-get install" in ci and ci.index("apt-get install") < ci.index("course.py test-browser")


# --- Real runs, with a make that fails ------------------------------------------------------------

def _env_without_make(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "no-make"
    bin_dir.mkdir()
    (bin_dir / "make").write_text(FAKE_MAKE)
    (bin_dir / "make").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def _launcher(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "course.py"), *args], cwd=REPO, env=_env_without_make(tmp_path),
                          capture_output=True, text=True, timeout=120)


def test_the_fake_make_fails(tmp_path):
    if os.name == "nt":
        pytest.skip("a shell script make is for POSIX")
    env = _env_without_make(tmp_path)
    result = subprocess.run(["make", "--version"], env=env, capture_output=True, text=True)
    assert result.returncode == 1 and "must not need make" in result.stderr


def test_help_lists_every_command_with_a_line(tmp_path):
    result = _launcher(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for name, (summary, _function, _options) in course.COMMANDS.items():
        assert f" {name} " in text and " ".join(summary.split()) in text, f"--help does not describe {name}"
    assert set(course.COMMANDS) >= {"lab", "test", "test-rerun", "test-browser", "prefetch", "test-pretrained",
                                    "site", "handouts", "measure", "test-site", "benchmark", "clean-outputs",
                                    "clean", "install", "bundle", "test-offline"}


def test_install_with_a_fresh_stamp_does_nothing(tmp_path):
    """A venv whose stamp is newer than pyproject.toml: `install` runs nothing and succeeds.

    Its Python is a file that cannot run: if the launcher called pip, this would fail.
    """
    venv = tmp_path / "venv"
    python = course.python_of(venv)
    python.parent.mkdir(parents=True)
    python.write_text("not a program\n")
    stamp = venv / course.STAMP
    stamp.write_text("test")
    later = max(time.time(), (REPO / "pyproject.toml").stat().st_mtime) + 60
    os.utime(stamp, (later, later))
    result = _launcher(tmp_path, "install", "--venv", str(venv))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "+ " not in result.stdout, f"a fresh stamp, yet the launcher ran:\n{result.stdout}"
    assert "is ready" in result.stdout


def test_install_with_a_stale_stamp_would_install(tmp_path):
    """The other side of the test above: an old stamp makes the launcher call pip (here: a Python that fails)."""
    venv = tmp_path / "venv"
    python = course.python_of(venv)
    python.parent.mkdir(parents=True)
    python.write_text("not a program\n")
    (venv / course.STAMP).write_text("test")
    os.utime(venv / course.STAMP, (0, 0))
    result = _launcher(tmp_path, "install", "--venv", str(venv))
    assert result.returncode != 0 and "pip install" in result.stdout + result.stderr


def test_tests_run_on_two_workers_with_their_share_of_the_cores():
    options, env = course.parallel_test_options(2, {"PATH": "/bin"})
    assert options == ["-n", "2", "--dist", "loadfile"]  # whole files: a notebook's cells in one kernel, in order
    assert env["OMP_NUM_THREADS"] == "1" and env["OMP_WAIT_POLICY"] == "PASSIVE" and env["PATH"] == "/bin"
    options, env = course.parallel_test_options(8, {})
    assert options[:2] == ["-n", "2"] and env["OMP_NUM_THREADS"] == "4"  # two workers at most: memory
    assert course.parallel_test_options(1, {"PATH": "/bin"}) == ([], {"PATH": "/bin"})  # one core: as before
    _, env = course.parallel_test_options(2, {"OMP_NUM_THREADS": "3"})
    assert env["OMP_NUM_THREADS"] == "3", "a thread count the user set is kept"


def test_benchmark_runs_every_script_in_benchmarks():
    """`course.py benchmark` (and `make benchmark`) runs each timing script, a new one included."""
    assert sorted(course.BENCHMARKS) == sorted(p.name for p in (REPO / "benchmarks").glob("*.py"))


def test_the_launcher_runs_on_a_python_without_the_course_installed(tmp_path):
    """course.py runs before .venv exists: it, and the course_utils.launch it reads, need nothing beyond
    the standard library. `-S`: a Python without site-packages (no torch, no numpy), started elsewhere."""
    result = subprocess.run([sys.executable, "-S", "-E", str(REPO / "course.py"), "--help"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout
