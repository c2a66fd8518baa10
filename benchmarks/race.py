"""The log Z race of the tempering issue: wall time to |Δ log Z| <= 0.001 on GMM-9 and Many-Well
(d=5, m=5, delta=4), PINN (default settings) against BlackJAX's adaptive tempered SMC (HMC moves).

SMC's error is measured as the RMS over ``--seeds`` runs at each particle count (its error falls as
1/sqrt(particles)); the particle count and time it would need for an RMS error of 0.001 are read off
a fit ``rms = c / sqrt(n)`` to the largest count. The PINN is trained once per seed; its log Z error
and its Monte Carlo standard error are reported, and extra draws from the trained transport are
timed separately (they cost no training).

    python benchmarks/race.py [--smc-particles 40000 160000 640000] [--seeds 3] [--pinn-steps 6000]
                              [--targets gmm9 mw5]
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

sys.path.insert(0, os.path.dirname(__file__))
from targets import gmm9, many_well  # noqa: E402

from numpyro_pinn import PINNSampler  # noqa: E402
from numpyro_pinn.target import enable_float64  # noqa: E402
from numpyro_pinn.warmstart import laplace, smc  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--smc-particles", type=int, nargs="+", default=[40000, 160000, 640000])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--pinn-particles", type=int, default=100000)
    p.add_argument("--pinn-steps", type=int, default=6000, help="PINN training steps (PINNSampler's num_steps)")
    p.add_argument("--targets", nargs="+", default=["gmm9", "mw5"], choices=["gmm9", "mw5"])
    args = p.parse_args()
    enable_float64()
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}")
    print("| target | sampler | seeds | mean wall s | Δ log Z per seed | RMS Δ log Z | MC se |")
    print("|---|---|---|---|---|---|---|")
    makers = {"gmm9": gmm9, "mw5": lambda: many_well(5, 5, 4.0)}
    for t in (makers[k]() for k in args.targets):
        lap = laplace(t.potential, jnp.zeros(t.dim))
        for n in args.smc_particles:
            errs, secs = [], []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                ws = smc(jax.random.PRNGKey(100 + seed), t.potential, lap, num_particles=n)
                jax.block_until_ready(ws.draws)
                secs.append(time.perf_counter() - t0)
                errs.append(float(ws.log_Z) - t.log_Z)
            rms = float(np.sqrt(np.mean(np.square(errs))))
            print(f"| {t.name} | tempered SMC, {n} particles | {args.seeds} | {np.mean(secs):.1f} | "
                  f"{', '.join(f'{e:+.4f}' for e in errs)} | {rms:.4f} | - |", flush=True)
        need = n * (rms / 0.001) ** 2
        print(f"| {t.name} | tempered SMC, extrapolated to RMS 0.001 | - | ~{np.mean(secs) * need / n:.0f} "
              f"(~{need:.2g} particles) | - | 0.001 | - |", flush=True)
        errs, secs, ses, extra = [], [], [], []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = PINNSampler(potential_fn=t.potential, num_particles=args.pinn_particles, progress_bar=False,
                                num_steps=args.pinn_steps, min_steps=min(1000, args.pinn_steps))
                s.run(jax.random.PRNGKey(seed), init_params=jnp.zeros(t.dim))
            secs.append(time.perf_counter() - t0)
            errs.append(s.diagnostics["log_Z"] - t.log_Z)
            ses.append(s.diagnostics["log_Z_se"])
            extra.append(s.diagnostics["sample_seconds"])
        rms = float(np.sqrt(np.mean(np.square(errs))))
        label = "default" if args.pinn_steps == 6000 else f"{args.pinn_steps} steps"
        print(f"| {t.name} | PINN ({label}), {args.pinn_particles} particles | {args.seeds} | {np.mean(secs):.1f} "
              f"(of which drawing {np.mean(extra):.1f}) | {', '.join(f'{e:+.4f}' for e in errs)} | {rms:.4f} | "
              f"{np.mean(ses):.4f} |", flush=True)


if __name__ == "__main__":
    main()
