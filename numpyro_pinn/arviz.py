"""ArviZ conversion through ArviZ's own ``from_numpyro`` (InferenceData on arviz < 1, DataTree on >= 1)."""
from __future__ import annotations

from typing import Any

__all__ = ["to_inference_data"]


def to_inference_data(sampler, **kwargs) -> Any:
    """``az.from_numpyro(sampler, **kwargs)`` plus the PINN diagnostics as ``sample_stats`` attributes.

    ``sample_stats`` holds ``log_weight`` and ``lp`` per draw; the attributes hold ``ess``,
    ``log_Z``, ``pareto_k`` and the timings. Raw-potential samplers (no model) give a posterior
    and sample_stats only.
    """
    import arviz as az

    idata = az.from_numpyro(sampler, **kwargs)
    attrs = {f"pinn_{k}": (v if isinstance(v, (int, float, str)) else str(v))
             for k, v in sampler.diagnostics.items()}
    attrs = {k: (int(v) if isinstance(v, bool) else v) for k, v in attrs.items()}
    idata["sample_stats"].attrs.update(attrs)
    return idata
