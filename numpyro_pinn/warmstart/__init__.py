"""Warm starts: where the posterior is and how big it is.

The PINN works in whitened coordinates ``y = L^{-1}(x - m)`` with the prior
``N(0, I)``. A warm start supplies ``m``, ``L``, a rough ``log Z`` (so the
learned ``log z`` is a small correction) and approximate posterior draws used
to place collocation points.

Default ("smc"): damped Newton to a mode, a Laplace fit there, then BlackJAX's
adaptive tempered SMC from a broad Gaussian ``N(mode, (scale * L_laplace)^2)``
to the posterior. The SMC particles see every mode within a few ``scale``
Laplace widths and the real tails (a Laplace fit alone shrinks onto one mode
and underestimates heavy tails, e.g. ``log tau`` in eight schools).

Modules: :mod:`~numpyro_pinn.warmstart.base` (the :class:`WarmStart` result, whitening from
draws, ``log Z`` by importance sampling), :mod:`~numpyro_pinn.warmstart.laplace` (Newton, the
Laplace fit, the mode and propriety checks), :mod:`~numpyro_pinn.warmstart.smc` (the default), :mod:`~numpyro_pinn.warmstart.screen` (when the
Laplace fit suffices, so that SMC's full run can be skipped),
:mod:`~numpyro_pinn.warmstart.precision` (SMC in float32 on a float64 target, corrected to it) and
:mod:`~numpyro_pinn.warmstart.pt`.
"""
from numpyro_pinn.warmstart.base import (DEFENSIVE_SCALE, DEFENSIVE_WEIGHT, WarmStart, defensive_importance, from_draws,
                                         gaussian_importance, reference, with_log_Z)
from numpyro_pinn.warmstart.laplace import (MODE_GAP_MAX, MODE_PROBE_DROP, MODE_PROBE_STEP, PROPRIETY_RADII, Laplace,
                                            around_initial_point, compiled_find_mode, find_mode, flat_direction, is_mode,
                                            laplace)
from numpyro_pinn.warmstart.pt import PT, pt
from numpyro_pinn.warmstart.screen import ScreenResult, screen_laplace, screen_size
from numpyro_pinn.warmstart.smc import SMC, smc

__all__ = ["WarmStart", "Laplace", "SMC", "PT", "find_mode", "compiled_find_mode", "laplace", "is_mode",
           "around_initial_point", "smc",
           "pt", "from_draws", "with_log_Z", "gaussian_importance", "defensive_importance", "reference", "screen_laplace", "screen_size",
           "ScreenResult", "flat_direction", "MODE_GAP_MAX", "MODE_PROBE_STEP", "MODE_PROBE_DROP", "PROPRIETY_RADII",
           "DEFENSIVE_WEIGHT", "DEFENSIVE_SCALE"]
