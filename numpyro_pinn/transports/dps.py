"""DPS: the Diffusion-PINN Sampler (Shi et al., arXiv:2410.15336) as a transport.

A forward VP diffusion starts at the (whitened) target, ``dY = -beta(t) Y dt + sqrt(2 beta(t)) dB``
on ``t in [0, 1]`` with ``beta(t) = beta_min + t (beta_max - beta_min)`` (the PINN paper's eq. 41 with
a linear schedule), so ``Y_t | Y_0 ~ N(sqrt(a_t) Y_0, (1 - a_t) I)``, ``a_t = exp(-2 int_0^t beta)``.
A PINN learns the log density ``u(y, t)`` of its (unnormalised) marginals from the log-density
Fokker-Planck equation

    d_t u = beta d + beta y . grad u + beta (|grad u|^2 + Delta u),

parametrised so that the initial condition ``u(., 0) = log q`` holds exactly (``log Z`` is never
needed: the equation is linear in the unnormalised density). With a Gaussian mixture
``m_0 = sum_k w_k N(mu_k, S_k)`` close to the target (the warm start's mode mixture,
:func:`numpyro_pinn.bases.mode_mixture`), the exact marginal is
``p_t(y) = m_t(y) E_{m_0}[exp r(Y_0) | Y_t = y]`` with ``r = log q - log m_0``, and we use the
plug-in (first-order) form

    u(y, t) = logsumexp_k [log w_k + log N(y; sqrt(a_t) mu_k, a_t S_k + (1 - a_t) I) + r(xhat_k)] + t NN(y, t),

``xhat_k = mu_k + sqrt(a_t) S_k (a_t S_k + (1 - a_t) I)^-1 (y - sqrt(a_t) mu_k)`` the posterior mean
of ``Y_0`` under component ``k``: exact at ``t = 0`` (``xhat_k = y``), exact wherever ``r`` is
locally constant, and it carries the mode structure, the mixing weights and the target's own shape
through the noising, so that the network only learns a small correction (the alternative,
``control_variate="kde"``: ``log m_t + c_t (log q - log m_0)`` over a kernel density estimate with a
hand-set switch-off ``c_t``, leaves the network far more to learn). With a single mode, or a ring or ridge of
maxima, the mixture is fitted to
the warm-start draws and the target (:func:`numpyro_pinn.bases.draw_mixture`, which chooses its
number of components; ``PINNSampler(base="auto")``); the KDE form remains as
``control_variate="kde"``. The price: each evaluation of ``u`` evaluates the target at ``K`` points
(one per component), its Laplacian the target's Hessian there, and ``r`` the mixture at those ``K``
points (``K^2`` component densities): with many components a training step costs tens of times
the ODE PINN's.

Samples come from the reverse diffusion driven by the score ``grad u``: the probability-flow ODE
``dy/dt = -beta (y + grad u)`` integrated from ``N(0, I)`` at ``t = 1`` to ``t = 0`` with its
change-of-variables log density (importance-weighted, default), or the reverse SDE
(Euler-Maruyama, unweighted). Since ``u`` contains ``log q``, every drift evaluation evaluates the
target's gradient (and, for the exact weights, its Laplacian).

References: Shi et al., "Diffusion-PINN Sampler" (arXiv:2410.15336); the PINN-sampling paper's
section 2.1 and appendices C, F.3.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import diffrax
import lineax
import jax
import jax.numpy as jnp
import optax

from numpyro_pinn.training.collocation import CollocationPool, sample_points
from numpyro_pinn.transports.networks import FourierMLP
from numpyro_pinn.transports.ode import BATCH_SIZE, TrainInfo, TrainState

__all__ = ["DPSTransport", "reverse_sde"]


@dataclass(frozen=True)
class DPSTransport:
    """Configuration of the DPS transport.

    Attributes
    ----------
    hidden, num_freqs
        The network ``NN(y, t)`` (Fourier-feature MLP).
    beta_min, beta_max
        Linear noise schedule ``beta(t)``; the defaults give ``a_1 = exp(-2 * 5.025) ~ 4e-5``, so
        ``Y_1`` is ``N(0, I)`` up to a negligible error (the weights correct the rest).
    hutchinson_above
        Use Hutchinson's estimate of the Laplacians in the training loss above this dimension.
    residual_weight
        ``"beta2"`` (default, as reported for the DPS paper): the squared residual times
        ``beta(t)^2``; ``"inv_beta2"``: divided by ``beta(t)^2`` (the residual per unit of diffusion
        time); ``"none"``.
    sampler
        ``"ode"`` (default) draws importance-weighted particles from the probability-flow ODE;
        ``"sde"`` returns reverse-SDE draws, which are *unweighted* (their ESS, log Z and k-hat are
        unknown: ``diagnostics`` then reports those of probability-flow particles and says so in
        ``diagnostics["sample_source"]``).
    sde_steps
        Euler-Maruyama steps of the reverse SDE (``sampler="sde"``).
    control_variate
        The known part of ``u``. ``"auto"`` (default): the plug-in form (:meth:`_u_plugin`) over the
        Gaussian mixture that the sampler builds from the warm start: one component per mode
        (:func:`numpyro_pinn.bases.mode_mixture`) when it finds several, else (one mode, or a ring
        or ridge of maxima) components fitted to the draws and the target
        (:func:`numpyro_pinn.bases.draw_mixture`). ``"kde"``: ``log m_t + c_t (log q - log m_0)``
        over a kernel density estimate of the warm-start draws: the plug-in mixture is the better
        control variate on every target of the DPS benchmark; a single ``N(0, I)``
        component would never smooth the target's fine structure, hence the draws mixture for one
        mode. ``PINNSampler(base="draws")`` uses that mixture
        even when there are several modes.
    kde_size, kde_bandwidth
        For ``control_variate="kde"``: number of warm-start draws in the KDE and its bandwidth as a
        multiple of Silverman's rule (in whitened coordinates).
    """

    hidden: Sequence[int] = (64, 64, 64)
    num_freqs: int = 8
    beta_min: float = 0.05
    beta_max: float = 10.0
    hutchinson_above: int = 16
    residual_weight: str = "beta2"
    sde_steps: int = 500
    sampler: str = "ode"
    kde_size: int = 256
    kde_bandwidth: float = 0.5
    control_variate: str = "auto"
    name: str = field(default="dps", init=False)

    #: the prior sits at ``t = 1``, the target at ``t = 0``
    t_span = (1.0, 0.0)
    #: DPS's prior is always ``N(0, I)``: no base distribution of its own to fall back to.
    base_fallback = False
    #: Its untrained drift is not zero (the control variate's score): its proposal is its own.
    starts_at_base = False
    #: Paths for collocation follow the probability-flow ODE, without noise.
    path_noise = 0.0
    #: What the drawn particles are, for ``diagnostics["sample_source"]``.
    particles = "probability-flow ODE particles"

    def default_batch_size(self, dim: int) -> int:
        """Collocation points per step for ``Training(batch_size=None)``: the ODE family's
        :data:`~numpyro_pinn.transports.ode.BATCH_SIZE` (1,024) in every dimension."""
        return BATCH_SIZE

    def for_prior(self, prior) -> "DPSTransport":
        """This configuration (DPS's prior is fixed; the mixture is its control variate)."""
        return self

    def describe_control_variate(self, params) -> Optional[str]:
        """The known part of ``u``, for ``diagnostics``: ``"mixture of K Gaussians"`` (the plug-in
        form) or ``"kde"``."""
        if not self._plugin(params):
            return "kde"
        return f"mixture of {int(params['kde']['means'].shape[0])} Gaussians"

    @property
    def mixture_role(self):
        """A Gaussian mixture fitted by the warm start is the control variate of ``u`` (the prior stays
        ``N(0, I)``); with ``control_variate="kde"`` none is built."""
        return "control_variate" if self.control_variate == "auto" else None

    def __post_init__(self):
        if self.residual_weight not in ("inv_beta2", "beta2", "none"):
            raise ValueError(f"residual_weight must be 'inv_beta2', 'beta2' or 'none'; got {self.residual_weight!r}.")
        if self.control_variate not in ("auto", "kde"):
            raise ValueError(f"control_variate must be 'auto' or 'kde'; got {self.control_variate!r}.")
        if self.sampler not in ("ode", "sde"):
            raise ValueError(f"DPSTransport's `sampler` must be 'ode' or 'sde'; got {self.sampler!r}.")
        if not 0 < self.beta_min < self.beta_max:
            raise ValueError(f"need 0 < beta_min < beta_max; got {self.beta_min}, {self.beta_max}.")

    # -- schedule -----------------------------------------------------------------------------------
    def beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def a(self, t):
        """``a_t = exp(-2 int_0^t beta)``: the signal variance fraction of ``Y_t``."""
        return jnp.exp(-2.0 * (self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2))

    def bridge(self, t, z, x):
        """Forward-noising marginal of a warm-start draw ``x``: ``sqrt(a_t) x + sqrt(1 - a_t) z``."""
        a = self.a(t)
        return jnp.sqrt(a) * x + jnp.sqrt(1.0 - a) * z

    # -- networks -----------------------------------------------------------------------------------
    def network(self) -> FourierMLP:
        return FourierMLP(1, tuple(self.hidden), self.num_freqs)

    def init(self, rng_key, dim: int, optimizer, draws=None, mixture=None) -> TrainState:
        """Network parameters plus the frozen control variate ``m_0`` (see ``control_variate``): the
        Gaussian ``mixture`` (:class:`numpyro_pinn.bases.GaussianMixture`, whitened) when one is
        given, else a KDE of the whitened warm-start ``draws``."""
        k1, k2 = jax.random.split(rng_key)
        y = jnp.zeros((dim,), jnp.float32)
        nn = self.network().init(k1, y, jnp.zeros((), jnp.float32))
        if self.control_variate == "auto" and mixture is not None:
            if getattr(mixture, "skews", None) is not None:
                raise ValueError("DPS's control variate needs Gaussian components; got a skewed mixture "
                                 "(bases.fit_skew is for the ODE family's prior).")
            cov = jnp.einsum("kij,klj->kil", mixture.chols, mixture.chols).astype(jnp.float32)
            lam, vecs = jnp.linalg.eigh(cov)
            lam = jnp.maximum(lam, 1e-6)
            means, log_w = mixture.means.astype(jnp.float32), mixture.log_weights.astype(jnp.float32)
            cv = {"means": means, "vecs": vecs, "lam": lam, "log_w": log_w}
            return TrainState({"nn": nn, "kde": cv}, optimizer.init({"nn": nn, "kde": cv}), jnp.zeros((), jnp.int32))
        if draws is None:
            raise ValueError("DPS needs warm-start draws or a Gaussian mixture for its control variate.")
        n = min(self.kde_size, draws.shape[0])
        centres = draws[jax.random.choice(k2, draws.shape[0], (n,), replace=False)].astype(jnp.float32)
        h = self.kde_bandwidth * (4.0 / (dim + 2)) ** (1.0 / (dim + 4)) * n ** (-1.0 / (dim + 4))
        params = {"nn": nn, "kde": {"centres": centres, "h2": jnp.asarray(h**2, jnp.float32)}}
        return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))

    def _nn(self, params):
        net = self.network()
        return lambda y, t: net.apply(params["nn"], y, t)[0]

    def _log_m(self, params):
        """``log m_t(y)``: the exactly-noised control variate (no gradient flows into it). A mixture
        component ``N(mu, V diag(lam) V^T)`` becomes ``N(sqrt(a_t) mu, V diag(a_t lam + 1 - a_t) V^T)``."""
        cv = jax.lax.stop_gradient(params["kde"])

        if "vecs" in cv:
            def log_m(y, t):
                lp, _, _ = _noised_components(cv, y, self.a(t))
                return jax.scipy.special.logsumexp(lp + cv["log_w"])

            return log_m

        c, h2 = cv["centres"], cv["h2"]

        def log_m(y, t):
            a = self.a(t)
            var = a * h2 + 1.0 - a
            sq = jnp.sum((y - jnp.sqrt(a) * c) ** 2, axis=-1)
            d = y.shape[-1]
            return jax.scipy.special.logsumexp(-0.5 * sq / var) - jnp.log(c.shape[0]) - 0.5 * d * jnp.log(
                2 * jnp.pi * var)

        return log_m

    def c(self, params, t):
        """Weight of the exact correction ``log q - log m_0``: 1 at ``t = 0``, small once ``1 - a_t >> h^2``."""
        h2 = jax.lax.stop_gradient(params["kde"]["h2"])
        a = self.a(t)
        return a * h2 / (h2 + 1.0 - a)

    def _base(self, params):
        """``b(y, t) = log m_t(y) - c_t log m_0(y)`` so that ``u = b + c_t log q + t NN``."""
        log_m = self._log_m(params)
        return lambda y, t: log_m(y, t) - self.c(params, t) * log_m(y, jnp.zeros_like(t))

    @staticmethod
    def _plugin(params) -> bool:
        """Whether the control variate is a Gaussian mixture (plug-in form of ``u``)."""
        return "vecs" in params["kde"]

    def _u_plugin(self, params, target):
        """``u(y, t) - t NN(y, t)`` for a Gaussian-mixture control variate ``m_0``:

            logsumexp_k [log w_k + log N_k,t(y) + r(xhat_k(y, t))],   r = log q - log m_0,

        where ``N_k,t`` is component ``k`` noised to time ``t`` and ``xhat_k`` the posterior mean of
        ``Y_0`` given ``Y_t = y`` under that component. This is the exact marginal
        ``m_t(y) E[exp r(Y_0) | y]`` with each component's conditional expectation replaced by its
        value at the conditional mean: exact at ``t = 0`` (``xhat_k = y``) and wherever ``r`` is
        constant, and it carries the target's correction along the noising exactly to first order."""
        cv = jax.lax.stop_gradient(params["kde"])
        log_m = self._log_m(params)

        def r(x):
            lq = target.logq(x.astype(target.chol.dtype)).astype(jnp.float32)
            return lq - log_m(x, jnp.zeros((), jnp.float32))

        def u(y, t):
            a = self.a(t)
            lp, z, var = _noised_components(cv, y, a)
            xhat = cv["means"] + jnp.einsum("kij,kj->ki", cv["vecs"], jnp.sqrt(a) * cv["lam"] / var * z)
            return jax.scipy.special.logsumexp(lp + cv["log_w"] + jax.vmap(r)(xhat))

        return u

    def u_fn(self, params, target) -> Callable:
        """The learned log density ``u(y, t)`` of the noised (unnormalised) target."""
        nn = self._nn(params)
        if self._plugin(params):
            u0 = self._u_plugin(params, target)
            return lambda y, t: u0(y, t) + t * nn(y, t)
        base = self._base(params)
        return lambda y, t: (base(y, t) + self.c(params, t) * target.logq(y.astype(target.chol.dtype)).astype(
            jnp.float32) + t * nn(y, t))

    def score_fn(self, params, target) -> Callable:
        """``grad u(y, t)`` (evaluates the target's gradient at ``y``)."""
        if self._plugin(params):
            return jax.grad(self.u_fn(params, target))
        nn, base = self._nn(params), self._base(params)

        def score(y, t):
            g = jax.grad(target.logq)(y.astype(target.chol.dtype)).astype(jnp.float32)
            return self.c(params, t) * g + jax.grad(base)(y, t) + t * jax.grad(nn)(y, t)

        return score

    def flow_field(self, params, dim: int, target):
        """Probability-flow ODE ``v = -beta (y + grad u)`` and its exact divergence
        ``-beta (d + Delta u)``."""
        nn, base = self._nn(params), self._base(params)
        score = self.score_fn(params, target)

        def v(y, t):
            return -self.beta(t) * (y + score(y, t))

        if self._plugin(params):
            u = self.u_fn(params, target)
            return v, lambda y, t: -self.beta(t) * (dim + jnp.trace(jax.hessian(u)(y, t)))

        def div(y, t):
            lap_q = target.laplacian(y).astype(jnp.float32)
            lap_rest = jnp.trace(jax.hessian(lambda z: base(z, t) + t * nn(z, t))(y))
            return -self.beta(t) * (dim + self.c(params, t) * lap_q + lap_rest)

        return v, div

    def path_field(self, params, dim: int, target):
        return self.flow_field(params, dim, target)[0]

    # -- training -----------------------------------------------------------------------------------
    def residuals(self, params, y, t, logq, grad_logq, lap_logq, eps=None):
        """Log-FP residuals at a batch (``y`` ``(B, d)``, ``t`` ``(B,)``); target values precomputed."""
        nn, base = self._nn(params), self._base(params)
        d = y.shape[-1]

        def one(yy, tt, lq, gq, lapq, ee):
            beta = self.beta(tt)
            c, dc = jax.value_and_grad(lambda s: self.c(params, s))(tt)

            def rest(z, s):  # everything of u but the target term c_t log q
                return base(z, s) + s * nn(z, s)

            _, (g_rest, dt_rest) = jax.value_and_grad(rest, argnums=(0, 1))(yy, tt)
            if ee is None:
                lap_rest = jnp.trace(jax.hessian(rest)(yy, tt))
            else:
                lap_rest = jnp.dot(ee, jax.jvp(lambda z: jax.grad(rest)(z, tt), (yy,), (ee,))[1])
            u_t = dc * lq + dt_rest
            grad_u = c * gq + g_rest
            lap_u = c * lapq + lap_rest
            r = u_t - beta * d - beta * jnp.dot(yy, grad_u) - beta * (jnp.sum(grad_u**2) + lap_u)
            return self._weight(beta) * r

        if eps is None:
            return jax.vmap(lambda *a: one(*a, None))(y, t, logq, grad_logq, lap_logq)
        return jax.vmap(one)(y, t, logq, grad_logq, lap_logq, eps)

    def _weight(self, beta):
        return {"inv_beta2": 1.0 / beta, "beta2": beta, "none": 1.0}[self.residual_weight]

    def plugin_residuals(self, params, target, y, t, eps=None):
        """Log-Fokker-Planck residuals at points ``y`` and times ``t`` when the control variate is a
        Gaussian mixture (the plug-in ``u``: the target enters inside ``u``; autodiff throughout)."""
        u = self.u_fn(params, target)
        d = y.shape[-1]

        def one(yy, tt, ee):
            beta = self.beta(tt)
            # (grad_y u, d_t u) once, as the primal of the forward-over-reverse pass that gives the
            # Laplacian (each evaluation of u evaluates the target at K points).
            grads = lambda z: jax.grad(u, argnums=(0, 1))(z, tt)
            if ee is None:
                (hess, _), (g, u_t) = jax.jacfwd(lambda z: (lambda gu: (gu, gu))(grads(z)), has_aux=True)(yy)
                lap = jnp.trace(hess)
            else:
                (g, u_t), (hv, _) = jax.jvp(grads, (yy,), (ee,))
                lap = jnp.dot(ee, hv)
            r = u_t - beta * d - beta * jnp.dot(yy, g) - beta * (jnp.sum(g**2) + lap)
            return self._weight(beta) * r

        if eps is None:
            return jax.vmap(lambda a, b: one(a, b, None))(y, t)
        return jax.vmap(one)(y, t, eps)

    def residual_fn(self, target, counts) -> Callable:
        """``(params, rng_key, pool) -> residuals`` at one collocation batch; the training loss is
        ``mean(r**2)``. Shared by the Adam kernel and Gauss-Newton."""

        def residual_fn(params, rng_key, pool):
            k1, k2 = jax.random.split(rng_key)
            y, t = sample_points(k1, pool, counts, self.bridge)
            y, t = target.shard(y), target.shard(t)
            d = y.shape[-1]
            eps = jax.random.rademacher(k2, y.shape, dtype=jnp.float32) if d > self.hutchinson_above else None
            if self._plugin(params):
                r = self.plugin_residuals(params, target, y, t, eps)
                ok = jnp.isfinite(r)
                r = jnp.where(ok, r, 0.0)
                return r * jnp.sqrt(r.shape[0] / jnp.maximum(jnp.sum(ok), 1))
            tv = target.values(y)
            lap = jax.vmap(target.laplacian)(y) if eps is None else jax.vmap(target.laplacian)(y, eps)
            lq, gq, lap = jax.tree_util.tree_map(jax.lax.stop_gradient,
                                                 (tv.logq, tv.grad_logq, lap.astype(jnp.float32)))
            r = self.residuals(params, y, t, lq, gq, lap, eps)
            ok = jnp.isfinite(lq) & jnp.all(jnp.isfinite(gq), axis=-1) & jnp.isfinite(lap)
            r = jnp.where(ok, r, 0.0)
            return r * jnp.sqrt(r.shape[0] / jnp.maximum(jnp.sum(ok), 1))

        return residual_fn

    def build_kernel(self, target, optimizer: optax.GradientTransformation, counts) -> Callable:
        residual_fn = self.residual_fn(target, counts)

        def kernel(rng_key, state: TrainState, pool: CollocationPool):
            loss_fn = lambda params: jnp.mean(residual_fn(params, rng_key, pool) ** 2)
            loss, grads = jax.value_and_grad(loss_fn)(state.params)
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            params = optax.apply_updates(state.params, updates)
            return TrainState(params, opt_state, state.step + 1), TrainInfo(loss, optax.tree.norm(grads))

        return kernel


def _noised_components(cv, y, a):
    """Component log densities of a Gaussian-mixture control variate noised to signal fraction
    ``a``: ``N(mu_k, V_k diag(lam_k) V_k^T)`` becomes ``N(sqrt(a) mu_k, V_k diag(a lam_k + 1 - a) V_k^T)``.
    Returns ``(log N_k(y), z_k, var_k)`` with ``z_k = V_k^T (y - sqrt(a) mu_k)`` in each component's
    eigenbasis and ``var_k`` its variances there, shapes ``(K,)``, ``(K, d)``, ``(K, d)``."""
    var = a * cv["lam"] + 1.0 - a
    z = jnp.einsum("kij,ki->kj", cv["vecs"], y - jnp.sqrt(a) * cv["means"])
    lp = -0.5 * jnp.sum(z**2 / var + jnp.log(2 * jnp.pi * var), axis=-1)
    return lp, z, var


def reverse_sde(rng_key, config: DPSTransport, params, target, num: int, dim: int) -> jax.Array:
    """Unweighted draws (whitened coordinates) from the reverse-time SDE
    ``dy = [-beta y - 2 beta grad u] dt + sqrt(2 beta) dB`` from ``N(0, I)`` at ``t = 1`` to ``t = 0``,
    Euler-Maruyama with ``config.sde_steps`` steps (diffrax), in reversed time ``s = 1 - t``."""
    score = config.score_fn(params, target)
    t_end = 1.0

    def drift(s, y, args):
        t = t_end - s
        return config.beta(t) * (y + 2.0 * score(y, t))

    def diffusion(s, y, args):
        return lineax.DiagonalLinearOperator(jnp.sqrt(2.0 * config.beta(t_end - s)) * jnp.ones_like(y))

    def one(key):
        k0, kb = jax.random.split(key)
        y0 = jax.random.normal(k0, (dim,), dtype=jnp.float32)
        bm = diffrax.VirtualBrownianTree(0.0, t_end, tol=0.5 / config.sde_steps, shape=(dim,), key=kb)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))
        # Stop just short of t = 0 would be usual for score models; here u(., 0) = log q is exact.
        sol = diffrax.diffeqsolve(terms, diffrax.Euler(), 0.0, t_end, t_end / config.sde_steps, y0,
                                  max_steps=config.sde_steps + 1)
        return sol.ys[-1]

    return jax.vmap(one)(jax.random.split(rng_key, num))
