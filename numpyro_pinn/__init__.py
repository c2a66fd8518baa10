"""numpyro-pinn: sample NumPyro posteriors with physics-informed neural-network transports."""
from numpyro_pinn.collocation import Collocation
from numpyro_pinn.core import Settings, draw, fit_transport, make_warm_start
from numpyro_pinn.sampler import PINNSampler
from numpyro_pinn.train import TrainingError
from numpyro_pinn.transports.ode import ODETransport
from numpyro_pinn.warmstart import WarmStart

__all__ = [
    "PINNSampler", "ODETransport", "Collocation", "WarmStart", "TrainingError", "Settings",
    "make_warm_start", "fit_transport", "draw",
]
__version__ = "0.1.0"
