"""NumPyro versions of the posteriordb reference posteriors shipped in ``numpyro_pinn/data/posteriordb``.

Data and reference summaries (long Stan runs) come from posteriordb
(github.com/stan-dev/posteriordb), BSD 3-Clause, Copyright (c) 2011-2024 Stan Developers and their
Assignees. Models follow the Stan programs as described in ``data/posteriordb/README.md``:
improper flat priors are ``dist.ImproperUniform`` (no prior term), bounds are NumPyro constraints.

Examples
--------
>>> from numpyro_pinn import posteriordb
>>> post = posteriordb.load("kidiq-kidscore_momiq")
>>> post.model, post.kwargs.keys(), list(post.reference)[:2]  # doctest: +SKIP
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

__all__ = ["Posterior", "NAMES", "CORE_EIGHT", "load", "compare_to_reference", "reference_values"]


def _flat(shape=(), support=constraints.real):
    return dist.ImproperUniform(support, (), event_shape=shape)


def _half_cauchy_sigma(scale):
    return numpyro.sample("sigma", dist.HalfCauchy(scale))


def eight_schools_noncentered(sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("J", sigma.shape[0]):
        theta_trans = numpyro.sample("theta_trans", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * theta_trans)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def linear_flat(X, y=None, sigma_prior=None):
    """``y ~ N(X beta, sigma)``, flat beta; sigma flat on (0, inf) or the given prior."""
    beta = numpyro.sample("beta", _flat((X.shape[1],)))
    sigma = numpyro.sample("sigma", sigma_prior if sigma_prior is not None else _flat((), constraints.positive))
    numpyro.sample("y", dist.Normal(X @ beta, sigma), obs=y)


def kidiq_model(X, y=None):
    linear_flat(X, y, dist.HalfCauchy(2.5))


def blr(X, y=None):
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([X.shape[1]]).to_event(1))
    sigma = numpyro.sample("sigma", dist.HalfNormal(10.0))
    numpyro.sample("y", dist.Normal(X @ beta, sigma), obs=y)


def ark(y, K):
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 10.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([K]).to_event(1))
    sigma = _half_cauchy_sigma(2.5)
    T = y.shape[0]
    lags = jnp.stack([y[K - k: T - k] for k in range(1, K + 1)], axis=1)  # column k-1 = y[t-k]
    numpyro.sample("y", dist.Normal(alpha + lags @ beta, sigma), obs=y[K:])


def garch11(y, sigma1):
    mu = numpyro.sample("mu", _flat())
    alpha0 = numpyro.sample("alpha0", _flat((), constraints.positive))
    alpha1 = numpyro.sample("alpha1", dist.Uniform(0.0, 1.0))
    beta1_raw = numpyro.sample("beta1_raw", dist.Uniform(0.0, 1.0))
    beta1 = numpyro.deterministic("beta1", (1.0 - alpha1) * beta1_raw)
    numpyro.factor("beta1_jacobian", jnp.log1p(-alpha1))  # flat on the triangle beta1 < 1 - alpha1

    def step(sig_prev, y_prev):
        sig = jnp.sqrt(alpha0 + alpha1 * (y_prev - mu) ** 2 + beta1 * sig_prev**2)
        return sig, sig

    _, sigs = jax.lax.scan(step, jnp.asarray(sigma1, y.dtype), y[:-1])
    sig = jnp.concatenate([jnp.atleast_1d(jnp.asarray(sigma1, y.dtype)), sigs])
    numpyro.sample("y", dist.Normal(mu, sig), obs=y)


def low_dim_gauss_mix(y):
    mu = numpyro.sample("mu", dist.ImproperUniform(constraints.ordered_vector, (), event_shape=(2,)))
    numpyro.factor("mu_prior", dist.Normal(0.0, 2.0).log_prob(mu).sum())
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0).expand([2]).to_event(1))
    theta = numpyro.sample("theta", dist.Beta(5.0, 5.0))
    mix = dist.MixtureSameFamily(dist.Categorical(jnp.stack([theta, 1 - theta])), dist.Normal(mu, sigma))
    numpyro.sample("y", mix, obs=y)


def arma11(y):
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    phi = numpyro.sample("phi", dist.Normal(0.0, 2.0))
    theta = numpyro.sample("theta", dist.Normal(0.0, 2.0))
    sigma = _half_cauchy_sigma(2.5)
    err1 = y[0] - (mu + phi * mu)

    def step(err_prev, ys):
        y_prev, y_t = ys
        err = y_t - (mu + phi * y_prev + theta * err_prev)
        return err, err

    _, errs = jax.lax.scan(step, err1, (y[:-1], y[1:]))
    numpyro.sample("err", dist.Normal(0.0, sigma), obs=jnp.concatenate([err1[None], errs]))


def gp_regr(x, y):
    rho = numpyro.sample("rho", dist.Gamma(25.0, 4.0))
    alpha = numpyro.sample("alpha", dist.HalfNormal(2.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    K = alpha**2 * jnp.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / rho**2) + sigma * jnp.eye(x.shape[0])
    numpyro.sample("y", dist.MultivariateNormal(jnp.zeros(x.shape[0]), covariance_matrix=K), obs=y)


def kilpisjarvi(x, y, pmualpha, psalpha, pmubeta, psbeta):
    alpha = numpyro.sample("alpha", dist.Normal(pmualpha, psalpha))
    beta = numpyro.sample("beta", dist.Normal(pmubeta, psbeta))
    sigma = numpyro.sample("sigma", _flat((), constraints.positive))
    numpyro.sample("y", dist.Normal(alpha + beta * x, sigma), obs=y)


def diamonds(Xc, Y):
    b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([Xc.shape[1]]).to_event(1))
    intercept = numpyro.sample("Intercept", dist.StudentT(3.0, 8.0, 10.0))
    sigma = numpyro.sample("sigma", dist.FoldedDistribution(dist.StudentT(3.0, 0.0, 10.0)))
    numpyro.sample("Y", dist.Normal(intercept + Xc @ b, sigma), obs=Y)


class Posterior(NamedTuple):
    """A posteriordb posterior: NumPyro model, its arguments, and Stan's reference summary."""

    name: str
    model: Callable
    args: tuple
    kwargs: dict
    reference: dict  # "param[i]" -> {"mean", "sd", "q05", "q50", "q95"}


def _read(name, fname):
    return resources.files("numpyro_pinn.data").joinpath("posteriordb", name, fname).read_text()


def _arr(v):
    return np.asarray(v, dtype=np.float64)


def _build(name, d):
    if name == "eight_schools-eight_schools_noncentered":
        return eight_schools_noncentered, (_arr(d["sigma"]),), {"y": _arr(d["y"])}
    if name == "kidiq-kidscore_momiq":
        X = np.stack([np.ones(d["N"]), _arr(d["mom_iq"])], 1)
        return kidiq_model, (X,), {"y": _arr(d["kid_score"])}
    if name == "kidiq-kidscore_interaction":
        hs, iq = _arr(d["mom_hs"]), _arr(d["mom_iq"])
        X = np.stack([np.ones(d["N"]), hs, iq, hs * iq], 1)
        return kidiq_model, (X,), {"y": _arr(d["kid_score"])}
    if name == "earnings-logearn_interaction_z":
        h, male = _arr(d["height"]), _arr(d["male"])
        z = (h - h.mean()) / h.std(ddof=1)
        X = np.stack([np.ones(d["N"]), z, male, z * male], 1)
        return linear_flat, (X,), {"y": np.log(_arr(d["earn"]))}
    if name in ("mesquite-logmesquite", "mesquite-logmesquite_logvas"):
        d1, d2, ch = _arr(d["diam1"]), _arr(d["diam2"]), _arr(d["canopy_height"])
        th, den, g = _arr(d["total_height"]), _arr(d["density"]), _arr(d["group"])
        if name == "mesquite-logmesquite":
            cols = [np.log(d1), np.log(d2), np.log(ch), np.log(th), np.log(den), g]
        else:
            cols = [np.log(d1 * d2 * ch), np.log(d1 * d2), np.log(d1 / d2), np.log(th), np.log(den), g]
        X = np.stack([np.ones(d["N"])] + cols, 1)
        return linear_flat, (X,), {"y": np.log(_arr(d["weight"]))}
    if name == "arK-arK":
        return ark, (_arr(d["y"]), int(d["K"])), {}
    if name == "garch-garch11":
        return garch11, (_arr(d["y"]), float(d["sigma1"])), {}
    if name == "low_dim_gauss_mix-low_dim_gauss_mix":
        return low_dim_gauss_mix, (_arr(d["y"]),), {}
    if name in ("sblrc-blr", "sblri-blr"):
        return blr, (_arr(d["X"]),), {"y": _arr(d["y"])}
    if name == "nes2000-nes":
        age = _arr(d["age_discrete"])
        X = np.stack([np.ones(d["N"]), _arr(d["real_ideo"]), _arr(d["race_adj"]), age == 2, age == 3, age == 4,
                      _arr(d["educ1"]), _arr(d["gender"]), _arr(d["income"])], 1).astype(np.float64)
        return linear_flat, (X,), {"y": _arr(d["partyid7"])}
    if name == "arma-arma11":
        return arma11, (_arr(d["y"]),), {}
    if name == "gp_pois_regr-gp_regr":
        return gp_regr, (_arr(d["x"]), _arr(d["y"])), {}
    if name == "kilpisjarvi_mod-kilpisjarvi":
        return kilpisjarvi, (_arr(d["x"]), _arr(d["y"]), float(d["pmualpha"]), float(d["psalpha"]),
                             float(d["pmubeta"]), float(d["psbeta"])), {}
    if name == "diamonds-diamonds":
        X = _arr(d["X"])[:, 1:]
        return diamonds, (X - X.mean(0), _arr(d["Y"])), {}
    raise KeyError(name)


NAMES = (
    "eight_schools-eight_schools_noncentered", "kidiq-kidscore_momiq", "earnings-logearn_interaction_z",
    "mesquite-logmesquite", "arK-arK", "garch-garch11", "low_dim_gauss_mix-low_dim_gauss_mix", "sblrc-blr",
    "arma-arma11", "diamonds-diamonds", "gp_pois_regr-gp_regr", "kidiq-kidscore_interaction",
    "kilpisjarvi_mod-kilpisjarvi", "mesquite-logmesquite_logvas", "nes2000-nes", "sblri-blr",
)
CORE_EIGHT = NAMES[:8]


def load(name: str) -> Posterior:
    """Load one posterior by its posteriordb name (see :data:`NAMES`)."""
    if name not in NAMES:
        raise ValueError(f"Unknown posterior {name!r}; available: {', '.join(NAMES)}.")
    d = json.loads(_read(name, "data.json"))
    model, args, kwargs = _build(name, d)
    ref = json.loads(_read(name, "reference_summary.json"))["summary"]
    return Posterior(name, model, args, kwargs, ref)


def reference_values(samples: dict, param: str) -> np.ndarray:
    """Draws of a Stan-named scalar (``"beta[2]"``, 1-based) from a NumPyro samples dict."""
    if "[" in param:
        base, idx = param[:-1].split("[")
        return np.asarray(samples[base])[..., int(idx) - 1]
    return np.asarray(samples[param])


def numpyro_name(param: str) -> str:
    """A Stan-named scalar (``"theta[1]"``, 1-based) under NumPyro's 0-based naming (``"theta[0]"``),
    as ``print_summary`` and ArviZ show it."""
    if "[" not in param:
        return param
    base, idx = param[:-1].split("[")
    return f"{base}[{','.join(str(int(i) - 1) for i in idx.split(','))}]"


def compare_to_reference(samples: dict, reference: dict, weights=None) -> dict:
    """Per parameter: ``(median - ref median) / ref sd`` and ``90% width / ref width - 1``.

    The issue floor: ``|median error| <= 0.1`` and ``|width error| <= 0.1`` for every parameter.
    """
    out = {}
    for p, r in reference.items():
        x = reference_values(samples, p).reshape(-1)
        q05, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
        out[p] = {"median_err_sd": (q50 - r["q50"]) / r["sd"],
                  "width_err": (q95 - q05) / (r["q95"] - r["q05"]) - 1.0,
                  "mean": float(np.mean(x)), "sd": float(np.std(x))}
    return out
