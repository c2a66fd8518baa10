"""Many-Well (d=5, m=5, delta=4) with the ODE method under one training option, for ablations.

    python benchmarks/mw5_options.py STEPS GN_STEPS WIDTH LEARNING_RATE
    # e.g. 6000 0 128 2e-3 (wider network), 6000 20 64 2e-3 (20 Gauss-Newton steps after Adam)

Prints ESS, lower-bound and IS log Z errors against the exact log Z, training and wall time.
"""
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(__file__))
from targets import many_well  # noqa: E402

from numpyro_pinn import PINNSampler  # noqa: E402
from numpyro_pinn.transports.ode import ODETransport  # noqa: E402

jax.config.update("jax_enable_x64", True)
t = many_well(5, 5, 4.0)
steps = int(sys.argv[1]); gn = int(sys.argv[2]); width = int(sys.argv[3]); lr = float(sys.argv[4])
kw = dict(potential_fn=t.potential, num_particles=20000, num_samples=2000, progress_bar=False,
          num_steps=steps, min_steps=steps, target_ess=None, learning_rate=lr, 
          transport=ODETransport(hidden=(width,) * 3))
if gn:
    kw.update(finetune="gauss_newton", gn_steps=gn)
t0 = time.time()
s = PINNSampler(**kw).run(jax.random.PRNGKey(0), init_params=jnp.zeros(5))
d = s.diagnostics
print(steps, gn, "ESS", d["ess"], "LB", d["log_Z_lower_bound"] - t.log_Z, "IS", d["log_Z"] - t.log_Z, "train", d["train_seconds"], "wall", time.time() - t0, {k: v for k, v in d.items() if "gn" in k or "fine" in k})
