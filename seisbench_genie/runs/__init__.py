"""Long runs: months of picks in time chunks, on all cores or a Dask cluster, resumable.

:func:`associate_long` is the Python entry point; ``seisbench-genie associate`` the command
line (:mod:`seisbench_genie.runs.cli`). See ``docs/long_runs.md``.
"""

from seisbench_genie.runs.engine import LongRunOutput, PickArrays, associate_long

__all__ = ["associate_long", "LongRunOutput", "PickArrays"]
