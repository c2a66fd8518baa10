"""Reference summaries for the real models without exact answers (`models.py`): long NUTS runs.

For each case: NumPyro NUTS, 4 chains x 2,000 warm-up + 10,000 draws (sequential), then per scalar
parameter the 5%, 50% and 95% quantiles and the sd, written to `data/references.json` with the
run's minimum bulk ESS and maximum r-hat. Baseball's ``kappa`` is checked against 2-D quadrature.

    python benchmarks/make_references.py                 # baseball ucbadmit ordinal breast_cancer
    python benchmarks/make_references.py baseball
"""
import argparse
import datetime
import json
import os
import platform
import sys
import time

import jax
import numpy as np
from numpyro.diagnostics import summary
from numpyro.infer import MCMC, NUTS

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

OUT = os.path.join(models.HERE, "data", "references.json")


def flatten(samples: dict, group_by_chain: bool = False) -> dict:
    """``{"phi[3]": draws}`` (NumPyro's 0-based names) from a samples dict; the sample axes are the
    leading one (or two with ``group_by_chain``)."""
    lead = 2 if group_by_chain else 1
    out = {}
    for name, v in samples.items():
        v = np.asarray(v)
        if v.ndim == lead:
            out[name] = v
            continue
        for idx in np.ndindex(*v.shape[lead:]):
            out[f"{name}[{','.join(map(str, idx))}]"] = v[(Ellipsis,) + idx]
    return out


def summarise(draws: dict) -> dict:
    """Per scalar parameter ``{q05, q50, q95, sd}``; constant entries (e.g. a Cholesky factor's
    fixed zeros and ones) are left out."""
    out = {}
    for name, x in draws.items():
        x = np.asarray(x).reshape(-1)
        sd = float(np.std(x))
        if sd > 1e-9 * (1.0 + abs(float(np.mean(x)))):
            q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
            out[name] = {"q05": float(q05), "q50": float(q50), "q95": float(q95), "sd": sd}
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("names", nargs="*", default=["baseball", "ucbadmit", "ordinal", "breast_cancer"])
    p.add_argument("--num-samples", type=int, default=10_000)
    args = p.parse_args()
    refs = json.load(open(OUT)) if os.path.exists(OUT) else {}
    all_cases = models.cases()
    for name in args.names:
        case = all_cases[name]
        t0 = time.perf_counter()
        mcmc = MCMC(NUTS(case.model), num_warmup=2000, num_samples=args.num_samples, num_chains=4,
                    chain_method="sequential", progress_bar=False)
        mcmc.run(jax.random.PRNGKey(2026), *case.args, **case.kwargs)
        seconds = time.perf_counter() - t0
        by_chain = mcmc.get_samples(group_by_chain=True)
        stats = summary(flatten(by_chain, group_by_chain=True), group_by_chain=True)
        ref = summarise(flatten(mcmc.get_samples()))
        live = [k for k in ref]
        refs[name] = {
            "summary": ref,
            "min_bulk_ess": float(min(stats[k]["n_eff"] for k in live)),
            "max_r_hat": float(max(stats[k]["r_hat"] for k in live)),
            "how": f"NumPyro NUTS, 4 chains x 2000 warm-up + {args.num_samples} draws, seed 2026, {seconds:.0f} s, "
                   f"{datetime.date.today()}, {platform.machine()}, jax {jax.__version__}",
        }
        print(f"{name}: {len(ref)} parameters, min bulk ESS {refs[name]['min_bulk_ess']:.0f}, "
              f"max r-hat {refs[name]['max_r_hat']:.4f}, {seconds:.0f} s", flush=True)
        if name == "baseball":
            print(f"    kappa median {ref['kappa']['q50']:.1f} (quadrature: 64.2)")
        with open(OUT, "w") as f:
            json.dump(refs, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
