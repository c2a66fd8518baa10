"""Fitting a mixture base to the target: skewed components (``fit_skew``) and the components'
weights (``reweight``)."""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
import optax

from numpyro_pinn.bases.mixture import GaussianMixture, component_log_prob, make_mixture, stratified, whitened_log_q
from numpyro_pinn.compiling import jit
from numpyro_pinn.validation import all_finite

__all__ = ["fit_skew", "reweight"]


def fit_skew(
    potential_fn: Callable,
    mean: jax.Array,
    chol: jax.Array,
    mixture: GaussianMixture,
    rng_key: jax.Array,
    steps: int = 300,
    draws_per_component: int = 64,
    learning_rate: float = 1e-2,
    eval_draws: int = 256,
    full: Optional[bool] = None,
    return_evals: bool = False,
    max_seconds: Optional[float] = 300.0,
):
    """Give each component of ``mixture`` a sinh-arcsinh skew per axis and refit its mean and
    Cholesky factor to the target by maximising ``E_mix[log q - log mix]`` (``log Z`` minus the
    reverse KL divergence; the weights stay fixed).

    A mode of a real target is rarely symmetric (a double well's mode is steeper towards its
    barrier; a scale parameter's posterior in log space is skewed), and no Gaussian mixture with one
    component per mode can follow that, so the transport would have to learn it. The objective is
    estimated with ``draws_per_component`` reparametrised draws from every component (stratified:
    ``sum_k w_k E_k[.]``) and maximised by ``steps`` Adam steps (cosine decay from
    ``learning_rate``) in one jitted scan. The fitted mixture is returned only if it scores higher
    than ``mixture`` on ``eval_draws`` fresh draws per component (the same draws for both), so the
    prior never gets worse by this measure.

    Parameters
    ----------
    potential_fn
        The target's potential ``U(x) = -log q(x) + const``.
    mean, chol
        The whitening ``x = mean + chol y`` in which ``mixture`` lives.
    mixture
        The Gaussian mixture to start from (e.g. :func:`mode_mixture`'s).
    rng_key
        PRNG key.
    full
        Refit every component's Cholesky factor (``d (d + 1) / 2`` parameters), or keep the start's
        factor and fit a scale per axis (``chols_k diag(s_k)``, ``d`` parameters) besides the mean
        and the skews. ``None`` (default): full when ``d (d + 1) / 2 <= draws_per_component``. In
        high dimension the full refit turns the gradient noise of a few draws into random
        distortions of every component in every direction, and the per-axis fit is the better one.

    max_seconds
        Wall-clock budget (``None``: none), checked between blocks of at most 50 steps: past it
        the fit stops with a warning and is kept if it scores higher.

    Returns
    -------
    GaussianMixture
        The skewed mixture, or ``mixture`` itself when fitting did not raise the score. With
        ``return_evals=True``, ``(mixture, num_evals)`` (target evaluations of the fit and the scoring).
    """
    k, d = mixture.means.shape
    dtype = chol.dtype
    log_q = whitened_log_q(potential_fn, mean, chol)
    log_w = jnp.asarray(mixture.log_weights, dtype)
    w = jnp.exp(log_w - jax.scipy.special.logsumexp(log_w))
    ch = jnp.asarray(mixture.chols, dtype)
    if full is None:
        full = d * (d + 1) // 2 <= draws_per_component
    skews0 = jnp.zeros((k, d), dtype) if mixture.skews is None else jnp.asarray(mixture.skews, dtype)
    if full:
        init = {"means": jnp.asarray(mixture.means, dtype), "lower": jnp.tril(ch, -1),
                "log_diag": jnp.log(jnp.abs(jnp.diagonal(ch, axis1=1, axis2=2))), "skews": skews0}
    else:  # chols_k diag(exp(log_scale_k)): the start's axes kept, 3 d parameters per component
        init = {"means": jnp.asarray(mixture.means, dtype), "log_scale": jnp.zeros((k, d), dtype), "skews": skews0}
        inv0 = jnp.asarray(mixture.inv_chols, dtype)

    def unpack(p):
        if not full:
            return ch * jnp.exp(p["log_scale"])[:, None, :], inv0 * jnp.exp(-p["log_scale"])[:, :, None]
        l = jnp.tril(p["lower"], -1) + jax.vmap(jnp.diag)(jnp.exp(p["log_diag"]))
        inv = jax.vmap(lambda c: jax.scipy.linalg.solve_triangular(c, jnp.eye(d, dtype=dtype), lower=True))(l)
        return l, inv

    def objective(p, z):  # z: (K, n, d) standard normal draws, one block per component
        l, inv = unpack(p)
        flat = stratified(p["means"], l, p["skews"], z).reshape(-1, d)
        lmix = jax.vmap(lambda yy: jax.scipy.special.logsumexp(
            component_log_prob(p["means"], inv, p["skews"], yy) + log_w))(flat)
        lq = log_q(flat)
        v = jnp.where(jnp.isfinite(lq), lq - lmix, -1e30).reshape(k, -1)
        return jnp.sum(w * jnp.mean(v, axis=1))

    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, max(steps, 1), alpha=0.05))

    # Blocks of at most 50 steps (equal lengths, the surplus masked): Ctrl-C and the time budget
    # are seen between them.
    n_blocks = max(1, -(-steps // 50))
    length = max(1, -(-steps // n_blocks))

    @jit
    def fit_block(p, st, keys, first):
        def body(carry, xs):
            p, st = carry
            kk, i = xs
            g = jax.grad(lambda q: -objective(q, jax.random.normal(kk, (k, draws_per_component, d), dtype)))(p)
            upd, new_st = opt.update(g, st, p)
            active = first + i < steps
            keep = lambda a, b: jnp.where(active, a, b)
            return (jax.tree.map(keep, optax.apply_updates(p, upd), p), jax.tree.map(keep, new_st, st)), None

        (p, st), _ = jax.lax.scan(body, (p, st), (keys, jnp.arange(length)))
        return p, st

    from numpyro_pinn.stages import Deadline, report

    deadline = Deadline.after(max_seconds)
    k_fit, k_eval = jax.random.split(rng_key)
    keys = jax.random.split(k_fit, max(steps, 1))
    keys = jnp.concatenate([keys, jnp.repeat(keys[-1:], n_blocks * length - keys.shape[0], axis=0)])
    fitted, st, done = init, opt.init(init), 0
    for b in range(n_blocks if steps > 0 else 0):
        fitted, st = fit_block(fitted, st, keys[b * length:(b + 1) * length], b * length)
        done = min(steps, (b + 1) * length)
        report(skew_fit=f"{done}/{steps} steps")
        if deadline.passed() and b + 1 < n_blocks:
            warnings.warn(f"The skew fit used up its time budget ({max_seconds:g} s) after {(b + 1) * length} of "
                          f"{steps} steps; it keeps that fit if it scores higher.", RuntimeWarning, stacklevel=2)
            break
    z = jax.random.normal(k_eval, (k, eval_draws, d), dtype)
    score = jit(objective)
    before, after = float(score(init, z)), float(score(fitted, z))
    evals = done * k * draws_per_component + 2 * k * eval_draws
    out = mixture
    if np.isfinite(after) and after > before and all_finite(*jax.tree.leaves(fitted)):
        l, _ = unpack(fitted)
        out = make_mixture(fitted["means"], l, mixture.log_weights, mixture.labels, skews=fitted["skews"])
    return (out, evals) if return_evals else out

def reweight(
    potential_fn: Callable,
    mean: jax.Array,
    chol: jax.Array,
    mixture: GaussianMixture,
    rng_key: jax.Array,
    draws_per_component: int = 512,
    iters: int = 100,
    return_evals: bool = False,
):
    """Re-estimate the weights of ``mixture`` (components fixed) by importance-sampling EM.

    The weights that minimise ``KL(q || mix)`` over the mixture's weights are the fixed point of
    ``w_k <- E_q[w_k N_k / mix]``, the mass of the target that component ``k`` claims. It is
    estimated with ``draws_per_component`` draws from every component, pooled and weighted by ``q``
    over their stratified proposal ``mean_k N_k``, and iterated ``iters`` times on those draws (each
    iteration costs no target evaluation). The mode weights of :func:`mode_mixture` come from the
    warm start's per-mode evidence, estimated with Gaussian components; once :func:`fit_skew` has
    fitted the components' shapes, importance sampling from them gives far more accurate weights.
    The weights matter beyond their share of the lower bound:
    a transport that cannot move mass between modes has importance-sampling ESS at most
    ``1 / sum_k m_k^2 / w_k`` for true mode masses ``m_k``. The new weights are kept only if they raise the
    importance-sampling estimate of
    ``E_q[log mix]`` on a second, independent set of draws of the same size, so this step never makes
    the prior worse by the measure it optimises. This objective covers mass (forward KL), the
    one importance sampling needs, where :func:`fit_skew`'s lower bound (reverse KL) would prefer
    weights on the best-fitted components.

    Parameters
    ----------
    potential_fn
        The target's potential ``U(x) = -log q(x) + const``.
    mean, chol
        The whitening ``x = mean + chol y`` in which ``mixture`` lives.
    mixture
        The mixture (Gaussian or skewed components).
    rng_key
        PRNG key.

    Returns
    -------
    GaussianMixture
        ``mixture`` with new ``log_weights``, or ``mixture`` itself. With ``return_evals=True``,
        ``(mixture, num_evals)``.
    """
    k, d = mixture.means.shape
    log_q = whitened_log_q(potential_fn, mean, chol)
    lse = jax.scipy.special.logsumexp

    @jit
    def draws(key, mix):  # the mixture as an argument: closed over, XLA would fold its arrays as constants
        eps = jax.random.normal(key, (k, draws_per_component, d), jnp.float32)
        y = stratified(mix.means, mix.chols, mix.skews, eps).reshape(-1, d)
        lc = jax.vmap(lambda yy: component_log_prob(mix.means, mix.inv_chols, mix.skews, yy))(y)
        lq = log_q(y.astype(chol.dtype)).astype(jnp.float32)
        lwt = jnp.where(jnp.isfinite(lq), lq - (lse(lc, axis=1) - jnp.log(k)), -jnp.inf)
        return lc, jnp.exp(lwt - lse(lwt))  # component log densities (n, K), normalised IS weights (n,)

    @jit
    def objective(lc, wn, log_w):  # IS estimate of E_q[log mix] (up to a constant)
        return jnp.sum(jnp.where(wn > 0, wn * lse(lc + log_w, axis=1), 0.0))

    @jit
    def em(lc, wn, log_w):
        def step(lw, _):
            resp = jnp.exp(lc + lw - lse(lc + lw, axis=1, keepdims=True))
            new = jnp.log(jnp.sum(wn[:, None] * resp, axis=0))
            return new - lse(new), None

        return jax.lax.scan(step, log_w, None, length=iters)[0]

    k_fit, k_eval = jax.random.split(rng_key)
    old = np.asarray(mixture.log_weights, np.float64)
    old = jnp.asarray(old - scipy.special.logsumexp(old), jnp.float32)
    lc, wn = draws(k_fit, mixture)
    new = em(lc, wn, old)
    lc2, wn2 = draws(k_eval, mixture)
    evals = 2 * k * draws_per_component
    out = mixture
    ok = all_finite(new, wn2)
    if ok and float(objective(lc2, wn2, new)) > float(objective(lc2, wn2, old)):
        out = mixture._replace(log_weights=new)
    return (out, evals) if return_evals else out
