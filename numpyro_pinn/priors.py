"""Base distributions ("priors") of the ODE transport, in whitened coordinates.

The default prior is ``N(0, I)``, represented by ``None`` everywhere (a fast path). For targets
with several well-separated modes, :func:`mode_mixture` builds a Gaussian mixture with one
component per mode found by the warm start: the transport then only reshapes each component
locally and never has to split one Gaussian into many narrow modes, which the PINN learns slowly.
The method allows any prior whose log density and draws
are available (PINN-sampling paper, section 2); the importance weights stay exact.
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax

from numpyro_pinn.gaussian import gaussian_log_pdf, psd_inverse_chol, std_normal_log_prob
from numpyro_pinn.warmstart import find_mode

__all__ = ["GaussianMixture", "mode_mixture", "draw_mixture", "path_components", "refine", "fit_skew", "reweight",
           "log_prob", "sample", "proposal_log_weights"]


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
            _component_log_prob(self.means, self.inv_chols, self.skews, y, self.dfs) + self.log_weights)

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


def _stratified(means, chols, skews, z):
    """``z`` ``(K, n, d)`` standard normal draws mapped through each component: ``(K, n, d)``."""
    u = z if skews is None else _skew(z, skews[:, None, :])
    return means[:, None, :] + jnp.einsum("kij,knj->kni", chols, u)


def _component_log_prob(means, inv_chols, skews, y, dfs=None):
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


def _climb(potential_fn: Callable, x: jax.Array, climb_batch: int, max_seconds: Optional[float],
           block: int = 64):
    """Newton climbs from each row of ``x`` (:func:`numpyro_pinn.warmstart.find_mode`, at most 100
    iterations each) in jitted blocks of ``block`` points taken in a random order, until done or
    ``max_seconds`` have passed: ``(rows, modes, hessians, iterations)`` of the climbs made, the
    rows of ``x`` climbed from in increasing order."""
    from numpyro_pinn.stages import Deadline, report

    deadline = Deadline.after(max_seconds)
    n = x.shape[0]
    block = max(block, climb_batch)
    climb = lambda x0: find_mode(potential_fn, x0, max_iter=100)
    run = jax.jit(lambda xb: jax.lax.map(climb, xb, batch_size=climb_batch))
    order = np.random.default_rng(0).permutation(n)
    done, outs = [], []
    for start in range(0, n, block):
        idx = order[start:start + block]
        padded = np.concatenate([idx, np.full(block - len(idx), idx[-1])]) if n > block else idx
        outs.append(jax.tree_util.tree_map(lambda a: np.asarray(a)[: len(idx)], run(x[padded])))
        done.append(idx)
        report(mode_climbs=f"{start + len(idx)}/{n}")
        if deadline.passed() and start + block < n:
            warnings.warn(f"The mode search used up its time budget ({max_seconds:g} s) after {start + len(idx)} of "
                          f"{n} climbs; the base distribution is built from those.", RuntimeWarning, stacklevel=4)
            break
    done = np.concatenate(done)
    back = np.argsort(done)
    modes, hessians, iters = (np.concatenate(parts)[back] for parts in zip(*outs))
    return np.sort(done), jnp.asarray(modes), jnp.asarray(hessians), jnp.asarray(iters)


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
        r = jax.nn.softmax(_component_log_prob(prior.means, prior.inv_chols, prior.skews, y, prior.dfs)
                           + prior.log_weights)
        return jnp.einsum("k,kij->ij", r, prior.chols) / typical

    return scale


def sample(prior: Optional[GaussianMixture], rng_key: jax.Array, num: int, dim: int) -> jax.Array:
    """``num`` draws ``(num, dim)`` from the prior (``None``: ``N(0, I)``), float32."""
    if prior is None:
        return jax.random.normal(rng_key, (num, dim), dtype=jnp.float32)
    k1, k2 = jax.random.split(rng_key)
    labels = jax.random.categorical(k1, prior.log_weights, shape=(num,))
    return prior.sample_components(k2, labels)


def mode_mixture(
    potential_fn: Callable,
    mean: jax.Array,
    chol: jax.Array,
    draws: jax.Array,
    rng_key: Optional[jax.Array] = None,
    max_draws: int = 1024,
    merge_tol: float = 0.05,
    min_weight: float = 0.002,
    refine_iters: int = 6,
    refine_draws: int = 512,
    max_components: int = 64,
    barrier: float = 2.0,
    continuum: str = "none",
    return_evals: bool = False,
    climb_batch: Optional[int] = None,
    max_seconds: Optional[float] = 300.0,
):
    """A Gaussian mixture prior with one component per mode of the warm-start draws.

    ``max_draws`` evenly spaced warm-start draws each climb to its local mode by damped Newton
    (:func:`numpyro_pinn.warmstart.find_mode`); modes closer than ``merge_tol`` (whitened units) are
    merged, and so are modes joined by a straight segment along which ``-log q`` never rises more
    than ``barrier`` nats above the higher of the two (points on a ridge or a ring of maxima). Each
    component has the mean and covariance of the draws that climbed to it (the
    Laplace covariance at its mode when it holds too few draws for an empirical covariance);
    components holding under ``min_weight`` of the draws are folded into the nearest one. Weights,
    means and covariances are then fitted to the target by :func:`refine` (``refine_iters``
    importance-sampling EM steps, ``refine_draws`` draws per component and step); the fractions of
    warm-start draws are the fallback if that fails (they carry the warm start's mode-weight
    error, and a few dozen draws per mode give a noisy covariance).

    ``continuum="draws"``: when the climbs end at more than ``max_components`` distinct points (a
    ring or a ridge of maxima rather than separate modes) and no mode mixture results, return
    :func:`draw_mixture` fitted to the draws instead of ``None`` (``PINNSampler(prior="auto")``).

    ``climb_batch`` climbs run side by side (vectorised), the batches one after another; ``None``
    (default) means one at a time on a CPU, where wider batches have deadlocked XLA's runtime on
    Gaussian-process potentials, and 256 on accelerators. The climbs run in jitted blocks, in a
    random order; between blocks Ctrl-C is seen and the wall-clock budget ``max_seconds``
    (``None``: none) is checked: when it runs out, the draws climbed so far decide, with a warning.

    Returns
    -------
    GaussianMixture or None
        ``None`` when the draws have a single mode, or more than ``max_components`` (a continuum of
        maxima rather than separate modes) with ``continuum="none"``: the default ``N(0, I)`` prior
        is then kept. With ``return_evals=True``, ``(mixture or None, num_evals)``: the points at
        which the target, its gradient or its Hessian was evaluated (a Newton iteration counts
        ``d + 2``, as for the Laplace warm start), climbs, barrier checks and refinement together.
    """
    if continuum not in ("none", "draws"):
        raise ValueError(f"`continuum` must be 'none' or 'draws'; got {continuum!r}.")

    d = mean.shape[0]
    draws = jnp.asarray(draws)
    sub = np.unique(np.linspace(0, len(draws) - 1, min(max_draws, len(draws))).astype(int))
    x = draws[sub]  # evenly spaced: user draws concatenated by chain are all represented
    # XLA's CPU runtime has deadlocked (idle, never returning) on wide batches of these climbs,
    # whose Hessians batch many LAPACK calls (Gaussian-process potentials; CHANGELOG.md). One
    # climb at a time never did; it costs little on a CPU (CHANGELOG.md).
    if climb_batch is None:
        climb_batch = 1 if jax.default_backend() == "cpu" else 256
    if not isinstance(climb_batch, (int, np.integer)) or climb_batch < 1:
        raise ValueError(f"`climb_batch` must be a positive integer or None; got {climb_batch!r}.")
    rows, modes, hessians, iters = _climb(potential_fn, x, climb_batch, max_seconds)
    sub, x = sub[rows], x[rows]
    evals = int(np.sum(np.asarray(iters) + 1)) * (d + 2)
    out = lambda mix: (mix, evals) if return_evals else mix
    to_y = lambda a: np.asarray(jax.scipy.linalg.solve_triangular(chol, (a - mean).T, lower=True).T)
    my, xy = to_y(modes), to_y(x)
    ok = np.all(np.isfinite(my), axis=1)
    centres: list = []
    labels = np.full(len(my), -1)
    for i in np.flatnonzero(ok):
        dist = [np.linalg.norm(my[i] - c) for c in centres]
        if dist and min(dist) < merge_tol:
            labels[i] = int(np.argmin(dist))
        else:
            centres.append(my[i])
            labels[i] = len(centres) - 1
    many = len(centres) > max_components

    def no_modes():  # one mode, or a continuum of maxima
        if continuum == "draws" and many:
            mix, n = draw_mixture(potential_fn, mean, chol, draws, rng_key=rng_key, max_components=max_components,
                                  return_evals=True)
            return (mix, evals + n) if return_evals else mix
        return out(None)

    if len(centres) < 2:
        return out(None)
    centres = np.asarray(centres)
    counts = np.bincount(labels[labels >= 0], minlength=len(centres))
    keep = counts >= max(min_weight * ok.sum(), 1)
    if keep.sum() < 2 or keep.sum() > max_components:
        return no_modes()  # one mode, or a continuum of maxima (a ridge, a ring) rather than separate modes
    # Modes joined by a path without a barrier of `barrier` nats are one mode (ridge, plateau).
    idx = np.flatnonzero(keep)
    root = _merge_without_barrier(potential_fn, mean, chol, centres[idx], barrier)
    evals += len(idx) * (len(idx) - 1) // 2 * 9 + len(idx)  # 9 points per segment, and the ends
    for k, r in zip(idx, root):
        if idx[r] != k:
            labels[labels == k] = idx[r]
            keep[k] = False
    if keep.sum() < 2:
        return no_modes()
    # Draws whose climb failed or whose mode was dropped go to the nearest kept centre.
    kept = np.flatnonzero(keep)
    remap = {int(k): j for j, k in enumerate(kept)}
    near = np.argmin(((xy[:, None, :] - centres[kept][None]) ** 2).sum(-1), axis=1)
    labels = np.array([remap.get(int(lab), int(near[i])) for i, lab in enumerate(labels)])
    means, chols, weights = [], [], []
    chol_np = np.asarray(chol)
    for j, k in enumerate(kept):
        members = xy[labels == j]
        if len(members) >= 2 * d + 2:
            m, cov = members.mean(0), np.cov(members.T).reshape(d, d)
        else:  # Laplace at the mode, in whitened coordinates: (L^T H L)^-1
            idx = np.flatnonzero(np.asarray(labels) == j)[0]
            h = chol_np.T @ np.asarray(hessians[idx]) @ chol_np
            m, cov = centres[k], np.linalg.inv(h + 1e-9 * np.eye(d))
        cov = 0.5 * (cov + cov.T) + 1e-6 * np.eye(d)
        means.append(m)
        chols.append(np.linalg.cholesky(cov))
        weights.append(np.sum(labels == j))
    w = np.asarray(weights, dtype=np.float64)
    log_w = np.log(w / w.sum())
    key = jax.random.PRNGKey(0) if rng_key is None else rng_key
    refined, _, n = _refine(_whitened_log_q(potential_fn, mean, chol), jnp.asarray(np.asarray(means), chol.dtype),
                            jnp.asarray(np.asarray(chols), chol.dtype),
                            jnp.asarray(log_w, chol.dtype), key, iters=refine_iters, draws_per_component=refine_draws)
    evals += n
    if refined is not None:
        means, chols, log_w = (np.asarray(a) for a in refined)
    # Every draw's component: its own climb where it made one, else the nearest component mean.
    all_y = to_y(draws)
    all_labels = np.argmin(((all_y[:, None, :] - np.asarray(means)[None]) ** 2).sum(-1), axis=1).astype(np.int32)
    all_labels[sub] = labels
    return out(_mixture(means, chols, log_w, all_labels))


def draw_mixture(
    potential_fn: Callable,
    mean: jax.Array,
    chol: jax.Array,
    draws: jax.Array,
    num_components: Union[int, str] = "auto",
    rng_key: Optional[jax.Array] = None,
    em_iters: int = 100,
    refine_iters: int = 30,
    refine_draws: int = 512,
    max_components: int = 160,
    search_max_components: int = 64,
    search_iters: int = 4,
    min_gain: float = 0.02,
    path_points: int = 64,
    path_beyond: int = 24,
    path_spacing: float = 0.5,
    path_weight: float = 0.2,
    return_evals: bool = False,
    max_seconds: Optional[float] = 300.0,
):
    """A Gaussian mixture prior fitted to the warm-start draws, for targets with one mode that is
    far from Gaussian (``prior="draws"``).

    ``num_components`` full-covariance components are fitted to the whitened draws by EM (starting
    from randomly chosen draws), then to the target itself by :func:`refine` (mixture population
    Monte Carlo), which also moves components into regions the draws under-represent. Each draw is
    labelled with its most responsible component. On a funnel, a few components are a far better
    proposal than one Gaussian, and the transport then only corrects them.

    With ``num_components="auto"`` (default) the number is chosen by the target itself: ``K = 1, 2,
    4, ...`` up to ``search_max_components`` (and ``max_components``, and at most one component
    per ``2 d + 2`` draws), each fitted by EM and ``search_iters`` refinement steps and scored by
    ``E_mix[log q - log mix]`` (``log Z`` minus the reverse KL divergence, on fresh draws); the
    search stops once doubling ``K`` gains
    less than ``min_gain`` nats, and the best mixture is refined further. A ring of maxima needs
    many components where a funnel needs few.

    Where the target's mode lies far from the draws (more than a local standard deviation), the
    draws can miss the region between them: a funnel's mode is deep in its neck, where a quarter of
    its mass lies and the warm start's draws do not reach. Up to ``path_points`` Gaussian components
    along the way from the draws' mean to the mode, ``path_spacing`` local standard deviations
    apart, and up to ``path_beyond`` more past the mean on the far side (:func:`path_components`;
    fewer where the total would pass ``max_components``; total weight ``path_weight``) are then
    added to the fitted mixture before its final refinement; the components refinement leaves
    without weight are dropped, and the result is kept only if it scores higher than the mixture
    without them. ``path_points=0`` turns it off.

    The search over component counts stops at the wall-clock budget ``max_seconds`` (``None``:
    none), with a warning, keeping the best mixture so far.

    Returns
    -------
    GaussianMixture
        With ``return_evals=True``, ``(mixture, num_evals)``: the target evaluations of the
        refinement steps (the search's included).
    """
    if not 0.0 < path_weight < 1.0:
        raise ValueError(f"`path_weight` must be in (0, 1); got {path_weight!r}.")
    if not path_points >= 0:
        raise ValueError(f"`path_points` must be >= 0 (0: no path components); got {path_points!r}.")
    if not path_beyond >= 0:
        raise ValueError(f"`path_beyond` must be >= 0; got {path_beyond!r}.")
    if not path_spacing > 0:
        raise ValueError(f"`path_spacing` must be positive; got {path_spacing!r}.")
    d = mean.shape[0]
    key = jax.random.PRNGKey(0) if rng_key is None else rng_key
    y = jax.scipy.linalg.solve_triangular(chol, (jnp.asarray(draws) - mean).T, lower=True).T
    k_max = y.shape[0] // (2 * d + 2)
    if k_max < 1:
        raise ValueError(f"prior='draws' needs at least {2 * d + 2} warm-start draws; got {y.shape[0]}.")
    log_q = _whitened_log_q(potential_fn, mean, chol)
    if num_components == "auto":
        sizes = [k for k in 2 ** np.arange(0, 31) if k <= min(max_components, search_max_components, k_max)]
    elif isinstance(num_components, (int, np.integer)) and num_components >= 1:
        sizes = [int(min(num_components, k_max))]
    else:
        raise ValueError(f"`num_components` must be a positive integer or 'auto'; got {num_components!r}.")
    from numpyro_pinn.stages import Deadline, report

    deadline = Deadline.after(max_seconds)
    best, best_score, evals = None, -np.inf, 0
    for k in sizes:
        report(draws_mixture=f"{k} components")
        if best is not None and deadline.passed():
            warnings.warn(f"The draws mixture's search used up its time budget ({max_seconds:g} s) before trying "
                          f"{k} components; it keeps the best so far ({best[0].shape[0]}).", RuntimeWarning,
                          stacklevel=2)
            break
        key, k_em, k_ref = jax.random.split(key, 3)
        fit = _em_fit(y, k, k_em, em_iters)
        iters = search_iters if len(sizes) > 1 else refine_iters
        refined, score, n = _refine(log_q, *fit, k_ref, iters=iters, draws_per_component=refine_draws)
        evals += n
        if refined is None:
            refined = fit
        if best is not None and not score > best_score + min_gain:
            break
        best, best_score = refined, score
    if len(sizes) > 1 and refine_iters > search_iters:
        more, more_score, n = _refine(log_q, *best, key, iters=refine_iters - search_iters,
                                      draws_per_component=refine_draws)
        if more is not None:
            best, best_score = more, more_score
        evals += n
    path_points = min(path_points, max_components - best[0].shape[0])  # max_components bounds them all
    path_beyond = min(path_beyond, max_components - best[0].shape[0] - path_points)
    if path_points > 0 and refine_iters > 0:
        key, k_path = jax.random.split(key)
        extra, n = path_components(potential_fn, mean, chol, jnp.mean(jnp.asarray(draws), 0), path_points,
                                   beyond=path_beyond, spacing=path_spacing, return_evals=True)
        evals += n
        if extra is not None:
            m, c, lw = best
            lw_path = jnp.full((extra[0].shape[0],), np.log(path_weight / extra[0].shape[0]), lw.dtype)
            start = (jnp.concatenate([m, extra[0].astype(m.dtype)]), jnp.concatenate([c, extra[1].astype(c.dtype)]),
                     jnp.concatenate([lw + np.log1p(-path_weight), lw_path]))
            cand, score, n = _refine(log_q, *start, k_path, iters=refine_iters, draws_per_component=refine_draws)
            evals += n
            if cand is not None and score > best_score:
                m, c, lw = (np.asarray(a) for a in cand)
                keep = lw > np.log(1e-6)  # drop the components the refinement left without weight
                best = (m[keep], c[keep], lw[keep] - float(jax.scipy.special.logsumexp(lw[keep])))
    means, chols, log_w = best
    mix = _mixture(means, chols, log_w, jnp.argmax(gaussian_log_pdf(means, chols, y) + log_w, axis=1))
    return (mix, evals) if return_evals else mix


def path_components(potential_fn: Callable, mean: jax.Array, chol: jax.Array, start: jax.Array,
                    max_points: int = 32, beyond: int = 3, slice_iters: int = 20, smooth_iters: int = 8,
                    smooth_draws: int = 32, spacing: float = 1.0, return_evals: bool = False):
    """Gaussian components along the line from ``start`` to the mode above it, in whitened
    coordinates (``x = mean + chol y``).

    The mode is found by :func:`numpyro_pinn.warmstart.find_mode` from ``start``. Each point is
    moved, by at most ``slice_iters`` Newton steps (:func:`numpyro_pinn.warmstart.find_mode` in the
    hyperplane through it orthogonal to the segment), to the potential's minimum within that
    hyperplane: on a funnel the straight segment from an off-axis start leaves the neck, the slice
    minima stay on its axis. Its covariance is ``|H|^{-1}`` (eigenvalues floored as in the Laplace
    warm start) for ``H`` the potential's Hessian averaged over the component itself, iterated
    ``smooth_iters`` times from the Hessian at the point (``smooth_draws`` common draws; half
    steps in the matrix logarithm, as the plain iteration oscillates): the fixed point of a
    Gaussian variational fit centred there. At a slice minimum the Hessian misses the curvature
    the component's own spread brings in: on a funnel it gives the neck a width of 3 along its
    axis, where the averaged Hessian gives 0.47 and makes the mixture's steps fine enough. Points
    are placed ``spacing`` local standard deviations apart along the segment
    (``spacing / sqrt(u^T H u)`` for the unit direction ``u``), at most ``max_points``, the mode
    excluded. If there is at least one point, up to ``beyond`` more continue the line past
    ``start``, away from the mode, the same way: the draws' bulk can sit between a mode and a heavy
    tail. On a funnel they run down its neck with shrinking widths and up into its mouth with
    growing ones; a target whose mode is within a standard deviation of ``start`` gets none.

    Returns
    -------
    tuple or None
        ``(means (P, d), chols (P, d, d))`` in whitened coordinates, or ``None`` when there are no
        points (or the mode search failed). With ``return_evals=True``, ``(that, num_evals)``.
    """

    d = mean.shape[0]
    mode, _, it = jax.jit(lambda x0: find_mode(potential_fn, x0))(jnp.asarray(start, chol.dtype))
    hess = jax.jit(jax.hessian(potential_fn))
    evals = (int(it) + 1) * (d + 2)
    out = lambda r: (r, evals) if return_evals else r
    total = float(jnp.linalg.norm(mode - start))
    if not np.isfinite(total) or total == 0.0:
        return out(None)
    u = (mode - start) / total
    # An orthonormal basis of the hyperplane orthogonal to u: each point is moved to the potential's
    # minimum within its slice, so that the path follows the density's ridge (a funnel's axis)
    # rather than the straight line, which leaves a narrow neck.
    basis = jnp.linalg.qr(jnp.concatenate([u[:, None], jnp.eye(d, dtype=u.dtype)], 1))[0][:, 1:d]
    on_ridge = jax.jit(lambda x: find_mode(lambda c: potential_fn(x + basis @ c), jnp.zeros(d - 1, x.dtype),
                                           slice_iters))
    eps = jax.random.normal(jax.random.PRNGKey(0), (smooth_draws, d), chol.dtype)

    @jax.jit
    def smoothed(x, h):
        # The expected Hessian under the component's own Gaussian, iterated to a fixed point (the
        # stationarity condition of a Gaussian variational fit centred at x): at a slice minimum the
        # Hessian misses the coupling that the component's spread brings in (a funnel's width in v
        # shrinks from 3 to 0.47 once the x-spread is counted).
        # The plain iteration oscillates (a wide component sees a steep Hessian, a narrow one a flat
        # one); half steps in the matrix logarithm (log-Euclidean mean of old and new) converge.
        def logm(h):
            e, v = jnp.linalg.eigh(0.5 * (h + h.T))
            return (v * jnp.log(jnp.clip(jnp.abs(e), 1e-6, 1e12))) @ v.T

        def one(h, _):
            c = psd_inverse_chol(h)[0]
            hz = jax.vmap(hess)(x + eps @ c.T)
            hz = jnp.mean(jnp.where(jnp.all(jnp.isfinite(hz), (1, 2))[:, None, None], hz, 0.0), 0)
            e, v = jnp.linalg.eigh(0.5 * (logm(h) + logm(hz)))
            new = (v * jnp.exp(e)) @ v.T
            return jnp.where(jnp.all(jnp.isfinite(new)), 0.5 * (new + new.T), h), None
        return jax.lax.scan(one, h, None, smooth_iters)[0]

    h0 = hess(start)
    evals += d + 2
    if smooth_iters > 0 and smooth_draws > 0:
        h0 = smoothed(start, h0)
        evals += smooth_iters * smooth_draws * (d + 2)

    def walk(direction, limit, num):
        nonlocal evals
        pts, hs, walked, h = [], [], 0.0, h0
        while len(pts) < num:
            curv = float(direction @ h @ direction)
            if not (np.isfinite(curv) and curv > 0):
                break
            walked += spacing / np.sqrt(curv)
            if walked >= limit:
                break
            x = start + walked * direction
            if d > 1 and slice_iters > 0:
                c, _, it = on_ridge(x)
                evals += (int(it) + 1) * (d + 1)
                x = jnp.where(jnp.all(jnp.isfinite(c)), x + basis @ c, x)
            h = hess(x)
            evals += d + 2
            if smooth_iters > 0 and smooth_draws > 0:
                h = smoothed(x, h)
                evals += smooth_iters * smooth_draws * (d + 2)
            pts.append(x)
            hs.append(h)
        return pts, hs

    pts, hs = walk(u, total, max_points)
    if not pts:
        return out(None)
    more, more_h = walk(-u, np.inf, beyond)
    pts, hs = jnp.stack(pts + more), jnp.stack(hs + more_h)
    hy = jnp.einsum("ji,pjk,kl->pil", chol, hs, chol)  # chol^T H chol: the Hessian in whitened coordinates
    chols = jax.vmap(lambda h: psd_inverse_chol(h)[0])(hy)
    means = jax.scipy.linalg.solve_triangular(chol, (pts - mean).T, lower=True).T
    ok = np.asarray(jnp.all(jnp.isfinite(chols), axis=(1, 2)) & jnp.all(jnp.isfinite(means), axis=1))
    if not ok.any():
        return out(None)
    return out((means[ok], chols[ok]))


def proposal_log_weights(potential_fn: Callable, mean: jax.Array, chol: jax.Array, prior: Optional[GaussianMixture],
                         rng_key: jax.Array, num: int = 2048) -> np.ndarray:
    """Log importance weights ``log q - log prior`` (unnormalised ``q``) of ``num`` fresh draws of
    ``prior`` (``None``: ``N(0, I)``) as a proposal for the target whitened by ``x = mean + chol y``
    (``num`` target evaluations); non-finite weights become ``-inf``."""
    d = mean.shape[0]
    y = sample(prior, rng_key, num, d)
    lw = _whitened_log_q(potential_fn, mean, chol)(y.astype(chol.dtype)) - jax.vmap(
        lambda z: log_prob(prior, z))(y).astype(chol.dtype)
    lw = np.asarray(lw, dtype=np.float64)
    return np.where(np.isfinite(lw), lw, -np.inf)


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
    log_q = _whitened_log_q(potential_fn, mean, chol)
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
        flat = _stratified(p["means"], l, p["skews"], z).reshape(-1, d)
        lmix = jax.vmap(lambda yy: jax.scipy.special.logsumexp(
            _component_log_prob(p["means"], inv, p["skews"], yy) + log_w))(flat)
        lq = log_q(flat)
        v = jnp.where(jnp.isfinite(lq), lq - lmix, -1e30).reshape(k, -1)
        return jnp.sum(w * jnp.mean(v, axis=1))

    opt = optax.adam(optax.cosine_decay_schedule(learning_rate, max(steps, 1), alpha=0.05))

    # Blocks of at most 50 steps (equal lengths, the surplus masked): Ctrl-C and the time budget
    # are seen between them.
    n_blocks = max(1, -(-steps // 50))
    length = max(1, -(-steps // n_blocks))

    @jax.jit
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
    score = jax.jit(objective)
    before, after = float(score(init, z)), float(score(fitted, z))
    evals = done * k * draws_per_component + 2 * k * eval_draws
    out = mixture
    if np.isfinite(after) and after > before and all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(fitted)):
        l, _ = unpack(fitted)
        out = _mixture(fitted["means"], l, mixture.log_weights, mixture.labels, skews=fitted["skews"])
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
    ``1 / sum_k m_k^2 / w_k`` for true mode masses ``m_k``. The new weights are kept only if they raise the importance-sampling estimate of
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
    log_q = _whitened_log_q(potential_fn, mean, chol)
    lse = jax.scipy.special.logsumexp

    @jax.jit
    def draws(key, mix):  # the mixture as an argument: closed over, XLA would fold its arrays as constants
        eps = jax.random.normal(key, (k, draws_per_component, d), jnp.float32)
        y = _stratified(mix.means, mix.chols, mix.skews, eps).reshape(-1, d)
        lc = jax.vmap(lambda yy: _component_log_prob(mix.means, mix.inv_chols, mix.skews, yy))(y)
        lq = log_q(y.astype(chol.dtype)).astype(jnp.float32)
        lwt = jnp.where(jnp.isfinite(lq), lq - (lse(lc, axis=1) - jnp.log(k)), -jnp.inf)
        return lc, jnp.exp(lwt - lse(lwt))  # component log densities (n, K), normalised IS weights (n,)

    def objective(lc, wn, log_w):  # IS estimate of E_q[log mix] (up to a constant)
        return jnp.sum(jnp.where(wn > 0, wn * lse(lc + log_w, axis=1), 0.0))

    @jax.jit
    def em(lc, wn, log_w):
        def step(lw, _):
            resp = jnp.exp(lc + lw - lse(lc + lw, axis=1, keepdims=True))
            new = jnp.log(jnp.sum(wn[:, None] * resp, axis=0))
            return new - lse(new), None

        return jax.lax.scan(step, log_w, None, length=iters)[0]

    k_fit, k_eval = jax.random.split(rng_key)
    old = jnp.asarray(mixture.log_weights, jnp.float32)
    old = old - lse(old)
    lc, wn = draws(k_fit, mixture)
    new = em(lc, wn, old)
    lc2, wn2 = draws(k_eval, mixture)
    evals = 2 * k * draws_per_component
    out = mixture
    ok = bool(jnp.all(jnp.isfinite(new))) and bool(jnp.all(jnp.isfinite(wn2)))
    if ok and float(objective(lc2, wn2, new)) > float(objective(lc2, wn2, old)):
        out = mixture._replace(log_weights=new)
    return (out, evals) if return_evals else out


def _em_fit(y: jax.Array, k: int, rng_key: jax.Array, iters: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``k`` full-covariance Gaussians fitted to the points ``y`` by ``iters`` EM steps, started at
    ``k`` random points with the points' covariance; ``(means, chols, log_weights)``."""
    d = y.shape[1]
    lse = jax.scipy.special.logsumexp
    eye = jnp.eye(d, dtype=y.dtype)

    def em_step(_, c):
        means, chols, log_w = c
        lr = gaussian_log_pdf(means, chols, y) + log_w
        r = jnp.exp(lr - lse(lr, 1, keepdims=True))
        nk = jnp.sum(r, 0) + 1e-9
        means = (r.T @ y) / nk[:, None]
        cov = jax.vmap(lambda rk, m, n: ((rk[:, None] * (y - m)).T @ (y - m)) / n)(r.T, means, nk)
        return means, jnp.linalg.cholesky(cov + 1e-6 * eye), jnp.log(nk / jnp.sum(nk))

    start = y[jax.random.choice(rng_key, y.shape[0], (k,), replace=False)]
    init = (start, jnp.broadcast_to(jnp.linalg.cholesky(jnp.cov(y.T).reshape(d, d) + 1e-6 * eye), (k, d, d)),
            jnp.full((k,), -jnp.log(k), y.dtype))
    return jax.jit(lambda c: jax.lax.fori_loop(0, iters, em_step, c))(init)


def _whitened_log_q(potential_fn, mean, chol) -> Callable:
    """The target's log density (up to a constant) of whitened points ``y`` (``x = mean + chol y``),
    vectorised: ``(n, d) -> (n,)``."""
    ldet = jnp.sum(jnp.log(jnp.abs(jnp.diag(chol))))
    return lambda y: -jax.vmap(potential_fn)(mean + y @ chol.T) + ldet


def _mixture(means, chols, log_w, labels, skews=None) -> GaussianMixture:
    """A float32 :class:`GaussianMixture` with its inverse Cholesky factors."""
    f32 = lambda a: jnp.asarray(np.asarray(a), jnp.float32)
    return GaussianMixture(f32(means), f32(chols), f32(log_w), jnp.asarray(np.asarray(labels), jnp.int32),
                           f32(np.linalg.inv(np.asarray(chols))), None if skews is None else f32(skews))


def _merge_without_barrier(potential_fn, mean, chol, centres_y, barrier: float, num_points: int = 9) -> np.ndarray:
    """Union-find over modes: ``root[k]`` is the representative of mode ``k``'s group, where two
    modes are joined when the potential along the segment between them stays below
    ``max(U_a, U_b) + barrier``."""
    k = len(centres_y)
    i, j = np.triu_indices(k, 1)
    ts = np.linspace(0.0, 1.0, num_points + 2)[1:-1]
    cy = np.asarray(centres_y, dtype=np.float64)
    seg = cy[i][:, None, :] * (1 - ts)[None, :, None] + cy[j][:, None, :] * ts[None, :, None]
    to_x = lambda y: mean + jnp.asarray(y, chol.dtype) @ chol.T
    u = jax.jit(jax.vmap(potential_fn))
    u_seg = np.asarray(u(to_x(seg.reshape(-1, cy.shape[1])))).reshape(len(i), num_points)
    u_end = np.asarray(u(to_x(cy)))
    u_seg = np.where(np.isfinite(u_seg), u_seg, np.inf)
    joined = np.max(u_seg, axis=1) < np.maximum(u_end[i], u_end[j]) + barrier
    root = np.arange(k)

    def find(a):
        while root[a] != a:
            a = root[a]
        return a

    for a, b in zip(i[joined], j[joined]):
        ra, rb = find(a), find(b)
        if ra != rb:
            root[max(ra, rb)] = min(ra, rb)
    return np.array([find(a) for a in range(k)])


def refine(
    log_q: Callable, means: jax.Array, chols: jax.Array, log_weights: jax.Array, rng_key: jax.Array,
    iters: int = 6, draws_per_component: int = 512,
) -> Optional[tuple[jax.Array, jax.Array, jax.Array]]:
    """Fit a Gaussian mixture to the unnormalised density ``exp(log_q)`` by importance-sampling EM.

    Each step is one step of mixture population Monte Carlo (Cappe et al., 2008): draw
    ``max(draws_per_component, 16 d)`` points from every component, weight them by
    ``q / (mean of the components)``, and set the weights, means and covariances to the
    responsibility-weighted moments, which lowers ``KL(q || mixture)``. Each component's new moments
    are shrunk towards its old ones by ``n_k / (n_k + d (d + 1) / 2)``, with ``n_k`` its effective
    number of draws (a covariance has ``d (d + 1) / 2`` entries to estimate). Each step proposes two
    candidates, this full update and one that changes only the weights (in high dimension the
    covariance estimates are too noisy to help, while the weights still carry the warm start's
    mode-weight error); each is scored on fresh draws from it by ``E_mix[log q - log mix]`` (``log Z``
    minus the reverse KL divergence), the next step starts from the better, and the best mixture
    seen, the initial one included, is returned, so refining never makes the prior worse by that
    measure.

    Parameters
    ----------
    log_q
        Vectorised log density (up to a constant), ``(n, d) -> (n,)``; non-finite values count as 0.
    means, chols, log_weights
        The initial mixture: ``(K, d)``, ``(K, d, d)`` lower Cholesky factors, ``(K,)``.
    rng_key
        PRNG key.

    Returns
    -------
    tuple or None
        ``(means, chols, log_weights)`` of the best mixture, or ``None`` if no estimate was finite.
    """
    return _refine(log_q, means, chols, log_weights, rng_key, iters, draws_per_component)[0]


def _refine(log_q, means, chols, log_weights, rng_key, iters=6, draws_per_component=512):
    """:func:`refine`, returning ``(best mixture or None, its score, target evaluations)``."""
    k, d = means.shape
    n_k = max(draws_per_component, 16 * d)
    nu = 0.5 * d * (d + 1)
    lse = jax.scipy.special.logsumexp

    @jax.jit
    def step(key, means, chols, log_w):
        eps = jax.random.normal(key, (k, n_k, d), means.dtype)
        y = (means[:, None, :] + jnp.einsum("kij,knj->kni", chols, eps)).reshape(-1, d)
        lc = gaussian_log_pdf(means, chols, y)  # (n, K)
        log_prop = lse(lc, 1) - jnp.log(k)  # equal draws from every component
        log_mix = lse(lc + log_w, 1)
        lq = log_q(y)
        lq = jnp.where(jnp.isfinite(lq), lq, -jnp.inf)
        lwt = lq - log_prop
        # E_mix[log q - log mix] = log Z - KL(mix || q), estimated with the weights mix / prop (bounded).
        r = jnp.exp(log_mix - log_prop)
        score = jnp.sum(jnp.where(r > 0, r * (lq - log_mix), 0.0)) / jnp.sum(r)
        lw = lwt[:, None] + lc + log_w - log_mix[:, None]  # weight x responsibility, (n, K)
        wn = jnp.exp(lw - lse(lw, 0))
        n_eff = 1.0 / jnp.sum(wn**2, 0)
        mu = wn.T @ y

        def cov_of(a):
            w, m = a
            dy = y - m
            return (w[:, None] * dy).T @ dy

        cov = jax.lax.map(cov_of, (wn.T, mu))
        a = n_eff / (n_eff + nu)
        old = chols @ jnp.swapaxes(chols, 1, 2)
        cov = a[:, None, None] * cov + (1 - a[:, None, None]) * old
        cov = 0.5 * (cov + jnp.swapaxes(cov, 1, 2)) + 1e-9 * jnp.eye(d)
        new_log_w = lse(lw, 0) - lse(lwt)
        full = (a[:, None] * mu + (1 - a[:, None]) * means, jnp.linalg.cholesky(cov), new_log_w)
        return score, (full, (means, chols, new_log_w))

    finite = lambda c: all(bool(jnp.all(jnp.isfinite(a))) for a in c)
    best, best_score = None, -np.inf
    k0, *keys = jax.random.split(rng_key, iters + 1)
    score, cands = step(k0, means, chols, log_weights)
    calls = 1
    if np.isfinite(float(score)):
        best, best_score = (means, chols, log_weights), float(score)
    for key in keys:
        # Score both candidates of the last step (full update; new weights only) on fresh draws, move
        # to the better one and keep the best seen.
        scored = []
        for c, kc in zip(cands, jax.random.split(key, len(cands))):
            if finite(c):
                sc, nxt = step(kc, *c)
                calls += 1
                scored.append((float(sc), c, nxt))
        scored = [x for x in scored if np.isfinite(x[0])]
        if not scored:
            break
        score, cur, cands = max(scored, key=lambda x: x[0])
        if score > best_score:
            best, best_score = cur, score
    return best, best_score, calls * k * n_k
