"""The interface every transport implements: what :mod:`numpyro_pinn.core` and the sampler use."""
from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, runtime_checkable

__all__ = ["Transport"]


@runtime_checkable
class Transport(Protocol):
    """A transport configuration: a small frozen object that knows how to build and train its
    networks and how to move particles from its base distribution to the target.

    :class:`~numpyro_pinn.transports.ODETransport` (the continuity-equation PINN and the paper's
    loss family) and :class:`~numpyro_pinn.transports.DPSTransport` implement it."""

    #: The method's name (``PINNSampler(method=...)``).
    name: str
    #: ``(t0, t1)``: the base distribution sits at ``t0``, the target at ``t1``.
    t_span: tuple
    #: What a warm-start Gaussian mixture is to this transport: ``"prior"`` (its base
    #: distribution), ``"control_variate"`` (DPS) or ``None`` (none is built).
    mixture_role: Optional[str]
    #: Whether its base distribution is a proposal of its own (drawn from when it beats the transport).
    base_fallback: bool
    #: Whether the untrained transport moves no particle, so that its proposal is the base
    #: distribution's own (its ESS before training is the base's).
    starts_at_base: bool
    #: Noise of the collocation paths (0: the probability-flow ODE).
    path_noise: float
    #: What its particles are, for ``diagnostics["sample_source"]``.
    particles: str

    def for_prior(self, prior) -> "Transport":
        """This configuration adapted to the base distribution ``prior`` (``None``: ``N(0, I)``)."""

    def default_batch_size(self, dim: int) -> int:
        """Collocation points per training step when ``Training(batch_size=None)``."""

    def init(self, rng_key, dim: int, optimizer, draws=None, mixture=None) -> Any:
        """The initial training state (parameters and optimiser state)."""

    def build_kernel(self, target, optimizer, counts) -> Callable:
        """One training step, ``(rng_key, state, pool) -> (state, info)``, ``info.loss`` its loss."""

    def residual_fn(self, target, counts) -> Callable:
        """The PDE residuals, ``(params, rng_key, pool) -> r`` (Gauss-Newton fine-tuning)."""

    def flow_field(self, params, dim: int, target=None):
        """``(velocity, divergence)`` of the probability-flow ODE that carries the base to the target."""

    def path_field(self, params, dim: int, target=None):
        """The field that moves collocation paths."""

    def bridge(self, t, z, x):
        """The initial (untrained) path between a base point ``z`` and a target draw ``x`` at ``t``."""

    def describe_control_variate(self, params) -> Optional[str]:
        """The known part of the learned field, for ``diagnostics`` (``None``: none)."""
