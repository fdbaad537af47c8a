"""Dataset: named input columns, a target, optional groups, runs and train/test split."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxlaws.errors import JaxlawsError


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Points to fit.

    Attributes:
      name: short name.
      inputs: input name -> ``[n]`` float64 array.
      y: ``[n]`` (or ``[n, k]`` for multi-output laws) float64 target.
      target: the target's column name.
      groups: ``[n]`` group labels, or None.
      splits: ``[n]`` split labels (``"train"``/``"test"``), or None.
      provenance: where the numbers come from.
      units: column name (input or target) -> its unit in words (``"parameters"``, ``"tokens"``,
        ``"nats/token"``; for a dimensionless column, what it measures), for axis labels; a
        column not in it has no stated unit.
      runs: ``[n]`` training-run labels, or None: the points of one run are checkpoints of one
        training curve (see :mod:`jaxlaws.datasets.curves`). Kept apart from ``groups`` on
        purpose: groups choose what is fitted separately (``fit_groups``) and what a block
        bootstrap draws by default, and a run is a finer unit than most groupings (a dataset
        grouped by router type has many runs per group).
      extra: column name -> ``[n]`` array of columns that are neither inputs nor the target
        (other evaluation losses, labels); NaN is allowed here (a missing measurement), and
        strings are kept as they are.
    """

    name: str
    inputs: Mapping[str, np.ndarray]
    y: np.ndarray
    target: str = "y"
    groups: np.ndarray | None = None
    splits: np.ndarray | None = None
    provenance: str = ""
    units: Mapping[str, str] = dataclasses.field(default_factory=dict)
    runs: np.ndarray | None = None
    extra: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        y = np.asarray(self.y, dtype=np.float64)
        if y.ndim not in (1, 2) or y.shape[0] == 0:
            raise JaxlawsError(f"dataset {self.name!r}: target must be [n] or [n, k] with n > 0, got shape {y.shape}")
        n = y.shape[0]
        inputs = {}
        for k, v in self.inputs.items():
            a = np.asarray(v, dtype=np.float64)
            if a.shape != (n,):
                raise JaxlawsError(f"dataset {self.name!r}: input {k!r} has shape {a.shape}, target has {n} points")
            if not np.all(np.isfinite(a)):
                raise JaxlawsError(f"dataset {self.name!r}: input {k!r} has NaN or inf at row {int(np.argmin(np.isfinite(a)))}")
            inputs[k] = a
        if not np.all(np.isfinite(y)):
            bad = int(np.argwhere(~np.isfinite(y))[0][0])
            raise JaxlawsError(f"dataset {self.name!r}: target {self.target!r} has NaN or inf at row {bad}")
        for attr in ("groups", "splits", "runs"):
            v = getattr(self, attr)
            if v is not None:
                v = np.asarray(v)
                if v.shape != (n,):
                    raise JaxlawsError(f"dataset {self.name!r}: {attr} has shape {v.shape}, target has {n} points")
                object.__setattr__(self, attr, v)
        extra = {}
        for k, v in dict(self.extra or {}).items():
            a = np.asarray(v)
            if a.shape != (n,):
                raise JaxlawsError(f"dataset {self.name!r}: extra column {k!r} has shape {a.shape}, target has {n} points")
            extra[str(k)] = a
        object.__setattr__(self, "extra", extra)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "units", {str(k): str(v) for k, v in dict(self.units or {}).items()})

    @property
    def n_points(self) -> int:
        return int(self.y.shape[0])

    def __len__(self) -> int:
        return self.n_points

    def subset(self, mask: Any, name: str | None = None) -> Dataset:
        """The points where ``mask`` (bool ``[n]`` or integer indices) selects."""
        idx = np.asarray(mask)
        return dataclasses.replace(
            self,
            name=name or self.name,
            inputs={k: v[idx] for k, v in self.inputs.items()},
            y=self.y[idx],
            groups=None if self.groups is None else self.groups[idx],
            splits=None if self.splits is None else self.splits[idx],
            runs=None if self.runs is None else self.runs[idx],
            extra={k: v[idx] for k, v in self.extra.items()},
        )

    def split(self, which: str) -> Dataset:
        """The ``train`` or ``test`` part."""
        if self.splits is None:
            raise JaxlawsError(f"dataset {self.name!r} has no train/test split")
        mask = self.splits == which
        if not mask.any():
            raise JaxlawsError(f"dataset {self.name!r} has no points in split {which!r}")
        return self.subset(mask, name=f"{self.name}[{which}]")

    def column(self, name: str) -> np.ndarray:
        """An input, the target (by its name) or an extra column, by name."""
        if name in self.inputs:
            return self.inputs[name]
        if name == self.target:
            return self.y
        if name in self.extra:
            return self.extra[name]
        raise JaxlawsError(f"dataset {self.name!r} has no column {name!r}; inputs {sorted(self.inputs)}, "
                           f"target {self.target!r}, extra {sorted(self.extra)}")

    def require(self, inputs: tuple[str, ...]) -> None:
        """Raise if any of ``inputs`` is not a column of this dataset."""
        missing = [k for k in inputs if k not in self.inputs]
        if missing:
            raise JaxlawsError(f"dataset {self.name!r} lacks inputs {missing}; it has {sorted(self.inputs)}")
