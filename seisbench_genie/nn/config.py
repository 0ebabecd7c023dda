"""The scale of a GENIE model: the few lengths and times that make weights transferable.

The network sees positions only as offsets divided by ``length_km`` and times only through
kernels of width ``kernel_s``; everything else about a station network (its layout, its velocity
model) enters through the graphs and the travel times of the region being processed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class ModelScale:
    """Scale parameters of a GENIE model (stored in its metadata).

    Parameters
    ----------
    name
        Short name, e.g. ``"crustal"``.
    length_km
        Characteristic length: relative station/source offsets are divided by it.
    node_spacing_km
        Horizontal spacing of the source graph's nodes (km); depth spacing is
        ``node_spacing_km * depth_spacing_factor``.
    depth_km
        Depth range the model was trained for (km, positive down).
    max_distance_km
        Largest station-source epicentral distance in the product graph (km).
    kernel_s
        Width (s) of the Gaussian kernels of pick residuals fed to the network.
    window_step_s
        Spacing (s) of the origin times at which the source likelihood is evaluated.
    label_space_km, label_time_s
        Widths of the Gaussian source labels in space (km) and origin time (s).
    k_station, k_source
        Neighbours in the station and source k-NN graphs.
    k_pairs
        Each source node links to at most this many nearest stations (within
        ``max_distance_km``).
    margin_km
        Default margin of the search region around the stations (km).
    depth_spacing_factor
        Vertical node spacing relative to horizontal.

    Examples
    --------
    >>> s = ModelScale(name="toy", length_km=50.0, node_spacing_km=20.0, depth_km=(0, 30),
    ...                max_distance_km=150.0, kernel_s=2.0, window_step_s=2.0)
    >>> ModelScale.from_dict(s.to_dict()) == s
    True
    """

    name: str
    length_km: float
    node_spacing_km: float
    depth_km: tuple[float, float]
    max_distance_km: float
    kernel_s: float
    window_step_s: float
    label_space_km: float = 0.0
    label_time_s: float = 0.0
    k_station: int = 6
    k_source: int = 8
    k_pairs: int = 16
    margin_km: float = 20.0
    depth_spacing_factor: float = 1.0

    def __post_init__(self) -> None:
        for f in ("length_km", "node_spacing_km", "max_distance_km", "kernel_s",
                  "window_step_s"):
            if not getattr(self, f) > 0:
                raise ValueError(f"ModelScale.{f} must be > 0, got {getattr(self, f)}")
        lo, hi = self.depth_km
        if not hi > lo:
            raise ValueError(f"ModelScale.depth_km must be increasing, got {self.depth_km}")
        object.__setattr__(self, "depth_km", (float(lo), float(hi)))
        if self.label_space_km <= 0:
            object.__setattr__(self, "label_space_km", 0.75 * self.node_spacing_km)
        if self.label_time_s <= 0:
            object.__setattr__(self, "label_time_s", 1.0 * self.window_step_s)
        if self.max_distance_km < self.node_spacing_km:
            raise ValueError("ModelScale.max_distance_km must exceed node_spacing_km")

    def to_dict(self) -> dict:
        """Plain-JSON representation."""
        d = asdict(self)
        d["depth_km"] = list(self.depth_km)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelScale:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"ModelScale: unknown field(s) {sorted(unknown)}")
        d = dict(d)
        d["depth_km"] = tuple(d["depth_km"])
        return cls(**d)
