"""9-mode 2-D Gaussian mixture of the PINN-sampling paper (appendix D.1), default settings.

Target: (1/9) sum_i N(mu_i, 0.3 I), mu_i in {-5, 0, 5}^2; normalised, so log Z = 0.
Prints ESS, log Z error, the lower-bound gap, the L2 error of the nine mode weights and wall times.

    python benchmarks/gmm9.py [--seed 0] [--num-particles 20000]
"""
import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn import PINNSampler

MUS = jnp.array([[a, b] for a in (-5.0, 0.0, 5.0) for b in (-5.0, 0.0, 5.0)])


def potential(x):
    lp = -0.5 * jnp.sum((x - MUS) ** 2, -1) / 0.3 - jnp.log(2 * jnp.pi * 0.3)
    return -(jax.scipy.special.logsumexp(lp) - jnp.log(9.0))


def mode_weights(x, log_w):
    w = np.asarray(jax.nn.softmax(log_w))
    idx = np.argmin(((np.asarray(x)[:, None, :] - np.asarray(MUS)[None]) ** 2).sum(-1), 1)
    return np.bincount(idx, weights=w, minlength=9)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-particles", type=int, default=20000)
    args = p.parse_args()
    t0 = time.perf_counter()
    s = PINNSampler(potential_fn=potential, num_particles=args.num_particles, progress_bar=False)
    s.run(jax.random.PRNGKey(args.seed), init_params=jnp.zeros(2))
    wall = time.perf_counter() - t0
    d = s.diagnostics
    x, lw = s.get_weighted_samples()
    mw = mode_weights(x, lw)
    print(f"machine: {platform.machine()} {jax.devices()[0].device_kind}, jax {jax.__version__}")
    print(f"ESS                 {d['ess']:.4f}   (floor 0.99)")
    print(f"log Z error         {d['log_Z']:+.4f} +- {d['log_Z_se']:.4f}   (floor |err| <= 0.01)")
    print(f"lower-bound gap     {d['log_Z'] - d['log_Z_lower_bound']:.4f}   (lower bound {d['log_Z_lower_bound']:+.4f})")
    print(f"Pareto k            {d['pareto_k']:.3f}")
    print(f"mode weights        {np.round(mw, 4).tolist()}")
    print(f"mode-weight L2 err  {np.linalg.norm(mw - 1 / 9):.4f}  (MC noise ~ {np.sqrt(8 / 9 / (d['ess'] * len(lw))):.4f})")
    print(f"train steps         {d['num_train_steps']} (stopped early: {d['stopped_early']})")
    print(f"time: warm start {d['warmup_seconds']:.1f} s, training {d['train_seconds']:.1f} s, "
          f"sampling {d['sample_seconds']:.1f} s ({len(lw)} particles), total {wall:.1f} s")
    print(f"target evaluations  {d['target_evals']}")


if __name__ == "__main__":
    main()
