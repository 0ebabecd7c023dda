"""Training GENIE models on synthetic data (entry-point group ``seisbench_genie.trainers``)."""

from seisbench_genie.training.config import TrainingConfig

__all__ = ["TrainingConfig", "get_trainer"]


def get_trainer(name: str):
    """Trainer class registered under ``name`` in the ``seisbench_genie.trainers`` group.

    Examples
    --------
    >>> get_trainer("synthetic").__name__
    'SyntheticTrainer'
    """
    from importlib.metadata import entry_points

    eps = entry_points(group="seisbench_genie.trainers")
    if name not in eps.names:
        raise ValueError(f"trainer: unknown {name!r}; available: {sorted(eps.names)}")
    return eps[name].load()
