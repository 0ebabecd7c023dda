"""Process-level settings: the memory allocator for the network's many short-lived arrays,
and the checked choice of a torch device (:func:`resolve_device`).

Each batch of windows allocates tens of arrays of a few MB (pairs x windows x channels) and
frees them again. With glibc's default malloc, blocks that large are handed back to the kernel
when freed (``munmap`` above the mmap threshold, heap trimming above the trim threshold), so the
next batch receives fresh pages that the kernel must fault in and zero: on the crustal
500-event benchmark day this was 3.8 million page faults and a third of the run time. Raising
both thresholds keeps the freed memory in the process for the next batch. PyTorch's CPU
performance guides give the same advice (or a different allocator via ``LD_PRELOAD``).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import torch

#: ``mallopt`` parameter numbers (glibc ``malloc.h``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc's largest accepted mmap threshold on 64-bit systems (32 MB).
MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 256 * 2**20


def tune_malloc(mmap_threshold_bytes: int = MMAP_THRESHOLD_BYTES,
                trim_threshold_bytes: int = TRIM_THRESHOLD_BYTES) -> bool:
    """Raise glibc malloc's mmap and trim thresholds for this process (Linux only).

    Blocks up to ``mmap_threshold_bytes`` then come from the heap, and freed memory is returned
    to the kernel only when more than ``trim_threshold_bytes`` lie free at the top of the heap.
    The process may therefore keep up to that much freed memory mapped. Setting the thresholds
    also switches off glibc's own dynamic adjustment of them, for the rest of the process.
    Calling it again is harmless.

    Parameters
    ----------
    mmap_threshold_bytes
        Blocks at least this large are mapped with ``mmap`` (at most 32 MB on 64-bit glibc).
    trim_threshold_bytes
        Free memory at the top of the heap above which it is returned to the kernel.

    Returns
    -------
    bool
        True when both settings were applied; False on other systems or C libraries (musl,
        macOS, Windows), where nothing is changed.

    Examples
    --------
    >>> tune_malloc() in (True, False)
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold_bytes))) and bool(
        mallopt(M_TRIM_THRESHOLD, int(trim_threshold_bytes)))


def resolve_device(device: Any, name: str = "device") -> torch.device:
    """The torch device meant by ``device``, checked: ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
    ``"auto"`` (the GPU when one is present, otherwise the CPU) or a ``torch.device``.

    Parameters
    ----------
    device
        The requested device.
    name
        The argument's name in the error messages.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        Naming ``name``: an unknown device, a GPU asked for where none is available, or a GPU
        index beyond those present.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type in ("cpu", "cuda")
    True
    """
    text = str(device).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(text)
    except (RuntimeError, TypeError):
        raise ValueError(f"{name}: expected 'cpu', 'cuda', 'cuda:N' or 'auto', got "
                         f"{device!r}") from None
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"{name}: expected 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name}: {device!r} requested but no GPU is available; use "
                             "'cpu' or 'auto'")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"{name}: {device!r} requested but only "
                             f"{torch.cuda.device_count()} GPU(s) are present")
    return resolved
