"""numpyro-pinn: sample NumPyro posteriors with physics-informed neural-network transports."""
from numpyro_pinn.compare import Comparison, compare, plot_compare
from numpyro_pinn.core import Settings, draw, fit_transport, make_warm_start
from numpyro_pinn.evidence import BayesFactor, bayes_factor
from numpyro_pinn.kernel import PINNKernel
from numpyro_pinn.pt_sampler import ParallelTempering
from numpyro_pinn.rejuvenation import Rejuvenation
from numpyro_pinn.sampler import PINNSampler
from numpyro_pinn.training import Collocation, Plateau, Training, TrainingError
from numpyro_pinn.transports.ode import ODETransport
from numpyro_pinn.warmstart import PT, SMC, Laplace, WarmStart

__all__ = [
    "PINNSampler", "ParallelTempering", "ODETransport", "Training", "Plateau", "Collocation", "WarmStart",
    "TrainingError", "Settings",
    "make_warm_start", "fit_transport", "draw", "compare", "plot_compare", "Comparison", "posteriordb",
    "PINNKernel", "bayes_factor", "BayesFactor", "SMC", "Laplace", "PT", "Rejuvenation",
]
__version__ = "0.1.0"


def __getattr__(name):
    # The benchmark posteriors and their data load only when asked for (numpyro_pinn.posteriordb).
    if name == "posteriordb":
        import importlib

        return importlib.import_module("numpyro_pinn.posteriordb")
    raise AttributeError(f"module 'numpyro_pinn' has no attribute {name!r}")
