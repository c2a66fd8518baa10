"""Transports: one module per method (``ode``: the continuity-equation PINN and the paper's loss
family; ``dps``: the Diffusion-PINN Sampler). Each configuration object implements
:class:`~numpyro_pinn.transports.base.Transport`, which is all :mod:`numpyro_pinn.core` and the
sampler use."""
from numpyro_pinn.transports import dps, ode
from numpyro_pinn.transports.base import Transport
from numpyro_pinn.transports.dps import DPSTransport
from numpyro_pinn.transports.ode import ODETransport

__all__ = ["ode", "dps", "ODETransport", "DPSTransport", "Transport"]
