"""``Training``: the training loop's settings as one frozen configuration object."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from numpyro_pinn.precision import PRECISIONS
from numpyro_pinn.training.collocation import Collocation
from numpyro_pinn.validation import check_count, check_positive

__all__ = ["Training", "Plateau"]


@dataclass(frozen=True)
class Plateau:
    """Stop training when the ESS monitor has stopped improving: the early stop for posteriors
    that approach ``target_ess`` only slowly (or never), where further steps cost more than the
    few effective draws they would add.

    After each monitor from step ``2 * window`` on, the median ESS of the monitors in the last
    ``window`` steps is compared with the median of those in the ``window`` steps before.
    Training stops when the recent median is at least ``min_ess`` and neither the ESS rose by the
    fraction ``min_gain`` nor the inefficiency ``1 - ESS`` fell by it between the two windows
    (the first measures progress at a low ESS, the second near 1). Training also stops from step
    ``window`` on when the median ESS of the monitors in the last ``window`` steps is below the
    untrained transport's (the base distribution's own proposal: the ESS of the sampler's check of
    the base before training, on more draws than a monitor batch, or the monitor at step 0): a
    transport that a full window of training has left worse than where it started seldom
    recovers, and the base's draws replace a worse transport's anyway (the base fallback).
    ``diagnostics["stages"]["training"]["stopped_by"]`` then says ``"plateau"``. A poor ESS at
    a plateau is no reason to train on: the weights' diagnostics and warnings report it, and
    :class:`~numpyro_pinn.Rejuvenation` moves the draws when they warn. Below ``min_ess``
    (default 0: never) training goes on regardless, and an ESS of 0 (every monitor particle
    failed) is never a plateau. Pass ``Training(plateau=None)`` to train until ``target_ess`` or
    ``num_steps``.
    """

    window: int = 500
    min_ess: float = 0.0
    min_gain: float = 0.2

    def __post_init__(self):
        check_count("window", self.window, 1)
        if not 0.0 <= self.min_ess <= 1.0:
            raise ValueError(f"Plateau `min_ess` must be in [0, 1]; got {self.min_ess!r}.")
        if not 0.0 <= self.min_gain < 1.0:
            raise ValueError(f"Plateau `min_gain` must be in [0, 1); got {self.min_gain!r}.")

    def reached(self, history, done: int, start_ess: Optional[float] = None) -> bool:
        """Whether the monitor history ``[(step, ess), ...]`` after ``done`` steps is on a plateau;
        ``start_ess``: the untrained transport's ESS (``None``: the history's step-0 entry)."""
        median = lambda x: float(np.median(np.nan_to_num(x, nan=0.0)))
        recent = [e for s, e in history if s > done - self.window]
        before = [e for s, e in history if done - 2 * self.window < s <= done - self.window]
        start = [e for s, e in history if s == 0] if start_ess is None else [start_ess]
        if done >= self.window and len(recent) >= 2 and start:
            now = median(recent)
            if 0.0 < now < median(start[:1]) and now >= self.min_ess:
                return True  # a window of training left the proposal worse than the base's
        if done < 2 * self.window or len(recent) < 2 or len(before) < 2:
            return False
        now, then = median(recent), median(before)
        rose = now >= (1.0 + self.min_gain) * then
        fell = (1.0 - now) <= (1.0 - self.min_gain) * (1.0 - then)
        return now > 0.0 and now >= self.min_ess and not (rose or fell)


@dataclass(frozen=True)
class Training:
    """How the transport is trained, beyond ``PINNSampler(num_steps=, target_ess=)``.

    The defaults suit every posterior of the benchmarks; change them for a long training of a
    hard target or to fine-tune. Pass as ``PINNSampler(model, training=Training(...))``.

    Main arguments
    --------------
    min_steps
        Steps taken before the early stop on ``target_ess`` may end training (default 0: the base
        distribution alone may already reach it, and then no step is taken;
        ``diagnostics["num_train_steps"]`` says how many were).
    max_pareto_k
        The early stop on ``target_ess`` also needs the monitor weights' Pareto k-hat at most this
        (default 0.5, the range where importance weights are reliable): a proposal whose ESS is
        high on ``monitor_size`` draws can still miss a heavier tail of the posterior, which the
        k-hat sees and the final draws would be warned about); from a monitor ESS of 0.99 on, the
        weights are nearly equal and the ESS alone decides. ``None``: the ESS alone decides.
    batch_size
        Collocation points per Adam step. ``None`` (default): the transport's choice for the
        dimension (:meth:`~numpyro_pinn.ODETransport.default_batch_size`): 1,024 up to 16
        dimensions and above 32, 512 in between (two Hutchinson probes per point), and 256 in
        between with exact divergences (``ODETransport(hutchinson_above=32)``).
    learning_rate
        Adam's initial step size (cosine decay to 1% of it over ``num_steps``).
    max_seconds
        A wall-clock budget for training: it stops after the chunk that exceeds it, and
        ``diagnostics["stages"]["training"]["stopped_by"]`` says ``"time budget"``.
    finetune, gn_steps
        ``finetune="gauss_newton"`` takes ``gn_steps`` matrix-free, Levenberg-Marquardt damped
        Gauss-Newton steps on the PDE residual after Adam
        (:mod:`numpyro_pinn.training.gauss_newton`); the result is kept only if the ESS of a
        monitor batch does not fall. What it did is in ``diagnostics["finetune"]``.

    Other arguments
    ---------------
    optimizer
        An ``optax.GradientTransformation`` replacing the default (clipped Adam, cosine decay from
        ``learning_rate``). Not saved by :meth:`~numpyro_pinn.PINNSampler.save`.
    collocation
        The mix of uniform / bridge / trajectory collocation points
        (:class:`~numpyro_pinn.Collocation`; default 0 / 0.3 / 0.7 for the ODE family, 0 / 1 / 0
        for DPS).
    domain_scale
        Inflates the box of the uniform collocation points (only used when ``collocation`` has
        uniform points).
    chunk_size
        Adam steps per jitted ``lax.scan`` chunk; the early stop, the path refresh and checkpoints
        happen between chunks.
    monitor_size
        Particles of the ESS monitor that decides the early stop.
    plateau
        A :class:`Plateau`: the early stop when the monitor's ESS stops improving (``None``: off).
    precision
        The precision of the target's values in the training loss (``log q`` and its gradient at
        the collocation points, which the loss uses in float32): ``"auto"`` (default) evaluates
        the potential in float32 when the target is float64 and costly to evaluate
        (:func:`numpyro_pinn.precision.runs_in_float32`, as the SMC warm start decides), which
        shortens training on a regression over many rows; ``"float32"`` whenever the potential
        traces in float32; ``"float64"``: in the target's precision. The ESS monitor and the
        draws' importance weights always use the target's precision.
    """

    min_steps: int = 0
    max_pareto_k: Optional[float] = 0.5
    batch_size: Optional[int] = None
    learning_rate: float = 2e-3
    max_seconds: Optional[float] = None
    finetune: Optional[str] = None
    gn_steps: int = 10
    optimizer: Any = None
    collocation: Optional[Collocation] = None
    domain_scale: float = 1.25
    chunk_size: int = 250
    monitor_size: int = 1024
    plateau: Optional[Plateau] = Plateau()
    precision: str = "auto"

    def __post_init__(self):
        check_count("min_steps", self.min_steps, 0)
        for name in ("gn_steps", "chunk_size", "monitor_size"):
            check_count(name, getattr(self, name), 1)
        if self.batch_size is not None:
            check_count("batch_size", self.batch_size, 1)
        check_positive("learning_rate", self.learning_rate)
        check_positive("domain_scale", self.domain_scale)
        if self.max_seconds is not None:
            check_positive("max_seconds", self.max_seconds)
        if self.max_pareto_k is not None:
            check_positive("max_pareto_k", self.max_pareto_k)
        if self.finetune not in (None, "gauss_newton"):
            raise ValueError(f"`finetune` must be None or 'gauss_newton'; got {self.finetune!r}.")
        if self.collocation is not None and not isinstance(self.collocation, Collocation):
            raise ValueError(f"`collocation` must be a numpyro_pinn.Collocation; got {self.collocation!r}.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"`precision` must be one of {PRECISIONS}; got {self.precision!r}.")
        if self.plateau is not None and not isinstance(self.plateau, Plateau):
            raise ValueError(f"`plateau` must be a numpyro_pinn.training.Plateau or None; got {self.plateau!r}.")

    def to_dict(self) -> dict:
        """Plain data for :meth:`~numpyro_pinn.PINNSampler.save` (without ``optimizer``)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "optimizer"}
        out["collocation"] = None if self.collocation is None else list(self.collocation)
        out["plateau"] = None if self.plateau is None else dict(vars(self.plateau))
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Training":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        if d.get("collocation") is not None:
            d["collocation"] = Collocation(*d["collocation"])
        if d.get("plateau") is not None:
            d["plateau"] = Plateau(**d["plateau"])
        return cls(**d)
