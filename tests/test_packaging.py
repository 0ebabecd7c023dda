"""The wheel and the sdist carry the shipped weights; an installed wheel loads them offline.

The build uses this environment's pip and setuptools without build isolation and installs
nothing from an index. It runs on a copy of the checkout's build inputs (``pyproject.toml``,
``README.md``, ``seisbench_genie/``, ``pretrained/``, ...) in a temporary folder, so the shared
working tree gets no ``build/`` folder or stale build products. Reproduce by hand with::

    python -m pip wheel --no-deps --no-build-isolation -w /tmp/wheels .
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from seisbench_genie.pretrained import PACKAGE_REGISTRY, load_registry

REPO = Path(__file__).resolve().parents[1]
BUILD_INPUTS = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "MANIFEST.in",
    "README.md",
    "LICENSE",
    "seisbench_genie",
    "pretrained",
)
SHIPPED_FILE = re.compile(r"^[^.].*\.(pt\.v[^/]+|json\.v[^/]+|yaml)$")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
TIMEOUT_S = 300


def _why_no_build() -> str | None:
    """Why this environment cannot build a wheel without downloading anything, or None."""
    if importlib.util.find_spec("pip") is None:
        return f"pip is not installed in {sys.prefix}: cannot build or install the wheel"
    if importlib.util.find_spec("setuptools") is None:
        return (
            f"setuptools is not installed in {sys.prefix} (it is in the 'test' extra: "
            f"pip install -e '.[test]'): cannot build the wheel without build isolation"
        )
    setuptools_version = importlib.metadata.version("setuptools")  # importing it clashes
    if Version(setuptools_version) < Version("70.1") and not importlib.util.find_spec("wheel"):
        return (
            f"setuptools {setuptools_version} < 70.1 needs the 'wheel' package for bdist_wheel, "
            f"and it is not installed in {sys.prefix}"
        )
    return None


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"{what} failed ({proc.returncode}): {cmd}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def _shipped_in_checkout() -> dict[str, Path]:
    return {p.name: p for p in (REPO / "pretrained").iterdir() if SHIPPED_FILE.match(p.name)}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the checkout's build inputs (skips when no wheel can be built here)."""
    reason = _why_no_build()
    if reason is not None:
        pytest.skip(reason)
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, src / name)
    return src


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out)]
    _run([*cmd, str(source)], source, "building the wheel")
    wheels = list(out.glob("seisbench_genie-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_carries_weights_registry_and_modules(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        shipped = _shipped_in_checkout()
        assert {"crustal.yaml", "subduction.yaml"} <= set(shipped)
        for fname, path in shipped.items():
            member = f"seisbench_genie/weights/{fname}"
            assert member in names, f"{member} missing from {wheel.name}"
            assert zf.read(member) == path.read_bytes(), member
        assert "seisbench_genie/pretrained_registry.json" in names
        assert zf.read("seisbench_genie/pretrained_registry.json") == PACKAGE_REGISTRY.read_bytes()
    registry = load_registry(PACKAGE_REGISTRY)
    assert registry
    unshipped = [f for f in registry if f"seisbench_genie/weights/{f}" not in names]
    assert unshipped == [], "registered weights missing from the wheel"
    # the package list in pyproject.toml is explicit: every module of the checkout must be in
    modules = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "seisbench_genie").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert sorted(modules - names) == [], "modules missing from the wheel (pyproject packages)"
    assert not [n for n in names if n.startswith(("pretrained/", "tests/"))]


def test_sdist_carries_weights_and_builds_the_same_wheel(source, wheel, tmp_path):
    out = tmp_path / "sdist"
    code = f"from setuptools import build_meta as b; print(b.build_sdist({str(out)!r}))"
    sdist = out / _run([sys.executable, "-c", code], source, "building the sdist").split()[-1]
    with tarfile.open(sdist) as tf:
        top = tf.getnames()[0].split("/")[0]
        members = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {f"pretrained/{f}" for f in _shipped_in_checkout()} <= members
    assert "seisbench_genie/pretrained_registry.json" in members

    from_sdist = tmp_path / "from_sdist"
    cmd = [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w"]
    _run([*cmd, str(from_sdist), str(sdist)], tmp_path, f"building a wheel from {top}")
    (built,) = from_sdist.glob("seisbench_genie-*.whl")
    with zipfile.ZipFile(built) as a, zipfile.ZipFile(wheel) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())


# Runs in a fresh interpreter with only the installed wheel (and this environment's
# dependencies) importable; every socket connection or name lookup raises.
_OFFLINE_LOAD = r"""
import json, socket, sys

attempts = []


def _no_network(*args, **kwargs):
    attempts.append(repr(args)[:200])
    raise OSError("network access is disabled in this test")


socket.socket.connect = socket.socket.connect_ex = _no_network
socket.create_connection = socket.getaddrinfo = _no_network

import seisbench
import seisbench_genie
from seisbench_genie import GENIE, pretrained

out = {
    "module": seisbench_genie.__file__,
    "pretrained": pretrained.__file__,
    "shipped": str(GENIE._shipped_dir),
    "cache": str(seisbench.cache_model_root),
    "names": GENIE.list_pretrained(),
    "models": {},
}
for name in sys.argv[1:]:
    model = GENIE.from_pretrained(name)
    out["models"][name] = model.weights_version
out["attempts"] = attempts
print("RESULT " + json.dumps(out))
"""


def test_installed_wheel_loads_pretrained_offline(wheel, tmp_path):
    target = tmp_path / "site"
    cmd = [*PIP, "install", "--no-deps", "--no-index", "--no-compile", "--target", str(target)]
    _run([*cmd, str(wheel)], tmp_path, "installing the wheel")
    cache = tmp_path / "seisbench cache"
    cache.mkdir()
    work = tmp_path / "cwd"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SEISBENCH"))} | {
        "PYTHONPATH": str(target),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "SEISBENCH_CACHE_ROOT": str(cache),
        "SEISBENCH_GENIE_REMOTE": "http://127.0.0.1:9/unreachable",
        "OMP_NUM_THREADS": "1",
    }
    names = ["crustal", "subduction"]
    proc = subprocess.run(
        [sys.executable, "-c", _OFFLINE_LOAD, *names],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    out = json.loads(line.removeprefix("RESULT "))

    installed = target.resolve() / "seisbench_genie"
    assert Path(out["module"]).resolve() == installed / "__init__.py"
    assert Path(out["pretrained"]).resolve() == installed / "pretrained.py"
    assert Path(out["shipped"]).resolve() == installed / "weights"
    assert REPO not in Path(out["module"]).resolve().parents
    assert Path(out["cache"]).resolve().is_relative_to(cache.resolve())
    assert out["attempts"] == [], "network access attempted"

    registry = load_registry(installed / "pretrained_registry.json")
    assert out["names"] == names
    for name in names:
        latest = max(
            (f.rsplit(".v", 1)[1] for f in registry if f.startswith(f"{name}.json.v")),
            key=Version,
        )
        assert out["models"][name] == latest
        for kind in ("pt", "json"):
            (cached,) = cache.rglob(f"{name}.{kind}.v{latest}")
            assert cached.read_bytes() == (installed / "weights" / cached.name).read_bytes()
