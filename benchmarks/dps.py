"""DPS (probability-flow ODE and reverse SDE paths) and the ODE PINN on the DPS paper's synthetic
targets, in one run: 9-Gaussians, Rings, Funnel (d=10), Double-well (d=10).

KL divergence KL(p || p_hat) is estimated on a 2-D (32 x 32 bins; or, for Funnel and Double-well,
the first coordinate's 64-bin 1-D) histogram: p's bin masses by numerical integration of the true
density, p_hat's from the (weighted) draws, after adding half a draw's weight to every bin (a
documented, slightly pessimistic estimator whose finite-sample bias is about (occupied bins - 1) /
(2 n); binning itself can only lower a KL). For weighted ODE draws the reverse divergence
KL(p_hat || p) = log Z - E_p_hat[log w] is also exact, with no density estimate: column "KL(q‖p) exact". Also the L2 error of the mixing proportions where the modes are known, ESS and
log Z error. The KL estimate of exact draws of the same size is printed first for each target:
the estimator's floor (its finite-sample bias), against which the samplers' values are read.

    python benchmarks/dps.py [--steps 6000] [--ode-steps 6000] [--num 100000] [--targets gmm9 rings funnel doublewell]
                             [--dps-flow-num N] [--dps-no-monitor] [--dps-prior auto|mixture|draws]
                             [--ode-prior auto|gaussian|mixture|draws] [--methods dps ode]
"""
import argparse
import dataclasses
import datetime
import os
import platform
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate

sys.path.insert(0, os.path.dirname(__file__))
from targets import Synthetic, funnel, gmm9, mode_weights  # noqa: E402

from numpyro_pinn import PINNSampler  # noqa: E402


def rings() -> Synthetic:
    radii, s = jnp.arange(1.0, 5.0), 0.15

    def potential(x):
        r = jnp.sqrt(jnp.sum(x**2) + 1e-12)
        return -jax.scipy.special.logsumexp(-0.5 * (r - radii) ** 2 / s**2)

    z, _ = integrate.quad(lambda r: 2 * np.pi * r * np.sum(np.exp(-0.5 * (r - np.arange(1, 5)) ** 2 / s**2)),
                          0, 8, limit=400)
    return Synthetic("Rings (d=2)", potential, 2, float(np.log(z)), np.zeros((0, 2)), np.zeros(0))


def double_well(d=10, delta=4.0) -> Synthetic:
    def potential(x):
        return (x[0] ** 2 - delta) ** 2 + 0.5 * jnp.sum(x[1:] ** 2)

    z1, _ = integrate.quad(lambda t: np.exp(-((t**2 - delta) ** 2)), -np.inf, np.inf)
    modes = np.zeros((2, d))
    modes[:, 0] = [-2.0, 2.0]
    return Synthetic(f"Double-well (d={d})", potential, d, float(np.log(z1) + 0.5 * (d - 1) * np.log(2 * np.pi)),
                     modes, np.array([0.5, 0.5]))


def true_density_1d(t: Synthetic):
    if t.name.startswith("Funnel"):
        return lambda v: np.exp(-0.5 * v**2 / 9.0) / np.sqrt(2 * np.pi * 9.0), (-12, 12)
    z1, _ = integrate.quad(lambda u: np.exp(-((u**2 - 4.0) ** 2)), -np.inf, np.inf)
    return lambda u: np.exp(-((u**2 - 4.0) ** 2)) / z1, (-3.5, 3.5)


def kl_hist(t: Synthetic, x, w, bins=32):
    x, w = np.asarray(x), np.asarray(w) / np.sum(w)
    if t.dim == 2:
        lim = 8.0 if t.name.startswith("GMM") else 5.5
        edges = np.linspace(-lim, lim, bins + 1)
        c = 0.5 * (edges[1:] + edges[:-1])
        # Bin masses of p by 5x5 midpoint sub-grid per bin.
        sub = (edges[1] - edges[0]) / 5
        g = np.linspace(-lim + sub / 2, lim - sub / 2, bins * 5)
        gx, gy = np.meshgrid(g, g, indexing="ij")
        dens = np.exp(-np.asarray(jax.vmap(t.potential)(jnp.stack([gx.ravel(), gy.ravel()], 1))) - t.log_Z)
        p = dens.reshape(bins, 5, bins, 5).sum((1, 3)) * sub**2
        q, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=[edges, edges], weights=w)
        del c
    else:
        f, (lo, hi) = true_density_1d(t)
        edges = np.linspace(lo, hi, bins * 2 + 1)  # 64 bins in 1-D
        p = np.array([integrate.quad(f, a, b)[0] for a, b in zip(edges[:-1], edges[1:])])
        q, _ = np.histogram(x[:, 0], bins=edges, weights=w)
    q = q + 0.5 / len(x)
    p, q = p / p.sum(), q / q.sum()
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / np.maximum(q[m], 1e-12))))


def exact_draws(t: Synthetic, key, num):
    """Exact draws where they are cheap (for the KL estimator's floor at this ``num``), else None."""
    rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))
    if t.name.startswith("GMM"):
        return t.modes[rng.integers(0, len(t.modes), num)] + np.sqrt(0.3) * rng.normal(size=(num, 2))
    if t.name.startswith("Funnel"):
        v = 3.0 * rng.normal(size=num)
        return np.concatenate([v[:, None], rng.normal(size=(num, t.dim - 1)) * np.exp(v / 2)[:, None]], 1)
    if t.name.startswith("Rings"):  # radius by inverse CDF of its density 2 pi r q(r) on a fine grid, uniform angle
        g = np.linspace(0.0, 8.0, 400001)
        c = np.cumsum(g * np.sum(np.exp(-0.5 * (g[:, None] - np.arange(1.0, 5.0)) ** 2 / 0.15**2), 1))
        r = np.interp(rng.uniform(size=num) * c[-1], c, g)
        phi = rng.uniform(0.0, 2 * np.pi, num)
        return np.stack([r * np.cos(phi), r * np.sin(phi)], 1)
    if t.name.startswith("Double-well"):  # first coordinate by inverse CDF on a fine grid
        g = np.linspace(-4, 4, 200001)
        c = np.cumsum(np.exp(-((g**2 - 4.0) ** 2)))
        x0 = np.interp(rng.uniform(size=num) * c[-1], c, g)
        return np.concatenate([x0[:, None], rng.normal(size=(num, t.dim - 1))], 1)
    return None


def evaluate(t, name, sampler, weighted, num):
    if weighted:
        x, lw = sampler.get_weighted_samples()
        w = np.asarray(jax.nn.softmax(lw))
        secs = sampler.diagnostics["sample_seconds"]
    else:
        t0 = time.perf_counter()
        x = np.asarray(sampler.sample(jax.random.PRNGKey(7), num))
        secs = time.perf_counter() - t0
        w = np.full(num, 1.0 / num)
    d = sampler.diagnostics
    mw = mode_weights(t, x, w) if len(t.modes) else None
    rev = float(t.log_Z - np.mean(np.asarray(lw))) if weighted else None
    return {"target": t.name, "sampler": name, "KL": kl_hist(t, x, w), "revKL": rev,
            "mix_L2": None if mw is None else float(np.linalg.norm(mw - t.weights)),
            "ess": d["ess"] if weighted else None, "dlogZ": d["log_Z"] - t.log_Z if weighted else None,
            "train_s": d["train_seconds"], "steps": d["num_train_steps"], "sample_s": secs}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=6000, help="maximum training steps of DPS")
    p.add_argument("--ode-steps", type=int, default=6000, help="maximum training steps of the ODE PINN")
    p.add_argument("--num", type=int, default=100000)
    p.add_argument("--targets", nargs="+", default=["gmm9", "rings", "funnel", "doublewell"])
    p.add_argument("--dps-flow-num", type=int, default=None,
                   help="DPS probability-flow particles (default --num); the reverse SDE still draws --num")
    p.add_argument("--dps-no-monitor", action="store_true",
                   help="train DPS for all --steps without the ESS monitor (its probability-flow solves are stiff "
                        "where log q is, e.g. in Funnel's neck: thousands of Tsit5 steps per particle)")
    p.add_argument("--dps-prior", default="auto", choices=["auto", "mixture", "draws"],
                   help="DPS's control variate: 'auto' (mode mixture, else KDE) or 'draws' (bases.draw_mixture)")
    p.add_argument("--methods", nargs="+", default=["dps", "ode"], choices=["dps", "ode"])
    p.add_argument("--ode-prior", default="auto", choices=["auto", "gaussian", "mixture", "draws"],
                   help="the ODE PINN's base distribution (PINNSampler's `prior`)")
    args = p.parse_args()
    makers = {"gmm9": gmm9, "rings": rings, "funnel": funnel, "doublewell": double_well}
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}, "
          f"max {args.steps} DPS / {args.ode_steps} ODE training steps, {args.num} draws")
    print("| target | sampler | KL(p‖q) hist | KL(q‖p) exact | mixing L2 | ESS | Δ log Z | train s (steps) | sample s |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for key in args.targets:
        t = makers[key]()
        ex = exact_draws(t, jax.random.PRNGKey(11), args.num)
        if ex is not None:
            mw = mode_weights(t, ex) if len(t.modes) else None
            mwf = "n/a" if mw is None else f"{float(np.linalg.norm(mw - t.weights)):.4f}"
            print(f"| {t.name} | exact draws (estimator floor at n={args.num}) | "
                  f"{kl_hist(t, ex, np.ones(args.num)):.4f} | 0 | {mwf} | 1 | 0 | - | - |", flush=True)
        for method in args.methods:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dps = method == "dps"
                s = PINNSampler(potential_fn=t.potential, method=method,
                                num_steps=args.steps if dps else args.ode_steps,
                                num_particles=(args.dps_flow_num or args.num) if dps else args.num,
                                target_ess=None if dps and args.dps_no_monitor else 0.997, progress_bar=False,
                                base=args.dps_prior if dps else args.ode_prior)
                s.run(jax.random.PRNGKey(0), init_params=jnp.zeros(t.dim) + (0.1 if key == "rings" else 0.0))
            rows = [evaluate(t, f"{method.upper()} (weighted ODE draws, n={s.num_particles})", s, True, args.num)]
            if method == "dps":
                s.transport = dataclasses.replace(s.transport, sampler="sde")
                rows.append(evaluate(t, "DPS (reverse SDE, unweighted)", s, False, args.num))
            for r in rows:
                f = lambda v, fmt: "n/a" if v is None else format(v, fmt)
                print(f"| {r['target']} | {r['sampler']} | {r['KL']:.4f} | {f(r['revKL'], '.4f')} | {f(r['mix_L2'], '.4f')} | "
                      f"{f(r['ess'], '.4f')} | {f(r['dlogZ'], '+.4f')} | {r['train_s']:.0f} ({r['steps']}) | {r['sample_s']:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
