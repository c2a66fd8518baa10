"""Why Neal's funnel (d=10) is hard for our transports: three measurements.

* ``exact_ws``: the ODE PINN (default settings, ``--steps`` steps) warm-started from **exact** funnel
  draws instead of the SMC warm start: does a warm start that reaches the neck suffice?
* ``gmm``: importance sampling with a K-component Gaussian mixture fitted by EM
  (``bases.draw_mixture`` without its refinement against the target; no training at all) to exact draws and to the SMC warm start's draws: how good a base distribution can a
  draw-fitted mixture be, and how much do the SMC draws' missing neck cost it?
* ``dps``: DPS (KDE control variate, the default for one mode) after ``--dps-steps`` steps: its
  training loss, and the number of adaptive Tsit5 steps (rtol = atol = 1e-5) its probability-flow
  ODE takes per particle (64 particles, solved together under ``vmap``, so the slowest sets the
  cost).

    python experiments/funnel_diagnosis.py [--parts exact_ws gmm dps] [--steps 2000] [--dps-steps 100]
"""
import argparse
import datetime
import os
import platform
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from paper_table import funnel, truth  # noqa: E402

from numpyro_pinn import PINNSampler, core, bases  # noqa: E402
from numpyro_pinn.diagnostics import ess  # noqa: E402


def exact_draws(n, seed=0):
    return truth("funnel", funnel(), n, np.random.default_rng(seed))[0]


def mixture_is(potential, draws, k, n=20000, seed=1):
    """``(ESS / n, log Z estimate)`` of importance sampling from a ``k``-component mixture fitted to
    ``draws`` by EM only (:func:`numpyro_pinn.bases.draw_mixture` without its refinement)."""
    x = jnp.asarray(draws)
    mean, chol = jnp.mean(x, 0), jnp.linalg.cholesky(jnp.cov(x.T))
    mix = bases.draw_mixture(potential, mean, chol, x, num_components=k, refine_iters=0,
                              rng_key=jax.random.PRNGKey(seed))
    y = bases.sample(mix, jax.random.PRNGKey(seed + 1), n, x.shape[1])
    lw = (-jax.vmap(potential)(mean + y.astype(chol.dtype) @ chol.T) + jnp.sum(jnp.log(jnp.diag(chol)))
          - jax.vmap(lambda a: bases.log_prob(mix, a))(y))
    lw = np.asarray(lw, np.float64)
    return ess(lw), float(logsumexp(lw) - np.log(n))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--parts", nargs="+", default=["exact_ws", "gmm", "dps"])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--dps-steps", type=int, default=100)
    args = p.parse_args()
    jax.config.update("jax_enable_x64", True)
    t = funnel()
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}; "
          "Funnel (d=10), log Z = 0")
    if "exact_ws" in args.parts:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = PINNSampler(potential_fn=t.potential, warm_start=exact_draws(8192), num_steps=args.steps,
                            min_steps=args.steps, target_ess=None, num_particles=5000, progress_bar=False)
            s.run(jax.random.PRNGKey(0), init_params=jnp.zeros(t.dim))
        d = s.diagnostics
        x, lw = s.get_weighted_samples()
        w, v = np.asarray(jax.nn.softmax(lw)), np.asarray(x)[:, 0]
        print(f"ODE PINN, exact-draw warm start (8,192 draws), {args.steps} steps, 5,000 particles: "
              f"ESS {d['ess']:.4f}, log Z {d['log_Z']:+.3f}, lower bound {d['log_Z_lower_bound']:+.2f}, "
              f"Pareto k {d['pareto_k']:.2f}, weighted mean/sd of v {np.sum(w * v):.2f}/"
              f"{np.sqrt(np.sum(w * (v - np.sum(w * v)) ** 2)):.2f} (truth 0/3), {time.perf_counter() - t0:.0f} s")
    if "gmm" in args.parts:
        ws = core.make_warm_start(jax.random.PRNGKey(0), t.potential, jnp.zeros(t.dim))
        for name, x in (("exact draws (8,192)", exact_draws(8192)), ("SMC warm-start draws (2,048)", np.asarray(ws.draws))):
            q = np.percentile(x[:, 0], [1, 10, 50, 90, 99])
            print(f"{name}: v quantiles 1/10/50/90/99% = {'/'.join(f'{a:.1f}' for a in q)} (truth -7.0/-3.8/0/3.8/7.0)")
            for k in (1, 4, 8, 16):
                e, lz = mixture_is(t.potential, x, k)
                print(f"  EM mixture, K = {k:2d}: IS ESS {e:.4f}, log Z {lz:+.3f} (20,000 draws)", flush=True)
    if "dps" in args.parts:
        import diffrax

        from numpyro_pinn.transports.dps import DPSTransport
        from numpyro_pinn.training.collocation import Collocation

        ws = core.make_warm_start(jax.random.PRNGKey(0), t.potential, jnp.zeros(t.dim))
        cfg = DPSTransport()
        st = core.Settings(num_steps=args.dps_steps, chunk_size=min(args.dps_steps, 100), target_ess=None, min_steps=0,
                           collocation=Collocation(uniform=0.0, bridge=1.0, trajectory=0.0))
        t0 = time.perf_counter()
        f = core.fit_transport(jax.random.PRNGKey(1), t.potential, ws, st, cfg, progress_bar=False)
        losses = np.asarray(f.train.losses)
        print(f"DPS ({'plug-in' if cfg._plugin(f.params) else 'KDE'} control variate), {args.dps_steps} steps "
              f"({time.perf_counter() - t0:.0f} s): loss at step 0 {losses[0]:.3g}, median of the last 20 "
              f"{np.median(losses[-20:]):.3g}")
        mu, div = cfg.flow_field(f.params, t.dim, f.target)

        def solve(y):
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(lambda s, st_, a: (mu(st_[0], s), -div(st_[0], s))), diffrax.Tsit5(), 1.0, 0.0,
                -0.05, (y, jnp.zeros((), y.dtype)), stepsize_controller=diffrax.PIDController(rtol=1e-5, atol=1e-5),
                max_steps=4096, throw=False)
            return sol.stats["num_accepted_steps"] + sol.stats["num_rejected_steps"]

        y0 = jax.random.normal(jax.random.PRNGKey(5), (64, t.dim), dtype=jnp.float32)
        t0 = time.perf_counter()
        n = np.asarray(jax.jit(jax.vmap(solve))(y0))
        print(f"DPS probability-flow solver steps per particle (64 particles): min/median/90%/max "
              f"{'/'.join(str(int(a)) for a in np.percentile(n, [0, 50, 90, 100]))}, "
              f"{time.perf_counter() - t0:.0f} s for all 64")


if __name__ == "__main__":
    main()
