"""Model comparison by the evidence: log Bayes factors with their Monte Carlo standard errors."""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

from numpyro_pinn.diagnostics import PARETO_K_WARN

__all__ = ["BayesFactor", "bayes_factor"]


class BayesFactor(NamedTuple):
    """``log_bf = log Z_a - log Z_b`` and its Monte Carlo standard error ``se`` (the two samplers'
    errors are independent: ``se = sqrt(se_a^2 + se_b^2)``); ``log_Z_a``, ``log_Z_b`` and their
    errors as reported by the samplers."""

    log_bf: float
    se: float
    log_Z_a: float
    log_Z_b: float
    se_a: float
    se_b: float

    def __str__(self) -> str:
        return (f"log Bayes factor (a vs b) = {self.log_bf:.3f} +- {self.se:.3f} "
                f"(log Z_a = {self.log_Z_a:.3f} +- {self.se_a:.3f}, log Z_b = {self.log_Z_b:.3f} +- {self.se_b:.3f})")


def bayes_factor(a, b) -> BayesFactor:
    """The log Bayes factor of model ``a`` against model ``b`` from two fitted samplers.

    Each sampler estimates its model's evidence ``log Z = log p(data | model)``:
    :class:`~numpyro_pinn.PINNSampler` by importance weighting, :class:`~numpyro_pinn.ParallelTempering`
    by stepping stones. ``log_bf > 0`` favours ``a``; ``exp(log_bf)`` is the posterior odds of ``a``
    against ``b`` under equal prior odds. Both models must be conditioned on the same data.

    The standard error is Monte Carlo error only. It is trustworthy when each sampler's weights are
    (Pareto k-hat at most 0.7; a warning names the sampler otherwise); an evidence that a sampler
    could not estimate (NaN) raises a ``ValueError``.

    Examples
    --------
    >>> a = PINNSampler(model_a).run(key, y)  # doctest: +SKIP
    >>> b = PINNSampler(model_b).run(key, y)  # doctest: +SKIP
    >>> print(bayes_factor(a, b))  # doctest: +SKIP
    log Bayes factor (a vs b) = 2.301 +- 0.004 (...)
    """
    vals = []
    for name, s in (("a", a), ("b", b)):
        d = s.diagnostics
        if "log_Z" not in d:
            raise ValueError(f"Sampler `{name}` ({type(s).__name__}) reports no evidence (`diagnostics['log_Z']`).")
        log_z, se = float(d["log_Z"]), float(d.get("log_Z_se", float("nan")))
        if not math.isfinite(log_z):
            raise ValueError(f"Sampler `{name}` has no finite log Z estimate ({log_z}); rerun it with more "
                             "particles or training.")
        k = d.get("pareto_k")
        if k is not None and k > PARETO_K_WARN:
            warnings.warn(f"Sampler `{name}`'s importance weights have Pareto k-hat {k:.2f} > {PARETO_K_WARN}: its "
                          "log Z, and the Bayes factor, are unreliable (train longer or warm-start from better "
                          "draws).", RuntimeWarning, stacklevel=2)
        vals.append((log_z, se))
    (za, sa), (zb, sb) = vals
    return BayesFactor(za - zb, math.sqrt(sa ** 2 + sb ** 2), za, zb, sa, sb)
