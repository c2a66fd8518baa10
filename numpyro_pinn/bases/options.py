"""The transport's base distribution as a configuration object: :class:`Auto` (default),
:class:`Gaussian`, :class:`ModeMixture` and :class:`DrawsMixture`.

Each object's :meth:`build` takes the warm start and returns a :class:`Base`: the distribution the
transport starts from, the Gaussian mixture handed to the transport (DPS: its control variate),
and what building it cost (target evaluations, seconds). ``PINNSampler(base=...)`` takes an
object or its name (``"auto"``, ``"gaussian"``, ``"mixture"``, ``"draws"``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any, Callable, NamedTuple, Optional, Union

import jax
import numpy as np

from numpyro_pinn import tails
from numpyro_pinn.bases.draws import draw_mixture
from numpyro_pinn.bases.mixture import PROPOSAL_DRAWS, proposal_draws, proposal_log_weights
from numpyro_pinn.bases.modes import PATIENCE, mode_mixture
from numpyro_pinn.bases.refit import MAX_PARETO_K, refit_gaussian
from numpyro_pinn.bases.skew import fit_skew, reweight
from numpyro_pinn.diagnostics import ess, finite_log_weights, pareto_k
from numpyro_pinn.training.loop import good_enough
from numpyro_pinn.validation import check_count

__all__ = ["Base", "BaseOption", "Gaussian", "ModeMixture", "DrawsMixture", "Auto", "FAR_FROM_GAUSSIAN_ESS", "REFIT_BELOW",
           "QUICK_COMPONENTS", "QUICK_REFINE_ITERS", "QUICK_MAX_PARETO_K",
           "resolve", "to_dict", "from_dict"]

#: With :class:`Auto` and one mode, the ODE transport keeps ``N(0, I)`` (the Gaussian of the
#: warm-start draws) unless its importance-sampling ESS as a proposal is below this; then Gaussians
#: fitted to the draws and the target (:func:`numpyro_pinn.bases.draw_mixture`) replace it if their
#: lower bound ``E[log q - log base]`` is higher (an ESS this low is decided by a few weights; the
#: lower bound is not). ``benchmarks/gaussian_ess.py`` measures it on the benchmark targets.
FAR_FROM_GAUSSIAN_ESS = 0.1

#: :class:`Auto` refits a one-mode Gaussian base to the target (:func:`numpyro_pinn.bases.refit_gaussian`)
#: when its importance-sampling ESS is below this: the sampler's default ``target_ess``, which a
#: base must reach for training to be skipped.
REFIT_BELOW = 0.9

#: :class:`Auto`'s quick draws mixture (``quick_components``): its number of components, its
#: refinement steps against the target, and the Pareto k its weights may have at most to be kept
#: (the default ``Training(max_pareto_k=0.5)`` that a base must meet for training to be skipped).
QUICK_COMPONENTS = 16
QUICK_REFINE_ITERS = 20
QUICK_MAX_PARETO_K = 0.5

_SKEW = (True, False, "weights")


class Base(NamedTuple):
    """What :meth:`build` returns.

    ``prior``: the transport's base distribution in whitened coordinates (``None``: ``N(0, I)``);
    ``mixture``: the Gaussian mixture handed to the transport (the ODE family: the same as
    ``prior``; DPS: the control variate of ``u``; ``None``: none); ``info``: ``{"target_evals",
    "seconds"}``."""

    prior: Any
    mixture: Any
    info: dict


@dataclass(frozen=True)
class BaseOption:
    """Options every base distribution has.

    Other arguments
    ---------------
    fallback
        For the ODE family: also weight ``num_particles`` draws of the base distribution itself
        against the target (``num_particles`` more target evaluations, no ODE solves) and keep them
        if their ESS is higher than the transport's: a base fitted to the target by importance
        sampling can beat a transport that has not learnt its finest scales (e.g. on a funnel).
        ``diagnostics`` reports ``proposal`` (``"transport"`` or ``"base"``) and both ESS
        (``transport_ess``, ``base_ess``); ``sample`` then draws from the same proposal.
        ``False``: always the transport (to test the transport itself).
    """

    fallback: bool = True

    name = "base"

    def __post_init__(self):
        if not isinstance(self.fallback, (bool, np.bool_)):
            raise ValueError(f"`fallback` must be True or False; got {self.fallback!r}.")
        if not isinstance(getattr(self, "skew_draws", False), (bool, np.bool_)):
            raise ValueError(f"`skew_draws` must be True or False; got {self.skew_draws!r}.")
        if getattr(self, "patience", None) is not None:
            check_count("patience", self.patience, 1)
        skew = getattr(self, "skew", True)
        if skew not in _SKEW:
            raise ValueError(f"`skew` must be True, False or 'weights'; got {skew!r}.")
        if getattr(self, "quick_components", None) is not None:
            check_count("quick_components", self.quick_components, 1)
        refit = getattr(self, "refit_below", 0.0)
        number = isinstance(refit, (int, float, np.integer, np.floating)) and not isinstance(refit, (bool, np.bool_))
        if not (number and 0.0 <= refit <= 1.0):
            raise ValueError(f"`refit_below` must be a number in [0, 1]; got {refit!r}.")

    def build(self, rng_key, potential_fn: Callable, ws, role: Optional[str]) -> Base:
        """The base distribution for the target ``exp(-potential_fn)`` whitened by the warm start
        ``ws`` (a :class:`~numpyro_pinn.WarmStart`). ``role`` is the transport's
        ``mixture_role``: ``"prior"`` (the ODE family), ``"control_variate"`` (DPS) or ``None`` (its
        base is fixed at ``N(0, I)``)."""
        t0 = time.perf_counter()
        prior, mixture, evals = self._build(rng_key, potential_fn, ws, role)
        return Base(prior, mixture, {"target_evals": int(evals), "seconds": time.perf_counter() - t0})

    def _build(self, key, potential_fn, ws, role):
        return None, None, 0


@dataclass(frozen=True)
class Gaussian(BaseOption):
    """``N(0, I)`` in the warm start's whitened coordinates: the cheapest base, no target
    evaluations; for unimodal, near-Gaussian posteriors. DPS gets no control variate."""

    name = "gaussian"


@dataclass(frozen=True)
class _Mixture(BaseOption):
    """A Gaussian mixture base, optionally with skewed components.

    Main arguments
    --------------
    skew
        For the ODE family and a mixture of two or more components (one Gaussian is left for the
        transport to reshape, as ``N(0, I)`` is): give each component a sinh-arcsinh skew per axis
        fitted to the target (:func:`numpyro_pinn.bases.fit_skew`, kept only if the mixture's
        lower bound rises), then re-estimate the weights by importance sampling
        (:func:`numpyro_pinn.bases.reweight`: the transport hardly moves mass between modes, so
        the weights bound its ESS). Real
        posteriors' modes are rarely symmetric, and what the base does not capture the transport
        must learn. ``False``: Gaussian components with the warm start's weights. ``"weights"``:
        the skew fit only re-estimates the weights, and training starts from the Gaussian
        components; for long trainings in high dimension, where the transport learns more from
        Gaussian components than from skewed ones.

    Other arguments
    ---------------
    skew_steps
        Adam steps of the skew fit.
    skew_draws
        Also skew the components of a draws mixture (:class:`DrawsMixture`'s, or :class:`Auto`'s
        for a continuum of maxima or one mode far from Gaussian), then re-estimate their weights.
        Its many overlapping Gaussians already follow the target's asymmetry by where they lie,
        and the skew fit's cost grows with the square of their number, for little gain. Left
        Gaussian, a draws mixture keeps the weights its refinement fitted to the target (as the
        refitted Gaussian and the quick mixture of :class:`Auto` do).
    draw_options
        Keyword arguments for :func:`numpyro_pinn.bases.draw_mixture` where this base calls it
        (e.g. ``{"path_spacing": 0.25, "path_points": 128}``).
    """

    skew: Union[bool, str] = True
    skew_steps: int = 300
    skew_draws: bool = False
    draw_options: Optional[dict] = None

    def _fit_draws(self, key, potential_fn, ws, **options):
        return draw_mixture(potential_fn, ws.mean, ws.chol, ws.draws, rng_key=key, return_evals=True,
                            **{**(self.draw_options or {}), **options})

    def _build(self, key, potential_fn, ws, role):
        if role is None:
            return None, None, 0
        k_mix = jax.random.fold_in(key, 1)
        mixture, evals, kind = self._mixture(k_mix, potential_fn, ws, role)
        if (mixture is not None and mixture.means.shape[0] > 1 and role == "prior" and self.skew is not False
                and self.skew_steps > 0):
            gaussian = mixture
            # A draws mixture or a refit, left Gaussian, was fitted to the target with its weights.
            if kind not in ("draws", "refit") or (kind == "draws" and self.skew_draws):
                mixture, n = fit_skew(potential_fn, ws.mean, ws.chol, mixture, jax.random.fold_in(k_mix, 3),
                                      steps=self.skew_steps, return_evals=True)
                evals += n
                mixture, n = reweight(potential_fn, ws.mean, ws.chol, mixture, jax.random.fold_in(k_mix, 4),
                                      return_evals=True)
                evals += n
            if self.skew == "weights":
                mixture = gaussian._replace(log_weights=mixture.log_weights)
        return (mixture if role == "prior" else None), mixture, evals

    def _mixture(self, key, potential_fn, ws, role):
        """``(mixture or None, target evaluations, kind)``: ``kind`` as :func:`mode_mixture`'s
        ``return_kind`` (``"modes"``, ``"draws"``, ``"laplace"`` or ``None``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class ModeMixture(_Mixture):
    """One Gaussian per separated mode of the warm-start draws
    (:func:`numpyro_pinn.bases.mode_mixture`), ``N(0, I)`` when there is one: the transport then
    only reshapes each mode, while splitting one Gaussian into many modes is slow to learn. For DPS
    with one mode, the control variate is a kernel density estimate of the draws instead.

    Other arguments
    ---------------
    patience
        The mode search's Newton climbs from the draws stop once this many in a row found no new
        mode (:func:`numpyro_pinn.bases.mode_mixture`); raise it, or pass ``None`` (every one of
        up to 1,024 draws climbs), when modes holding under about 1.5% of the draws matter.
    """

    patience: Optional[int] = PATIENCE

    name = "mixture"

    def _mixture(self, key, potential_fn, ws, role):
        return mode_mixture(potential_fn, ws.mean, ws.chol, ws.draws, rng_key=key, continuum="none",
                            return_evals=True, return_kind=True, patience=self.patience)


@dataclass(frozen=True)
class DrawsMixture(_Mixture):
    """Gaussians fitted to the warm-start draws by EM and then to the target, their number chosen
    against the target (:func:`numpyro_pinn.bases.draw_mixture`), with Laplace components along
    the way to the mode when the draws lie far from it
    (:func:`numpyro_pinn.bases.path_components`); for one mode far from Gaussian, such as
    hierarchical funnels."""

    name = "draws"

    def _mixture(self, key, potential_fn, ws, role):
        return self._fit_draws(key, potential_fn, ws) + ("draws",)


@dataclass(frozen=True)
class Auto(_Mixture):
    """The default: decides from the warm start.

    Several separated modes get :class:`ModeMixture`'s one Gaussian per mode. One mode gets one
    Gaussian for the ODE family: ``N(0, I)`` (the warm-start draws' Gaussian) or the Laplace fit at
    the mode, whichever is the better importance sampler (:meth:`one_mode_mixture`). A ring or
    ridge of maxima, or one mode far from Gaussian (that Gaussian's importance-sampling ESS below
    ``far_from_gaussian_ess``, e.g. a funnel), gets :class:`DrawsMixture`'s components when their
    lower bound is higher. The ODE family's base also gets a Student-t component (weight
    :data:`numpyro_pinn.tails.HEAVY_WEIGHT`, Cauchy tails) when the posterior's
    density falls too slowly beyond the base's reach (:func:`numpyro_pinn.tails.base_tail_check`),
    so that heavy tails are proposed and their weights stay bounded;
    ``diagnostics["heavy_tail_component"]`` says so. DPS always gets a mixture as its control
    variate: the mode mixture, else the draws mixture.

    Other arguments
    ---------------
    heavy_tail
        Whether to check the tails and add the Student-t component.
    far_from_gaussian_ess
        Below this importance-sampling ESS of ``N(0, I)``, one mode is "far from Gaussian".
    patience
        As :class:`ModeMixture`'s: when the mode search's climbs stop.
    refit_below
        With one mode, when the kept Gaussian's importance-sampling ESS is below this or its
        weights' Pareto k above 0.7 (:data:`numpyro_pinn.bases.refit.MAX_PARETO_K`; between 0.5
        and 0.7 on 2,048 draws it is often noise), and the ESS is not below
        ``far_from_gaussian_ess`` (where the draws mixture is tried instead), refit it to
        the target by the cross-entropy method (:func:`numpyro_pinn.bases.refit_gaussian`: the
        weighted mean and covariance of its own weighted draws, kept when a fresh sample's ESS
        rises): the warm start's Gaussian can be far off along a narrow direction of a strongly
        correlated posterior, and a base that reaches ``target_ess`` needs no training. Costs
        2,048 target evaluations per refit tried. ``0``: never.
    quick_components
        With one mode, when the (refitted) Gaussian is still below ``refit_below`` (or its
        Pareto k above 0.7): fit this many Gaussians to the warm-start
        draws and then to the target (:func:`numpyro_pinn.bases.draw_mixture` with
        :data:`QUICK_REFINE_ITERS` refinement steps, no search over their number, no path
        components; 2 x ``quick_components`` x 512 target evaluations per step, one scoring of
        each of its two candidates) and keep
        them if they would end training (ESS at least ``refit_below``, Pareto k at most
        :data:`QUICK_MAX_PARETO_K` unless the ESS is 0.99): a base that good needs no training, which costs more on a
        mildly skewed posterior (a scale parameter's, a variance's) than this fit. They are also
        kept when they are the better importance sampler (a higher ESS than the Gaussian's, Pareto
        k at most 0.7): training then starts closer to the posterior. Tried only when the warm
        start has ``d (d + 1) / 2`` draws per component (:meth:`quick_fits`; with 2,048 draws and
        16 components, up to 15 dimensions). ``None``: never.
    """

    heavy_tail: bool = True
    far_from_gaussian_ess: float = FAR_FROM_GAUSSIAN_ESS
    patience: Optional[int] = PATIENCE
    refit_below: float = REFIT_BELOW
    quick_components: Optional[int] = QUICK_COMPONENTS

    name = "auto"

    def _mixture(self, key, potential_fn, ws, role):
        # A ring or ridge of maxima gets the draws mixture (ODE: as the prior; DPS: as the control variate).
        # With one mode, the ODE family's candidate is the Laplace component there.
        mixture, evals, kind = mode_mixture(potential_fn, ws.mean, ws.chol, ws.draws, rng_key=key,
                                            continuum="draws", one_mode="laplace" if role == "prior" else "none",
                                            return_evals=True, return_kind=True, draw_options=self.draw_options,
                                            patience=self.patience)
        if mixture is None or mixture.means.shape[0] == 1:
            mixture, n, kind = self.one_mode_mixture(key, potential_fn, ws, role, laplace=mixture, return_kind=True)
            evals += n
        return mixture, evals, kind

    def one_mode_mixture(self, key, potential_fn, ws, role, num: int = PROPOSAL_DRAWS, laplace=None,
                         return_kind: bool = False):
        """What :class:`Auto` does when the warm start has one mode: ``(mixture or None, target
        evaluations)``, and with ``return_kind=True`` what the mixture is: ``"draws"`` (the draws
        mixture), ``"refit"`` (the refitted Gaussian or the quick draws mixture, both fitted to
        the target already, neither skewed nor reweighted afterwards) or ``None`` (``N(0, I)`` or
        ``laplace``).

        DPS (``role="control_variate"``) always gets the draws mixture: its plug-in ``u`` carries
        ``log q`` through the noising, where the KDE form's loss never fell (funnel). The ODE family
        compares the Gaussian of the warm-start draws (``N(0, I)``) with ``laplace`` (a one-component
        mixture at the mode, if given) as importance-sampling proposals: the Laplace fit replaces
        ``N(0, I)`` when both its lower bound ``E[log q - log base]`` and its ESS are higher (the
        lower bound alone can prefer it while a few large weights make its ESS lower). On a
        near-Gaussian posterior in many dimensions the Laplace fit is exact where a covariance
        estimated from a few thousand draws is not; on a funnel it is far too narrow. When the
        kept Gaussian is poor (see ``refit_below``) and its ESS is not below
        ``far_from_gaussian_ess``, it is refitted by the cross-entropy method
        (:func:`~numpyro_pinn.bases.refit_gaussian`), the refit replacing it when its ESS is
        higher; if it is still poor, the quick draws mixture (``quick_components``) replaces it
        when that would end training or has the higher ESS (with Pareto k at most 0.7). If the kept
        Gaussian's ESS is below ``far_from_gaussian_ess``, the draws mixture replaces it when its
        lower bound is higher. With too few draws to fit to (``warm_start="laplace"`` has one),
        there is no draws mixture."""
        few = ws.draws.shape[0] < 2 * ws.mean.shape[0] + 2
        done = (lambda mix, evals, kind: (mix, evals, kind)) if return_kind else (lambda mix, evals, kind: (mix, evals))
        if role == "control_variate":
            return done(None, 0, None) if few else done(*self._fit_draws(key, potential_fn, ws), "draws")
        if laplace is None and few:
            return done(None, 0, None)
        k_e0, k_fit, k_e1 = jax.random.split(jax.random.fold_in(key, 2), 3)

        def scored(prior, k):
            x, lw = proposal_draws(potential_fn, ws.mean, ws.chol, prior, k, num)
            return x, finite_log_weights(lw)

        best, kind, (x0, lw0) = None, None, scored(None, k_e0)
        evals = num
        if laplace is not None:
            x, lw = scored(laplace, jax.random.fold_in(k_e0, 1))
            evals += num
            if np.mean(lw) > np.mean(lw0) and ess(lw) > ess(lw0):
                best, x0, lw0 = laplace, x, lw
        def short(lw):  # would this proposal not end training at the default settings?
            return not good_enough(self.refit_below, QUICK_MAX_PARETO_K, ess(lw), pareto_k(lw))

        def poor(lw):  # worth replacing: a Pareto k between 0.5 and 0.7 on 2,048 draws is often noise
            return self.refit_below > 0 and ess(lw) >= self.far_from_gaussian_ess and not good_enough(
                self.refit_below, MAX_PARETO_K, ess(lw), pareto_k(lw))

        if poor(lw0):  # below far_from_gaussian_ess: the draws mixture's case
            refit, lw, n = refit_gaussian(potential_fn, ws.mean, ws.chol, x0, lw0, jax.random.fold_in(k_e0, 2),
                                          ws.draws.shape[0], num=num)
            evals += n
            if refit is not None:
                best, kind, lw0 = refit, "refit", lw
        if poor(lw0) and self.quick_components and not few and self.quick_fits(ws):
            quick, n = self._fit_draws(jax.random.fold_in(k_fit, 1), potential_fn, ws,
                                       num_components=self.quick_components, path_points=0,
                                       refine_iters=QUICK_REFINE_ITERS)
            _, lw = scored(quick, jax.random.fold_in(k_e0, 3))
            evals += n + num
            if not short(lw) or (ess(lw) > ess(lw0) and pareto_k(lw) <= MAX_PARETO_K):
                best, kind, lw0 = quick, "refit", lw
        if not ess(lw0) < self.far_from_gaussian_ess or few:
            return done(best, evals, kind)
        mix, n = self._fit_draws(k_fit, potential_fn, ws)
        lw1 = proposal_log_weights(potential_fn, ws.mean, ws.chol, mix, k_e1, num)
        if np.mean(lw1) > np.mean(lw0):
            best, kind = mix, "draws"
        return done(best, evals + num + n, kind)

    def quick_fits(self, ws) -> bool:
        """Whether the warm start has the draws to fit the quick mixture: at least ``d (d + 1) / 2``
        per component, the entries of its covariance. With fewer, EM fits each covariance to fewer
        draws than it has entries, and the refinement, whose updates are shrunk by the same count,
        barely moves them: the mixture costs seconds and is seldom a better proposal than the
        Gaussian."""
        d = ws.mean.shape[0]
        return ws.draws.shape[0] >= self.quick_components * d * (d + 1) // 2

    def _build(self, key, potential_fn, ws, role):
        prior, mixture, evals = super()._build(key, potential_fn, ws, role)
        if self.heavy_tail and role == "prior":
            d = ws.mean.shape[0]
            check = tails.base_tail_check(jax.random.fold_in(key, 5), potential_fn, ws.mean, ws.chol, prior)
            evals += 8 * d
            if check is not None and check.heavier:
                prior = mixture = tails.with_heavy_tail(prior, d, ws.draws.shape[0])
        return prior, mixture, evals


_NAMED = {"auto": Auto, "gaussian": Gaussian, "mixture": ModeMixture, "draws": DrawsMixture}


def resolve(base: Union[str, BaseOption]) -> BaseOption:
    """A base option from its name (``"auto"``, ``"gaussian"``, ``"mixture"``, ``"draws"``) or
    itself; anything else raises a ``ValueError`` naming ``base``."""
    if isinstance(base, BaseOption):
        return base
    if isinstance(base, str) and base in _NAMED:
        return _NAMED[base]()
    raise ValueError(f"`base` must be 'auto', 'gaussian', 'mixture', 'draws' or a numpyro_pinn.bases option "
                     f"(Auto, Gaussian, ModeMixture, DrawsMixture); got {base!r}.")


def to_dict(base: BaseOption) -> dict:
    """Plain data for :meth:`~numpyro_pinn.PINNSampler.save`."""
    return {"name": base.name, "fields": {f.name: getattr(base, f.name) for f in fields(base)}}


def from_dict(d: dict) -> BaseOption:
    """Inverse of :func:`to_dict`."""
    return _NAMED[d["name"]](**d["fields"])
