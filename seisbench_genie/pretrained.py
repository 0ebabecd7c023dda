"""Pretrained weights for SeisBench models: shipped with the package, or fetched with pooch.

SeisBench's own weight handling lists the remote folder with WebDAV, which GitHub, Zenodo or
``python -m http.server`` do not support. :class:`PoochPretrainedModel` keeps SeisBench's
cache layout and ``from_pretrained`` signature but resolves each weight file
(``<weights>.pt.v<N>`` and ``<weights>.json.v<N>``) in this order:

1. the SeisBench cache ``seisbench.cache_model_root/<name lower>/`` (``$SEISBENCH_CACHE_ROOT``
   moves it), checked against the registry;
2. the weights shipped with the package, :data:`SHIPPED_DIR`: ``seisbench_genie/weights/`` in
   an installed wheel, which the build takes from the repository's top-level ``pretrained/``
   folder (an editable install or a source checkout reads ``pretrained/`` directly). A shipped
   file is copied into the cache and its sha256 checked against the registry;
3. the remote ``$SEISBENCH_GENIE_REMOTE`` (default :data:`DEFAULT_REMOTE`), for weights or
   versions that are not shipped: an ``http(s)://`` base URL, downloaded with pooch (tqdm
   progress bar), or a local folder given as a path or a ``file://`` URL, copied. Either way
   the file is checked against the registry's sha256 before it enters the cache.

Steps 1 and 2 never touch the network, so the shipped weights load offline. A file is fetched
from the remote only when the registry lists it (its hash is known).

The registry is the JSON file :attr:`PoochPretrainedModel._registry_path` (default the
package's ``pretrained_registry.json``, :data:`PACKAGE_REGISTRY`):
``{"crustal.pt.v1": "sha256:<hex>", ...}``. The trainer adds files with
:func:`register_weights`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pooch
import requests
import seisbench
import seisbench.util
from seisbench.models import SeisBenchModel

DEFAULT_REMOTE = "https://github.com/seisbench-genie/seisbench-genie/raw/main/pretrained"
"""Remote used for files that are neither cached nor shipped, unless :data:`REMOTE_ENV` is set."""

REMOTE_ENV = "SEISBENCH_GENIE_REMOTE"
"""Environment variable naming the remote: an ``http(s)://`` base URL, a local folder path, or
a ``file://`` URL of a local folder. Files are looked up as ``<remote>/<file name>``."""

PACKAGE_REGISTRY = Path(__file__).with_name("pretrained_registry.json")
"""Registry of the weights published with this package version."""

_WEIGHT_FILE = re.compile(r"^(?P<name>.+)\.(?P<kind>pt|json)\.v(?P<version>[^/\\]+)$")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


class WeightsUnavailableError(RuntimeError):
    """Raised when a weight file is neither cached, shipped, nor downloadable."""


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, as lowercase hex (no ``sha256:`` prefix).

    Parameters
    ----------
    path
        File to hash; read in 1 MiB blocks.

    Returns
    -------
    str
        64 hexadecimal characters.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> _ = p.write_bytes(b"abc")
    >>> file_sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_registry(path: str | os.PathLike) -> dict[str, str]:
    """Read a weight registry (``{"file name": "sha256:<hex>"}``); a missing file is empty.

    Parameters
    ----------
    path
        JSON registry file.

    Returns
    -------
    dict
        File name -> ``"sha256:<hex>"``.

    Raises
    ------
    ValueError
        When the file is not a JSON object of ``sha256:<64 hex>`` strings.

    Examples
    --------
    >>> load_registry("/nonexistent/registry.json")
    {}
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        registry = json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as err:
        raise ValueError(f"registry {path}: not valid JSON ({err})") from err
    if not isinstance(registry, dict):
        raise ValueError(f"registry {path}: expected a JSON object of file name -> sha256")
    bad = [k for k, v in registry.items() if not isinstance(v, str) or not _SHA256.match(v)]
    if bad:
        raise ValueError(f"registry {path}: entries without a 'sha256:<64 hex>' hash: {bad[:5]}")
    return registry


def register_weights(
    pt_path: str | os.PathLike,
    json_path: str | os.PathLike,
    registry_path: str | os.PathLike = PACKAGE_REGISTRY,
) -> dict[str, str]:
    """Add a pair of weight files to a registry (used by the trainer before publishing).

    Parameters
    ----------
    pt_path, json_path
        The weight files, named ``<name>.pt.v<N>`` and ``<name>.json.v<N>`` (same name and
        version). When the JSON has a ``"version"`` entry it must equal ``N``.
    registry_path
        Registry JSON to update (created when missing); default the package registry.

    Returns
    -------
    dict
        The two new entries ``{file name: "sha256:<hex>"}``.

    Raises
    ------
    ValueError
        When a file name does not follow the pattern, the names/versions differ, or the
        JSON's ``"version"`` contradicts the file name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "toy.pt.v1").write_bytes(b"w")
    >>> _ = (d / "toy.json.v1").write_text('{"version": "1"}')
    >>> sorted(register_weights(d / "toy.pt.v1", d / "toy.json.v1", d / "registry.json"))
    ['toy.json.v1', 'toy.pt.v1']
    """
    pt_path, json_path = Path(pt_path), Path(json_path)
    parsed = {}
    for arg, path, kind in (("pt_path", pt_path, "pt"), ("json_path", json_path, "json")):
        match = _WEIGHT_FILE.match(path.name)
        if match is None or match["kind"] != kind:
            raise ValueError(f"{arg}: file name {path.name!r} must look like <name>.{kind}.v<N>")
        if not path.is_file():
            raise ValueError(f"{arg}: {path} does not exist")
        parsed[kind] = (match["name"], match["version"])
    if parsed["pt"] != parsed["json"]:
        raise ValueError(
            f"json_path: name/version {parsed['json']} differ from pt_path's {parsed['pt']}"
        )
    meta_version = json.loads(json_path.read_text()).get("version")
    if meta_version is not None and str(meta_version) != parsed["pt"][1]:
        raise ValueError(
            f"json_path: 'version' {meta_version!r} in {json_path.name} contradicts the file "
            f"name suffix v{parsed['pt'][1]}"
        )
    registry_path = Path(registry_path)
    registry = load_registry(registry_path)
    entries = {p.name: f"sha256:{file_sha256(p)}" for p in (pt_path, json_path)}
    registry.update(entries)
    registry_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = registry_path.with_name(registry_path.name + ".tmp")
    tmp.write_text(json.dumps(dict(sorted(registry.items())), indent=2) + "\n")
    os.replace(tmp, registry_path)
    return entries


def _is_weight_file(fname: str) -> bool:
    """``<name>.pt.v<N>`` / ``<name>.json.v<N>``, not a hidden temp file or a ``.partial``."""
    return (
        _WEIGHT_FILE.match(fname) is not None
        and not fname.startswith(".")
        and not fname.endswith(".partial")
    )


def _find_shipped_dir() -> Path | None:
    """Folder of the weights shipped with the package, or None when there is none.

    ``seisbench_genie/weights/`` of an installed wheel; in a source checkout (editable install
    or ``PYTHONPATH``), whose package folder holds no copy, the top-level ``pretrained/``
    next to ``pyproject.toml``.
    """
    package = Path(__file__).resolve().parent
    installed = package / "weights"
    if installed.is_dir():
        return installed
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "pretrained").is_dir():
        return checkout / "pretrained"
    return None


SHIPPED_DIR: Path | None = _find_shipped_dir()
"""Folder of the weights shipped with the package (see the module docstring), or None."""


def _local_remote_dir(remote: str) -> Path | None:
    """The folder named by a local remote (a path or ``file://`` URL); None for ``http(s)``."""
    parsed = urllib.parse.urlsplit(remote)
    if parsed.scheme.lower() == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(
                f"{REMOTE_ENV}={remote!r}: a file:// URL must name a folder on this machine "
                f"(file:///path/to/folder), not one on host {parsed.netloc!r}"
            )
        return Path(urllib.request.url2pathname(parsed.path))
    if "://" not in remote:
        return Path(remote).expanduser()
    if parsed.scheme.lower() in ("http", "https"):
        return None
    raise ValueError(
        f"{REMOTE_ENV}={remote!r}: unsupported scheme {parsed.scheme!r}; use an http(s):// "
        f"URL, a local folder path or a file:// URL"
    )


class PoochPretrainedModel(SeisBenchModel):
    """SeisBench model base class whose pretrained weights come through pooch.

    Subclass it instead of :class:`seisbench.models.SeisBenchModel`; ``from_pretrained``,
    ``list_pretrained`` and ``list_versions`` keep SeisBench's signatures and cache layout
    but never use WebDAV. Files come from the cache, then the shipped folder, then the remote
    ``$SEISBENCH_GENIE_REMOTE`` (see the module docstring).

    Attributes
    ----------
    _weights_name : str or None
        Folder name of the weights in the cache (lower-cased) instead of the class name, so the
        cache survives class renames and subclasses share weights (GENIE sets ``"GENIE"``).
    _registry_path : pathlib.Path
        Registry JSON of known weight files and their sha256.
    _shipped_dir : pathlib.Path or None
        Folder of the weight files shipped with the package (flat: ``<weights>.pt.v<N>``);
        default :data:`SHIPPED_DIR`.
    _download_timeout : float
        HTTP timeout in s.

    Examples
    --------
    >>> import torch
    >>> class Toy(PoochPretrainedModel):
    ...     def __init__(self, n=2):
    ...         super().__init__(citation="none")
    ...         self.n, self.default_args = n, {}
    ...         self.lin = torch.nn.Linear(n, 1)
    ...     def get_model_args(self):
    ...         return {"n": self.n}
    >>> Toy.list_pretrained(remote=False)  # doctest: +SKIP
    []
    >>> model = Toy.from_pretrained("crustal")  # doctest: +SKIP
    """

    _weights_name: str | None = None
    _registry_path: Path = PACKAGE_REGISTRY
    _shipped_dir: Path | None = SHIPPED_DIR
    _download_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not hasattr(self, "default_args"):
            self.default_args = {}  # SeisBenchModel._parse_metadata needs it

    # ---- locations -------------------------------------------------------------------------
    @classmethod
    def _name_internal(cls) -> str:
        return cls._weights_name or cls.__name__

    @classmethod
    def _remote_path(cls) -> str:
        """The remote: ``$SEISBENCH_GENIE_REMOTE`` (when set and not empty) or the default."""
        remote = os.environ.get(REMOTE_ENV, "").strip() or DEFAULT_REMOTE
        return remote.rstrip("/") or remote

    @classmethod
    def _registry(cls) -> dict[str, str]:
        return load_registry(cls._registry_path)

    @classmethod
    def _shipped_files(cls) -> dict[str, Path]:
        folder = cls._shipped_dir
        if folder is None or not Path(folder).is_dir():
            return {}
        return {p.name: p for p in Path(folder).iterdir() if _is_weight_file(p.name)}

    @classmethod
    def _cached_files(cls) -> list[str]:
        folder = cls._model_path()
        if not folder.is_dir():
            return []
        return [p.name for p in folder.iterdir() if _is_weight_file(p.name) and p.is_file()]

    @staticmethod
    def _versions_in(name: str, files: Any) -> set[str]:
        out = set()
        for fname in files:
            match = _WEIGHT_FILE.match(fname)
            if match and match["name"] == name and match["kind"] == "json":
                out.add(match["version"])
        return out

    @staticmethod
    def _names_in(files: Any) -> set[str]:
        return {m["name"] for m in map(_WEIGHT_FILE.match, files) if m is not None}

    # ---- listing ---------------------------------------------------------------------------
    @classmethod
    def list_versions(cls, name: str, remote: bool = True) -> list[str]:
        """Versions of the weights ``name``.

        Parameters
        ----------
        name
            Weight name, e.g. ``"crustal"``.
        remote
            Also list versions obtainable without the cache: the registry (downloadable)
            and the shipped folder. No network access either way.

        Returns
        -------
        list of str
            Sorted version strings.

        Examples
        --------
        >>> MyGENIE.list_versions("crustal")  # doctest: +SKIP
        ['1', '2']
        """
        cls._cleanup_local_repository()
        versions = cls._versions_in(name, cls._cached_files())
        if remote:
            versions |= cls._versions_in(name, cls._registry())
            versions |= cls._versions_in(name, cls._shipped_files())
        return sorted(versions, key=_version_key)

    @classmethod
    def list_pretrained(cls, details: bool = False, remote: bool = True) -> list[str] | dict:
        """Names of the available pretrained weights.

        Parameters
        ----------
        details
            Return ``{name: docstring of the latest version}`` instead of a list. The JSON of
            a weight that is neither cached nor shipped is downloaded to a temporary folder
            (docstring None, with a logged warning, when the remote is unreachable).
        remote
            Include weights from the registry and the shipped folder, not only cached ones.
            No network access unless ``details=True``.

        Returns
        -------
        list of str or dict
            Sorted names, or names -> docstrings.

        Examples
        --------
        >>> MyGENIE.list_pretrained()  # doctest: +SKIP
        ['crustal', 'subduction']
        """
        cls._cleanup_local_repository()
        names = cls._names_in(cls._cached_files())
        if remote:
            names |= cls._names_in(cls._registry()) | cls._names_in(cls._shipped_files())
        names_sorted = sorted(names)
        if not details:
            return names_sorted
        return {n: cls._latest_docstring(n, remote) for n in names_sorted}

    @classmethod
    def _latest_docstring(cls, name: str, remote: bool) -> str | None:
        versions = cls.list_versions(name, remote=remote)
        if not versions:
            return None
        fname = f"{name}.json.v{versions[-1]}"
        cached = cls._model_path() / fname
        shipped = cls._shipped_files().get(fname)
        try:
            if cached.is_file():
                path = cached
            elif shipped is not None:
                path = shipped
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / fname
                    cls._download(fname, path, cls._registry(), progressbar=False)
                    return json.loads(path.read_text()).get("docstring")
            return json.loads(path.read_text()).get("docstring")
        except WeightsUnavailableError as err:
            seisbench.logger.warning(f"No docstring for {name}: {err}")
            return None

    # ---- loading ---------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        name: str,
        version_str: str = "latest",
        update: bool = False,
        force: bool = False,
        wait_for_file: bool = False,
    ) -> PoochPretrainedModel:
        """Load pretrained weights (same signature and semantics as SeisBench).

        Each file is taken from the SeisBench cache, else copied from the weights shipped
        with the package, else fetched from ``$SEISBENCH_GENIE_REMOTE`` (an ``http(s)://``
        URL, a local folder or a ``file://`` URL); copies and downloads are checked against
        the registry's sha256 before they enter the cache. Shipped weights need no network.

        Parameters
        ----------
        name
            Weight name, see :meth:`list_pretrained`.
        version_str
            A version string or ``"latest"``: the latest *cached* version, or, when nothing
            is cached (or ``update=True``), the latest registered / shipped version.
        update
            Consider the registry and shipped versions for ``"latest"`` even when a version is
            cached (no network access needed to decide).
        force
            Fetch the files again from the remote, even when cached or shipped.
        wait_for_file
            Wait for a concurrent download of the same files instead of failing.

        Returns
        -------
        PoochPretrainedModel
            The model (on the CPU), with ``weights_docstring`` / ``weights_version`` set.

        Raises
        ------
        ValueError
            For an unknown ``name`` (message lists the available names) or version, or a file
            whose sha256 does not match the registry (message has both hashes).
        WeightsUnavailableError
            When a file is not cached or shipped and the remote cannot be reached or, for a
            local folder remote, does not hold it.

        Examples
        --------
        >>> model = MyGENIE.from_pretrained("crustal")  # doctest: +SKIP
        >>> model.weights_version  # doctest: +SKIP
        '2'

        """
        available = cls.list_pretrained(remote=True)
        if name not in available:
            raise ValueError(
                f"name: unknown pretrained weights {name!r} for {cls.__name__}; available: "
                f"{available or 'none (empty registry and cache)'}"
            )
        if version_str != "latest":
            versions = cls.list_versions(name, remote=True)
            if str(version_str) not in versions:
                raise ValueError(
                    f"version_str: weights {name!r} have no version {version_str!r}; "
                    f"available: {versions}"
                )
            version_str = str(version_str)
        return super().from_pretrained(
            name, version_str=version_str, update=update, force=force, wait_for_file=wait_for_file
        )

    @classmethod
    def load(
        cls, path: str | os.PathLike, version_str: str | None = None, **kwargs: Any
    ) -> PoochPretrainedModel:
        """Load a model from ``<path>.json[.v<N>]`` and ``<path>.pt[.v<N>]``.

        Parameters
        ----------
        path
            Path without the ``.json`` / ``.pt`` suffix.
        version_str
            Version suffix of the files, or None for unversioned files.
        **kwargs
            Passed to :func:`torch.load`; ``map_location`` defaults to ``"cpu"`` so weights
            saved on a GPU load on CPU-only machines.

        Returns
        -------
        PoochPretrainedModel

        Examples
        --------
        >>> model.save("/tmp/mine")  # doctest: +SKIP
        >>> MyGENIE.load("/tmp/mine")  # doctest: +SKIP
        """
        kwargs.setdefault("map_location", "cpu")
        return super().load(path, version_str=version_str, **kwargs)

    # ---- files -----------------------------------------------------------------------------
    @classmethod
    def _ensure_weight_files(
        cls,
        name: str,
        version_str: str,
        weight_path: Path,
        metadata_path: Path,
        force: bool,
        wait_for_file: bool,
    ) -> None:
        """Make both files of one weight version present and verified in the cache."""
        registry = cls._registry()
        targets = [Path(weight_path), Path(metadata_path)]
        targets[0].parent.mkdir(parents=True, exist_ok=True)
        if force:
            for target in targets:
                partial = target.with_name(target.name + ".partial")
                if partial.is_file():
                    partial.unlink()
                cls._download(target.name, target, registry, progressbar=not _is_json(target.name))
            return

        for target in targets:
            if target.is_file():
                cls._verify(target, registry.get(target.name), "cached file")

        def fetch_missing(_partials: list[Path]) -> None:
            # The .partial files only serve as a lock for concurrent callers: each file is
            # written to the cache atomically once verified, so a failure leaves no half file.
            for target in targets:
                if not target.is_file():
                    cls._fetch(target, registry)

        seisbench.util.callback_if_uncached(
            targets, fetch_missing, force=False, wait_for_file=wait_for_file
        )

    @classmethod
    def _verify(cls, path: Path, expected: str | None, what: str) -> None:
        if expected is None:
            return  # not a published file (e.g. the user's own weights): nothing to check
        actual = f"sha256:{file_sha256(path)}"
        if actual != expected:
            raise ValueError(
                f"{what} {path} does not match the registry: expected {expected}, got {actual}. "
                f"Delete it or call from_pretrained(..., force=True) to download it again."
            )

    @classmethod
    def _fetch(cls, target: Path, registry: dict[str, str]) -> None:
        """Shipped copy or remote file into ``target``, sha256-checked against the registry."""
        fname = target.name
        shipped = cls._shipped_files().get(fname)
        if shipped is not None:
            _copy_verified(shipped, Path(target), registry.get(fname), "shipped file")
            seisbench.logger.info(f"Copied shipped weights {shipped} to {target}")
            return
        cls._download(fname, target, registry, progressbar=not _is_json(fname))

    @classmethod
    def _download(
        cls, fname: str, target: Path, registry: dict[str, str], progressbar: bool = True
    ) -> None:
        """Fetch ``fname`` from the remote with a sha256 check, atomically into ``target``.

        An ``http(s)`` remote goes through pooch; a local folder (path or ``file://`` URL) is
        copied from.
        """
        known_hash = registry.get(fname)
        remote = cls._remote_path()
        url = f"{remote}/{fname}"
        if known_hash is None:
            raise WeightsUnavailableError(
                f"weights file {fname} is not cached, not shipped and not in the registry "
                f"{cls._registry_path}, so it cannot be downloaded safely"
            )
        target = Path(target)
        folder = _local_remote_dir(remote)
        if folder is not None:
            source = folder / fname
            if not source.is_file():
                where = "does not exist" if not folder.is_dir() else f"has no file {fname}"
                raise WeightsUnavailableError(
                    f"weights {fname} not cached and not shipped, and the local remote folder "
                    f"{folder} ({REMOTE_ENV}={remote}) {where}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_verified(source, target, known_hash, f"weights file {fname} from {REMOTE_ENV}")
            seisbench.logger.info(f"Copied weights {source} to {target}")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmpdir = tempfile.mkdtemp(prefix=".download-", dir=target.parent)
        try:
            downloader = pooch.HTTPDownloader(
                progressbar=progressbar, timeout=cls._download_timeout
            )
            seisbench.logger.info(f"Downloading {fname} from {url}")
            pooch_logger = pooch.get_logger()
            level = pooch_logger.level
            pooch_logger.setLevel("WARNING")  # its message would name our temporary folder
            try:
                fetched = pooch.retrieve(
                    url,
                    known_hash=known_hash,
                    fname=fname,
                    path=tmpdir,
                    downloader=downloader,
                )
            except requests.exceptions.RequestException as err:
                raise WeightsUnavailableError(
                    f"weights {fname} not cached and the remote is unreachable: {url}: {err}; "
                    f"set {REMOTE_ENV} or run once online"
                ) from err
            except ValueError as err:
                found = re.search(r"got\s+(?:sha256:)?([0-9a-f]{64})", str(err))
                actual = f"sha256:{found.group(1)}" if found else "unknown (see below)"
                raise ValueError(
                    f"weights file {fname} downloaded from {url} failed the sha256 check: "
                    f"expected {known_hash}, got {actual}; the download was discarded. "
                    f"({err})"
                ) from err
            finally:
                pooch_logger.setLevel(level)
            os.replace(fetched, target)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _copy_verified(source: Path, target: Path, expected: str | None, what: str) -> None:
    """Copy ``source`` atomically to ``target`` after checking the copy's sha256.

    The hidden temporary copy is removed on any failure, so the cache never holds a half or
    unverified file. ``expected`` None (a file the registry does not list) skips the check.
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.copy")
    try:
        shutil.copyfile(source, tmp)
        if expected is not None:
            actual = f"sha256:{file_sha256(tmp)}"
            if actual != expected:
                raise ValueError(
                    f"{what} {source} does not match the registry: expected {expected}, got "
                    f"{actual}; it was not copied into the cache."
                )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _is_json(fname: str) -> bool:
    match = _WEIGHT_FILE.match(fname)
    return match is not None and match["kind"] == "json"


def _version_key(version: str) -> tuple:
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(version), version)
    except InvalidVersion:
        return (1, version, version)
