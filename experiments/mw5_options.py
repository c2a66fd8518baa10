"""Many-Well with the ODE method under one training option, for ablations.

    python experiments/mw5_options.py STEPS GN_STEPS WIDTH LEARNING_RATE [--dim 5] [--delta 4]
                                     [--hutchinson-above 16] [--num 20000] [--seed 0] [--batch 1024]
                                     [--no-skew | --skew-weights]
    # e.g. 6000 0 128 2e-3 (wider network), 6000 20 64 2e-3 (20 Gauss-Newton steps after Adam),
    # 2000 0 64 2e-3 --dim 50 --delta 2 --hutchinson-above 64 (MW-50, exact divergences in training)

Many-Well (d=DIM, m=5, delta=DELTA), default prior, no early stopping. Prints ESS, lower-bound and IS
log Z errors against the exact log Z, training and wall time.
"""
import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from targets import many_well  # noqa: E402

from numpyro_pinn import PINNSampler, Training  # noqa: E402
from numpyro_pinn.bases import Auto  # noqa: E402
from numpyro_pinn.transports.ode import ODETransport  # noqa: E402

jax.config.update("jax_enable_x64", True)
p = argparse.ArgumentParser()
p.add_argument("steps", type=int)
p.add_argument("gn", type=int)
p.add_argument("width", type=int)
p.add_argument("lr", type=float)
p.add_argument("--dim", type=int, default=5)
p.add_argument("--delta", type=float, default=4.0)
p.add_argument("--hutchinson-above", type=int, default=16)
p.add_argument("--hutchinson-probes", type=int, default=1, help="Hutchinson probes per collocation point")
p.add_argument("--num", type=int, default=20000)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--batch", type=int, default=1024, help="collocation points per Adam step")
p.add_argument("--no-skew", action="store_true", help="base=Auto(skew=False): Gaussian components")
p.add_argument("--skew-weights", action="store_true",
               help="base=Auto(skew='weights'): Gaussian components, weights from the skewed fit")
a = p.parse_args()
t = many_well(a.dim, 5, a.delta)
kw = dict(potential_fn=t.potential, num_particles=a.num, num_samples=2000, progress_bar=False,
          num_steps=a.steps, target_ess=None,
          training=Training(min_steps=a.steps, learning_rate=a.lr, batch_size=a.batch,
                            **(dict(finetune="gauss_newton", gn_steps=a.gn) if a.gn else {})),
          base=Auto(skew="weights" if a.skew_weights else not a.no_skew),
          transport=ODETransport(hidden=(a.width,) * 3, hutchinson_above=a.hutchinson_above,
                                  hutchinson_probes=a.hutchinson_probes))
t0 = time.time()
s = PINNSampler(**kw).run(jax.random.PRNGKey(a.seed), init_params=jnp.zeros(a.dim))
d = s.diagnostics
print(t.name, a.steps, a.gn, "batch", a.batch, "gaussian" if a.no_skew else ("skew-weights" if a.skew_weights else "skewed"), "ESS", d["ess"], "LB", d["log_Z_lower_bound"] - t.log_Z, "IS", d["log_Z"] - t.log_Z,
      "proposal", d.get("proposal"), "transport ESS", d.get("transport_ess"), "base ESS", d.get("base_ess"),
      "train", d["train_seconds"], "wall", time.time() - t0,
      {k: v for k, v in d.items() if "gn" in k or "fine" in k})
