"""Real models: PINN default settings beside NumPyro NUTS on the same data, each in a fresh process.

For each posterior: the PINN's wall time for a first run (compilation included) and for a second run
on new data of the same shapes (a new sampler); NUTS's wall time (4 chains x 1,000 warm-up + 1,000
draws, sequential) and the ratio; the PINN's ESS and Pareto k-hat; its target evaluations per stage
(warm start / base / training / drawing); both samplers' worst errors against the reference (median
error in reference sds, 90%-width error); and both samplers' seconds per 1,000 effective draws (the
PINN: ESS x particles; NUTS: the minimum bulk ESS); and whether the PINN's warm-start draws agree with
its weighted particles (`numpyro_pinn.agreement`: the coordinate whose tail the particles miss most,
their weight beyond the warm start's 5% tail there, and its deficit's z against the threshold). Each sampler runs in a fresh process
(`isolate.py`): its first run is a user's first run, every compilation included, and neither pays
for nor profits from what the other compiled (in one process, whichever ran first paid for the
eager operations of NumPyro's model trace that both use).

Posteriors: the 16 of posteriordb (Stan reference draws; the second run reuses their data), the
models of `models.py` (NumPyro's baseball and ucbadmit examples, an ordinal regression, the
breast-cancer logistic regression: references from `make_references.py`), a one-parameter normal
model and Gaussians of d = 50, 100 (condition number 1e4) and 200 (exact answers).

    python benchmarks/realworld.py                       # everything (hours on 2 CPU cores)
    python benchmarks/realworld.py baseball normal1      # some of them
    python benchmarks/realworld.py --list
    python benchmarks/realworld.py --out benchmarks/out/realworld.md --no-second
    python benchmarks/realworld.py --reuse-compiled --no-nuts    # the second run from the cache
    python benchmarks/realworld.py --heldout --no-second         # the held-out models (models.py)

`--reuse-compiled` runs the PINN with JAX's hoisted constants (`JAX_USE_SIMPLIFIED_JAXPR_CONSTANTS`,
`JAX_EMBEDDED_CONSTANTS_MAX_BYTES=0`) and a fresh persistent compilation cache per posterior, so
that the second run loads what the first compiled wherever the programs do not depend on the data
(docs: choosing.md, "Compilation").
"""
import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import warnings

import jax
import numpy as np
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS

from numpyro_pinn import PINNSampler, posteriordb
from numpyro_pinn.compiling import HOISTING_ENVIRONMENT, cache_compiled_programs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
from isolate import in_fresh_process  # noqa: E402
from make_references import OUT as REFERENCES, flatten  # noqa: E402

OTHERS = ("baseball", "ucbadmit", "ordinal", "breast_cancer", "normal1", "gauss50", "gauss100_cond1e4", "gauss200")
ALL = tuple(posteriordb.NAMES) + OTHERS
HELDOUT = tuple(models.HELDOUT)  # run by name or with --heldout; not part of ALL's floors


def load(name):
    """``(model, args, kwargs, reference summary, new_data)`` for a posterior of the table."""
    if name in posteriordb.NAMES:
        post = posteriordb.load(name)
        ref = {posteriordb.numpyro_name(k): v for k, v in post.reference.items()}
        return post.model, post.args, post.kwargs, ref, lambda seed: (post.args, post.kwargs)
    case = models.cases()[name]
    if case.exact is not None:
        ref = case.exact
    else:
        refs = json.load(open(REFERENCES)) if os.path.exists(REFERENCES) else {}
        if name not in refs:
            raise SystemExit(f"No reference for {name}: run `python benchmarks/make_references.py {name}` first.")
        ref = refs[name]["summary"]
    return case.model, case.args, case.kwargs, ref, case.new_data


def errors(samples: dict, ref: dict):
    """Worst median error (reference sds) and worst relative 90%-width error, and where."""
    draws = flatten(samples)
    med, wid = [], []
    for k, r in ref.items():
        x = np.asarray(draws[k]).reshape(-1)
        q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
        med.append(((q50 - r["q50"]) / r["sd"], k))
        wid.append(((q95 - q05) / (r["q95"] - r["q05"]) - 1.0, k))
    return max(med, key=lambda t: abs(t[0])), max(wid, key=lambda t: abs(t[0]))


def run_pinn(model, args, kwargs, seed):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        s = PINNSampler(model, progress_bar=False).run(jax.random.PRNGKey(seed), *args, **kwargs)
        seconds = time.perf_counter() - t0
    flagged = sorted({str(w.category.__name__) + ": " + str(w.message)[:90] for w in caught
                      if issubclass(w.category, (RuntimeWarning, UserWarning))})
    return s, seconds, flagged


def pinn_job(name, seed, second, cache_dir=None):
    """In a fresh process: the PINN's first run on ``name`` and, with ``second``, a second run (a new
    sampler) on new data of the same shapes; with ``cache_dir``, JAX's persistent compilation cache
    there. Returns picklable results."""
    if cache_dir is not None and not cache_compiled_programs(cache_dir):
        raise RuntimeError("JAX does not hoist constants in this job (see compiling.HOISTING_ENVIRONMENT).")
    model, args, kwargs, _, new_data = load(name)
    pinn, seconds, flagged = run_pinn(model, args, kwargs, seed)
    t_second = run_pinn(model, *new_data(seed + 1), seed + 1)[1] if second else float("nan")
    d = pinn.diagnostics
    diag = {k: d[k] for k in ("ess", "pareto_k", "num_particles", "stages")}
    a = d.get("stage_agreement")
    diag["agree"] = "-" if a is None else (
        f"{'NO' if a['disagrees'] else 'yes'}: {pinn.coordinate_names()[a['coordinate']]} "
        f"tail {a['tail_share']:.3f}, z {a['z']:.1f}/{a['threshold']:.1f}")
    return (jax.tree_util.tree_map(np.asarray, pinn.get_samples()), diag, pinn.unconstrained_draws().shape[1],
            seconds, t_second, flagged)


def nuts_job(name, seed):
    """In a fresh process: NUTS's first run on ``name``; its draws, seconds and smallest bulk ESS."""
    model, args, kwargs, _, _ = load(name)
    t0 = time.perf_counter()
    mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=1000, num_chains=4, chain_method="sequential",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), *args, **kwargs)
    seconds = time.perf_counter() - t0
    stats = summary(flatten(mcmc.get_samples(group_by_chain=True), group_by_chain=True), group_by_chain=True)
    ess = min(float(v["n_eff"]) for v in stats.values() if np.isfinite(v["n_eff"]))
    return jax.tree_util.tree_map(np.asarray, mcmc.get_samples()), seconds, ess


HEADER = ("| posterior | d | PINN s | PINN s, 2nd run | NUTS s | PINN/NUTS | ESS | k-hat | evals: warm / base / train / draw "
          "| PINN worst median err (sd) | PINN worst 90% width err | NUTS worst median err | NUTS worst width err "
          "| s per 1k eff. draws PINN / NUTS | accuracy floor met | stages agree |\n|" + "---|" * 16)


def row(name, seed, nuts=True, second=True, reuse_compiled=False):
    ref = load(name)[3]
    with tempfile.TemporaryDirectory() as cache_dir:
        samples, d, dim, t_pinn, t_second, flagged = in_fresh_process(
            pinn_job, name, seed, second, cache_dir if reuse_compiled else None)
    (mp, kp), (wp, kw) = errors(samples, ref)
    st = d["stages"]
    evals = " / ".join(f"{st[k]['target_evals']:.2g}" for k in ("warm_start", "base", "training", "drawing"))
    if st.get("rejuvenation", {}).get("target_evals"):  # the draws were moved (Pareto k > 0.7)
        evals += f" + {st['rejuvenation']['target_evals']:.2g} rejuvenation"
    per_k_pinn = t_pinn / max(d["ess"] * d["num_particles"] / 1000.0, 1e-9)
    if nuts:
        nuts_samples, t_nuts, ess_nuts = in_fresh_process(nuts_job, name, seed + 7)
        (mn, _), (wn, _) = errors(nuts_samples, ref)
        nuts_cells = (f"{t_nuts:.1f}", f"{t_pinn / t_nuts:.2f}", f"{mn:+.3f}", f"{wn:+.3f}",
                      f"{per_k_pinn:.1f} / {t_nuts / (ess_nuts / 1000.0):.1f}")
    else:
        nuts_cells = ("-", "-", "-", "-", f"{per_k_pinn:.1f} / -")
    ok = abs(mp) <= 0.1 and abs(wp) <= 0.1
    cells = [name, str(dim), f"{t_pinn:.1f}",
             f"{t_second:.1f}", nuts_cells[0], nuts_cells[1], f"{d['ess']:.3f}", f"{d['pareto_k']:.2f}", evals,
             f"{mp:+.3f} ({kp})", f"{wp:+.3f} ({kw})", nuts_cells[2], nuts_cells[3], nuts_cells[4],
             "yes" if ok else "NO", d["agree"]]
    return "| " + " | ".join(cells) + " |", flagged


def main():
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*", default=list(ALL))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--list", action="store_true", help="list the posteriors and stop")
    p.add_argument("--no-nuts", action="store_true", help="skip NUTS (its columns show -)")
    p.add_argument("--no-second", action="store_true", help="skip the second PINN run")
    p.add_argument("--reuse-compiled", action="store_true",
                   help="hoisted constants and a persistent compilation cache per posterior (see above)")
    p.add_argument("--heldout", action="store_true",
                   help="the held-out models (models.HELDOUT) instead of the table's posteriors")
    p.add_argument("--out", default=None, help="also append the rows to this markdown file")
    args = p.parse_args()
    if args.list:
        print("\n".join(ALL + HELDOUT))
        return
    if args.heldout:
        args.names = list(HELDOUT)
    unknown = [n for n in args.names if n not in ALL + HELDOUT]
    if unknown:
        raise SystemExit(f"unknown posteriors {unknown}; --list shows them")
    if args.reuse_compiled:  # read by JAX when the spawned jobs import it
        os.environ.update(HOISTING_ENVIRONMENT)
    lines = [f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} CPU cores, "
             f"{jax.devices()[0].device_kind}, jax {jax.__version__}, seed {args.seed}"
             + (", hoisted constants and a persistent cache per posterior" if args.reuse_compiled else ""), "", HEADER]
    print("\n".join(lines), flush=True)
    for name in args.names:
        line, flagged = row(name, args.seed, nuts=not args.no_nuts, second=not args.no_second,
                            reuse_compiled=args.reuse_compiled)
        lines.append(line)
        print(line, flush=True)
        for w in flagged:
            print(f"    {name}: {w}", flush=True)
        if args.out:
            with open(args.out, "w") as f:
                f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
