"""PINN (default settings, fixed seed) vs NUTS (4 chains x 1000 warm-up + 1000 draws) on posteriordb.

For each posterior: our wall time, NUTS's wall time and their ratio, both samplers' worst errors
against Stan's reference (median error in reference sds, relative 90%-width error), and our ESS,
Pareto k-hat and log Z. Floor (issue 3): every parameter |median err| <= 0.1 sd and |width err| <= 0.1.
Each sampler runs in a fresh process (`isolate.py`): its time is a user's first run, every
compilation included, and neither pays for nor profits from what the other compiled.

    python benchmarks/posteriordb.py                       # the eight core posteriors
    python benchmarks/posteriordb.py kidiq-kidscore_momiq  # any of the sixteen names
    python benchmarks/posteriordb.py --out benchmarks/out/posteriordb.md
    python benchmarks/posteriordb.py kilpisjarvi_mod-kilpisjarvi --base gaussian   # PINNSampler's `base`
"""
import argparse
import datetime
import platform
import os
import sys
import time
import warnings

import jax
import numpy as np
from numpyro.infer import MCMC, NUTS

from numpyro_pinn import PINNSampler, posteriordb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from isolate import in_fresh_process  # noqa: E402


def worst(cmp):
    med = max(cmp.values(), key=lambda r: abs(r["median_err_sd"]))["median_err_sd"]
    wid = max(cmp.values(), key=lambda r: abs(r["width_err"]))["width_err"]
    return med, wid


def pinn_job(name, seed, base):
    """The PINN's first run on ``name`` (run in a fresh process): its draws, diagnostics and seconds."""
    post = posteriordb.load(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        pinn = PINNSampler(post.model, progress_bar=False, base=base).run(jax.random.PRNGKey(seed), *post.args,
                                                                          **post.kwargs)
        seconds = time.perf_counter() - t0
    kwarn = any("Pareto" in str(w.message) for w in caught)
    d = pinn.diagnostics
    diag = {k: d[k] for k in ("ess", "pareto_k", "log_Z", "log_Z_se", "num_train_steps", "base_components")}
    return jax.tree_util.tree_map(np.asarray, pinn.get_samples()), diag, seconds, kwarn


def nuts_job(name, seed):
    """NUTS's first run on ``name`` (run in a fresh process): its draws and seconds."""
    post = posteriordb.load(name)
    t0 = time.perf_counter()
    nuts = MCMC(NUTS(post.model), num_warmup=1000, num_samples=1000, num_chains=4, chain_method="sequential",
                progress_bar=False)
    nuts.run(jax.random.fold_in(jax.random.PRNGKey(seed), 1), *post.args, **post.kwargs)
    seconds = time.perf_counter() - t0
    return jax.tree_util.tree_map(np.asarray, nuts.get_samples()), seconds


def run_one(name, seed, base="auto"):
    post = posteriordb.load(name)
    s_pinn, d, t_pinn, kwarn = in_fresh_process(pinn_job, name, seed, base)
    s_nuts, t_nuts = in_fresh_process(nuts_job, name, seed)
    c_pinn = posteriordb.compare_to_reference(s_pinn, post.reference)
    c_nuts = posteriordb.compare_to_reference(s_nuts, post.reference)
    mp, wp = worst(c_pinn)
    mn, wn = worst(c_nuts)
    ok = all(abs(r["median_err_sd"]) <= 0.1 and abs(r["width_err"]) <= 0.1 for r in c_pinn.values())
    ncomp = d["base_components"]
    row = (f"| {name} | {len(post.reference)} | {ncomp} | {d['ess']:.3f} | {d['pareto_k']:.2f}{' (warned)' if kwarn else ''} "
           f"| {d['log_Z']:.2f} ± {d['log_Z_se']:.2f} | {d['num_train_steps']} | {t_pinn:.1f} | {t_nuts:.1f} "
           f"| {t_pinn / t_nuts:.1f} | {mp:+.3f} | {wp:+.3f} | {mn:+.3f} | {wn:+.3f} | {'yes' if ok else 'NO'} |")
    return row, c_pinn


HEADER = ("| posterior | params | base components | ESS | Pareto k | log Z | train steps | PINN s | NUTS s | PINN/NUTS time "
          "| PINN worst median err (sd) | PINN worst 90% width err | NUTS worst median err (sd) "
          "| NUTS worst 90% width err | floor met |\n|" + "---|" * 15)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*", default=list(posteriordb.CORE_EIGHT))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the markdown table here")
    p.add_argument("--base", "--prior", dest="base", default="auto", choices=["auto", "gaussian", "mixture", "draws"],
                   help="PINNSampler's base distribution (default: its default)")
    args = p.parse_args()
    lines = [f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind} "
             f"({jax.device_count()} device(s)), jax {jax.__version__}, seed {args.seed}, base={args.base!r}", "", HEADER]
    print("\n".join(lines), flush=True)
    for name in args.names:
        row, cmp = run_one(name, args.seed, args.base)
        lines.append(row)
        print(row, flush=True)
        bad = {k: v for k, v in cmp.items() if abs(v["median_err_sd"]) > 0.1 or abs(v["width_err"]) > 0.1}
        for k, v in bad.items():
            print(f"    {name} {k}: median err {v['median_err_sd']:+.3f} sd, width err {v['width_err']:+.3f}")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
