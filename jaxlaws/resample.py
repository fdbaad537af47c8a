"""Resampling schemes: one protocol giving the rows of observations and weights that a batch of
fits runs on. Bootstrap, jackknife and per-group fits all use it.

A scheme's :meth:`rows` returns :class:`Rows` ``(obs [By, m], weights [Bw, m])`` with ``By``
and ``Bw`` either 1 (shared by every fit) or the number of fits:

* :class:`Pairs`       points drawn with replacement: multinomial counts as point weights;
* :class:`Groups`      whole groups drawn with replacement (block bootstrap);
* :class:`Residual`    fitted values plus residuals drawn with replacement (in the loss's space);
* :class:`Parametric`  fitted values plus Gaussian noise of the residuals' scale;
* :class:`LeaveOneOut` / :class:`LeaveOneGroupOut`  the jackknife's rows;
* :class:`PerGroup`    one fit per group (point weights 1 in the group, 0 elsewhere).

Every weight row is the scheme's point weights times the problem's own weights.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple, Protocol

import numpy as np

from jaxlaws.errors import JaxlawsError
from jaxlaws.problem import Problem


class Rows(NamedTuple):
    obs: np.ndarray  # [By, m]
    weights: np.ndarray  # [Bw, m]

    @property
    def n_fits(self) -> int:
        return max(len(self.obs), len(self.weights))


class Scheme(Protocol):
    name: str

    def check(self, prob: Problem) -> None:
        """Raise :class:`JaxlawsError` if the scheme cannot resample ``prob`` (before any compute)."""
        ...

    def rows(self, prob: Problem, *, theta: np.ndarray | None = None, rng: np.random.Generator | None = None,
             n: int | None = None) -> Rows:
        """The rows of ``n`` fits (random schemes) or of the scheme's own count (deterministic ones);
        ``theta`` is the full-data fit (internal coordinates) for schemes that resample around it."""
        ...


def _around_fit(prob: Problem, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fitted [m], residuals [m])`` of the full-data fit ``theta``, in the loss's space."""
    fitted = prob.fitted(theta)
    return fitted, prob.obs - fitted


class _NoCheck:
    def check(self, prob: Problem) -> None:
        """Every problem can be resampled so."""


def _point_rows(prob: Problem, point_weights: np.ndarray) -> Rows:
    return Rows(prob.obs[None], prob.residual_weights(point_weights) * prob.weights[None])


def _labels(groups: Any, prob: Problem, least: int) -> tuple[np.ndarray, np.ndarray]:
    if groups is None:
        raise JaxlawsError("this scheme needs group labels: pass groups=... or use a dataset with groups")
    groups = np.asarray(groups)
    if groups.shape != (prob.n_points,):
        raise JaxlawsError(f"groups have shape {groups.shape}, data has {prob.n_points} points")
    labels, inv = np.unique(groups, return_inverse=True)
    if len(labels) < least:
        raise JaxlawsError(f"the groups scheme needs at least {least} groups, got {len(labels)}")
    return labels, inv.reshape(-1)


@dataclasses.dataclass(frozen=True)
class Pairs(_NoCheck):
    name: str = "pairs"

    def rows(self, prob: Problem, *, theta: Any = None, rng: Any = None, n: int | None = None) -> Rows:
        k = prob.n_points
        return _point_rows(prob, rng.multinomial(k, np.full(k, 1.0 / k), size=n).astype(np.float64))


@dataclasses.dataclass(frozen=True, eq=False)
class Groups:
    groups: np.ndarray
    name: str = "groups"

    def check(self, prob: Problem) -> None:
        _labels(self.groups, prob, 2)

    def rows(self, prob: Problem, *, theta: Any = None, rng: Any = None, n: int | None = None) -> Rows:
        labels, inv = _labels(self.groups, prob, 2)
        G = len(labels)
        counts = rng.multinomial(G, np.full(G, 1.0 / G), size=n).astype(np.float64)
        return _point_rows(prob, counts[:, inv])


@dataclasses.dataclass(frozen=True)
class Residual(_NoCheck):
    name: str = "residual"

    def rows(self, prob: Problem, *, theta: Any = None, rng: Any = None, n: int | None = None) -> Rows:
        fitted, resid = _around_fit(prob, theta)
        return Rows(fitted[None] + resid[rng.integers(0, resid.size, size=(n, resid.size))], prob.weights[None])


@dataclasses.dataclass(frozen=True)
class Parametric(_NoCheck):
    name: str = "parametric"

    def rows(self, prob: Problem, *, theta: Any = None, rng: Any = None, n: int | None = None) -> Rows:
        fitted, resid = _around_fit(prob, theta)
        dof = max(resid.size - prob.law.n_params, 1)
        sigma = np.sqrt(np.sum(resid ** 2) / dof)
        return Rows(fitted[None] + sigma * rng.standard_normal((n, resid.size)), prob.weights[None])


@dataclasses.dataclass(frozen=True)
class LeaveOneOut(_NoCheck):
    name: str = "leave-one-out"

    def rows(self, prob: Problem, *, theta: Any = None, rng: Any = None, n: int | None = None) -> Rows:
        return _point_rows(prob, 1.0 - np.eye(prob.n_points))


@dataclasses.dataclass(frozen=True, eq=False)
class LeaveOneGroupOut:
    groups: np.ndarray
    name: str = "leave-one-group-out"

    def check(self, prob: Problem) -> None:
        _labels(self.groups, prob, 2)

    def rows(self, prob: Problem, *, theta: Any = None, rng: Any = None, n: int | None = None) -> Rows:
        labels, inv = _labels(self.groups, prob, 2)
        return _point_rows(prob, (inv[None, :] != np.arange(len(labels))[:, None]).astype(np.float64))


@dataclasses.dataclass(frozen=True, eq=False)
class PerGroup:
    groups: np.ndarray
    name: str = "per-group"

    def check(self, prob: Problem) -> None:
        _labels(self.groups, prob, 1)

    def labels(self, prob: Problem) -> tuple[np.ndarray, np.ndarray]:
        """``(labels [G], counts [G])``."""
        labels, inv = _labels(self.groups, prob, 1)
        return labels, np.bincount(inv, minlength=len(labels))

    def rows(self, prob: Problem, *, theta: Any = None, rng: Any = None, n: int | None = None) -> Rows:
        labels, inv = _labels(self.groups, prob, 1)
        return _point_rows(prob, (inv[None, :] == np.arange(len(labels))[:, None]).astype(np.float64))


BOOTSTRAP_SCHEMES = ("pairs", "residual", "parametric", "groups")


def bootstrap_scheme(name: str, groups: Any = None) -> Scheme:
    """A bootstrap scheme from its name (``groups`` needs the labels)."""
    if name == "pairs":
        return Pairs()
    if name == "residual":
        return Residual()
    if name == "parametric":
        return Parametric()
    if name == "groups":
        if groups is None:
            raise JaxlawsError("the groups scheme needs group labels: pass groups=... or use a dataset with groups")
        return Groups(np.asarray(groups))
    raise JaxlawsError(f"unknown bootstrap scheme {name!r}; choose from {', '.join(BOOTSTRAP_SCHEMES)}")


def jackknife_of(scheme: Scheme) -> Scheme:
    """The jackknife that matches a bootstrap scheme (leave one group out for groups)."""
    return LeaveOneGroupOut(scheme.groups) if isinstance(scheme, Groups) else LeaveOneOut()
