"""Writing a file so that no reader (and no rerun after a crash) ever sees it half-written:
the content goes to a temporary name in the target's folder, which is then renamed.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> p = atomic_write(Path(tempfile.mkdtemp()) / "sub" / "a.txt", lambda t: t.write_text("x"))
>>> p.read_text()
'x'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary name in ``path``'s folder (created when missing),
    then rename it to ``path``; the temporary file is removed if ``write`` fails.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
