"""How good is the mixture prior by itself? Its importance-sampling ESS and lower bound as a proposal.

Builds the default warm start (SMC) and the mixture prior (``bases.mode_mixture``, with the
importance-sampling EM refinement; ``--no-refine``: the components before it, weighted by the fractions of warm-start draws) for GMM-9, Many-Well (d=5, delta=4) and
Many-Well (d=50, delta=2), draws 20,000 points from the prior and prints the ESS of the weights
``q / prior``, the lower bound ``mean(log w)`` minus the true log Z and the IS log Z error. The
transport starts from this prior; the better it is, the less the PINN has to learn. A second line
per target gives the same for the skewed mixture (``bases.fit_skew`` on the refined one, what
``PINNSampler`` used by default from 2026-12-01) with the seconds its fit took, a third for the
skewed mixture with its weights re-estimated (``bases.reweight``).

    python experiments/prior_quality.py [--no-refine]
"""
import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from targets import gmm9, many_well  # noqa: E402

from numpyro_pinn import bases  # noqa: E402
from numpyro_pinn.core import make_warm_start  # noqa: E402
from numpyro_pinn.diagnostics import ess, log_evidence  # noqa: E402

jax.config.update("jax_enable_x64", True)

p = argparse.ArgumentParser()
p.add_argument("--no-refine", action="store_true")
args = p.parse_args()
for t in (gmm9(), many_well(5, 5, 4.0), many_well(50, 5, 2.0)):
    ws = make_warm_start(jax.random.PRNGKey(0), t.potential, jnp.zeros(t.dim))
    pr = bases.mode_mixture(t.potential, ws.mean, ws.chol, ws.draws, rng_key=jax.random.PRNGKey(1),
                             refine_iters=0 if args.no_refine else 6)
    lw = bases.proposal_log_weights(t.potential, ws.mean, ws.chol, pr, jax.random.PRNGKey(2), 20000)
    print(f"{t.name}: {pr.means.shape[0]} components, prior ESS {ess(lw):.4f}, lower bound error "
          f"{lw.mean() - t.log_Z:+.4f}, IS log Z error {log_evidence(lw) - t.log_Z:+.4f}", flush=True)
    t0 = time.perf_counter()
    sk = bases.fit_skew(t.potential, ws.mean, ws.chol, pr, jax.random.PRNGKey(3))
    sec = time.perf_counter() - t0
    lw = bases.proposal_log_weights(t.potential, ws.mean, ws.chol, sk, jax.random.PRNGKey(2), 20000)
    print(f"{t.name}: skewed ({'kept' if sk.skews is not None else 'not kept'}, {sec:.1f} s), prior ESS "
          f"{ess(lw):.4f}, lower bound error {lw.mean() - t.log_Z:+.4f}, IS log Z error "
          f"{log_evidence(lw) - t.log_Z:+.4f}", flush=True)
    t0 = time.perf_counter()
    rw = bases.reweight(t.potential, ws.mean, ws.chol, sk, jax.random.PRNGKey(4))
    sec = time.perf_counter() - t0
    lw = bases.proposal_log_weights(t.potential, ws.mean, ws.chol, rw, jax.random.PRNGKey(2), 20000)
    wts = jnp.exp(rw.log_weights - jax.scipy.special.logsumexp(rw.log_weights))
    print(f"{t.name}: skewed + reweighted ({'kept' if rw is not sk else 'not kept'}, {sec:.1f} s, weights "
          f"{float(wts.min()):.4f}-{float(wts.max()):.4f}), prior ESS {ess(lw):.4f}, lower bound error "
          f"{lw.mean() - t.log_Z:+.4f}, IS log Z error {log_evidence(lw) - t.log_Z:+.4f}", flush=True)
