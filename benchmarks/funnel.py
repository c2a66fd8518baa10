"""Neal's funnel (d=10) at default settings, against the floor of LFIS's level in five minutes.

Target: x_0 ~ N(0, 3^2), x_i | x_0 ~ N(0, e^{x_0}) (i = 1..9); normalised, so log Z = 0 (the
PINN paper's funnel, ``paper_table.funnel``). ``PINNSampler`` defaults from the ``potential_fn``
form, nothing tuned. Prints the wall time (compilation included), ESS, Pareto k-hat, the errors of
the lower bound ``mean(log w)`` (of the proposal without its Student-t component when the base has
one: ``diagnostics["log_Z_lower_bound_core"]``) and of the importance-sampling ``log Z`` (their floors: LFIS, ESS
0.97, lower-bound error -0.07), the marginal sd of ``x_0`` against its exact 3, and the time and
target evaluations of each stage.

    python benchmarks/funnel.py [--seed 0] [--num-particles 20000]
"""
import argparse
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from targets import funnel  # noqa: E402

from numpyro_pinn import PINNSampler  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-particles", type=int, default=20000)
    args = p.parse_args()
    target = funnel(10)
    t0 = time.perf_counter()
    s = PINNSampler(potential_fn=target.potential, num_particles=args.num_particles, progress_bar=False)
    s.run(jax.random.PRNGKey(args.seed), init_params=jnp.zeros(target.dim))
    wall = time.perf_counter() - t0
    d = s.diagnostics
    x, lw = s.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(jnp.asarray(lw)))
    x0 = np.asarray(x)[:, 0]
    sd0 = np.sqrt(np.sum(w * (x0 - np.sum(w * x0)) ** 2))
    print(f"machine: {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}; seed {args.seed}")
    print(f"wall                {wall:.1f} s   (floor: under 300 s)")
    print(f"ESS                 {d['ess']:.4f}   (floor 0.9; LFIS 0.97)")
    core_bound = d["log_Z_lower_bound_core"]
    if core_bound is None:
        print(f"lower-bound error   {d['log_Z_lower_bound'] - target.log_Z:+.4f}   (floor >= -0.07, LFIS's)")
    else:  # the base has a Student-t component: the bound of the proposal without it is LFIS's kind
        print(f"lower-bound error   {core_bound - target.log_Z:+.4f}   (floor >= -0.07, LFIS's; the proposal "
              f"without its Student-t component)")
        print(f"  with it           {d['log_Z_lower_bound'] - target.log_Z:+.4g}")
    print(f"log Z error         {d['log_Z'] - target.log_Z:+.4f} +- {d['log_Z_se']:.4f}")
    print(f"Pareto k            {d['pareto_k']:.3f}")
    print(f"sd of x_0           {sd0:.3f}   (exact 3)")
    print(f"train steps         {d['num_train_steps']} (stopped by {d['stages']['training'].get('stopped_by')})")
    print(f"base components     {d.get('base_components')}")
    print(f"stage agreement     {d.get('stage_agreement')}")
    for name, st in d["stages"].items():
        print(f"  {name:12s} {st.get('seconds', 0):7.1f} s  {st.get('target_evals', 0):>10,} target evaluations")


if __name__ == "__main__":
    main()
