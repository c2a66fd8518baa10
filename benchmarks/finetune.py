"""Gauss-Newton fine-tuning after Adam (``finetune="gauss_newton"``) against Adam alone, same
seed and Adam budget, on GMM-9 (and optionally Many-Well d=5): mean squared residual on held-out
batches, ESS, log Z error and the added time.

    python benchmarks/finetune.py [--steps 1000 3000] [--gn-steps 10] [--targets gmm9]
"""
import argparse
import datetime
import os
import platform
import sys
import warnings

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(__file__))
from targets import gmm9, many_well  # noqa: E402

from numpyro_pinn import PINNSampler, Training  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, nargs="+", default=[1000, 3000])
    p.add_argument("--gn-steps", type=int, default=10)
    p.add_argument("--num", type=int, default=20000)
    p.add_argument("--targets", nargs="+", default=["gmm9"])
    args = p.parse_args()
    makers = {"gmm9": gmm9, "mw5": lambda: many_well(5, 5, 4.0)}
    print(f"{datetime.date.today()}, {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}")
    print("| target | Adam steps | fine-tuning | held-out loss before -> after | accepted | ESS | Δ log Z | "
          "train s | GN s |\n|---|---|---|---|---|---|---|---|---|")
    for name in args.targets:
        t = makers[name]()
        for steps in args.steps:
            for ft in (None, "gauss_newton"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    s = PINNSampler(potential_fn=t.potential, num_steps=steps, target_ess=None,
                                    training=Training(min_steps=steps, finetune=ft, gn_steps=args.gn_steps),
                                    num_particles=args.num,
                                    progress_bar=False).run(jax.random.PRNGKey(0), init_params=jnp.zeros(t.dim))
                d = s.diagnostics
                f = d["finetune"] or {}
                loss = f"{f['loss_before']:.3g} -> {f['loss_after']:.3g}" if f else "-"
                acc = f"{f['accepted_steps']}/{f['steps']}" + ("" if f.get("kept", True) else " (not kept)") if f else "-"
                print(f"| {t.name} | {steps} | {ft or 'none'} | {loss} | {acc} | {d['ess']:.4f} | "
                      f"{d['log_Z'] - t.log_Z:+.4f} | {d['train_seconds']:.1f} | "
                      f"{f.get('seconds', 0.0):.1f} |", flush=True)


if __name__ == "__main__":
    main()
