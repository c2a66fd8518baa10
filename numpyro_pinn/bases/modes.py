"""The mode mixture: one Gaussian component per separated mode that Newton climbs from the
warm-start draws find."""
from __future__ import annotations

import warnings
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from numpyro_pinn.compiling import jit, jit_once
from numpyro_pinn.bases.draws import draw_mixture, refine_steps
from numpyro_pinn.bases.mixture import make_mixture, whitened_log_q
from numpyro_pinn.gaussian import psd_inverse_chol
from numpyro_pinn.validation import check_count
from numpyro_pinn.warmstart import compiled_find_mode, find_mode

__all__ = ["mode_mixture", "ESCAPE_FACTOR", "SCATTERED", "RUN_OFF_CLIMBS", "PATIENCE"]

#: A climb that ends farther from the warm start's mean than this many times the farthest
#: warm-start draw (in whitened units) has escaped: it found no mode of the draws' region.
ESCAPE_FACTOR = 2.0
#: Escaped climbs have run off when their end points are scattered: more distinct points than this
#: fraction of them (climbs that converge to one far mode share its point).
SCATTERED = 0.25
#: The fewest climbs that can show a run-off (two blocks of 64).
RUN_OFF_CLIMBS = 128
#: :func:`mode_mixture`'s default ``patience``: the climbs stop once this many in a row have found
#: no new mode. A mode holding a fraction ``p`` of the draws is missed by that many climbs with
#: probability ``(1 - p)^192``: under 5% for ``p`` of 1.5% or more.
PATIENCE = 192


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
    one_mode: str = "none",
    return_evals: bool = False,
    return_kind: bool = False,
    climb_batch: Optional[int] = None,
    max_seconds: Optional[float] = 300.0,
    draw_options: Optional[dict] = None,
    patience: Optional[int] = PATIENCE,
):
    """A Gaussian mixture prior with one component per mode of the warm-start draws.

    Up to ``max_draws`` evenly spaced warm-start draws each climb to its local mode by damped
    Newton (:func:`numpyro_pinn.warmstart.find_mode`), in a random order, until ``patience``
    climbs in a row have ended at no new mode (``None``: all ``max_draws`` climb): a unimodal
    posterior then pays for a few hundred climbs, not a thousand, and modes holding under about
    1.5% of the draws may be missed (:data:`PATIENCE`); raise it, or pass ``None``, for many
    small modes. Modes closer than ``merge_tol`` (whitened units) are merged, and so are modes
    joined by a straight segment along which ``-log q`` never rises more than ``barrier`` nats
    above the higher of the two (points on a ridge or a ring of maxima). Each component has the
    mean and covariance of the draws that climbed to it (the Laplace covariance at its mode when
    it holds too few draws for an empirical covariance); components holding under ``min_weight``
    of the draws are folded into the nearest one. Weights, means and covariances are then fitted
    to the target by :func:`refine` (``refine_iters`` importance-sampling EM steps,
    ``refine_draws`` draws per component and step); the fractions of warm-start draws are the
    fallback if that fails (they carry the warm start's mode-weight error, and a few dozen draws
    per mode give a noisy covariance).

    ``continuum="draws"``: when the climbs end at more than ``max_components`` distinct points (a
    ring or a ridge of maxima rather than separate modes; the climbs stop as soon as they have,
    after a block from the second on, since more climbs cannot undo it) and no mode mixture
    results, return
    :func:`draw_mixture` fitted to the draws instead of ``None`` (``PINNSampler(prior="auto")``),
    with the keyword arguments ``draw_options`` (its ``max_components`` defaults to this one's).

    ``climb_batch`` climbs run side by side (vectorised), the batches one after another; ``None``
    (default) means one at a time on a CPU, where wider batches have deadlocked XLA's runtime on
    Gaussian-process potentials, and 256 on accelerators. The climbs run in jitted blocks, in a
    random order; between blocks Ctrl-C is seen and the wall-clock budget ``max_seconds``
    (``None``: none) is checked: when it runs out, the draws climbed so far decide, with a warning.

    Where the density keeps rising far beyond the draws without a finite mode (a heavy-tailed
    scale hyperprior such as ``kappa`` in NumPyro's baseball example), Newton runs off and each
    climb stops somewhere else. When more than half of the climbs end more than
    :data:`ESCAPE_FACTOR` times the farthest draw's distance from ``mean`` (whitened), at
    scattered points (:data:`SCATTERED`), they are treated as a continuum of maxima (as more than
    ``max_components`` distinct end points are), and the climbs stop as soon as that is so after
    a block (from the second block of 64 on) instead of all ``max_draws`` running off; fewer than
    :data:`RUN_OFF_CLIMBS` climbs never count as a run-off. A far mode that the climbs share
    (Neal's funnel's, deep in its neck) is no run-off.

    ``one_mode="laplace"``: when the climbs find one mode, return a one-component mixture, the
    Laplace approximation there (the climb's Hessian at its end), instead of ``None``: a candidate
    base for near-Gaussian posteriors, where it is exact and the warm-start draws' empirical
    covariance is not (``PINNSampler(base="auto")`` keeps it only if it beats ``N(0, I)``).

    Returns
    -------
    GaussianMixture or None
        ``None`` when the draws have a single mode (with ``one_mode="none"``), or more than
        ``max_components`` (a continuum of maxima rather than separate modes) with
        ``continuum="none"``: the default ``N(0, I)`` prior is then kept. With ``return_evals=True``, ``(mixture
        or None, num_evals)``: the points at
        which the target, its gradient or its Hessian was evaluated (a Newton iteration counts
        ``d + 2``, as for the Laplace warm start), climbs, barrier checks and refinement together.
        With ``return_kind=True``, one more element says what the mixture is: ``"modes"`` (one
        component per separated mode), ``"draws"`` (:func:`draw_mixture`'s, for a continuum),
        ``"laplace"`` (``one_mode="laplace"``'s component) or ``None``.
    """
    if continuum not in ("none", "draws"):
        raise ValueError(f"`continuum` must be 'none' or 'draws'; got {continuum!r}.")
    if one_mode not in ("none", "laplace"):
        raise ValueError(f"`one_mode` must be 'none' or 'laplace'; got {one_mode!r}.")

    d = mean.shape[0]
    draws = np.asarray(draws)  # host-side bookkeeping below: numpy, not an eager compile per operation
    sub = np.unique(np.linspace(0, len(draws) - 1, min(max_draws, len(draws))).astype(int))
    x = draws[sub]  # evenly spaced: user draws concatenated by chain are all represented
    # XLA's CPU runtime has deadlocked (idle, never returning) on wide batches of these climbs,
    # whose Hessians batch many LAPACK calls (Gaussian-process potentials; CHANGELOG.md). One
    # climb at a time never did; it costs little on a CPU (CHANGELOG.md).
    if climb_batch is None:
        climb_batch = 1 if jax.default_backend() == "cpu" else 256
    if not isinstance(climb_batch, (int, np.integer)) or climb_batch < 1:
        raise ValueError(f"`climb_batch` must be a positive integer or None; got {climb_batch!r}.")
    chol_np, mean_np = np.asarray(chol), np.asarray(mean)
    to_y = lambda a: scipy.linalg.solve_triangular(chol_np, (np.asarray(a) - mean_np).T, lower=True).T
    far = ESCAPE_FACTOR * float(np.nanmax(np.linalg.norm(to_y(draws), axis=1)))
    if patience is not None:
        check_count("patience", patience, 1)

    def stop(ends):
        ends_y = to_y(ends)
        return (_running_off(ends_y, far, merge_tol) or len(_end_points(ends_y, merge_tol)[0]) > max_components
                or (patience is not None and _settled(ends_y, merge_tol, patience)))

    rows, modes, hessians, iters = _climb(potential_fn, x, climb_batch, max_seconds, stop=stop)
    sub, x = sub[rows], x[rows]
    evals = int(np.sum(np.asarray(iters) + 1)) * (d + 2)

    def out(mix, kind, n=0):
        extra = ((evals + n,) if return_evals else ()) + ((kind,) if return_kind else ())
        return (mix,) + extra if extra else mix
    my, xy = to_y(modes), to_y(x)
    ok = np.all(np.isfinite(my), axis=1)
    centres, labels = _end_points(my, merge_tol)
    many = len(centres) > max_components or _running_off(my, far, merge_tol)

    def no_modes():  # one mode, or a continuum of maxima
        if continuum == "draws" and many:
            opts = {"max_components": max_components, **(draw_options or {})}
            mix, n = draw_mixture(potential_fn, mean, chol, draws, rng_key=rng_key, return_evals=True, **opts)
            return out(mix, "draws", n)
        if one_mode == "laplace" and not many and len(centres):
            # The most populated mode, with the Hessian of the first climb that ended there.
            j = int(np.argmax(np.bincount(labels[labels >= 0], minlength=len(centres))))
            first = int(np.flatnonzero(labels == j)[0])
            return out(_laplace_component(chol, centres[j], hessians[first], len(draws)), "laplace")
        return out(None, None)

    if len(centres) < 2:
        return no_modes()
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
    refined, _, n = refine_steps(whitened_log_q(potential_fn, mean, chol), jnp.asarray(np.asarray(means), chol.dtype),
                            jnp.asarray(np.asarray(chols), chol.dtype),
                            jnp.asarray(log_w, chol.dtype), key, iters=refine_iters, draws_per_component=refine_draws)
    evals += n
    if refined is not None:
        means, chols, log_w = (np.asarray(a) for a in refined)
    # Every draw's component: its own climb where it made one, else the nearest component mean.
    all_y = to_y(draws)
    all_labels = np.argmin(((all_y[:, None, :] - np.asarray(means)[None]) ** 2).sum(-1), axis=1).astype(np.int32)
    all_labels[sub] = labels
    return out(make_mixture(means, chols, log_w, all_labels), "modes")

def _laplace_component(chol, centre_y, hessian_x, num_draws: int):
    """The one-component mixture ``N(centre_y, (L^T H L)^-1)`` in whitened coordinates (a
    non-positive curvature is replaced by its absolute value, as Newton's steps do)."""
    chol_y, _ = _psd_inverse_chol(chol, jnp.asarray(hessian_x, chol.dtype))
    return make_mixture(np.asarray(centre_y)[None], np.asarray(chol_y)[None], np.zeros(1),
                        np.zeros(num_draws, np.int32))


@jit_once
def _psd_inverse_chol(chol, hessian_x):
    return psd_inverse_chol(chol.T @ hessian_x @ chol)


def _end_points(ends_y: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """The distinct points among the climbs' ends ``ends_y`` (whitened), in order: each finite end
    joins the nearest point found before it if that is closer than ``tol``, else is a new one.
    ``(points (C, d), labels (n,))``, ``-1`` for an end that is not finite."""
    ends_y = np.asarray(ends_y, np.float64)
    points = np.empty_like(ends_y)
    labels = np.full(len(ends_y), -1)
    count = 0
    for i in np.flatnonzero(np.all(np.isfinite(ends_y), axis=1)):
        if count:
            dist = np.sum((points[:count] - ends_y[i]) ** 2, axis=1)
            j = int(np.argmin(dist))
            if dist[j] < tol**2:
                labels[i] = j
                continue
        points[count] = ends_y[i]
        labels[i] = count
        count += 1
    return points[:count], labels


def _running_off(ends_y: np.ndarray, far: float, tol: float) -> bool:
    """Whether the climbs ending at ``ends_y`` (whitened) ran off: at least
    :data:`RUN_OFF_CLIMBS` of them, more than half ending beyond ``far`` (or not finite), and
    those far ends scattered, at more than :data:`SCATTERED` times as many distinct points (``tol``
    apart) as there are ends. Climbs that converge to a far mode share its point."""
    ends_y = np.asarray(ends_y, np.float64)
    if len(ends_y) < RUN_OFF_CLIMBS or not far > 0:
        return False
    finite = np.all(np.isfinite(ends_y), axis=1)
    r = np.linalg.norm(np.where(finite[:, None], ends_y, 0.0), axis=1)
    beyond = finite & (r > far)
    away = int(np.sum(~finite)) + int(np.sum(beyond))
    if not away > 0.5 * len(ends_y):
        return False
    return int(np.sum(~finite)) + len(_end_points(ends_y[beyond], tol)[0]) > SCATTERED * away


def _settled(ends_y: np.ndarray, tol: float, patience: int) -> bool:
    """Whether the last ``patience`` climbs (of those ending at ``ends_y``, whitened, in the order
    they were made) all ended within ``tol`` of where an earlier climb ended, or at no finite point:
    they found no new mode."""
    ends_y = np.asarray(ends_y, np.float64)
    if len(ends_y) <= patience:
        return False
    seen, recent = ends_y[:-patience], ends_y[-patience:]
    seen = seen[np.all(np.isfinite(seen), axis=1)]
    recent = recent[np.all(np.isfinite(recent), axis=1)]
    if not len(seen):
        return not len(recent)
    # Squared distances as |a|^2 + |b|^2 - 2 a.b: a (patience, n) matrix, without a (patience, n, d) array.
    gaps = np.sum(recent**2, 1)[:, None] + np.sum(seen**2, 1)[None, :] - 2.0 * recent @ seen.T
    return bool(np.all(np.min(gaps, axis=1) < tol**2))


def _climb(potential_fn: Callable, x: jax.Array, climb_batch: int, max_seconds: Optional[float],
           block: int = 64, stop: Optional[Callable[[np.ndarray], bool]] = None):
    """Newton climbs from each row of ``x`` (:func:`numpyro_pinn.warmstart.find_mode`, at most 100
    iterations each) in jitted blocks of ``block`` points taken in a random order, until done or
    ``max_seconds`` have passed: ``(rows, modes, hessians, iterations)`` (numpy) of the climbs
    made, the rows of ``x`` climbed from in increasing order. ``stop(end_points)``, asked after
    each block from the second on, ends the climbs early when it returns ``True``."""
    from numpyro_pinn.stages import Deadline, report

    deadline = Deadline.after(max_seconds)
    n = x.shape[0]
    block = max(block, climb_batch)
    if climb_batch == 1:
        # One point at a time through the Newton program the Laplace warm start compiled already.
        one = lambda x0: compiled_find_mode(potential_fn, x0, 100)
        run = lambda xb: jax.tree_util.tree_map(lambda *a: np.stack(a), *[jax.device_get(one(x0)) for x0 in xb])
    else:
        climb = lambda x0: find_mode(potential_fn, x0, max_iter=100)
        run = jit(lambda xb: jax.lax.map(climb, xb, batch_size=climb_batch))
    x_np = np.asarray(x)
    order = np.random.default_rng(0).permutation(n)
    done, outs = [], []
    for start in range(0, n, block):
        idx = order[start:start + block]
        padded = idx if n <= block or climb_batch == 1 else np.concatenate([idx, np.full(block - len(idx), idx[-1])])
        outs.append(jax.tree_util.tree_map(lambda a: np.asarray(a)[: len(idx)], run(x_np[padded])))
        done.append(idx)
        report(mode_climbs=f"{start + len(idx)}/{n}")
        if stop is not None and len(done) >= 2 and start + block < n and stop(np.concatenate([o[0] for o in outs])):
            break
        if deadline.passed() and start + block < n:
            warnings.warn(f"The mode search used up its time budget ({max_seconds:g} s) after {start + len(idx)} of "
                          f"{n} climbs; the base distribution is built from those.", RuntimeWarning, stacklevel=4)
            break
    done = np.concatenate(done)
    back = np.argsort(done)
    modes, hessians, iters = (np.concatenate(parts)[back] for parts in zip(*outs))
    return np.sort(done), modes, hessians, iters

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
    u = jit_once(jax.vmap(potential_fn))
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
