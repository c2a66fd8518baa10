"""DPS before training: the two control variates of ``u`` on GMM-9 (9-mode mixture, d=2).

For each control variate (``"auto"``: the plug-in mode mixture; ``"kde"``: the switched KDE
correction), the untrained network (zero last layer, so ``u`` is the control variate alone) gives:
the mean squared log-Fokker-Planck residual on one collocation batch (the training loss at step 0)
and the ESS and log Z error of 4,000 probability-flow particles.

    python experiments/dps_control_variate.py
"""
import datetime
import os
import platform
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from targets import gmm9  # noqa: E402

from numpyro_pinn import core  # noqa: E402
from numpyro_pinn.diagnostics import ess  # noqa: E402
from numpyro_pinn.sampler import DPS_COLLOCATION  # noqa: E402

from numpyro_pinn.transports import DPSTransport  # noqa: E402


def main():
    jax.config.update("jax_enable_x64", True)
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}")
    t = gmm9()
    ws = core.make_warm_start(jax.random.PRNGKey(0), t.potential, jnp.zeros(2))
    print("| control variate | loss at step 0 | ESS (4,000 particles) | Δ log Z |\n|---|---|---|---|")
    for cv in ("auto", "kde"):
        s = core.Settings(num_steps=1, min_steps=1, chunk_size=1, learning_rate=1e-12, target_ess=None,
                          collocation=DPS_COLLOCATION)
        f = core.fit_transport(jax.random.PRNGKey(1), t.potential, ws, s, DPSTransport(control_variate=cv),
                               progress_bar=False)
        params = {"nn": jax.tree_util.tree_map(jnp.zeros_like, f.params["nn"]), "kde": f.params["kde"]}
        f = f._replace(params=params)
        res = f.config.residual_fn(f.target, s.collocation.counts(f.batch_size))
        loss = float(jnp.mean(res(params, jax.random.PRNGKey(2), f.pool) ** 2))
        _, lw = core.draw(jax.random.PRNGKey(3), f, 4000)
        lw = np.asarray(lw)
        log_z = np.log(np.mean(np.exp(lw - lw.max()))) + lw.max()
        print(f"| {cv} | {loss:.4g} | {ess(lw):.4f} | {log_z - t.log_Z:+.4f} |", flush=True)


if __name__ == "__main__":
    main()
