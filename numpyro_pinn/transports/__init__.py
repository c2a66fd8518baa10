"""Transports: one module per method (``ode``: the continuity-equation PINN)."""
from numpyro_pinn.transports import ode

__all__ = ["ode"]
