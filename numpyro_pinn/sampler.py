"""``PINNSampler``: the NumPyro-facing shell around the functional core (:mod:`numpyro_pinn.core`)."""
from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any, Callable, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np

from numpyro_pinn import agreement, bases, core, diagnostics, serialization, stages, tails
from numpyro_pinn.bases import GaussianMixture
from numpyro_pinn.compiling import jit
from numpyro_pinn.rejuvenation import Rejuvenation
from numpyro_pinn.training import Collocation, Training, TrainResult
from numpyro_pinn.resampling import systematic_resample
from numpyro_pinn.sample import take, whitened_target
from numpyro_pinn.sharding import data_sharding
from numpyro_pinn.surface import SamplerSurface, in_sampler_precision
from numpyro_pinn.transports import ode
from numpyro_pinn.transports.dps import DPSTransport, reverse_sde
from numpyro_pinn.validation import check_count
from numpyro_pinn.warmstart import WarmStart

__all__ = ["PINNSampler"]

#: Default ``num_particles`` is ``max(num_samples, MIN_PARTICLES)``: the weights' diagnostics
#: (ESS, log Z, k-hat) need particles even when few draws are asked for.
MIN_PARTICLES = 100
#: Draws for ``diagnostics["log_Z_lower_bound_core"]`` (a base with a Student-t component only).
CORE_BOUND_DRAWS = 4096
# DPS: forward-noised warm-start draws are samples of the forward process's marginals, exactly the
# distribution on which u matters; trajectories of its probability-flow ODE are stiff at small t,
# and cheap fixed-step paths of them fly off.
DPS_COLLOCATION = Collocation(uniform=0.0, bridge=1.0, trajectory=0.0)


class PINNSampler(SamplerSurface):
    """Sample a NumPyro posterior with a physics-informed neural-network (PINN) transport.

    A PINN learns a velocity field that carries ``N(0, I)`` (in whitened
    coordinates) to the posterior by solving the log continuity equation
    (Sun et al., "Physics-informed neural networks for sampling", eq. 9).
    Draws are obtained by solving the ODE with its exact change-of-variables
    log density, which makes them importance-weighted: the weights give the
    effective sample size, ``log Z`` and a Pareto k-hat, and resampling gives
    equal-weight draws.

    Main arguments
    --------------
    model
        A NumPyro model with continuous latent sites. Exactly one of ``model`` and
        ``potential_fn`` must be given.
    method
        Transport: ``"ode"`` (the continuity-equation PINN, default); the rest of the workshop
        paper's loss family, ``"sde"``, ``"anneal"``, ``"sde_diffusion"``, ``"ot"``, ``"sb"`` (see
        :class:`~numpyro_pinn.ODETransport`; SDE-type methods are weighted through their
        probability-flow ODE); or ``"dps"`` (the Diffusion-PINN Sampler: a PINN for the log density
        of a forward diffusion, sampled by reverse diffusion). Default: ``transport``'s method, else
        ``"ode"``.
    num_samples
        Number of equal-weight (resampled) draws returned by :meth:`get_samples`.
    warm_start
        ``"smc"`` (default: Newton + Laplace, then BlackJAX adaptive tempered SMC from a
        broad Gaussian around the mode mixed with a defensive one around the initial point,
        :class:`numpyro_pinn.SMC`; robust for multimodal and heavy-tailed posteriors), ``"laplace"``
        (cheaper, unimodal light-tailed posteriors only), ``"pt"``, their configuration objects
        (``SMC(max_seconds=...)``, :class:`~numpyro_pinn.Laplace`, :class:`~numpyro_pinn.PT`), a
        :class:`~numpyro_pinn.WarmStart`, or an array of unconstrained posterior draws ``(n, d)``.
        It sets the whitening (base and domain) and the bridge collocation points.
    base
        The transport's base distribution (in the warm start's whitened coordinates): an option of
        :mod:`numpyro_pinn.bases` or its name. ``"auto"`` (:class:`~numpyro_pinn.bases.Auto`,
        default) decides from the warm start: one Gaussian per mode when there are several, fitted
        Gaussians when one mode is far from Gaussian, else ``N(0, I)``, with a Student-t component
        when the posterior's tails are heavier. ``"gaussian"``
        (:class:`~numpyro_pinn.bases.Gaussian`): always ``N(0, I)``, the cheapest. ``"mixture"``
        (:class:`~numpyro_pinn.bases.ModeMixture`) and ``"draws"``
        (:class:`~numpyro_pinn.bases.DrawsMixture`) force one of ``"auto"``'s choices. The options
        also say whether components are skewed (``skew``) and whether the base's own weighted
        draws may replace the transport's (``fallback``). ``method="dps"`` and ``"sde_diffusion"``
        always start from ``N(0, I)`` (the stationary law of their noising diffusion); for
        ``"dps"`` the mixture is the control variate of ``u`` instead
        (:class:`numpyro_pinn.transports.DPSTransport`; ``diagnostics["control_variate"]``).
    num_steps, target_ess
        At most ``num_steps`` Adam steps, stopping once the ESS of a monitor batch reaches
        ``target_ess`` with a Pareto k-hat of at most ``Training(max_pareto_k=0.5)`` (``None``:
        run all steps), after 0 steps if the base distribution already does, or once the
        monitor's ESS has stopped improving (``Training(plateau=...)``,
        :class:`~numpyro_pinn.training.Plateau`).
    rejuvenation
        A :class:`~numpyro_pinn.Rejuvenation` (default ``Rejuvenation()``): when the importance
        weights cannot be trusted (Pareto k-hat above 0.7), their ESS is below 0.3, or the warm
        start's draws and the weighted particles disagree, the resampled draws are moved by HMC
        steps targeting the posterior, which corrects much of what a poor proposal got wrong
        (``diagnostics["rejuvenation"]``; the draws are then not independent). ``None``: never.
    progress_bar
        Show progress: a line per stage (warm start, base distribution, drawing) with its elapsed
        time and what it is doing (SMC's tempering parameter, mode climbs, mixture components),
        and a bar over the training steps, advanced within each chunk, with the loss and the
        monitor's ESS.

    Other arguments
    ---------------
    potential_fn
        A raw potential ``U(params) = -log q(params)`` (as for ``numpyro.infer.NUTS``);
        then ``run`` needs ``init_params``.
    transport
        Network configuration, e.g. ``ODETransport(hidden=(128, 128, 128))`` or
        ``DPSTransport(sampler="sde")``.
    num_particles
        Number of weighted ODE particles drawn (default: ``num_samples``, at least
        :data:`MIN_PARTICLES`). The Pareto k-hat needs at least 25; with fewer it is NaN.
    training
        A :class:`~numpyro_pinn.training.Training`: ``min_steps``, ``batch_size``,
        ``learning_rate``, a wall-clock budget, Gauss-Newton fine-tuning, the optimizer and the
        collocation mix.
    devices
        Data parallelism (:mod:`numpyro_pinn.sharding`): ``None`` (default, one device), ``"all"``
        (every device of ``jax.devices()``, across hosts after ``jax.distributed.initialize()``) or
        a list of devices. Collocation batches and particle batches are split across them;
        ``batch_size`` must be a multiple of their number.
    enable_x64
        Evaluate the target in float64 (default ``True``; see the README's "Precision").
    **deprecated
        The arguments that moved onto the option objects (``prior``, ``prior_skew``,
        ``prior_fallback``, ``dps_sampler``, ``min_steps``, ``batch_size``, ``learning_rate``,
        ``optimizer``, ``collocation``, ``domain_scale``, ``finetune``, ``gn_steps``) still work
        for this release, with a ``FutureWarning`` naming the replacement.

    Examples
    --------
    >>> import jax, numpyro, numpyro.distributions as dist
    >>> from numpyro_pinn import PINNSampler
    >>> def model(y):
    ...     mu = numpyro.sample("mu", dist.Normal(0, 10))
    ...     numpyro.sample("y", dist.Normal(mu, 1), obs=y)
    >>> mcmc = PINNSampler(model, progress_bar=False).run(jax.random.PRNGKey(0), y=jnp.ones(5))  # doctest: +SKIP
    >>> mcmc.get_samples()["mu"].shape  # doctest: +SKIP
    (4000,)
    """

    def __init__(
        self,
        model: Optional[Callable] = None,
        *,
        potential_fn: Optional[Callable] = None,
        method: Optional[str] = None,
        transport=None,
        num_samples: int = 4000,
        num_particles: Optional[int] = None,
        warm_start: Union[str, WarmStart, Any] = "smc",
        base: Union[str, bases.BaseOption] = "auto",
        num_steps: int = 6000,
        target_ess: Optional[float] = 0.9,
        training: Optional[Training] = None,
        rejuvenation: Optional[Rejuvenation] = Rejuvenation(),
        devices=None,
        progress_bar: bool = True,
        enable_x64: bool = True,
        **deprecated,
    ):
        super().__init__(model, potential_fn, enable_x64)
        if deprecated:
            _warn_deprecated(deprecated)
            base, training, transport, method = _from_deprecated(deprecated, base, training, transport, method)
        if method is None:
            method = transport.name if transport is not None else "ode"
        if method not in (*ode.METHODS, "dps"):
            raise ValueError(f"Unknown method {method!r}; available: {', '.join(map(repr, (*ode.METHODS, 'dps')))}.")
        if transport is not None and transport.name != method:
            raise ValueError(f"transport {type(transport).__name__} does not match method={method!r}.")
        check_count("num_samples", num_samples, 1)
        check_count("num_steps", num_steps, 1)
        if num_particles is not None:
            check_count("num_particles", num_particles, 2)
        if target_ess is not None and not 0 < target_ess <= 1:
            raise ValueError(f"`target_ess` must be in (0, 1] or None; got {target_ess!r}.")
        if training is None:
            training = Training()
        if not isinstance(training, Training):
            raise ValueError(f"`training` must be a numpyro_pinn.training.Training; got {training!r}.")
        if rejuvenation is not None and not isinstance(rejuvenation, Rejuvenation):
            raise ValueError(f"`rejuvenation` must be a numpyro_pinn.Rejuvenation or None; got {rejuvenation!r}.")
        base = bases.resolve(base)
        if method == "sde_diffusion":
            if isinstance(base, (bases.ModeMixture, bases.DrawsMixture)):
                raise ValueError(f"`base={base.name!r}` does not apply to method={method!r}: its base is the "
                                 "noising diffusion's N(0, I).")
            base = bases.Gaussian(fallback=base.fallback)
        self._init_args = dict(
            method=method, num_samples=num_samples, num_particles=num_particles,
            warm_start=warm_start if isinstance(warm_start, str) else "smc", base=bases.to_dict(base),
            num_steps=num_steps, target_ess=target_ess, training=training.to_dict(), progress_bar=progress_bar,
            enable_x64=enable_x64, rejuvenation=None if rejuvenation is None else rejuvenation.to_dict())
        self.method = method
        self.base = base
        self.training = training
        self.rejuvenation = rejuvenation
        self.num_samples = int(num_samples)
        self.num_particles = int(num_particles or max(num_samples, MIN_PARTICLES))
        self.warm_start = warm_start
        tr = training
        self.settings = core.Settings(
            num_steps=int(num_steps), min_steps=int(min(tr.min_steps, num_steps)), chunk_size=tr.chunk_size,
            batch_size=tr.batch_size, learning_rate=float(tr.learning_rate), optimizer=tr.optimizer,
            target_ess=target_ess, monitor_size=tr.monitor_size,
            collocation=tr.collocation or (DPS_COLLOCATION if method == "dps" else Collocation()),
            domain_scale=float(tr.domain_scale), finetune=tr.finetune, base=base, gn_steps=tr.gn_steps,
            devices=devices, train_max_seconds=tr.max_seconds, plateau=tr.plateau, max_pareto_k=tr.max_pareto_k,
            train_precision=tr.precision,
        )
        self._through_prior = False
        self.transport = transport or (DPSTransport() if method == "dps" else ode.ODETransport(method=method))
        self.progress_bar = progress_bar
        self._fitted: Optional[core.Fitted] = None
        self._draw_fns: dict = {}

    @in_sampler_precision
    def run(self, rng_key: jax.Array, *args, init_params: Any = None, checkpoint: Optional[str] = None,
            **kwargs) -> "PINNSampler":
        """Build the target, warm-start, train the transport and draw weighted particles.

        Parameters
        ----------
        rng_key
            A JAX PRNG key. Same key, same result.
        *args, **kwargs
            Model arguments (as for ``MCMC.run``).
        init_params
            Required with ``potential_fn``: a pytree fixing the parameter shapes.
        checkpoint
            A file path for long trainings: the training state is written there after every chunk,
            and a run with the same key and settings that finds it resumes from it (the warm start
            is recomputed, deterministically), finishing as an uninterrupted run would.

        Returns
        -------
        PINNSampler
            ``self``, so ``mcmc = PINNSampler(model).run(key)`` works.

        Notes
        -----
        Ctrl-C during training stops it at the end of the current chunk's computation: the run goes
        on to draw from the transport as trained so far, with a warning, and
        ``diagnostics["interrupted"]`` is ``True`` (the importance weights still make the draws
        consistent; check ESS and k-hat). Ctrl-C in any other stage stops the run with a
        :class:`~numpyro_pinn.stages.StageInterrupted` (a ``KeyboardInterrupt``) naming the stage;
        the warm start's SMC and mode search see it between their jitted blocks.
        """
        rng_key = jnp.asarray(rng_key)
        k_target, k_ws, k_fit, k_draw = jax.random.split(rng_key, 4)
        with stages.stage("building the model's potential"):
            target = self._build_target(k_target, args, kwargs, init_params)
        t0 = time.perf_counter()
        with stages.stage("the warm start", "A cheaper warm start: warm_start='laplace' (one mode, light tails), "
                          "posterior draws, or a time budget: warm_start=numpyro_pinn.SMC(max_seconds=60)."), \
                stages.progress("Warm start", self.progress_bar):
            ws = core.make_warm_start(k_ws, target.potential_fn, target.x0, self.warm_start,
                                      describe=self.describe_direction)
        if ws.mean.shape != target.x0.shape:
            raise ValueError(f"warm start has dimension {ws.mean.shape[0]}, the target {target.dim}.")
        t1 = time.perf_counter()
        # Training handles its own Ctrl-C (a marked partial result); this names the stages around it.
        with stages.stage("fitting the transport (building its base distribution or fine-tuning it)",
                          "base='gaussian' skips the mixture base distribution's construction."):
            fitted = core.fit_transport(k_fit, target.potential_fn, ws, self.settings, self.transport,
                                        progress_bar=self.progress_bar, checkpoint=checkpoint)
        if fitted.train.interrupted:
            warnings.warn(
                f"Training was interrupted (Ctrl-C) after {fitted.train.num_steps} of {self.settings.num_steps} "
                "steps: the draws come from the transport trained so far, weighted (check ESS and Pareto k). "
                + ("Run again with the same key and `checkpoint` to resume." if checkpoint else
                   "Pass `checkpoint=path` to `run` to be able to resume."), RuntimeWarning, stacklevel=3)
        if fitted.train.stopped_by == "time budget":
            hist = fitted.train.ess_history
            warnings.warn(
                f"Training used up its time budget (Training(max_seconds={self.training.max_seconds:g})) after "
                f"{fitted.train.num_steps} of {self.settings.num_steps} steps"
                + (f", with the monitor's ESS at {hist[-1][1]:.4f}" if hist else "")
                + ": the draws come from the transport trained so far, weighted (check ESS and Pareto k). Raise "
                "the budget, or warm-start from posterior draws.", RuntimeWarning, stacklevel=3)
        t2 = time.perf_counter()
        self._fitted, self._draw_fns = fitted, {}
        with stages.stage("drawing the particles", "The trained transport is lost; a smaller `num_particles` draws "
                          "faster, and `run(..., checkpoint=path)` keeps the training."), \
                stages.progress(f"Drawing {self.num_particles} particles", self.progress_bar):
            x, lw, ess_pair = self._draw_particles(k_draw)
        t3 = time.perf_counter()
        rejuvenated = self._set_particles(jax.random.fold_in(k_draw, 1), x, lw)
        t_core = time.perf_counter()
        core_bound = self._core_lower_bound(jax.random.fold_in(k_draw, 4))
        t3 += time.perf_counter() - t_core  # the core's draws count as drawing
        tail = tails.tail_check(target.potential_fn, x, lw)
        if tail is not None and tail.heavier:
            warnings.warn(
                f"The posterior's tail is heavier than the proposal's along a direction mostly in "
                f"{self.describe_direction(tail.direction)}: its density {tails.describe_drop(tail.drop)} from the "
                f"proposal's farthest particles to {tails.FAR:g} times as far. The weights cannot see mass that "
                "is never proposed: the sd and tail probabilities there are likely too small, however good "
                "ESS and k-hat look. Check them against NUTS on this model.", RuntimeWarning, stacklevel=3)
        if self._sde:
            self._z = self._sde_draws(jax.random.fold_in(k_draw, 2), self.num_samples)
            self._idx = None
        s = self.settings
        n_train = fitted.train.num_steps
        # Without a trained transport the one ESS recorded is the base's check, counted in its stage.
        n_monitor = len(fitted.train.ess_history) * s.monitor_size if fitted.params is not None else 0
        draw_evals = (self.num_particles * (2 if len(ess_pair) == 2 else 1)
                      + (0 if core_bound is None else CORE_BOUND_DRAWS))
        rejuv = None if rejuvenated is None else rejuvenated.info()
        self._diag.update(
            warmup_seconds=t1 - t0, train_seconds=t2 - t1, sample_seconds=t3 - t2,
            num_train_steps=n_train, stopped_early=fitted.train.stopped_early,
            interrupted=bool(fitted.train.interrupted),
            tail_drop=None if tail is None else tail.drop,
            heavier_tail=None if tail is None or not tail.heavier else self.describe_direction(tail.direction),
            final_loss=float(np.mean(fitted.train.losses[-s.chunk_size:])) if n_train else float("nan"),
            target_evals=int(ws.num_evals + fitted.prior_evals + n_train * fitted.batch_size + n_monitor
                             + draw_evals
                             + (fitted.finetune or {}).get("target_evals", 0) + (rejuv or {}).get("target_evals", 0)),
            stages={
                "warm_start": {"seconds": t1 - t0, "target_evals": int(ws.num_evals)},
                "base": {"seconds": fitted.prior_seconds, "target_evals": int(fitted.prior_evals)},
                "training": {"seconds": fitted.train.seconds, "steps": n_train,
                             "target_evals": int(n_train * fitted.batch_size + n_monitor),
                             "stopped_by": fitted.train.stopped_by},
                "drawing": {"seconds": t3 - t2, "target_evals": draw_evals},
                "rejuvenation": {k: (rejuv or {}).get(k, 0) for k in ("seconds", "target_evals")},
            },
            rejuvenation=rejuv,
            proposal="base" if self._through_prior else "transport", **ess_pair,
            finetune=fitted.finetune,
            warm_start=ws.method,
            base_components=1 if fitted.target.prior is None else int(fitted.target.prior.means.shape[0]),
            base_skewed=getattr(fitted.target.prior, "skews", None) is not None,
            heavy_tail_component=getattr(fitted.target.prior, "dfs", None) is not None,
            log_Z_lower_bound_core=core_bound,
            control_variate=fitted.config.describe_control_variate(fitted.params),
            sample_source=("reverse SDE (unweighted; ess, log_Z and pareto_k refer to probability-flow ODE "
                           "particles)") if self._sde else
                          "prior draws (the transport's ESS was lower), importance-resampled"
                          if self._through_prior else f"{fitted.config.particles}, importance-resampled",
        )
        if rejuv is not None:
            self._diag["sample_source"] += f", then moved by {rejuv['num_moves']} HMC steps (rejuvenation)"
        return self

    def _draw_particles(self, k_draw):
        """The run's weighted particles from the transport, or from its base distribution when
        that has the higher ESS (the base option's ``fallback``): ``(x, log_weights, the two ESS)``."""
        if self._fitted.train.stopped_by == "base":  # no training: the base reached target_ess
            x, lw = self._draw(jax.random.fold_in(k_draw, 3), self.num_particles, through_prior=True)
            self._through_prior = True
            jax.block_until_ready(lw)
            return x, lw, dict(base_ess=diagnostics.ess(lw))
        x, lw = self._draw(k_draw, self.num_particles, through_prior=False)
        self._through_prior, ess_pair = False, {}
        if self.base.fallback and self._fitted.config.base_fallback:
            xp, lwp = self._draw(jax.random.fold_in(k_draw, 3), self.num_particles, through_prior=True)
            ess_pair = dict(transport_ess=diagnostics.ess(lw), base_ess=diagnostics.ess(lwp))  # NaN counts as 0
            if ess_pair["base_ess"] > ess_pair["transport_ess"]:
                x, lw, self._through_prior = xp, lwp, True
        jax.block_until_ready(lw)
        return x, lw, ess_pair

    def _core_lower_bound(self, key) -> Optional[float]:
        """With a Student-t component in the base: the evidence lower bound (mean log weight) of
        :data:`CORE_BOUND_DRAWS` draws of the proposal without it: the same transport (or none,
        when the run's particles come from the base) started from the base without the component
        (``tails.without_heavy_tail``). ``None`` without one."""
        prior = self._fitted.target.prior
        if getattr(prior, "dfs", None) is None:
            return None
        _, lw = self._draw(key, CORE_BOUND_DRAWS, self._through_prior, base=tails.without_heavy_tail(prior))
        lw = np.asarray(lw, np.float64)
        return diagnostics.log_evidence_lower_bound(lw[np.isfinite(lw)])

    def _draw(self, key, num: int, through_prior: bool, **base):
        """Weighted particles through the draw function compiled once per proposal (``base``:
        started from another base distribution, see :func:`core.draw_function`)."""
        if through_prior not in self._draw_fns:
            self._draw_fns[through_prior] = core.draw_function(self._fitted, through_prior=through_prior)
        return self._draw_fns[through_prior](key, num, **base)

    @property
    def _sde(self) -> bool:
        return self.method == "dps" and self.transport.sampler == "sde"

    def _sde_draws(self, key, num):
        f = self._fitted
        d = f.warm_start.mean.shape[0]
        y = jit(lambda k: reverse_sde(k, f.config, f.params, f.target, num, d))(key)
        return f.target.to_x(y)

    def _set_particles(self, key, x, lw):
        """Store the weighted particles, their diagnostics and the resampled draws, rejuvenated
        when ``self.rejuvenation`` applies (then returned, else ``None``); warn about the weights."""
        lw_np = np.asarray(lw, dtype=np.float64)
        if not np.any(np.isfinite(lw_np)):
            raise RuntimeError("Every importance weight is non-finite: the transport failed; train longer or "
                               "pass a warm start from posterior draws.")
        self._diag = diagnostics.summarize(lw_np)
        ws = self._fitted.warm_start
        agreed = None if not agreement.follows_posterior(ws.method) else agreement.compare(ws.draws, x, lw_np)
        self._diag["stage_agreement"] = None if agreed is None else agreed.info()
        self._x, self._lw = x, jnp.asarray(diagnostics.finite_log_weights(lw_np))
        idx = systematic_resample(key, self._lw, self.num_samples)
        self._idx, self._z, rejuvenated = idx, take(x, idx), None
        if self.rejuvenation is not None and not self._sde and self.rejuvenation.applies(self._diag):
            with stages.stage("rejuvenating the draws", "`rejuvenation=None` keeps the resampled draws as they are."), \
                    stages.progress("Rejuvenating the draws", self.progress_bar):
                rejuvenated = self.rejuvenation(jax.random.fold_in(key, 1), self._target.potential_fn, self._z)
            self._z, self._idx = rejuvenated.x, None
        moves = None if rejuvenated is None else rejuvenated.num_moves
        messages = diagnostics.weight_warnings(self._diag, rejuvenated=moves)
        if agreed is not None and agreed.disagrees:
            messages.append(agreed.warning(self.coordinate_names()[agreed.coordinate], rejuvenated=moves))
        for message in messages:
            warnings.warn(message, RuntimeWarning, stacklevel=4)
        return rejuvenated

    def _require_run(self):
        if self._fitted is None:
            raise RuntimeError("No results yet: call `run(rng_key, ...)` first.")

    def _extra_fields(self) -> dict:
        """``log_weight`` of the particle each draw was resampled from (NaN for reverse-SDE and
        rejuvenated draws)."""
        if self._idx is None:
            return {"log_weight": np.full(self._z.shape[0], np.nan)}
        return {"log_weight": np.asarray(take(self._lw, self._idx))}

    @in_sampler_precision
    def get_warm_start_samples(self) -> Any:
        """The warm start's own draws, constrained like :meth:`get_samples` (for the default SMC
        warm start: its equal-weight particles, which follow the posterior but are not
        independent). Compare them with :meth:`get_samples` when the importance weights are poor
        (a low ESS or a Pareto k above 0.7): a transport can end further from the posterior than
        the warm start it was trained from."""
        self._require_run()
        return self._constrain(self._fitted.warm_start.draws)

    @in_sampler_precision
    def get_weighted_samples(self) -> tuple[Any, jax.Array]:
        """All weighted particles (constrained) and their log weights ``(samples, log_weights)``;
        ``logmeanexp(log_weights)`` estimates ``log Z``."""
        self._require_run()
        return self._constrain(self._x), self._lw

    @property
    def diagnostics(self) -> dict:
        """``ess`` (normalised, in (0, 1]), ``log_Z``, ``log_Z_se``, ``log_Z_lower_bound``, ``pareto_k``,
        ``train_seconds``, ``sample_seconds``, ``warmup_seconds``, ``num_train_steps``, ``target_evals``,
        ``num_failed_particles`` (particles whose ODE solve did not reach the target: dropped, with a
        warning), ``base_components`` (components of the transport's base distribution: 1
        for ``N(0, I)``), ``base_skewed`` (whether they are skewed: the base option's ``skew``),
        ``heavy_tail_component`` (whether the base has a Student-t component: ``base="auto"`` adds
        one when the warm start's Gaussian has lighter tails than the posterior),
        ``log_Z_lower_bound_core`` (with such a component: the lower bound of the proposal without it,
        from 4,096 draws of its own; the full proposal's ``log_Z_lower_bound`` is ruined where the
        component's Cauchy tail reaches where the target has almost no mass, while ``log_Z`` is not;
        ``None`` without one), ``proposal``
        (``"transport"``, or ``"base"`` when the base's own weighted draws beat the transport's:
        the base option's ``fallback``; then ``transport_ess`` and ``base_ess`` give both; or when
        the base alone reached ``target_ess`` before training, ``stages["training"]["stopped_by"]``
        ``"base"``, 0 steps, and only ``base_ess`` is given), ``tail_drop`` and
        ``heavier_tail`` (the tail check of the final particles: :mod:`numpyro_pinn.tails`),
        ``stage_agreement`` (whether the weighted particles miss a tail of the warm start's draws,
        coordinate by coordinate: :func:`numpyro_pinn.agreement.compare`; ``None`` for a Laplace
        warm start; when ``disagrees``, the run warns and the draws are rejuvenated), ``stages``
        (seconds and target evaluations of the warm start, the base distribution's construction,
        training and drawing)...

        ``target_evals`` counts the points where the target (or its gradient) was evaluated: warm
        start, the mixture prior's mode climbs, refinement and skew fit, every collocation point, the endpoints of
        the monitor and final particles, and
        Gauss-Newton's batches. For probability-flow samplers (``sigma > 0`` methods and DPS), whose
        velocity itself evaluates the target's gradient at every solver stage, it is a lower bound.

        ``control_variate`` (DPS only, else ``None``) names the known part of ``u``: ``"mixture of K
        Gaussians"`` or ``"kde"`` (:class:`~numpyro_pinn.transports.DPSTransport`).

        The keys named ``prior_*`` before the rename to "base" (``prior_components``,
        ``prior_skewed``, ``prior_ess``) are still there for one release."""
        self._require_run()
        d = dict(self._diag)
        for old, new in (("prior_components", "base_components"), ("prior_skewed", "base_skewed"),
                         ("prior_ess", "base_ess")):  # results saved before the rename have the old keys
            if new in d or old in d:
                d[new] = d[old] = d.get(new, d.get(old))
        if d.get("proposal") == "prior":
            d["proposal"] = "base"
        return d

    @property
    def base_distribution(self) -> Optional[GaussianMixture]:
        """The trained transport's base distribution in the warm start's whitened coordinates (a
        :class:`~numpyro_pinn.bases.GaussianMixture`), or ``None`` for ``N(0, I)``."""
        self._require_run()
        return self._fitted.target.prior

    @property
    def warm_start_result(self) -> WarmStart:
        """The warm start used (whitening, SMC draws, its log Z estimate)."""
        self._require_run()
        return self._fitted.warm_start

    @in_sampler_precision
    def sample(self, rng_key: jax.Array, num: int, weighted: bool = False) -> Any:
        """Draw ``num`` new samples from the trained transport (no retraining).

        Returns equal-weight constrained draws (resampled from ``num`` weighted particles), or
        ``(samples, log_weights)`` with ``weighted=True``; a particle whose ODE solve did not reach
        the target has log weight NaN (and is never among the equal-weight draws). When the run's
        draws were rejuvenated (``diagnostics["rejuvenation"]``), the equal-weight draws are moved
        the same way. The stored results are not changed.
        """
        self._require_run()
        check_count("num", num, 1)
        k1, k2 = jax.random.split(rng_key)
        if self._sde and not weighted:
            return self._constrain(self._sde_draws(k1, int(num)))
        x, lw = self._draw(k1, int(num), through_prior=self._through_prior)
        if weighted:
            return self._constrain(x), lw
        lw = jnp.where(jnp.isfinite(lw), lw, -jnp.inf)
        z = take(x, systematic_resample(k2, lw, int(num)))
        if self._diag.get("rejuvenation") and self.rejuvenation is not None:
            z = self.rejuvenation(jax.random.fold_in(k2, 1), self._target.potential_fn, z).x
        return self._constrain(z)

    def proposal_function(self, dtype=None, potential_fn: Optional[Callable] = None) -> Callable:
        """The trained proposal as a pure, jittable ``f(rng_key, num) -> (x, log_weights)`` (``num``
        static): ``num`` flat unconstrained particles and their importance log weights ``log q -
        log p`` in one batch (a failed ODE solve gives NaN). It is what :meth:`sample` and
        :class:`~numpyro_pinn.PINNKernel` draw from. The target is evaluated in float64 (call it
        inside ``jax.enable_x64(True)``) unless ``dtype`` says otherwise (``jnp.float32`` where x64
        is off); ``potential_fn`` replaces the trained-on potential by the same one rebuilt
        elsewhere (:meth:`flat_target`)."""
        self._require_run()
        return core.proposal_function(self._fitted, through_prior=self._through_prior, dtype=dtype,
                                      potential_fn=potential_fn)

    def save(self, path: str) -> None:
        """Write the trained sampler to the file ``path``: the transport's configuration and
        parameters, the whitening and base distribution, the warm start, the weighted particles, the
        diagnostics and a format version, as arrays and plain data (no pickled code).

        The model and its data are not saved: pass them again to :meth:`load`. A custom
        ``optimizer`` and ``devices`` are not saved either (the loaded sampler uses the defaults).
        """
        self._require_run()
        f = self._fitted
        tr = f.train
        meta = {
            "sampler": self._init_args, "transport": serialization.transport_to_dict(self.transport),
            "fitted_transport": serialization.transport_to_dict(f.config),
            "warm_start": {"method": f.warm_start.method, "num_evals": int(f.warm_start.num_evals),
                           "seconds": float(f.warm_start.seconds)},
            "train": {"ess_history": [[int(i), float(e)] for i, e in tr.ess_history], "num_steps": int(tr.num_steps),
                      "seconds": float(tr.seconds), "stopped_early": bool(tr.stopped_early),
                      "stopped_by": tr.stopped_by},
            "finetune": f.finetune, "prior_evals": int(f.prior_evals), "prior_seconds": float(f.prior_seconds),
            "through_prior": bool(self._through_prior),
            "diagnostics": self._diag, "latent": serialization.latent_layout(self._target),
            "resampled": self._idx is not None,
        }
        base = f.target.prior
        arrays = {
            "params": f.params,
            "whitening": {"mean": f.target.mean, "chol": f.target.chol, "log_Z0": f.target.log_Z0},
            "base": None if base is None else base._asdict(),
            "warm_start": {"mean": f.warm_start.mean, "chol": f.warm_start.chol, "log_Z": f.warm_start.log_Z,
                           "draws": f.warm_start.draws},
            "losses": tr.losses,
            "results": {"x": self._x, "log_weights": self._lw, "z": self._z,
                        "idx": self._idx if self._idx is not None else np.zeros(0, np.int32)},
        }
        serialization.write(path, meta, arrays)

    @classmethod
    def load(cls, path: str, model: Optional[Callable] = None, *args, potential_fn: Optional[Callable] = None,
             init_params: Any = None, rng_key: Optional[jax.Array] = None, **kwargs) -> "PINNSampler":
        """Load a sampler written by :meth:`save`, for ``model`` with its arguments ``*args,
        **kwargs`` (or ``potential_fn`` with ``init_params``), as after :meth:`run`.

        ``sample(key, n)`` then gives the same draws as the saved sampler's for the same key, and
        ``get_samples``, ``diagnostics`` and ``print_summary`` its results. A model whose latent
        sites or their shapes differ from the saved one raises a ``ValueError`` naming them; the
        data are not checked (the draws are weighted against the potential built from the data
        passed here, which should be the data the sampler was trained on). ``rng_key`` only seeds
        the model's initialisation.
        """
        meta, arrays = serialization.read(path)
        init_args = dict(meta["sampler"])
        transport = serialization.transport_from_dict(meta["transport"])
        if "base" in init_args:
            init_args["base"] = bases.from_dict(init_args["base"])
            init_args["training"] = Training.from_dict(init_args["training"])
        else:  # a file written before the options objects: the same settings, without the warning
            old = {k: init_args.pop(k) for k in _DEPRECATED if k in init_args}
            if old.get("collocation") is not None:
                old["collocation"] = Collocation(*old["collocation"])
            init_args["base"], init_args["training"], transport, _ = _from_deprecated(
                old, init_args.pop("base", "auto"), None, transport, init_args.get("method"))
        if init_args.get("rejuvenation") is not None:
            init_args["rejuvenation"] = Rejuvenation.from_dict(init_args["rejuvenation"])
        elif "rejuvenation" not in init_args:  # a file written before rejuvenation: its draws were not moved
            init_args["rejuvenation"] = None
        self = cls(model, potential_fn=potential_fn, transport=transport, **init_args)
        self._restore(meta, arrays, jax.random.PRNGKey(0) if rng_key is None else rng_key, args, kwargs, init_params)
        return self

    @in_sampler_precision
    def _restore(self, meta, arrays, rng_key, args, kwargs, init_params) -> None:
        target = self._build_target(rng_key, args, kwargs, init_params)
        serialization.check_layout(meta["latent"], target)
        a = jax.tree_util.tree_map(jnp.asarray, arrays)
        w = a["whitening"]
        base = None if a["base"] is None else GaussianMixture(**a["base"])
        wt = whitened_target(target.potential_fn, w["mean"], w["chol"], w["log_Z0"], base,
                             data_sharding(self.settings.devices))
        warm = WarmStart(a["warm_start"]["mean"], a["warm_start"]["chol"], a["warm_start"]["log_Z"],
                         a["warm_start"]["draws"], meta["warm_start"]["method"], meta["warm_start"]["num_evals"],
                         seconds=meta["warm_start"].get("seconds", 0.0))
        tr = meta["train"]
        train = TrainResult(None, np.asarray(arrays["losses"]), [tuple(h) for h in tr["ess_history"]],
                            tr["num_steps"], tr["seconds"], tr["stopped_early"],
                            stopped_by=tr.get("stopped_by", "num_steps"))
        config = serialization.transport_from_dict(meta["fitted_transport"])
        # The same compiled solve as the run's (its monitor's), so that the loaded sampler draws as it did.
        solve = None if a["params"] is None else core.flow_batch(config, wt, self.settings.monitor_size)
        self._fitted = core.Fitted(config, a["params"], wt, warm, train, None, meta["finetune"],
                                   meta["prior_evals"], meta.get("prior_seconds", 0.0), solve)
        self._draw_fns, self._through_prior = {}, meta["through_prior"]
        res = a["results"]
        self._x, self._lw, self._z = res["x"], res["log_weights"], res["z"]
        self._idx = res["idx"] if meta["resampled"] else None
        self._diag = meta["diagnostics"]

    def summary_line(self) -> str:
        d = self._diag
        src = " [draws: reverse SDE, unweighted; weights from probability-flow particles]" if self._sde else ""
        if d.get("proposal") in ("base", "prior"):
            ess_base = d.get("base_ess", d.get("prior_ess"))
            src = (f" [draws: the transport's base distribution, its ESS {ess_base:.4f} above the trained transport's "
                   f"{d['transport_ess']:.4f}]" if "transport_ess" in d else
                   " [draws: the transport's base distribution, which reached target_ess untrained]")
        if d.get("rejuvenation"):
            r = d["rejuvenation"]
            budget = ", stopped at its time budget: Rejuvenation(max_seconds=...)" if r.get("budget_reached") else ""
            src += (f" [draws: resampled, then moved by {r['num_moves']} HMC steps (rejuvenation; acceptance "
                    f"{r['acceptance']:.2f}, lag correlation {r['lag_correlation']:.2f}{budget}): not independent; "
                    "ESS, log Z and Pareto k describe the proposal's weights]")
        agree = d.get("stage_agreement") or {}
        if agree.get("disagrees"):
            src += (f" [these miss a tail of the warm start's draws on {self.coordinate_names()[agree['coordinate']]}: "
                    f"{agree['tail_share']:.3f} of the weight beyond its 5% tail]")
        return (f"PINN ({self.method}){src}: ESS = {d['ess']:.4f} (normalised, {d['num_particles']} particles), "
                f"log Z = {d['log_Z']:.4f} +- {d['log_Z_se']:.4f} (lower bound {_bound(d)}), "
                f"Pareto k = {_khat(d['pareto_k'])}, train {d['train_seconds']:.1f} s "
                f"({d['num_train_steps']} steps), warm start {d['warmup_seconds']:.1f} s, "
                f"sampling {d['sample_seconds']:.1f} s")


def _bound(d: dict) -> str:
    """The lower bound as the summary line gives it: with a Student-t base component, the core's too."""
    core_bound = d.get("log_Z_lower_bound_core")
    lb = d["log_Z_lower_bound"]
    full = f"{lb:.4f}" if abs(lb) < 1e6 else f"{lb:.3g}"
    return full if core_bound is None else f"{full}; {core_bound:.4f} without the Student-t component"


#: Arguments that moved onto the option objects: where each went.
_DEPRECATED = {
    "prior": "base", "prior_skew": "base=numpyro_pinn.bases.Auto(skew=...) (or the option's `skew`)",
    "prior_fallback": "base=numpyro_pinn.bases.Auto(fallback=...) (or the option's `fallback`)",
    "dps_sampler": "transport=DPSTransport(sampler=...)",
    **{k: f"training=numpyro_pinn.training.Training({k}=...)" for k in (
        "min_steps", "batch_size", "learning_rate", "optimizer", "collocation", "domain_scale", "finetune",
        "gn_steps")},
}


def _warn_deprecated(kwargs: dict) -> None:
    unknown = [k for k in kwargs if k not in _DEPRECATED]
    if unknown:
        raise TypeError(f"PINNSampler() got an unexpected keyword argument {unknown[0]!r}.")
    moved = "; ".join(f"`{k}` -> {_DEPRECATED[k]}" for k in kwargs)
    warnings.warn(f"PINNSampler arguments moved onto option objects: {moved}. The old names go in the next "
                  "release.", FutureWarning, stacklevel=3)


def _from_deprecated(kwargs: dict, base, training, transport, method):
    """``(base, training, transport, method)`` with the deprecated arguments folded in."""
    base = bases.resolve(kwargs.get("prior", base))
    if "prior_skew" in kwargs and hasattr(base, "skew"):
        base = dataclasses.replace(base, skew=kwargs["prior_skew"])
    if "prior_fallback" in kwargs:
        base = dataclasses.replace(base, fallback=kwargs["prior_fallback"])
    moved = {k: v for k, v in kwargs.items() if k in Training.__dataclass_fields__}
    training = dataclasses.replace(training or Training(), **moved)
    if "dps_sampler" in kwargs:
        if kwargs["dps_sampler"] not in ("ode", "sde"):
            raise ValueError(f"`dps_sampler` must be 'ode' or 'sde'; got {kwargs['dps_sampler']!r}.")
        if method == "dps" or isinstance(transport, DPSTransport):
            transport = dataclasses.replace(transport or DPSTransport(), sampler=kwargs["dps_sampler"])
    return base, training, transport, method


def _khat(k: float) -> str:
    return "n/a (not enough particles)" if np.isnan(k) else f"{k:.2f}"
