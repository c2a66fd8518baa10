"""The log Z race of the tempering issue: wall time to |Δ log Z| <= 0.001 on GMM-9 and Many-Well
(d=5, m=5, delta=4), PINN (default settings) against BlackJAX's adaptive tempered SMC (HMC moves).

SMC's error is measured as the RMS over ``--seeds`` runs at each particle count (its error falls as
1/sqrt(particles)); the particle count and time it would need for an RMS error of 0.001 are read off
a fit ``rms = c / sqrt(n)`` to the largest count and a linear fit ``time = a + b n`` to all counts
(compilation is the intercept). ``--smc-verify`` then runs SMC at that particle count too and reports
its measured RMS and time. The PINN is trained once per seed; its log Z error and its Monte Carlo
standard error are reported, and the drawing of its particles is timed separately.

    python benchmarks/race.py [--smc-particles 40000 160000 640000] [--seeds 3] [--pinn-steps 6000]
                              [--pinn-particles 100000] [--targets gmm9 mw5] [--smc-verify]
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

from numpyro_pinn import PINNSampler, Training  # noqa: E402

from numpyro_pinn.warmstart import laplace, smc  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--smc-particles", type=int, nargs="+", default=[40000, 160000, 640000])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--pinn-particles", type=int, default=100000)
    p.add_argument("--pinn-steps", type=int, default=6000, help="PINN training steps (PINNSampler's num_steps)")
    p.add_argument("--targets", nargs="+", default=["gmm9", "mw5"], choices=["gmm9", "mw5"])
    p.add_argument("--smc-verify", action="store_true", help="also run SMC at the extrapolated particle count")
    p.add_argument("--skip-smc", action="store_true", help="PINN rows only")
    args = p.parse_args()
    jax.config.update("jax_enable_x64", True)
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}")
    print("| target | sampler | seeds | mean wall s | Δ log Z per seed | RMS Δ log Z | MC se |")
    print("|---|---|---|---|---|---|---|")
    makers = {"gmm9": gmm9, "mw5": lambda: many_well(5, 5, 4.0)}
    for t in (makers[k]() for k in args.targets):
        lap = laplace(t.potential, jnp.zeros(t.dim))
        def smc_row(n, label=None):
            errs, secs = [], []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                ws = smc(jax.random.PRNGKey(100 + seed), t.potential, lap, num_particles=n)
                jax.block_until_ready(ws.draws)
                secs.append(time.perf_counter() - t0)
                errs.append(float(ws.log_Z) - t.log_Z)
            rms = float(np.sqrt(np.mean(np.square(errs))))
            print(f"| {t.name} | tempered SMC, {label or n} particles | {args.seeds} | {np.mean(secs):.1f} | "
                  f"{', '.join(f'{e:+.4f}' for e in errs)} | {rms:.4f} | - |", flush=True)
            return rms, float(np.mean(secs))

        rows = [] if args.skip_smc else [(n, *smc_row(n)) for n in args.smc_particles]
        if rows:
            n, rms, _ = rows[-1]
            need = int(n * (rms / 0.001) ** 2)
            b, a = np.polyfit([r[0] for r in rows], [r[2] for r in rows], 1) if len(rows) > 1 else (rows[0][2] / n, 0.0)
            print(f"| {t.name} | tempered SMC, extrapolated to RMS 0.001 | - | ~{a + b * need:.0f} "
                  f"(~{need:.2g} particles) | - | 0.001 | - |", flush=True)
            if args.smc_verify:
                smc_row(need, f"{need} (the extrapolated)")
        errs, secs, ses, extra = [], [], [], []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = PINNSampler(potential_fn=t.potential, num_particles=args.pinn_particles, progress_bar=False,
                                num_steps=args.pinn_steps, training=Training(min_steps=min(1000, args.pinn_steps)))
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
