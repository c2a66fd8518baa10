"""PINN (cold start), PINN (PT warm start), PT alone, BlackJAX adaptive tempered SMC and NUTS
on GMM-9 and Many-Well (d=5, m=5, delta=4): mode-weight error, ESS per target evaluation and per
second, log Z error, in one run; plots quality against target evaluations and wall time.

    python benchmarks/tempering.py [--out-dir docs/figures] [--smc-particles 4000 40000] | tee benchmarks/out/tempering.txt
    python benchmarks/tempering.py --replot benchmarks/out/tempering.txt   # redraw the figure only
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
from targets import gmm9, many_well, mode_weights  # noqa: E402

from numpyro_pinn import ParallelTempering, PINNSampler  # noqa: E402

from numpyro_pinn.warmstart import laplace, smc  # noqa: E402


def row(name, t, seconds, evals, log_z, mw, ess_draws, n):
    return {"sampler": name, "seconds": seconds, "target_evals": evals, "dlogZ": None if log_z is None else log_z - t.log_Z,
            "mode_L2": float(np.linalg.norm(mw - t.weights)), "ess": ess_draws, "n": n,
            "ess_per_keval": ess_draws / evals * 1e3, "ess_per_s": ess_draws / seconds}


def run_pinn(t, key, warm_start, n):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = PINNSampler(potential_fn=t.potential, warm_start=warm_start, num_particles=n, progress_bar=False)
        s.run(key, init_params=jnp.zeros(t.dim))
    sec = time.perf_counter() - t0
    d = s.diagnostics
    x, lw = s.get_weighted_samples()
    mw = mode_weights(t, x, np.asarray(jax.nn.softmax(lw)))
    return row(f"PINN ({warm_start} warm start)", t, sec, d["target_evals"], d["log_Z"], mw, d["ess"] * n, n)


def run_pt(t, key):
    t0 = time.perf_counter()
    pt = ParallelTempering(potential_fn=t.potential).run(key, init_params=jnp.zeros(t.dim))
    sec = time.perf_counter() - t0
    d = pt.diagnostics
    x = np.asarray(pt.get_samples())
    return row("PT (16 temps x 4 chains, HMC)", t, sec, d["target_evals"], d["log_Z"], mode_weights(t, x),
               d["ess"] * len(x), len(x))


def run_smc(t, key, n):
    pot = t.potential
    t0 = time.perf_counter()
    lap = laplace(pot, jnp.zeros(t.dim))
    ws = smc(key, pot, lap, num_particles=n)
    jax.block_until_ready(ws.draws)
    sec = time.perf_counter() - t0
    return row(f"adaptive tempered SMC ({n} particles, HMC)", t, sec, ws.num_evals, float(ws.log_Z),
               mode_weights(t, ws.draws), float(n), n)


def run_nuts(t, key):
    import arviz as az
    from numpyro.infer import MCMC, NUTS

    t0 = time.perf_counter()
    mc = MCMC(NUTS(potential_fn=t.potential), num_warmup=1000, num_samples=1000, num_chains=4,
              chain_method="sequential", progress_bar=False)
    inits = jax.random.normal(key, (4, t.dim))
    mc.run(key, init_params=inits, extra_fields=("num_steps",))
    sec = time.perf_counter() - t0
    x = np.asarray(mc.get_samples())
    g = np.asarray(mc.get_samples(group_by_chain=True))
    ess = min(float(az.ess(g[:, :, i], method="bulk")) for i in range(t.dim))
    evals = int(np.sum(mc.get_extra_fields()["num_steps"])) * 2  # warm-up not recorded: x2 as an estimate
    return row("NUTS (4 x 1000 + 1000)", t, sec, evals, None, mode_weights(t, x), ess, len(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out-dir", default="docs/figures")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smc-particles", type=int, nargs="+", default=[4000, 40000])
    p.add_argument("--pinn-particles", type=int, default=20000)
    p.add_argument("--replot", help="redraw the figure from the saved output of an earlier run")
    args = p.parse_args()
    if args.replot:
        return plot(parse_tables(args.replot), args.out_dir)
    jax.config.update("jax_enable_x64", True)
    key = jax.random.PRNGKey(args.seed)
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}")
    results = {}
    for t in (gmm9(), many_well(5, 5, 4.0)):
        rows = [run_pinn(t, key, "smc", args.pinn_particles), run_pinn(t, key, "pt", args.pinn_particles),
                run_pt(t, key)]
        rows += [run_smc(t, key, n) for n in args.smc_particles]
        rows.append(run_nuts(t, key))
        results[t.name] = rows
        print(f"\n### {t.name} (log Z = {t.log_Z:.6f})\n")
        print("| sampler | wall s | target evals | Δ log Z | mode-weight L2 | ESS (draws) | ESS / 1k evals | ESS / s |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            dz = "n/a" if r["dlogZ"] is None else f"{r['dlogZ']:+.4f}"
            print(f"| {r['sampler']} | {r['seconds']:.1f} | {r['target_evals']:.3g} | {dz} | {r['mode_L2']:.4f} "
                  f"| {r['ess']:.0f} | {r['ess_per_keval']:.3f} | {r['ess_per_s']:.0f} |", flush=True)
    plot(results, args.out_dir)


def plot(results, out_dir):
    """Error against target evaluations (top) and wall time (bottom): one colour per sampler,
    circles for the mode-weight L2 error, crosses for |Δ log Z|."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    names = list(dict.fromkeys(r["sampler"] for rows in results.values() for r in rows))
    colours = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(2, len(results), figsize=(5.5 * len(results), 8), squeeze=False)
    for col, (name, rows) in enumerate(results.items()):
        for ax, xkey in ((axes[0, col], "target_evals"), (axes[1, col], "seconds")):
            for r in rows:
                c = colours[r["sampler"]]
                ax.scatter(r[xkey], r["mode_L2"], marker="o", color=c, label=r["sampler"])
                if r["dlogZ"] is not None:
                    ax.scatter(r[xkey], max(abs(r["dlogZ"]), 1e-5), marker="x", s=60, color=c)
            ax.axhline(1e-3, color="grey", lw=0.5, ls="--")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("target evaluations" if xkey == "target_evals" else "wall time (s)")
            ax.set_ylabel("o: mode-weight L2    x: |Δ log Z|")
            ax.set_title(name)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    fig.legend(uniq.values(), uniq.keys(), loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    path = os.path.join(out_dir, "tempering_quality.png")
    fig.savefig(path, dpi=90)
    print("saved", path)


def parse_tables(path):
    """Results from the printed tables of an earlier run (for ``--replot``)."""
    results, name = {}, None
    for line in open(path):
        if line.startswith("### "):
            name = line[4:].split(" (log Z")[0]
            results[name] = []
        elif line.startswith("| ") and name and not line.startswith("| sampler"):
            c = [x.strip() for x in line.strip().strip("|").split("|")]
            results[name].append({"sampler": c[0], "seconds": float(c[1]), "target_evals": float(c[2]),
                                  "dlogZ": None if c[3] == "n/a" else float(c[3]), "mode_L2": float(c[4])})
    return results


if __name__ == "__main__":
    main()
