"""Deprecated: the base distributions moved to :mod:`numpyro_pinn.bases` (the transport's base
distribution, not the model's prior); this alias goes in the next release."""
import warnings

from numpyro_pinn.bases import *  # noqa: F401,F403
from numpyro_pinn.bases import __all__  # noqa: F401

warnings.warn("numpyro_pinn.priors is deprecated: import numpyro_pinn.bases instead.", DeprecationWarning,
              stacklevel=2)
