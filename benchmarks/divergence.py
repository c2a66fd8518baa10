"""Hutchinson's estimate or exact divergences in the training loss: how far training gets.

Up to ``ODETransport(hutchinson_above=16)`` dimensions the loss takes the drift's divergence
exactly; above, it estimates it with random probes: by default two per point on 512 points per
step up to 32 dimensions (``hutchinson_probes=None``, ``Training(batch_size=None)``), one on 1,024
above (and before session 61 everywhere). ``hutchinson_above=32`` computes it exactly up to 32
dimensions (``d`` forward-mode passes per point) on 256 points. For a posterior of the real-model
table (default: the breast-cancer logistic regression, d = 31), each variant trains up to the same
number of steps without the plateau's early stop (reaching ``target_ess`` still ends it; the
sampler's other stages as by default, same seed), then reports its training seconds, the final ESS
and k-hat on the draws, and the worst errors against the reference; last, three settings as a user
would run them (early stops on). Each run is in a fresh process (`isolate.py`), its compilations
included.

    python benchmarks/divergence.py                          # breast cancer, 3,000 steps
    python benchmarks/divergence.py baseball --steps 2000
"""
import argparse
import datetime
import os
import platform
import sys
import time
import warnings

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from isolate import in_fresh_process  # noqa: E402
from realworld import errors, load  # noqa: E402

from numpyro_pinn import ODETransport, PINNSampler, Training  # noqa: E402

VARIANTS = {
    "Hutchinson, 1 probe, 1,024 points (the default before session 61)": (
        ODETransport(hutchinson_probes=1), Training(plateau=None)),
    "Hutchinson, 2 probes, 1,024 points": (ODETransport(hutchinson_probes=2), Training(plateau=None, batch_size=1024)),
    "Hutchinson, 2 probes, 512 points (default)": (ODETransport(), Training(plateau=None)),
    "exact, 128 points": (ODETransport(hutchinson_above=32), Training(plateau=None, batch_size=128)),
    "exact, 256 points (hutchinson_above=32)": (ODETransport(hutchinson_above=32), Training(plateau=None)),
    "exact, 1,024 points": (ODETransport(hutchinson_above=32), Training(plateau=None, batch_size=1024)),
}
AS_USERS_RUN = {
    "defaults": (None, None),
    "hutchinson_probes=1 (the default before session 61)": (ODETransport(hutchinson_probes=1), None),
    "hutchinson_above=32": (ODETransport(hutchinson_above=32), None),
}


def run(name, transport, training, num_steps, seed):
    model, args, kwargs, ref, _ = load(name)
    opts = {} if num_steps is None else {"num_steps": num_steps}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        s = PINNSampler(model, transport=transport, training=training, progress_bar=False, **opts).run(
            jax.random.PRNGKey(seed), *args, **kwargs)
        total = time.perf_counter() - t0
    d, tr = s.diagnostics, s.diagnostics["stages"]["training"]
    (med, kmed), (wid, kwid) = errors(s.get_samples(), ref)
    ms = 1e3 * tr["seconds"] / max(tr["steps"], 1)
    return (f"| {total:.1f} | {tr['seconds']:.1f} | {tr['steps']} ({tr['stopped_by']}) | {ms:.1f} | {d['ess']:.3f} "
            f"| {d['pareto_k']:.2f} | {med:+.3f} ({kmed}) | {wid:+.3f} ({kwid}) |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("name", nargs="?", default="breast_cancer")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} CPU cores, "
          f"{jax.devices()[0].device_kind}, jax {jax.__version__}, {a.name}, seed {a.seed}\n")
    print("| variant | total s | training s | steps | ms per step | ESS | k-hat | worst median err (sd) "
          "| worst 90% width err |\n|" + "---|" * 9, flush=True)
    for label, (transport, training) in VARIANTS.items():
        print(f"| {label}, {a.steps} steps " + in_fresh_process(run, a.name, transport, training, a.steps, a.seed),
              flush=True)
    for label, (transport, training) in AS_USERS_RUN.items():
        print(f"| {label}, early stops on " + in_fresh_process(run, a.name, transport, training, None, a.seed),
              flush=True)


if __name__ == "__main__":
    main()
