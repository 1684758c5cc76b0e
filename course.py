"""The course's launcher: every command a learner or an instructor needs, standard library only.

(It also reads ``course_utils/launch.py``, which is standard library only too, for ``cpu_cores``.)

    py course.py lab               (Windows)        python3 course.py lab     (macOS, Linux)
    py course.py test                               python3 course.py test
    python3 course.py --help                        every command, one line each

Why a Python file: every learner has Python, but `make` is missing on Windows and on many Macs.
Each command first sets up the course's environment, `.venv` next to this file: it creates it
the first time, installs the course into it (`pip install -e '.[test]'`), and installs again when
pyproject.toml is newer than the stamp file `.venv/.installed`. Then it runs, always with the
environment's own Python. `make lab`, `make test` and the rest still work: the Makefile only calls
this file.

Two things are harder than they look, and each has a small function below with a test:

* where a venv keeps its Python: `.venv/bin/python` on macOS and Linux, `.venv\\Scripts\\python.exe`
  on Windows. Python's own `sysconfig` knows both layouts; `venv_python` asks it.
* a room with no network: `course.py bundle DIR` writes everything the course installs onto a USB
  stick, and `course.py lab --from DIR` installs from it with pip's `--no-index`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from course_utils.launch import cpu_cores  # standard library only: runs before .venv exists

REPO = Path(__file__).resolve().parent
PYPROJECT = REPO / "pyproject.toml"
VENV = REPO / ".venv"
STAMP = ".installed"  # inside the venv: written after a complete install
SITE_STAMP = ".installed-site"
# PyTorch's documented route to a CPU-only build (pytorch.org, "Get started": pip, CPU). On Linux,
# PyPI's torch brings the CUDA libraries (several GB) even to a machine without a GPU.
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_PACKAGES = ("torch", "torchvision")
OFFLINE_CACHE = REPO / ".cache"


# --- Where a venv keeps its Python ----------------------------------------------------------------

def venv_scheme(os_name: str, schemes: Iterable[str] | None = None) -> str:
    """The sysconfig install scheme that describes a venv on `os_name` ("nt" or "posix").

    Python 3.11+ names it "nt_venv" / "posix_venv" ("venv" is the one for the OS we run on);
    3.10 has only the general schemes, "nt" and "posix_prefix", which lay a venv out the same way.
    """
    names = set(sysconfig.get_scheme_names() if schemes is None else schemes)
    kind = "nt" if os_name == "nt" else "posix"
    if f"{kind}_venv" in names:
        return f"{kind}_venv"
    return "nt" if kind == "nt" else "posix_prefix"


def venv_scripts(venv: PurePath, os_name: str, schemes: Iterable[str] | None = None) -> PurePath:
    """The folder of a venv's programs: `bin` on POSIX, `Scripts` on Windows, as sysconfig says.

    sysconfig's template (e.g. "{base}/Scripts") is read unexpanded, so this works for either
    OS on either OS, which is what lets the tests check the Windows layout on Linux.
    """
    template = sysconfig.get_path("scripts", venv_scheme(os_name, schemes), expand=False)
    relative = template.replace("{base}", "").replace("{platbase}", "").strip("/")
    flavour = PureWindowsPath if os_name == "nt" else PurePosixPath
    return flavour(venv, *relative.split("/"))


def venv_python(venv: PurePath, os_name: str, schemes: Iterable[str] | None = None) -> PurePath:
    """A venv's Python: `.venv/bin/python` on POSIX, `.venv\\Scripts\\python.exe` on Windows."""
    return venv_scripts(venv, os_name, schemes) / ("python.exe" if os_name == "nt" else "python")


def python_of(venv: Path) -> Path:
    """This machine's path to the venv's Python."""
    return Path(venv_python(venv, os.name))


# --- What pyproject.toml asks for -----------------------------------------------------------------

def _strip_comment(line: str) -> str:
    """The line without its `# comment` (a `#` inside a "string" stays)."""
    in_string = False
    for i, char in enumerate(line):
        if char == '"':
            in_string = not in_string
        elif char == "#" and not in_string:
            return line[:i]
    return line


def _closes_array(line: str) -> bool:
    """Whether a line ends an array: a `]` outside strings ("course-utils[test]" has one inside)."""
    return "]" in re.sub(r'"[^"]*"', "", line)


def parse_pyproject_arrays(text: str) -> dict:
    """The few lists the launcher needs from pyproject.toml, for Python 3.10 (which has no tomllib).

    Reads `requires` in [build-system], `dependencies` in [project] and every list in
    [project.optional-dependencies]: arrays of "double-quoted" strings, on one line or several.
    It returns the same shape as tomllib for those keys, and nothing else.
    """
    result: dict = {"build-system": {}, "project": {"optional-dependencies": {}}}
    wanted = {"build-system": result["build-system"], "project": result["project"],
              "project.optional-dependencies": result["project"]["optional-dependencies"]}
    table, key, items = "", None, []
    for raw in text.splitlines():
        line = _strip_comment(raw).strip()
        if key is not None:  # inside a multi-line array
            items += re.findall(r'"([^"]*)"', line)
            if _closes_array(line):
                wanted[table][key], key = items, None
            continue
        if header := re.fullmatch(r"\[([^\]]+)\]", line):
            table = header.group(1).strip()
            continue
        start = re.fullmatch(r'([A-Za-z0-9_-]+|"[^"]+")\s*=\s*\[(.*)', line)
        if start and table in wanted and (table != "project" or start.group(1) == "dependencies") \
                and (table != "build-system" or start.group(1) == "requires"):
            key, items = start.group(1).strip('"'), re.findall(r'"([^"]*)"', start.group(2))
            if _closes_array(start.group(2)):
                wanted[table][key], key = items, None
    return result


def load_pyproject(path: Path = PYPROJECT) -> dict:
    """pyproject.toml as a dict: tomllib on Python 3.11+, else the small reader above."""
    text = path.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        return parse_pyproject_arrays(text)
    return tomllib.loads(text)


def requirement_name(requirement: str) -> str:
    """The package a requirement names, normalised: "opencv_python-headless>=4.8" -> "opencv-python-headless"."""
    return re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def torch_requirements(pyproject: dict) -> list[str]:
    """torch and torchvision as pyproject.toml pins them: what --cpu takes from PyTorch's CPU index."""
    return [r for r in pyproject["project"]["dependencies"] if requirement_name(r) in TORCH_PACKAGES]


# --- Setting up .venv -----------------------------------------------------------------------------

def bundle_options(bundle: Path | None) -> list[str]:
    """pip's options for installing from a bundle's wheels and nothing else (no network)."""
    return [] if bundle is None else ["--no-index", "--find-links", str(bundle / "wheels")]


def install_commands(python: str, extras: str, *, cpu: bool = False, latest: bool = False,
                     bundle: Path | None = None, torch_pins: Iterable[str] = TORCH_PACKAGES) -> list[list[str]]:
    """The pip commands that install the course into a venv, in order.

    extras: "test", "test,site", or "" for the course alone. --cpu first installs torch and
    torchvision from PyTorch's CPU-only index (its documented command), then the rest with that
    index as an extra one, so nothing that needs torch (grad-cam, captum) brings the CUDA build
    back. --latest upgrades every package to its newest release. --from (bundle) installs from
    the bundle's wheels only, so --cpu is the bundle's business there. pip does not byte-compile
    the 13,000 files it installs: Python compiles each module the first time it is imported
    (see ``keep_bytecode``), and the course imports about a quarter of them.
    """
    pip = [python, "-m", "pip", "install", "--quiet", "--no-compile"]
    source = bundle_options(bundle)
    upgrade = ["--upgrade", "--upgrade-strategy", "eager"] if latest else []
    commands = [pip + source + ["--upgrade", "pip"]]
    extra_index: list[str] = []
    if cpu and bundle is None:
        commands.append(pip + upgrade + ["--index-url", CPU_INDEX, *torch_pins])
        extra_index = ["--extra-index-url", CPU_INDEX]
    commands.append(pip + source + extra_index + upgrade + ["-e", f".[{extras}]" if extras else "."])
    return commands


def keep_bytecode(environ: MutableMapping[str, str]) -> None:
    """Let Python write its bytecode cache (``__pycache__``) again, for every command the launcher runs.

    Python compiles each module the first time it is imported and keeps the result, so the next
    ``import torch`` reads it instead (measured here: 33 s the first time, 16 s after, for the
    course's imports). Some machines set PYTHONDONTWRITEBYTECODE, which turns the cache off and
    makes every import pay the compile again; the course's own environment keeps its cache.
    """
    environ.pop("PYTHONDONTWRITEBYTECODE", None)


def pip_env(bundle: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for pip: unchanged, or for a bundle without any pip configuration.

    A machine's pip.conf or PIP_* variables can add indexes and folders of wheels; an install
    from a bundle must use the bundle alone, so that it works the same on every learner's laptop.
    """
    env = dict(os.environ if environ is None else environ)
    if bundle is None:
        return env
    env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # pip reads no configuration file at all
    return env


def stamp_is_fresh(venv: Path, needs_tests: bool, pyproject: Path = PYPROJECT) -> bool:
    """Whether .venv is installed and newer than pyproject.toml (with the test packages if needed).

    The stamp holds what was installed: "runtime" after a bundle without the test packages; a
    stamp written by the old Makefile is empty and meant the test packages too.
    """
    stamp = venv / STAMP
    if not python_of(venv).exists() or not stamp.exists():
        return False
    if stamp.stat().st_mtime < pyproject.stat().st_mtime:
        return False
    return not (needs_tests and stamp.read_text(encoding="utf-8").strip() == "runtime")


def site_stamp_is_fresh(venv: Path, pyproject: Path = PYPROJECT) -> bool:
    """Whether the site's packages were installed after the course's and after pyproject.toml changed."""
    stamp, site = venv / STAMP, venv / SITE_STAMP
    return site.exists() and stamp.exists() and site.stat().st_mtime >= max(
        stamp.stat().st_mtime, pyproject.stat().st_mtime)


def show(cmd: list[str]) -> str:
    """A command as one would type it (for the log)."""
    return shlex.join(str(c) for c in cmd)


def run(cmd: list[str], env: Mapping[str, str] | None = None, cwd: Path = REPO) -> int:
    """Run a command, print it first (as make does), and return its exit status.

    Ctrl-C reaches the child too (same terminal); we wait for it to finish instead of
    leaving it behind with a traceback.
    """
    print("+", show(cmd), flush=True)
    process = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=None if env is None else dict(env))
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def check(cmd: list[str], env: Mapping[str, str] | None = None, cwd: Path = REPO) -> None:
    """Run a command; stop the launcher, saying which command failed, if it fails."""
    status = run(cmd, env, cwd)
    if status != 0:
        raise SystemExit(f"course.py: this command failed (exit status {status}):\n    {show(cmd)}")


def ensure_venv(venv: Path) -> Path:
    """Create the venv if it has no Python yet (with the Python running this file); return its Python."""
    python = python_of(venv)
    if not python.exists():
        check([sys.executable, "-m", "venv", str(venv)])
    return python


def repair_opencv(python: Path, env: Mapping[str, str], bundle: Path | None) -> None:
    """Remove opencv-python from a venv made before the course switched to opencv-python-headless.

    Both install the same cv2/ folder, so uninstalling the GUI one deletes headless's files too:
    reinstall headless, same version, afterwards (CONTRIBUTING.md, OpenCV).
    """
    pip = [str(python), "-m", "pip"]
    found = subprocess.run(pip + ["show", "opencv-python"], capture_output=True, text=True, env=dict(env))
    if found.returncode != 0:
        return
    check(pip + ["uninstall", "--yes", "--quiet", "opencv-python"], env)
    shown = subprocess.run(pip + ["show", "opencv-python-headless"], capture_output=True, text=True, env=dict(env))
    version = re.search(r"^Version: (\S+)", shown.stdout, re.M)
    spec = f"opencv-python-headless=={version.group(1)}" if version else "opencv-python-headless"
    check(pip + ["install", "--quiet", "--force-reinstall", "--no-deps", *bundle_options(bundle), spec], env)


def set_up(opts: argparse.Namespace, needs_tests: bool = False, site: bool = False) -> Path:
    """Make .venv ready for a command, as little as needed; return its Python."""
    venv: Path = opts.venv.resolve()
    python = python_of(venv)
    if opts.no_setup:
        return python
    bundle: Path | None = opts.bundle.resolve() if opts.bundle else None
    forced = opts.cpu or opts.latest
    if bundle is not None and opts.cpu:
        print("course.py: --cpu has no effect with --from: the bundle holds the torch it was made with.")
    if forced or not stamp_is_fresh(venv, needs_tests):
        extras = "test"
        if bundle is not None:
            manifest = read_manifest(bundle)
            if manifest is None:
                raise SystemExit(f"course.py: {bundle} is not a bundle (no bundle.json): make one with "
                                 "`course.py bundle DIR` where there is a network.")
            extras = "test" if manifest["with_tests"] else ""
            if needs_tests and not extras:
                raise SystemExit("course.py: this bundle has no test packages: make it with `bundle --with-tests`.")
        python = ensure_venv(venv)
        env = pip_env(bundle)
        pins = torch_requirements(load_pyproject())
        for cmd in install_commands(str(python), extras, cpu=opts.cpu, latest=opts.latest, bundle=bundle,
                                    torch_pins=pins):
            check(cmd, env)
        repair_opencv(python, env, bundle)
        (venv / STAMP).write_text(extras or "runtime", encoding="utf-8")
    if site and (forced or not site_stamp_is_fresh(venv)):
        if bundle is not None:
            raise SystemExit("course.py: a bundle holds no site packages: build the site where there is a network.")
        pins = torch_requirements(load_pyproject())
        for cmd in install_commands(str(python), "test,site", cpu=opts.cpu, latest=opts.latest, torch_pins=pins):
            check(cmd)
        (venv / SITE_STAMP).write_text("test,site", encoding="utf-8")
    if bundle is not None:
        copied = copy_weights(bundle / "weights", torch_hub_checkpoints())
        print(f"course.py: {len(copied)} weights file(s) copied into {torch_hub_checkpoints()}")
    return python


# --- The bundle: the course on a USB stick --------------------------------------------------------

def torch_hub_checkpoints(environ: Mapping[str, str] | None = None) -> Path:
    """Where torch keeps downloaded weights, computed as torch.hub.get_dir() does (without torch).

    $TORCH_HOME/hub/checkpoints, else $XDG_CACHE_HOME/torch/hub/checkpoints, else
    ~/.cache/torch/hub/checkpoints (on Windows too).
    """
    env = os.environ if environ is None else environ
    torch_home = env.get("TORCH_HOME", os.path.join(env.get("XDG_CACHE_HOME", "~/.cache"), "torch"))
    return Path(torch_home).expanduser() / "hub" / "checkpoints"


def copy_weights(source: Path, target: Path) -> list[Path]:
    """Copy every weights file (*.pth) from one folder to another; skip those already there, same size.

    A half-downloaded file has another name (torch downloads to a temporary file), so it is left out.
    """
    if not source.is_dir():
        return []
    copied = []
    for file in sorted(source.glob("*.pth")):
        there = target / file.name
        if there.exists() and there.stat().st_size == file.stat().st_size:
            continue
        target.mkdir(parents=True, exist_ok=True)
        partial = there.with_name(there.name + ".copying")
        shutil.copyfile(file, partial)
        partial.replace(there)  # atomic: a pulled stick never leaves a truncated weights file
        copied.append(there)
    return copied


def bundle_requirements(pyproject: dict, with_tests: bool) -> list[str]:
    """Everything a bundle must hold: pip, the build backend, the course's packages, JupyterLab."""
    project = pyproject["project"]
    wanted = ["pip", *pyproject["build-system"]["requires"], *project["dependencies"]]
    if not any(requirement_name(r) == "jupyterlab" for r in wanted):
        wanted.append("jupyterlab")
    if with_tests:
        wanted += project["optional-dependencies"]["test"]
    return wanted


def download_commands(python: str, wheels: Path, requirements: list[str], *, platforms: Iterable[str] = (),
                      python_version: str | None = None, cpu: bool = False) -> list[list[str]]:
    """The pip commands that fill a bundle's wheels/ folder: `pip download`, wheels only.

    With --platform or --python-version, pip fetches wheels for another machine (it then needs
    --only-binary=:all: and an implementation: cp, CPython). --cpu: torch and torchvision first,
    from PyTorch's CPU-only index; the rest with that index as an extra one (see install_commands).
    """
    platforms = list(platforms)
    base = [python, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(wheels)]
    for platform in platforms:
        base += ["--platform", platform]
    if python_version:
        base += ["--python-version", python_version]
    if platforms or python_version:
        base += ["--implementation", "cp"]
    commands, extra_index, rest = [], [], list(requirements)
    if cpu:
        pins = [r for r in rest if requirement_name(r) in TORCH_PACKAGES]
        rest = [r for r in rest if requirement_name(r) not in TORCH_PACKAGES]
        commands.append(base + ["--index-url", CPU_INDEX, *pins])
        extra_index = ["--extra-index-url", CPU_INDEX]
    commands.append(base + extra_index + rest)
    return commands


def platform_os(tag: str) -> str:
    """The operating system a pip platform tag is for, as sys.platform names it: win_amd64 -> "win32"."""
    if tag.startswith("win"):
        return "win32"
    if tag.startswith("macosx"):
        return "darwin"
    return "linux" if "linux" in tag else tag


def foreign_platforms(platforms: Iterable[str], host: str = sys.platform) -> list[str]:
    """The platform tags that are for another operating system than this one.

    pip evaluates dependency conditions for the machine it runs on, not for --platform (pip issue
    #11664): torch's CUDA packages, marked `platform_system == "Linux"`, are then wanted for Windows
    and macOS too, and pip tries every torch release before it gives up. So a bundle for another
    system is made on a machine of that system.
    """
    return [tag for tag in platforms if platform_os(tag) != ("linux" if host.startswith("linux") else host)]


def course_files(repo: Path = REPO) -> list[Path]:
    """The course's files, relative to repo: git's list (tracked, and new files not ignored) or a walk.

    Without git (a downloaded zip), everything but .venv, .cache, .git and Python's caches.
    """
    if shutil.which("git") and (repo / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=repo, capture_output=True, text=True)
        if listed.returncode == 0:
            return [Path(p) for p in listed.stdout.split("\0") if p and (repo / p).is_file()]
    skip = {".venv", ".cache", ".git", "__pycache__"}
    return [p.relative_to(repo) for p in sorted(repo.rglob("*"))
            if p.is_file() and not skip & set(p.relative_to(repo).parts)]


def copy_course(target: Path, repo: Path = REPO) -> int:
    """Copy the course into target/ (replacing an older copy); return the number of files.

    A bundle made inside the course's folder (`bundle stick/`) is left out of its own copy.
    """
    if target.exists():
        shutil.rmtree(target)
    bundle = target.parent.resolve()
    inside = bundle.is_relative_to(repo.resolve()) and bundle != repo.resolve()
    files = [f for f in course_files(repo) if not (inside and (repo / f).resolve().is_relative_to(bundle))]
    for file in files:
        (target / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / file, target / file)
    return len(files)


def read_manifest(bundle: Path) -> dict | None:
    """The bundle's bundle.json (what it was made for), or None if there is none."""
    path = bundle / "bundle.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def folder_size(folder: Path) -> int:
    """Bytes in a folder, all files below it."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def gib(n_bytes: int) -> str:
    """A size as people read it: "4.1 GiB", "530 MiB"."""
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"


README_TXT = """\
VGGNet in PyTorch: the course, for a room with no network
==========================================================

  wheels/    every package the course installs, for {target}
  weights/   torchvision's pretrained weights ({n_weights} file(s))
  course/    the course itself
  bundle.json  what this bundle was made for

On each learner's machine (no network needed):

  1. Copy the folder course/ to the laptop's disk (the environment it makes is several GB:
     not on the stick).
  2. In a terminal, inside that copy, with THIS folder's path after --from:
       Windows:        py course.py lab --from E:\\vgg-bundle
       macOS, Linux:   python3 course.py lab --from /Volumes/STICK/vgg-bundle
     It creates .venv, installs from wheels/ with pip --no-index, copies weights/ into
     torch's cache, and opens JupyterLab. Start with notebooks/00_setup.ipynb.

Made with: {command}
"""


def make_bundle(target: Path, platforms: list[str], python_version: str | None, cpu: bool, with_tests: bool,
                venv: Path = VENV, reuse: bool = True) -> Path:
    """Write a bundle into target: wheels/, weights/, course/, README.txt and bundle.json."""
    target = target.resolve()
    wheels = target / "wheels"
    requirements = bundle_requirements(load_pyproject(), with_tests)
    wanted = {"platforms": platforms, "python_version": python_version, "cpu": cpu, "with_tests": with_tests,
              "requirements": requirements}
    manifest = read_manifest(target)
    complete = manifest is not None and all(manifest.get(k) == v for k, v in wanted.items()) and all(
        (wheels / name).is_file() for name in manifest.get("wheels", []))
    if reuse and complete:
        print(f"course.py: {wheels} is complete for these options: not downloading again.")
    elif foreign := foreign_platforms(platforms):
        raise SystemExit(f"course.py bundle: {', '.join(foreign)} is another operating system than this one "
                         f"({sys.platform}). pip decides which packages a package needs for the machine it runs "
                         "on, not for --platform (pip issue #11664): torch's Linux-only CUDA packages would be "
                         "wanted too, and no torch release satisfies that. Run `course.py bundle` on a machine of "
                         "the learners' kind (`py course.py bundle E:\\vgg-bundle` on Windows).")
    else:
        python = str(ensure_venv(venv))  # only pip is needed: the course need not be installed
        wheels.mkdir(parents=True, exist_ok=True)
        for cmd in download_commands(python, wheels, requirements, platforms=platforms,
                                     python_version=python_version, cpu=cpu):
            check(cmd)
        # The course's own wheel, built from a copy: setuptools writes build/ and *.egg-info where it
        # builds, and the course's folder may be in use meanwhile (.ci/run builds the site beside this).
        with tempfile.TemporaryDirectory() as scratch:
            copy_course(Path(scratch) / "course")
            check([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels),
                   str(Path(scratch) / "course")])
        wanted["wheels"] = sorted(p.name for p in wheels.glob("*.whl"))
        (target / "bundle.json").write_text(json.dumps(wanted, indent=1) + "\n", encoding="utf-8")
    copied = copy_weights(torch_hub_checkpoints(), target / "weights")
    n_weights = len(list((target / "weights").glob("*.pth")))
    print(f"course.py: weights: {n_weights} file(s) in {target / 'weights'} ({len(copied)} copied now)")
    n_files = copy_course(target / "course")
    command = show(["course.py", "bundle", str(target), *[a for p in platforms for a in ("--platform", p)],
                    *(["--python-version", python_version] if python_version else []),
                    *(["--cpu"] if cpu else []), *(["--with-tests"] if with_tests else [])])
    this_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    for_what = f"{', '.join(platforms) or sysconfig.get_platform()}, Python {python_version or this_python}"
    (target / "README.txt").write_text(README_TXT.format(target=for_what, n_weights=n_weights, command=command),
                                       encoding="utf-8")
    print(f"course.py: bundle in {target}: {gib(folder_size(target))} "
          f"(wheels {gib(folder_size(wheels))}, weights {gib(folder_size(target / 'weights'))}, "
          f"course {n_files} files)")
    return target


def offline_prefix() -> list[str]:
    """The command prefix that runs a program in a new network namespace: no network, loopback up.

    The loopback interface is needed by Jupyter (the kernel talks to nbconvert over 127.0.0.1);
    a laptop with Wi-Fi off has it too. As root `unshare -n`; otherwise `unshare -rn`, which
    works where unprivileged user namespaces are allowed.
    """
    unshare = shutil.which("unshare")
    if unshare is None:
        raise SystemExit("course.py test-offline: needs `unshare` (util-linux, Linux only) to cut the network off; "
                         "it is not installed here.")
    is_root = hasattr(os, "getuid") and os.getuid() == 0
    prefix = [unshare, "-n" if is_root else "-rn", "sh", "-c", 'ip link set lo up 2>/dev/null; exec "$@"', "sh"]
    probe = subprocess.run(prefix + ["true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SystemExit(f"course.py test-offline: `unshare` cannot make a network namespace here "
                         f"({probe.stderr.strip() or 'exit ' + str(probe.returncode)}): run it as root, or where "
                         "user namespaces are allowed.")
    return prefix


def cmd_test_offline(opts: argparse.Namespace) -> int:
    """The proof that the bundle works with no network: install from it and run notebook 00, offline."""
    prefix = offline_prefix()
    bundle = make_bundle(OFFLINE_CACHE / "bundle", [], None, cpu=False, with_tests=False, venv=opts.venv)
    venv, proof = OFFLINE_CACHE / "offline-venv", OFFLINE_CACHE / "offline-proof"
    if venv.exists():
        shutil.rmtree(venv)  # a fresh venv each time: the proof is the install itself
    env = {**os.environ, "TORCH_HOME": str(OFFLINE_CACHE / "offline-torch"), "COURSE_OFFLINE": "1"}
    course = bundle / "course"
    started = time.monotonic()
    status = run(prefix + [sys.executable, course / "course.py", "install", "--venv", venv, "--from", bundle],
                 env, cwd=course)
    install_s = time.monotonic() - started
    if status != 0:
        print(f"course.py test-offline: the install from the bundle failed (exit status {status}).")
        return status
    status = run(prefix + [python_of(venv), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--output-dir", proof, course / "notebooks" / "00_setup.ipynb"], env, cwd=course)
    print(f"course.py test-offline: bundle {gib(folder_size(bundle))}, installed with no network in "
          f"{install_s:.0f} s; notebook 00 {'ran' if status == 0 else 'FAILED'} with no network "
          f"({proof / '00_setup.ipynb'}).")
    return status


# --- The commands ---------------------------------------------------------------------------------

def pytest_command(python: Path, *args: str) -> list[str]:
    return [str(python), "-m", "pytest", *args]


def cmd_lab(opts: argparse.Namespace) -> int:
    python = set_up(opts)
    return run([python, "scripts/lab.py", "--port", str(opts.port), "--ip", opts.ip, *opts.args])


def cmd_install(opts: argparse.Namespace) -> int:
    set_up(opts)
    print(f"course.py: {opts.venv} is ready.")
    return 0


def parallel_test_options(cores: int, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """pytest-xdist options and environment for the test run: two workers where there are two cores.

    Each worker runs whole files (``--dist loadfile``: a notebook's cells stay in order, in one
    kernel) and gets its share of the cores as torch threads; a waiting thread sleeps instead of
    spinning (``OMP_WAIT_POLICY=PASSIVE``), so a test that asks for more threads than its share does
    not stall the other worker. Two at most: each worker can hold a notebook's kernel (up to
    1.6 GB) beside its own, and more workers were never measured. One core: one process, as before.
    """
    workers = min(2, cores)
    if workers < 2:
        return [], dict(environ)
    env = {"OMP_NUM_THREADS": str(cores // workers), "OMP_WAIT_POLICY": "PASSIVE", **environ}
    return ["-n", str(workers), "--dist", "loadfile"], env


def cmd_test(opts: argparse.Namespace) -> int:
    python = set_up(opts, needs_tests=True)
    options, env = parallel_test_options(cpu_cores(), os.environ)
    return run(pytest_command(python, "tests", "notebooks", "--nbval-lax", "--nbval-current-env", *options,
                              "--durations=20"), env)


def cmd_test_rerun(opts: argparse.Namespace) -> int:
    python = set_up(opts, needs_tests=True)
    return run(pytest_command(python, "tests/test_rerun_memory.py", "-q"), {**os.environ, "COURSE_RERUN_TEST": "1"})


def cmd_test_browser(opts: argparse.Namespace) -> int:
    python = set_up(opts, needs_tests=True)  # CHROMIUM=/path/to/chromium, if set, is passed on as it is
    return run(pytest_command(python, "browser_tests", "-x", "--durations=10"))


def cmd_prefetch(opts: argparse.Namespace) -> int:
    return run([set_up(opts), "-m", "course_utils.prefetch"])


def cmd_test_pretrained(opts: argparse.Namespace) -> int:
    python = set_up(opts, needs_tests=True)
    return run(pytest_command(python, "tests", "-m", "pretrained", "-rs"), {**os.environ, "COURSE_REAL_WEIGHTS": "1"})


def cmd_site(opts: argparse.Namespace) -> int:
    return run([set_up(opts, site=True), "-m", "coursesite.build", *opts.args])


def cmd_handouts(opts: argparse.Namespace) -> int:
    status = cmd_site(opts)  # handouts print the site's pages
    return status or run([python_of(opts.venv), "-m", "coursesite.handouts"])


def cmd_measure(opts: argparse.Namespace) -> int:
    return run([set_up(opts, site=True), "-m", "coursesite.measure"])


def cmd_test_site(opts: argparse.Namespace) -> int:
    status = cmd_handouts(opts)
    return status or run(pytest_command(python_of(opts.venv), "tests/test_site.py", "-q"),
                         {**os.environ, "COURSE_SITE_BUILT": "1"})


BENCHMARKS = ["gradcam_speed.py", "train_speed.py", "ddp_speed.py", "channels_last_speed.py", "explain_speed.py"]


def cmd_benchmark(opts: argparse.Namespace) -> int:
    python = set_up(opts)
    for script in BENCHMARKS:
        if status := run([python, f"benchmarks/{script}"]):
            return status
    return 0


def cmd_clean_outputs(opts: argparse.Namespace) -> int:
    python = set_up(opts)
    notebooks = sorted(str(p.relative_to(REPO)) for p in (REPO / "notebooks").glob("*.ipynb"))
    return run([python, "-m", "jupyter", "nbconvert", "--clear-output", "--inplace", *notebooks])


def cmd_clean(opts: argparse.Namespace) -> int:
    for folder in (opts.venv, REPO / ".cache"):
        print(f"course.py: removing {folder}")
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def cmd_bundle(opts: argparse.Namespace) -> int:
    make_bundle(opts.dir, opts.platform or [], opts.python_version, opts.cpu, opts.with_tests, venv=opts.venv)
    return 0


# name: (what it does, in one line; the function; which options it takes)
COMMANDS = {
    "lab": ("set up (first time) and open JupyterLab on notebooks/", cmd_lab, "setup"),
    "test": ("set up (first time) and run every test, every notebook included", cmd_test, "setup"),
    "test-rerun": ("run notebook 10 three times in one kernel: memory must come back", cmd_test_rerun, "setup"),
    "test-browser": ("the course in JupyterLab in headless Chromium (CHROMIUM=/path picks one)",
                     cmd_test_browser, "setup"),
    "prefetch": ("download every pretrained weights file the course uses", cmd_prefetch, "setup"),
    "test-pretrained": ("check real predictions (needs the real weights: prefetch)", cmd_test_pretrained, "setup"),
    "site": ("the course as a static website with outputs (.cache/site/_build/html)", cmd_site, "setup"),
    "handouts": ("one PDF per notebook page (.cache/handouts/), printed by Chromium", cmd_handouts, "setup"),
    "measure": ("time and memory of every notebook, for the instructor's guide", cmd_measure, "setup"),
    "test-site": ("build the site and the handouts, then check them", cmd_test_site, "setup"),
    "benchmark": ("the timing scripts in benchmarks/", cmd_benchmark, "setup"),
    "clean-outputs": ("strip the outputs from notebooks/*.ipynb before committing", cmd_clean_outputs, "setup"),
    "clean": ("remove .venv and .cache", cmd_clean, "venv"),
    "install": ("set up .venv and do nothing else (--from DIR: from a bundle, offline)", cmd_install, "setup"),
    "bundle": ("write everything the course installs into DIR, for a room with no network", cmd_bundle, "venv"),
    "test-offline": ("prove a bundle works: install it and run notebook 00 with no network", cmd_test_offline, "venv"),
}


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per entry of COMMANDS."""
    venv = argparse.ArgumentParser(add_help=False)
    venv.add_argument("--venv", type=Path, default=VENV, help="the environment's folder (default: .venv here)")
    setup = argparse.ArgumentParser(add_help=False, parents=[venv])
    setup.add_argument("--cpu", action="store_true",
                       help="torch and torchvision from PyTorch's CPU-only index (on Linux: no CUDA libraries)")
    setup.add_argument("--latest", action="store_true",
                       help="upgrade every package to its newest release (pip --upgrade --upgrade-strategy eager)")
    setup.add_argument("--from", dest="bundle", type=Path, metavar="DIR",
                       help="install from a bundle (course.py bundle DIR), with no network")
    setup.add_argument("--no-setup", action="store_true", help="use the environment as it is (tests, a read-only one)")

    parser = argparse.ArgumentParser(prog="course.py", description=__doc__.splitlines()[0],
                                     epilog="`make COMMAND` does the same (the Makefile calls this file).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (summary, function, options) in COMMANDS.items():
        shared = setup if options == "setup" else venv
        sub = commands.add_parser(name, help=summary, description=summary, parents=[shared])
        sub.set_defaults(function=function)
        if name == "lab":
            sub.add_argument("--port", type=int, default=8888, help="port to listen on (the next free one if taken)")
            sub.add_argument("--ip", default="localhost", help="address to listen on (0.0.0.0: a container's host)")
        if name in ("lab", "site", "handouts", "test-site"):
            sub.add_argument("args", nargs="*", help="passed on (after --): to JupyterLab, or to coursesite.build")
        if name == "bundle":
            sub.add_argument("dir", type=Path, metavar="DIR", help="the folder to write (a USB stick)")
            sub.add_argument("--platform", action="append",
                             help="pip's platform tag, e.g. win_amd64, macosx_11_0_arm64, manylinux_2_28_x86_64 "
                                  "(repeatable; default: this machine's)")
            sub.add_argument("--python-version", help="the learners' Python, e.g. 3.11 (default: this one)")
            sub.add_argument("--cpu", action="store_true", help="the CPU-only torch, from PyTorch's CPU index")
            sub.add_argument("--with-tests", action="store_true", help="the test packages too (course.py test)")
    return parser


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    keep_bytecode(os.environ)  # the commands below inherit it
    return opts.function(opts)


if __name__ == "__main__":
    sys.exit(main())
