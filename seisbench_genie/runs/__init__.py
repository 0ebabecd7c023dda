"""Long runs: months of picks in time chunks, on all cores or a Dask cluster, resumable.

:func:`associate_long` is the Python entry point (:func:`run_chunks` when the catalog should
come a block at a time); ``seisbench-genie associate`` the command line
(:mod:`seisbench_genie.runs.cli`). See ``docs/long_runs.md``.
"""

from seisbench_genie.runs.engine import (
    ChunkRun,
    LongRunOutput,
    PickArrays,
    associate_long,
    run_chunks,
)

__all__ = ["associate_long", "run_chunks", "ChunkRun", "LongRunOutput", "PickArrays"]
