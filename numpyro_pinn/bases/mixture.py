"""The base distribution's family: Gaussian mixtures (optionally skewed or Student-t) in the
whitened coordinates, with ``None`` standing for ``N(0, I)`` (a fast path), and the target as
seen from them."""
from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn.compiling import jit_once
from numpyro_pinn.diagnostics import finite_log_weights
from numpyro_pinn.gaussian import std_normal_log_prob

__all__ = ["GaussianMixture", "log_prob", "sample", "scale_spread", "local_scale", "component_log_prob",
           "stratified", "whitened_log_q", "make_mixture", "proposal_log_weights", "proposal_draws", "PROPOSAL_DRAWS",
           "standard"]


class GaussianMixture(NamedTuple):
    """``sum_k w_k N(means_k, chols_k chols_k^T)`` in whitened coordinates (float32), optionally
    with a sinh-arcsinh skew per component and axis, or Student-t components.

    ``labels`` assigns each warm-start draw to its component, so that bridge collocation paths
    start in the component of the draw they end at. With ``skews`` (``(K, d)``, set by
    :func:`fit_skew`), component ``k`` is the law of ``means_k + chols_k u`` where
    ``u_j = sinh(asinh(z_j) + skews_kj)`` and ``z ~ N(0, I)`` (Jones and Pewsey, 2009, with unit tail
    weight: each side keeps a Gaussian tail, of scale ``exp(+-skew)``); ``skews = 0`` is the
    Gaussian. Only the ODE family takes a skewed mixture (as its prior); DPS's closed-form noised
    mixture needs Gaussian components.

    With ``dfs`` (``(K,)``), component ``k`` is a multivariate Student-t with ``dfs_k`` degrees of
    freedom (``inf``: Gaussian), the law of ``means_k + chols_k u`` with ``u = z / sqrt(g / dfs_k)``,
    ``g ~ chi^2(dfs_k)``: a heavy-tailed component keeps the weights bounded on a heavy-tailed
    posterior (:func:`numpyro_pinn.tails.with_heavy_tail`).
    """

    means: jax.Array  # (K, d)
    chols: jax.Array  # (K, d, d) lower triangular
    log_weights: jax.Array  # (K,)
    labels: jax.Array  # (n,) int32, component of each warm-start draw
    inv_chols: jax.Array  # (K, d, d) inverses of ``chols`` (matmuls, not batched triangular solves)
    skews: Optional[jax.Array] = None  # (K, d) sinh-arcsinh skew, None: Gaussian components
    dfs: Optional[jax.Array] = None  # (K,) Student-t degrees of freedom (inf: Gaussian), None: all Gaussian

    def log_prob(self, y: jax.Array) -> jax.Array:
        """Log density at one point ``y`` of shape ``(d,)``."""
        return jax.scipy.special.logsumexp(
            component_log_prob(self.means, self.inv_chols, self.skews, y, self.dfs) + self.log_weights)

    def sample_components(self, rng_key: jax.Array, labels: jax.Array) -> jax.Array:
        """One draw from each given component, shape ``(len(labels), d)``."""
        eps = jax.random.normal(rng_key, (labels.shape[0], self.means.shape[1]), dtype=jnp.float32)
        if self.dfs is not None:
            eps = eps * _t_scale(jax.random.fold_in(rng_key, 1), self.dfs[labels])[:, None]
        if self.skews is not None:
            eps = _skew(eps, self.skews[labels])
        return self.means[labels] + jnp.einsum("nij,nj->ni", self.chols[labels], eps)

def _t_scale(rng_key: jax.Array, dfs: jax.Array) -> jax.Array:
    """``sqrt(df / g)``, ``g ~ chi^2(df)``, for each entry of ``dfs`` (1 where ``df`` is infinite)."""
    finite = jnp.isfinite(dfs)
    half = jnp.where(finite, 0.5 * dfs, 1.0)
    g = 2.0 * jax.random.gamma(rng_key, half, dtype=jnp.float32)
    return jnp.where(finite, jnp.sqrt(2.0 * half / g), 1.0)

def _skew(z: jax.Array, skews: jax.Array) -> jax.Array:
    """The sinh-arcsinh map ``u = sinh(asinh(z) + skew)`` (elementwise), written algebraically as
    ``z cosh(skew) + sqrt(1 + z^2) sinh(skew)`` (one square root per element instead of three
    transcendentals)."""
    return z * jnp.cosh(skews) + jnp.sqrt(1.0 + z**2) * jnp.sinh(skews)

def stratified(means, chols, skews, z):
    """``z`` ``(K, n, d)`` standard normal draws mapped through each component: ``(K, n, d)``."""
    u = z if skews is None else _skew(z, skews[:, None, :])
    return means[:, None, :] + jnp.einsum("kij,knj->kni", chols, u)

def component_log_prob(means, inv_chols, skews, y, dfs=None):
    """``log N_k(y)`` (or of the skewed or Student-t component) for every component at one point: ``(K,)``."""
    d = y.shape[-1]
    u = jnp.einsum("kij,kj->ki", inv_chols, y - means)
    logdet = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(inv_chols, axis1=1, axis2=2))), axis=1)
    if skews is None:
        z2, logjac = jnp.sum(u**2, axis=1), 0.0
    else:  # z = sinh(asinh(u) - s) = u cosh(s) - r sinh(s), dz/du = cosh(s) - u sinh(s) / r,
        # r = sqrt(1 + u^2): the same density as through asinh/sinh, three times cheaper to evaluate
        # and differentiate (at d = 50, K = 32 the prior dominated a training step otherwise)
        ch, sh = jnp.cosh(skews), jnp.sinh(skews)
        r = jnp.sqrt(1.0 + u**2)
        z2 = jnp.sum((u * ch - r * sh) ** 2, axis=1)
        logjac = jnp.sum(jnp.log(ch - u * sh / r), axis=1)
    gauss = -0.5 * z2 - 0.5 * d * jnp.log(2 * jnp.pi)
    if dfs is not None:
        finite = jnp.isfinite(dfs)
        nu = jnp.where(finite, dfs, 1.0)
        gl = jax.scipy.special.gammaln
        student = (gl(0.5 * (nu + d)) - gl(0.5 * nu) - 0.5 * d * jnp.log(nu * jnp.pi)
                   - 0.5 * (nu + d) * jnp.log1p(z2 / nu))
        gauss = jnp.where(finite, student, gauss)
    return gauss + logjac + logdet

def log_prob(prior: Optional[GaussianMixture], y: jax.Array) -> jax.Array:
    """Log density of the prior at one point (``None``: ``N(0, I)``)."""
    if prior is None:
        return std_normal_log_prob(y)
    return prior.log_prob(y)

def _log_scales(chols: jax.Array) -> jax.Array:
    """Log of each component's scale, the geometric mean of its Cholesky factor's diagonal: ``(K,)``."""
    return jnp.mean(jnp.log(jnp.abs(jnp.diagonal(chols, axis1=1, axis2=2))), axis=1)

def scale_spread(prior: Optional[GaussianMixture]) -> float:
    """Ratio of the largest to the smallest component scale (:func:`_log_scales`) of a mixture; 1
    for ``None`` or one component."""
    if prior is None:
        return 1.0
    s = np.asarray(_log_scales(prior.chols))
    return float(np.exp(s.max() - s.min()))

def local_scale(prior: GaussianMixture) -> Callable[[jax.Array], jax.Array]:
    """``y -> L(y)``, ``(d,) -> (d, d)``: the components' Cholesky factors averaged with their
    responsibilities at ``y``, divided by the weight-averaged component scale (so ``L`` is about
    ``I`` where the components are of typical size). A drift ``L(y) m(y, t)`` moves a point by a
    fraction of the width of the component it is in, whatever that width."""
    typical = jnp.exp(jnp.sum(jax.nn.softmax(prior.log_weights) * _log_scales(prior.chols)))

    def scale(y):
        r = jax.nn.softmax(component_log_prob(prior.means, prior.inv_chols, prior.skews, y, prior.dfs)
                           + prior.log_weights)
        return jnp.einsum("k,kij->ij", r, prior.chols) / typical

    return scale

@partial(jit_once, static_argnums=(2, 3))
def sample(prior: Optional[GaussianMixture], rng_key: jax.Array, num: int, dim: int) -> jax.Array:
    """``num`` draws ``(num, dim)`` from the prior (``None``: ``N(0, I)``), float32."""
    if prior is None:
        return jax.random.normal(rng_key, (num, dim), dtype=jnp.float32)
    k1, k2 = jax.random.split(rng_key)
    labels = jax.random.categorical(k1, prior.log_weights, shape=(num,))
    return prior.sample_components(k2, labels)

def whitened_log_q(potential_fn, mean, chol) -> Callable:
    """The target's log density (up to a constant) of whitened points ``y`` (``x = mean + chol y``),
    vectorised: ``(n, d) -> (n,)``."""
    ldet = jnp.sum(jnp.log(jnp.abs(jnp.diag(chol))))
    return lambda y: -jax.vmap(potential_fn)(mean + y @ chol.T) + ldet

def make_mixture(means, chols, log_w, labels, skews=None) -> GaussianMixture:
    """A float32 :class:`GaussianMixture` with its inverse Cholesky factors."""
    f32 = lambda a: jnp.asarray(np.asarray(a), jnp.float32)
    return GaussianMixture(f32(means), f32(chols), f32(log_w), jnp.asarray(np.asarray(labels), jnp.int32),
                           f32(np.linalg.inv(np.asarray(chols))), None if skews is None else f32(skews))

#: Draws each candidate base distribution is scored with (:func:`proposal_log_weights`).
PROPOSAL_DRAWS = 2048


def proposal_log_weights(potential_fn: Callable, mean: jax.Array, chol: jax.Array, prior: Optional[GaussianMixture],
                         rng_key: jax.Array, num: int = PROPOSAL_DRAWS) -> np.ndarray:
    """Log importance weights ``log q - log prior`` (unnormalised ``q``) of ``num`` fresh draws of
    ``prior`` (``None``: ``N(0, I)``) as a proposal for the target whitened by ``x = mean + chol y``
    (``num`` target evaluations); non-finite weights become ``-inf``. Compiled once per
    ``potential_fn``, ``num`` and shapes (the program of :func:`proposal_draws`)."""
    return finite_log_weights(proposal_draws(potential_fn, mean, chol, prior, rng_key, num)[1])


def proposal_draws(potential_fn: Callable, mean: jax.Array, chol: jax.Array, prior: Optional[GaussianMixture],
                   rng_key: jax.Array, num: int = PROPOSAL_DRAWS) -> tuple:
    """``(x, log_weights)``: ``num`` fresh draws of ``prior`` (``None``: ``N(0, I)``) mapped to
    ``x = mean + chol y`` (``chol``'s dtype) and their log importance weights ``log q - log prior``
    for the target whitened that way, non-finite ones as they come. One compiled program per
    ``potential_fn``, ``num`` and shapes serves the candidates' scores
    (:func:`proposal_log_weights`) and the draws of a base used as the proposal."""
    # N(0, I) as a one-component mixture, without the labels (unused here): one compiled program
    # scores N(0, I) and a one-component (Laplace) candidate alike.
    no_labels = jnp.asarray(np.zeros(0, np.int32))
    prior = standard(mean.shape[0]) if prior is None else prior._replace(labels=no_labels)
    return _draws_and_log_weights(potential_fn, num, mean, chol, prior, rng_key)


def standard(dim: int) -> GaussianMixture:
    """``N(0, I)`` as a one-component :class:`GaussianMixture` without labels."""
    eye = jnp.asarray(np.eye(dim, dtype=np.float32)[None])
    return GaussianMixture(jnp.asarray(np.zeros((1, dim), np.float32)), eye, jnp.asarray(np.zeros(1, np.float32)),
                           jnp.asarray(np.zeros(0, np.int32)), eye)


@partial(jit_once, static_argnums=(0, 1))
def _draws_and_log_weights(potential_fn, num, mean, chol, prior, rng_key):
    y = sample(prior, rng_key, num, mean.shape[0]).astype(chol.dtype)
    # x as whitened_log_q maps y (XLA computes the product once).
    return mean + y @ chol.T, whitened_log_q(potential_fn, mean, chol)(y) - jax.vmap(
        lambda z: log_prob(prior, z))(y.astype(jnp.float32)).astype(chol.dtype)
