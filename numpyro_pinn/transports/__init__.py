"""Transports: one module per method (``ode``: the continuity-equation PINN; ``dps``: the
Diffusion-PINN Sampler). Each configuration object implements ``init``, ``build_kernel``,
``flow_field``, ``path_field``, ``bridge`` and ``t_span``, which is all :mod:`numpyro_pinn.core` uses."""
from numpyro_pinn.transports import dps, ode
from numpyro_pinn.transports.dps import DPSTransport
from numpyro_pinn.transports.ode import ODETransport

__all__ = ["ode", "dps", "ODETransport", "DPSTransport"]
