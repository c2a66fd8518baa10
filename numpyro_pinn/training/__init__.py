"""Training the transport: the options (:mod:`~numpyro_pinn.training.options`), the collocation
points (:mod:`~numpyro_pinn.training.collocation`), the chunked ``lax.scan`` loop
(:mod:`~numpyro_pinn.training.loop`) and Gauss-Newton fine-tuning
(:mod:`~numpyro_pinn.training.gauss_newton`)."""
from numpyro_pinn.training.collocation import Collocation, CollocationPool
from numpyro_pinn.training.loop import TrainingError, TrainResult, fit, good_enough
from numpyro_pinn.training.options import Plateau, Training

__all__ = ["Training", "Plateau", "Collocation", "CollocationPool", "TrainingError", "TrainResult", "fit",
           "good_enough"]
