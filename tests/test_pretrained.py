"""Tests for seisbench_genie.pretrained against a local http.server (never the internet)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import seisbench
import torch
from torch import nn

from seisbench_genie import pretrained as pretrained_module
from seisbench_genie.pretrained import (
    PACKAGE_REGISTRY,
    PoochPretrainedModel,
    WeightsUnavailableError,
    file_sha256,
    load_registry,
    register_weights,
)


class ToyGenie(PoochPretrainedModel):
    """A tiny model standing in for GENIE."""

    def __init__(self, n_in: int = 3, **kwargs):
        super().__init__(citation="Toy et al.", **kwargs)
        self.n_in = n_in
        self.default_args = {}
        self.lin = nn.Linear(n_in, 1)

    def get_model_args(self):
        return {"n_in": self.n_in}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m http.server`` on 127.0.0.1 serving ``root``; its log counts requests."""

    def __init__(self, root: Path, log: Path):
        self.root, self.log = root, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "ab"),  # noqa: SIM115 - closed with the process
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("http.server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc.stderr and self.proc.stderr.close()

    def gets(self, fname: str) -> int:
        return self.log.read_text().count(f"GET /{fname} ") if self.log.exists() else 0


def _make_weights(folder: Path, version: str, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = ToyGenie(n_in=3)
    model.save(folder / "toy", weights_docstring=f"Toy weights v{version}", version_str=version)
    meta_path = folder / f"toy.json.v{version}"
    meta = json.loads(meta_path.read_text())
    meta["version"] = version
    meta["default_args"] = {"threshold": 0.5}
    meta_path.write_text(json.dumps(meta))
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Served weights (toy v1, v2), a tmp registry, a tmp cache and no shipped folder."""
    srv = tmp_path / "srv"
    srv.mkdir()
    states = {v: _make_weights(srv, v, seed) for v, seed in (("1", 1), ("2", 2))}
    registry = tmp_path / "registry.json"
    for v in states:
        register_weights(srv / f"toy.pt.v{v}", srv / f"toy.json.v{v}", registry)
    cache = tmp_path / "cache"
    monkeypatch.setattr(seisbench, "cache_model_root", cache)
    monkeypatch.setattr(ToyGenie, "_registry_path", registry)
    monkeypatch.setattr(ToyGenie, "_shipped_dir", tmp_path / "no_shipped_weights")
    monkeypatch.setattr(ToyGenie, "_download_timeout", 5.0)
    server = Server(srv, tmp_path / "server.log")
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", server.url + "/")
    yield {
        "srv": srv,
        "states": states,
        "registry": registry,
        "cache": cache / "toygenie",
        "server": server,
        "tmp": tmp_path,
    }
    server.stop()


def _assert_weights(model, state):
    for key, value in state.items():
        torch.testing.assert_close(model.state_dict()[key], value)


def test_download_then_offline_reload(env):
    server = env["server"].start()
    model = ToyGenie.from_pretrained("toy")
    assert isinstance(model, ToyGenie)
    assert model.weights_version == "2" and model.weights_docstring == "Toy weights v2"
    assert model.default_args == {"threshold": 0.5}
    _assert_weights(model, env["states"]["2"])
    assert sorted(p.name for p in env["cache"].iterdir()) == ["toy.json.v2", "toy.pt.v2"]
    assert server.gets("toy.pt.v2") == 1

    server.stop()
    again = ToyGenie.from_pretrained("toy")  # cached: no network needed
    _assert_weights(again, env["states"]["2"])
    assert ToyGenie.from_pretrained("toy", update=True).weights_version == "2"

    with pytest.raises(WeightsUnavailableError) as err:
        ToyGenie.from_pretrained("toy", version_str="1")
    message = str(err.value)
    assert "toy.pt.v1 not cached and the remote is unreachable" in message
    assert "SEISBENCH_GENIE_REMOTE" in message and server.url in message
    assert not any(p.name.endswith(".partial") for p in env["cache"].iterdir())


def test_latest_prefers_cache_and_update_checks_registry(env):
    env["server"].start()
    assert ToyGenie.from_pretrained("toy", version_str="1").weights_version == "1"
    assert ToyGenie.from_pretrained("toy").weights_version == "1"  # latest *cached*
    assert ToyGenie.from_pretrained("toy", update=True).weights_version == "2"
    assert ToyGenie.list_versions("toy", remote=False) == ["1", "2"]


def test_tampered_download_is_refused(env):
    server = env["server"].start()
    (env["srv"] / "toy.pt.v2").write_bytes(b"not the registered weights")
    expected = load_registry(env["registry"])["toy.pt.v2"]
    actual = "sha256:" + file_sha256(env["srv"] / "toy.pt.v2")
    with pytest.raises(ValueError) as err:
        ToyGenie.from_pretrained("toy")
    assert expected in str(err.value) and actual in str(err.value)
    assert server.gets("toy.pt.v2") == 1
    leftovers = list(env["cache"].iterdir()) if env["cache"].exists() else []
    assert leftovers == []  # neither the bad file, nor .partial, nor a download folder


def test_tampered_cache_is_refused_and_force_redownloads(env):
    server = env["server"].start()
    ToyGenie.from_pretrained("toy")
    assert server.gets("toy.pt.v2") == 1
    ToyGenie.from_pretrained("toy")
    assert server.gets("toy.pt.v2") == 1  # cached and verified: no request

    cached = env["cache"] / "toy.pt.v2"
    cached.write_bytes(cached.read_bytes() + b"x")
    with pytest.raises(ValueError, match=r"expected sha256:[0-9a-f]{64}, got sha256:") as err:
        ToyGenie.from_pretrained("toy")
    assert "force=True" in str(err.value)

    model = ToyGenie.from_pretrained("toy", force=True)
    assert server.gets("toy.pt.v2") == 2 and server.gets("toy.json.v2") == 2
    _assert_weights(model, env["states"]["2"])
    ToyGenie.from_pretrained("toy", force=True)  # force even when the cache is fine
    assert server.gets("toy.pt.v2") == 3

    server.stop()  # a failed forced download keeps the good cached copy
    with pytest.raises(WeightsUnavailableError):
        ToyGenie.from_pretrained("toy", force=True)
    _assert_weights(ToyGenie.from_pretrained("toy"), env["states"]["2"])


def test_partial_download_left_by_another_process(env):
    env["server"].start()
    env["cache"].mkdir(parents=True)
    (env["cache"] / "toy.pt.v2.partial").write_bytes(b"half")
    with pytest.raises(ValueError, match="partial"):
        ToyGenie.from_pretrained("toy")
    model = ToyGenie.from_pretrained("toy", force=True)
    _assert_weights(model, env["states"]["2"])
    assert sorted(p.name for p in env["cache"].iterdir()) == ["toy.json.v2", "toy.pt.v2"]


def test_shipped_copy_used_without_network(env, monkeypatch):
    shipped = env["tmp"] / "shipped"
    shipped.mkdir()
    for name in ("toy.pt.v2", "toy.json.v2"):
        shutil.copy(env["srv"] / name, shipped / name)
    monkeypatch.setattr(ToyGenie, "_shipped_dir", shipped)
    # the server is never started: any download attempt would fail
    model = ToyGenie.from_pretrained("toy")
    _assert_weights(model, env["states"]["2"])
    assert (env["cache"] / "toy.pt.v2").read_bytes() == (shipped / "toy.pt.v2").read_bytes()
    assert ToyGenie.list_versions("toy", remote=False) == ["2"]

    # a shipped file that does not match the registry is refused too
    (env["cache"] / "toy.pt.v2").unlink()
    (shipped / "toy.pt.v2").write_bytes(b"corrupt")
    with pytest.raises(ValueError, match="shipped file .* does not match the registry"):
        ToyGenie.from_pretrained("toy")


def test_unknown_name_and_version(env):
    with pytest.raises(ValueError, match=r"name: unknown pretrained weights 'nope'.*\['toy'\]"):
        ToyGenie.from_pretrained("nope")
    with pytest.raises(ValueError, match=r"version_str: .* no version '7'.*\['1', '2'\]"):
        ToyGenie.from_pretrained("toy", version_str="7")


def test_listing(env):
    assert ToyGenie.list_pretrained(remote=False) == []
    assert ToyGenie.list_pretrained() == ["toy"]
    assert ToyGenie.list_versions("toy") == ["1", "2"]
    assert ToyGenie.list_versions("toy", remote=False) == []
    assert ToyGenie.list_versions("other") == []

    env["server"].start()
    assert ToyGenie.list_pretrained(details=True) == {"toy": "Toy weights v2"}
    assert not env["cache"].exists() or list(env["cache"].iterdir()) == []  # temp download
    ToyGenie.from_pretrained("toy", version_str="1")
    assert ToyGenie.list_pretrained(remote=False) == ["toy"]
    assert ToyGenie.list_pretrained(details=True, remote=False) == {"toy": "Toy weights v1"}
    # leftovers of an interrupted download are not versions
    (env["cache"] / "toy.json.v3.partial").write_text("")
    (env["cache"] / ".toy.json.v4.123.copy").write_text("{}")
    assert ToyGenie.list_versions("toy", remote=False) == ["1"]


def test_load_defaults_to_cpu(env, monkeypatch):
    torch.manual_seed(0)
    ToyGenie().save(env["tmp"] / "mine")
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    model = ToyGenie.load(env["tmp"] / "mine")
    assert seen["map_location"] == "cpu" and isinstance(model, ToyGenie)
    ToyGenie.load(env["tmp"] / "mine", map_location=torch.device("cpu"))
    assert seen["map_location"] == torch.device("cpu")


def test_cache_folder_name_can_be_pinned(env, monkeypatch):
    assert ToyGenie._model_path() == seisbench.cache_model_root / "toygenie"
    monkeypatch.setattr(ToyGenie, "_weights_name", "GENIE")
    assert ToyGenie._model_path() == seisbench.cache_model_root / "genie"
    assert ToyGenie._remote_path() == env["server"].url  # trailing slash stripped


def test_register_weights_and_registry_validation(tmp_path):
    (tmp_path / "a.pt.v1").write_bytes(b"w")
    (tmp_path / "a.json.v1").write_text('{"version": "1"}')
    (tmp_path / "a.json.v2").write_text('{"version": "1"}')
    (tmp_path / "b.json.v1").write_text("{}")
    reg = tmp_path / "sub" / "registry.json"
    entries = register_weights(tmp_path / "a.pt.v1", tmp_path / "a.json.v1", reg)
    assert entries["a.pt.v1"] == "sha256:" + file_sha256(tmp_path / "a.pt.v1")
    assert load_registry(reg) == entries
    with pytest.raises(ValueError, match="pt_path: file name 'a.json.v1'"):
        register_weights(tmp_path / "a.json.v1", tmp_path / "a.json.v1", reg)
    with pytest.raises(ValueError, match="json_path: name/version"):
        register_weights(tmp_path / "a.pt.v1", tmp_path / "b.json.v1", reg)
    (tmp_path / "a.pt.v2").write_bytes(b"w2")
    with pytest.raises(ValueError, match="contradicts the file name suffix v2"):
        register_weights(tmp_path / "a.pt.v2", tmp_path / "a.json.v2", reg)
    with pytest.raises(ValueError, match="json_path: .* does not exist"):
        register_weights(tmp_path / "a.pt.v1", tmp_path / "a.json.v1x", reg)

    bad = tmp_path / "bad.json"
    bad.write_text('{"x.pt.v1": "md5:abc"}')
    with pytest.raises(ValueError, match="sha256"):
        load_registry(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        load_registry(bad)


def test_package_registry_is_valid_and_shipped():
    registry = load_registry(PACKAGE_REGISTRY)
    assert registry and PoochPretrainedModel._registry_path == PACKAGE_REGISTRY
    assert pretrained_module.DEFAULT_REMOTE.startswith("https://")
    # run from the checkout (editable install or PYTHONPATH): the shipped folder is the
    # top-level pretrained/ (an installed wheel's copy is tested in test_packaging.py)
    shipped = PoochPretrainedModel._shipped_dir
    assert shipped == pretrained_module.SHIPPED_DIR == Path(__file__).parents[1] / "pretrained"
    for fname, sha in registry.items():  # every registered file is shipped, hash as listed
        assert f"sha256:{file_sha256(shipped / fname)}" == sha, fname
    assert {"crustal.yaml", "subduction.yaml"} <= {p.name for p in shipped.iterdir()}


def _local_remote(env, versions: tuple[str, ...]) -> Path:
    """A folder holding only ``versions`` of the served toy weights (not shipped)."""
    folder = env["tmp"] / "local remote"  # a space: file:// URLs are percent-encoded
    folder.mkdir(exist_ok=True)
    for v in versions:
        for kind in ("pt", "json"):
            shutil.copy(env["srv"] / f"toy.{kind}.v{v}", folder / f"toy.{kind}.v{v}")
    return folder


@pytest.mark.parametrize("as_url", [False, True], ids=["folder", "file-url"])
def test_local_folder_remote_serves_versions_not_shipped(env, monkeypatch, as_url):
    shipped = env["tmp"] / "shipped"
    shipped.mkdir()
    for name in ("toy.pt.v1", "toy.json.v1"):
        shutil.copy(env["srv"] / name, shipped / name)
    monkeypatch.setattr(ToyGenie, "_shipped_dir", shipped)
    folder = _local_remote(env, ("2",))
    remote = folder.as_uri() if as_url else str(folder)
    assert remote.startswith("file:///") == as_url
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", remote + "/")
    # the http server is never started: nothing may go through the network

    assert ToyGenie.list_pretrained(details=True) == {"toy": "Toy weights v2"}
    assert not env["cache"].exists() or list(env["cache"].iterdir()) == []
    model = ToyGenie.from_pretrained("toy")  # v2: registered, not shipped -> remote folder
    assert model.weights_version == "2"
    _assert_weights(model, env["states"]["2"])
    assert ToyGenie.from_pretrained("toy", version_str="1").weights_version == "1"  # shipped
    assert sorted(p.name for p in env["cache"].iterdir()) == [
        "toy.json.v1",
        "toy.json.v2",
        "toy.pt.v1",
        "toy.pt.v2",
    ]
    assert env["server"].gets("toy.pt.v2") == 0

    # force=True fetches from the remote folder again; a file it lacks is a clear error
    (folder / "toy.pt.v2").unlink()
    with pytest.raises(WeightsUnavailableError, match="has no file toy.pt.v2") as err:
        ToyGenie.from_pretrained("toy", force=True)
    assert "SEISBENCH_GENIE_REMOTE" in str(err.value) and str(folder) in str(err.value)
    _assert_weights(ToyGenie.from_pretrained("toy"), env["states"]["2"])  # cache kept


def test_local_remote_hash_mismatch_is_refused(env, monkeypatch):
    folder = _local_remote(env, ("1", "2"))
    (folder / "toy.pt.v2").write_bytes(b"not the registered weights")
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", folder.as_uri())
    expected = load_registry(env["registry"])["toy.pt.v2"]
    actual = "sha256:" + file_sha256(folder / "toy.pt.v2")
    with pytest.raises(ValueError, match="does not match the registry") as err:
        ToyGenie.from_pretrained("toy")
    assert expected in str(err.value) and actual in str(err.value)
    assert "toy.pt.v2" not in {p.name for p in env["cache"].iterdir()}
    assert not any(p.name.endswith(".copy") for p in env["cache"].iterdir())
    # the good version next to it still loads
    _assert_weights(ToyGenie.from_pretrained("toy", version_str="1"), env["states"]["1"])


def test_local_remote_errors(env, monkeypatch):
    missing = env["tmp"] / "no such folder"
    for remote in (str(missing), missing.as_uri()):
        monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", remote)
        with pytest.raises(WeightsUnavailableError, match="does not exist") as err:
            ToyGenie.from_pretrained("toy")
        assert str(missing) in str(err.value)
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", "file://elsewhere/weights")
    with pytest.raises(ValueError, match="not one on host 'elsewhere'"):
        ToyGenie.from_pretrained("toy")
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", "ftp://example.org/weights")
    with pytest.raises(ValueError, match="unsupported scheme 'ftp'"):
        ToyGenie.from_pretrained("toy")
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", "")  # empty: the default remote
    assert ToyGenie._remote_path() == pretrained_module.DEFAULT_REMOTE
    assert not env["cache"].exists() or list(env["cache"].iterdir()) == []


def test_genie_version_not_shipped_from_file_url(tmp_path, monkeypatch):
    """The real GENIE: shipped versions offline, a made-up v99 from a file:// remote."""
    from seisbench_genie import GENIE

    shipped = pretrained_module.SHIPPED_DIR
    remote = tmp_path / "remote"
    remote.mkdir()
    shutil.copy(shipped / "crustal.pt.v2", remote / "crustal.pt.v99")
    meta = json.loads((shipped / "crustal.json.v2").read_text())
    meta["version"] = "99"
    meta["docstring"] = "crustal v2 republished as v99"
    (remote / "crustal.json.v99").write_text(json.dumps(meta))
    registry = tmp_path / "registry.json"
    shutil.copy(PACKAGE_REGISTRY, registry)
    register_weights(remote / "crustal.pt.v99", remote / "crustal.json.v99", registry)
    monkeypatch.setattr(GENIE, "_registry_path", registry)
    monkeypatch.setattr(seisbench, "cache_model_root", tmp_path / "cache")
    monkeypatch.setenv("SEISBENCH_GENIE_REMOTE", remote.as_uri())

    shipped_versions = sorted(p.name.rsplit(".v", 1)[1] for p in shipped.glob("crustal.pt.v*"))
    assert GENIE.list_versions("crustal") == [*shipped_versions, "99"]
    assert GENIE.list_versions("crustal", remote=False) == []
    v2 = GENIE.from_pretrained("crustal", version_str="2")  # shipped
    model = GENIE.from_pretrained("crustal", update=True)  # latest: v99 from the remote
    assert model.weights_version == "99"
    assert model.weights_docstring == "crustal v2 republished as v99"
    for key, value in v2.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)
    cached = tmp_path / "cache" / "genie" / "crustal.pt.v99"
    assert cached.read_bytes() == (shipped / "crustal.pt.v2").read_bytes()
