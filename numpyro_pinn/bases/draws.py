"""The draws mixture: Gaussians fitted to the warm-start draws by EM, refined against the target
(mixture population Monte Carlo), with components along the paths into regions the draws miss."""
from __future__ import annotations

import warnings
from functools import partial
from typing import Callable, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from numpyro_pinn.bases.mixture import make_mixture, whitened_log_q
from numpyro_pinn.compiling import jit, jit_once
from numpyro_pinn.gaussian import gaussian_log_pdf, psd_inverse_chol, whiten
from numpyro_pinn.warmstart import compiled_find_mode, find_mode
from numpyro_pinn.validation import all_finite, check_count, check_positive

__all__ = ["draw_mixture", "path_components", "refine", "refine_steps", "REFINE_WINDOW", "REFINE_MIN_GAIN"]

#: With ``refine_min_gain``, :func:`draw_mixture`'s refinements stop early once the mean score of
#: the last :data:`REFINE_WINDOW` iterations is not that many nats above the mean of the window
#: before; :data:`REFINE_MIN_GAIN` is a value to pass (the scores of a mixture that no longer
#: improves scatter by a few hundredths of a nat from draw to draw).
REFINE_WINDOW = 4
REFINE_MIN_GAIN = 0.02
#: :func:`draw_mixture`'s search fits its component counts up to this one padded to it (the
#: components beyond ``K`` without weight, the draws of a step shared out among the ``K``): one
#: compiled EM and refinement program for them all instead of one per count.
SEARCH_PAD = 8


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
    refine_min_gain: Optional[float] = None,
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
    where the total would pass ``max_components``, the way to the mode gets its share of the room
    and the far side the rest; total weight ``path_weight``) are then added to the fitted mixture
    before its final refinement; the components refinement leaves without weight are dropped, and
    the result is kept only if it scores higher than the mixture without them. ``path_points=0``
    turns it off.

    The search over component counts stops at the wall-clock budget ``max_seconds`` (``None``:
    none), with a warning, keeping the best mixture so far. With ``refine_min_gain`` (nats; default
    ``None``: off) the longer refinements (the final one and the path components') stop before
    ``refine_iters`` once their score has stopped rising: the mean score of the last
    :data:`REFINE_WINDOW` iterations less than ``refine_min_gain`` above the window's before. It
    makes the mixture cheaper (fewer target evaluations) at some cost in its ESS, which the score,
    a reverse KL divergence, barely sees; pass it through a base's ``draw_options`` (e.g.
    ``Auto(draw_options={"refine_min_gain": 0.02})``) when the base stage is the cost that matters.

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
    if refine_min_gain is not None:
        check_positive("refine_min_gain", refine_min_gain, allow_zero=True)
    d = mean.shape[0]
    key = jax.random.PRNGKey(0) if rng_key is None else rng_key
    y = whiten(mean, chol, draws)
    k_max = y.shape[0] // (2 * d + 2)
    if k_max < 1:
        raise ValueError(f"prior='draws' needs at least {2 * d + 2} warm-start draws; got {y.shape[0]}.")
    log_q = whitened_log_q(potential_fn, mean, chol)
    compiled = {}  # the refinement's compiled steps by mixture shape: the final refinement reuses the search's
    if num_components == "auto":
        sizes = [k for k in 2 ** np.arange(0, 31) if k <= min(max_components, search_max_components, k_max)]
    elif isinstance(num_components, (int, np.integer)) and num_components >= 1:
        sizes = [int(min(num_components, k_max))]
    else:
        raise ValueError(f"`num_components` must be a positive integer or 'auto'; got {num_components!r}.")
    from numpyro_pinn.stages import Deadline, report

    deadline = Deadline.after(max_seconds)
    pad = min(SEARCH_PAD, sizes[-1]) if len(sizes) > 1 else None
    best, best_score, evals = None, -np.inf, 0
    for k in sizes:
        report(draws_mixture=f"{k} components")
        if best is not None and deadline.passed():
            warnings.warn(f"The draws mixture's search used up its time budget ({max_seconds:g} s) before trying "
                          f"{k} components; it keeps the best so far ({best[0].shape[0]}).", RuntimeWarning,
                          stacklevel=2)
            break
        key, k_em, k_ref = jax.random.split(key, 3)
        padded = pad is not None and k <= pad
        fit = _em_fit(y, k, k_em, em_iters, pad if padded else k)
        iters = search_iters if len(sizes) > 1 else refine_iters
        refined, score, n = refine_steps(log_q, *fit, k_ref, iters=iters, draws_per_component=refine_draws,
                                         compiled=compiled, min_gain=refine_min_gain, padded=padded)
        evals += n
        if refined is None:
            refined = fit
        if best is not None and not score > best_score + min_gain:
            break
        best, best_score = refined, score
    if len(sizes) > 1 and refine_iters > search_iters:
        more, more_score, n = refine_steps(log_q, *best, key, iters=refine_iters - search_iters,
                                           draws_per_component=refine_draws, compiled=compiled,
                                           min_gain=refine_min_gain, padded=best[0].shape[0] == pad)
        if more is not None:
            best, best_score = more, more_score
        evals += n
    best = _weighted(*best)  # without the padding
    # max_components bounds them all; where it binds, the way to the mode gets its share of the room
    # (the side past the start can hold much of the mass: a funnel's mouth, a hierarchical model's
    # other tail) and the far side whatever it leaves.
    room = max(max_components - best[0].shape[0], 0)
    if path_points + path_beyond > room:
        path_points = room * path_points // (path_points + path_beyond)
    if path_points > 0 and refine_iters > 0:
        key, k_path = jax.random.split(key)
        extra, n = path_components(potential_fn, mean, chol, jnp.mean(jnp.asarray(draws), 0), path_points,
                                   beyond=path_beyond, spacing=path_spacing, max_total=room, return_evals=True)
        evals += n
        if extra is not None:
            m, c, lw = best
            lw_path = jnp.full((extra[0].shape[0],), np.log(path_weight / extra[0].shape[0]), lw.dtype)
            start = (jnp.concatenate([m, extra[0].astype(m.dtype)]), jnp.concatenate([c, extra[1].astype(c.dtype)]),
                     jnp.concatenate([lw + np.log1p(-path_weight), lw_path]))
            cand, score, n = refine_steps(log_q, *start, k_path, iters=refine_iters, draws_per_component=refine_draws,
                                          min_gain=refine_min_gain)
            evals += n
            if cand is not None and score > best_score:
                m, c, lw = (np.asarray(a) for a in cand)
                keep = lw > np.log(1e-6)  # drop the components the refinement left without weight
                best = (m[keep], c[keep], lw[keep] - float(scipy.special.logsumexp(lw[keep])))
    means, chols, log_w = best
    mix = make_mixture(means, chols, log_w, jnp.argmax(gaussian_log_pdf(means, chols, y) + log_w, axis=1))
    return (mix, evals) if return_evals else mix

def path_components(potential_fn: Callable, mean: jax.Array, chol: jax.Array, start: jax.Array,
                    max_points: int = 32, beyond: int = 3, slice_iters: int = 20, smooth_iters: int = 8,
                    smooth_draws: int = 32, spacing: float = 1.0, max_total: Optional[int] = None,
                    return_evals: bool = False):
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
    excluded. If there is at least one point, up to ``beyond`` more (and at most ``max_total``
    points in all) continue the line past ``start``, away from the mode, the same way: the draws'
    bulk can sit between a mode and a heavy tail. On a funnel they run down its neck with
    shrinking widths and up into its mouth with growing ones; a target whose mode is within a
    standard deviation of ``start`` gets none.

    Returns
    -------
    tuple or None
        ``(means (P, d), chols (P, d, d))`` in whitened coordinates, or ``None`` when there are no
        points (or the mode search failed). With ``return_evals=True``, ``(that, num_evals)``.
    """

    d = mean.shape[0]
    if max_total is not None:
        check_count("max_total", max_total, 0)
    # max_iter passed, not left to its default: the Laplace fit's compiled Newton loop is reused
    mode, _, it = compiled_find_mode(potential_fn, jnp.asarray(start, chol.dtype), 200)
    hess = jit_once(jax.hessian(potential_fn))
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
    on_ridge = jit_once(lambda x: find_mode(lambda c: potential_fn(x + basis @ c), jnp.zeros(d - 1, x.dtype),
                                           slice_iters))
    eps = jax.random.normal(jax.random.PRNGKey(0), (smooth_draws, d), chol.dtype)

    @jit_once
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
    more, more_h = walk(-u, np.inf, beyond if max_total is None else min(beyond, max_total - len(pts)))
    pts, hs = jnp.stack(pts + more), jnp.stack(hs + more_h)
    hy = jnp.einsum("ji,pjk,kl->pil", chol, hs, chol)  # chol^T H chol: the Hessian in whitened coordinates
    chols = jax.vmap(lambda h: psd_inverse_chol(h)[0])(hy)
    means = whiten(mean, chol, pts)
    ok = np.isfinite(np.asarray(chols)).all(axis=(1, 2)) & np.isfinite(np.asarray(means)).all(axis=1)
    if not ok.any():
        return out(None)
    return out((means[ok], chols[ok]))

def _em_fit(y: jax.Array, k: int, rng_key: jax.Array, iters: int,
            pad: Optional[int] = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``k`` full-covariance Gaussians fitted to the points ``y`` by ``iters`` EM steps, started at
    ``k`` random points with the points' covariance; ``(means, chols, log_weights)``. With ``pad``
    (at least ``k``) the arrays have ``pad`` components, those beyond ``k`` with log weight
    ``-inf``: one compiled program for every ``k`` up to ``pad``."""
    pad = k if pad is None else pad
    return _em(y, jnp.asarray(k, y.dtype), rng_key, iters, pad)


@partial(jit, static_argnums=(3, 4))
def _em(y, k, rng_key, iters, pad):
    """:func:`_em_fit` in one program (``k`` an argument: one program for every ``k`` up to
    ``pad``); components with log weight ``-inf`` stay without weight."""
    lse = jax.scipy.special.logsumexp
    d = y.shape[1]
    eye = jnp.eye(d, dtype=y.dtype)
    start = y[jax.random.choice(rng_key, y.shape[0], (pad,), replace=False)]
    init = (start, jnp.broadcast_to(jnp.linalg.cholesky(jnp.cov(y.T).reshape(d, d) + 1e-6 * eye), (pad, d, d)),
            jnp.where(jnp.arange(pad) < k, -jnp.log(k), -jnp.inf).astype(y.dtype))
    active = jnp.isfinite(init[2])

    def em_step(_, c):
        means, chols, log_w = c
        lr = gaussian_log_pdf(means, chols, y) + log_w
        r = jnp.exp(lr - lse(lr, 1, keepdims=True))
        nk = jnp.sum(r, 0) + 1e-9
        means = (r.T @ y) / nk[:, None]
        cov = jax.vmap(lambda rk, m, n: ((rk[:, None] * (y - m)).T @ (y - m)) / n)(r.T, means, nk)
        return means, jnp.linalg.cholesky(cov + 1e-6 * eye), jnp.where(active, jnp.log(nk / jnp.sum(nk)), -jnp.inf)

    return jax.lax.fori_loop(0, iters, em_step, init)


def _weighted(means, chols, log_w):
    """The mixture without its components of log weight ``-inf`` (a padded search's)."""
    keep = np.isfinite(np.asarray(log_w))
    return (means, chols, log_w) if keep.all() else (means[keep], chols[keep], log_w[keep])

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
    return refine_steps(log_q, means, chols, log_weights, rng_key, iters, draws_per_component)[0]

def refine_steps(log_q, means, chols, log_weights, rng_key, iters=6, draws_per_component=512,
                 compiled: Optional[dict] = None, min_gain: Optional[float] = None, padded: bool = False):
    """:func:`refine`, returning ``(best mixture or None, its score, target evaluations)``.
    ``compiled``: a dict in which calls with the same ``log_q`` keep their compiled step, so that
    a second refinement of a mixture of the same shape compiles nothing. ``min_gain``: stop before
    ``iters`` once the mean score of the last :data:`REFINE_WINDOW` iterations is less than this
    many nats above the mean of the window before (``None``: run all ``iters``). ``padded``: the
    components of log weight ``-inf`` are padding, not drawn from; each step's ``K x
    draws_per_component`` draws are shared out equally among the others (one compiled step for
    every number of them)."""
    k, d = means.shape
    n_k = max(draws_per_component, 16 * d)
    if compiled is not None and (k, n_k, padded) in compiled:
        return _refine_loop(compiled[(k, n_k, padded)], means, chols, log_weights, rng_key, iters, k * n_k, min_gain,
                            padded)
    nu = 0.5 * d * (d + 1)
    lse = jax.scipy.special.logsumexp
    # The (n, K) densities, responsibilities and moment sums in float32: they fit the mixture (about
    # half the time of float64 on a CPU); the importance weights' (n,) terms stay in the target's dtype.
    single = jnp.float32

    @jit
    def step(key, means, chols, log_w):
        dt = means.dtype
        lw_k = log_w.astype(single)
        if padded:  # draw i from the (i mod K')-th of the K' components with weight
            active = jnp.isfinite(log_w)
            k_on = jnp.sum(active)
            comp = jnp.argsort(~active, stable=True)[jnp.arange(k * n_k) % k_on]
            eps = jax.random.normal(key, (k * n_k, d), dt)
            y = jax.lax.fori_loop(0, k, lambda j, y: jnp.where((comp == j)[:, None], means[j] + eps @ chols[j].T, y),
                                  jnp.zeros_like(eps))
            lc = gaussian_log_pdf(means, chols, y, single)  # (n, K)
            log_prop = lse(jnp.where(active, lc, -jnp.inf), 1).astype(dt) - jnp.log(k_on)
        else:
            eps = jax.random.normal(key, (k, n_k, d), dt)
            y = (means[:, None, :] + jnp.einsum("kij,knj->kni", chols, eps)).reshape(-1, d)
            lc = gaussian_log_pdf(means, chols, y, single)  # (n, K)
            log_prop = lse(lc, 1).astype(dt) - jnp.log(k)  # equal draws from every component
        log_mix = lse(lc + lw_k, 1).astype(dt)
        lq = log_q(y)
        lq = jnp.where(jnp.isfinite(lq), lq, -jnp.inf)
        lwt = lq - log_prop
        # E_mix[log q - log mix] = log Z - KL(mix || q), estimated with the weights mix / prop (bounded).
        r = jnp.exp(log_mix - log_prop)
        score = jnp.sum(jnp.where(r > 0, r * (lq - log_mix), 0.0)) / jnp.sum(r)
        lw = (lwt - log_mix).astype(single)[:, None] + lc + lw_k  # weight x responsibility, (n, K)
        col = lse(lw, 0)
        wn = jnp.exp(lw - jnp.where(jnp.isfinite(col), col, 0.0))  # a padding component's: 0
        n_eff = jnp.where(jnp.isfinite(col), 1.0 / jnp.sum(wn**2, 0), 0.0).astype(dt)
        mu = (wn.T @ y.astype(single)).astype(dt)

        def cov_of(a):
            w, m = a
            dy = (y - m).astype(single)
            return ((w[:, None] * dy).T @ dy).astype(dt)

        cov = jax.lax.map(cov_of, (wn.T, mu))
        a = n_eff / (n_eff + nu)
        old = chols @ jnp.swapaxes(chols, 1, 2)
        cov = a[:, None, None] * cov + (1 - a[:, None, None]) * old
        cov = 0.5 * (cov + jnp.swapaxes(cov, 1, 2)) + 1e-9 * jnp.eye(d)
        new_log_w = col.astype(dt) - lse(lwt)
        full = (a[:, None] * mu + (1 - a[:, None]) * means, jnp.linalg.cholesky(cov), new_log_w)
        return score, (full, (means, chols, new_log_w))

    if compiled is not None:
        compiled[(k, n_k, padded)] = step
    return _refine_loop(step, means, chols, log_weights, rng_key, iters, k * n_k, min_gain, padded)


def _refine_loop(step, means, chols, log_weights, rng_key, iters, draws_per_step, min_gain=None, padded=False):
    """:func:`refine_steps`' iterations with the compiled ``step``."""
    if padded:  # the padding's log weights are -inf
        finite = lambda c: all_finite(c[0], c[1]) and not np.isnan(np.asarray(c[2])).any() and np.isfinite(
            np.asarray(c[2])).any()
    else:
        finite = lambda c: all_finite(*c)
    best, best_score = None, -np.inf
    # One key per iteration by fold_in: one small compiled program whatever ``iters`` (a split into
    # ``iters + 1`` keys compiles anew for each count).
    k0, keys = jax.random.fold_in(rng_key, 0), (jax.random.fold_in(rng_key, i) for i in range(1, iters + 1))
    score, cands = step(k0, means, chols, log_weights)
    calls = 1
    if np.isfinite(float(score)):
        best, best_score = (means, chols, log_weights), float(score)
    trace, w = [float(score) if np.isfinite(float(score)) else -np.inf], REFINE_WINDOW
    for key in keys:
        if min_gain is not None and len(trace) >= 2 * w and not (
                np.mean(trace[-w:]) >= np.mean(trace[-2 * w:-w]) + min_gain):
            break  # the score has stopped rising
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
        trace.append(score)
        if score > best_score:
            best, best_score = cur, score
    return best, best_score, calls * draws_per_step
