"""Where does the mixture prior miss the target? Importance weights of the prior by region.

Many-Well (d=5, m=5, delta=2; its wells overlap more than delta=4's, like the d=50 benchmark's),
default SMC warm start, Gaussian mode mixture and its skewed fit (``bases.fit_skew``), 40,000
prior draws each: the fraction of draws and of normalised importance weight ``q / prior`` by the
distance of the closest well coordinate to its barrier at 0, and the mean log weight there (minus
log Z). A region with more weight than draws is one the prior under-covers, which the transport
must then fill by moving mass there.

    python experiments/prior_coverage.py
"""
import os, sys, numpy as np, jax, jax.numpy as jnp
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from targets import many_well
from numpyro_pinn import bases
from numpyro_pinn.core import make_warm_start
jax.config.update("jax_enable_x64", True)
t = many_well(5, 5, 2.0)
ws = make_warm_start(jax.random.PRNGKey(0), t.potential, jnp.zeros(t.dim))
pr = bases.mode_mixture(t.potential, ws.mean, ws.chol, ws.draws, rng_key=jax.random.PRNGKey(1))
for name, m in (("gauss", pr), ("skew", bases.fit_skew(t.potential, ws.mean, ws.chol, pr, jax.random.PRNGKey(3)))):
    y = bases.sample(m, jax.random.PRNGKey(5), 40000, 5)
    x = np.asarray(ws.mean + y.astype(jnp.float64) @ ws.chol.T)
    lq = -np.asarray(jax.vmap(t.potential)(jnp.asarray(x))) + float(jnp.sum(jnp.log(jnp.diag(ws.chol))))
    lp = np.asarray(jax.vmap(m.log_prob)(y))
    lw = lq - lp - t.log_Z
    b = np.min(np.abs(x[:, :5]), axis=1)  # distance of the closest coordinate to its barrier at 0
    out = np.abs(x[:, :5]).max(1)
    w = np.exp(lw); w /= w.sum()
    print(name, "ESS", 1/np.sum(w**2)/len(w), "LB", lw.mean())
    for lo, hi in [(0, .3), (.3, .7), (.7, 1.1), (1.1, 5)]:
        s = (b >= lo) & (b < hi)
        print(f"  min|x_i| in [{lo},{hi}): frac draws {s.mean():.3f}  frac weight {w[s].sum():.3f}  mean lw {lw[s].mean():+.3f}")
    for lo, hi in [(0, 1.8), (1.8, 2.2), (2.2, 9)]:
        s = (out >= lo) & (out < hi)
        print(f"  max|x_i| in [{lo},{hi}): frac draws {s.mean():.3f}  frac weight {w[s].sum():.3f}")
