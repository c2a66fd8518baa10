"""Base distributions of the ODE transport (formerly "priors"), in whitened coordinates.

Choose one with an option object (:mod:`~numpyro_pinn.bases.options`): :class:`Auto` (default),
:class:`Gaussian`, :class:`ModeMixture`, :class:`DrawsMixture`; ``PINNSampler(base=...)``.

The simplest base is ``N(0, I)``, represented by ``None`` everywhere (a fast path). For targets
with several well-separated modes, :func:`mode_mixture` builds a Gaussian mixture with one
component per mode found by the warm start: the transport then only reshapes each component
locally and never has to split one Gaussian into many narrow modes, which the PINN learns slowly.
The method allows any prior whose log density and draws
are available (PINN-sampling paper, section 2); the importance weights stay exact.

Modules: :mod:`~numpyro_pinn.bases.options` (the option objects and the decision),
:mod:`~numpyro_pinn.bases.mixture` (the family and its density), :mod:`~numpyro_pinn.bases.modes`
(one component per mode), :mod:`~numpyro_pinn.bases.draws` (fitted to the warm-start draws),
:mod:`~numpyro_pinn.bases.refit` (one Gaussian refitted to the target) and
:mod:`~numpyro_pinn.bases.skew` (skewed components and weights fitted to the target).
"""
from numpyro_pinn.bases.draws import draw_mixture, path_components, refine
from numpyro_pinn.bases.mixture import (PROPOSAL_DRAWS, GaussianMixture, local_scale, log_prob, make_mixture,
                                        proposal_draws, proposal_log_weights, sample, scale_spread)
from numpyro_pinn.bases.modes import mode_mixture
from numpyro_pinn.bases.options import (FAR_FROM_GAUSSIAN_ESS, QUICK_COMPONENTS, Auto, Base, BaseOption,
                                        DrawsMixture, Gaussian, ModeMixture, from_dict, resolve, to_dict)
from numpyro_pinn.bases.refit import refit_gaussian
from numpyro_pinn.bases.skew import fit_skew, reweight

__all__ = ["Auto", "Gaussian", "ModeMixture", "DrawsMixture", "BaseOption", "Base", "resolve", "to_dict", "from_dict",
           "FAR_FROM_GAUSSIAN_ESS", "QUICK_COMPONENTS",
           "GaussianMixture", "mode_mixture", "draw_mixture", "path_components", "refine", "fit_skew", "reweight", "refit_gaussian",
           "log_prob", "sample", "proposal_log_weights", "proposal_draws", "PROPOSAL_DRAWS", "scale_spread", "local_scale",
           "make_mixture"]
