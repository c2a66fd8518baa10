"""Real models for `realworld.py` beyond posteriordb: NumPyro's own examples, a logistic regression
on real data, and Gaussians with exact answers.

Each case gives the model, its data, a ``new_data`` function (data of the same shapes, for the
second-run timing) and, where the answer is exact, a reference summary. References for the other
cases come from long NUTS runs (`make_references.py`, committed in `data/references.json`).

Sources: `baseball` is `partially_pooled` of NumPyro's examples/baseball.py with the Efron-Morris
data (first 45 at-bats); `ucbadmit` is `glmm` of NumPyro's examples/ucbadmit.py with the UC Berkeley
1973 admissions; `ordinal` is an ordered-logistic regression with a Dirichlet prior on the category
probabilities, as in NumPyro's ordinal-regression notebook, on simulated data; `breast_cancer` is
the Bayesian logistic regression of the neural-sampler benchmark suites on the Wisconsin data
(`data/breast_cancer.csv.gz`, see its header). The held-out models (`HELDOUT`: a horseshoe
regression, a negative-binomial regression, a varying-intercept model, an ordered two-component
mixture, a stochastic-volatility model and a Poisson GLMM; then a Weibull survival regression with
censoring, a multinomial logit, a Student-t regression with unknown degrees of freedom, a
bivariate normal with a uniform correlation and a Dirichlet-multinomial model; all on simulated
data) were written after the defaults were set, to run them on models nobody tuned them for.
"""
from __future__ import annotations

import gzip
import os
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import logit

HERE = os.path.dirname(os.path.abspath(__file__))


class Case(NamedTuple):
    model: Callable
    args: tuple
    kwargs: dict
    new_data: Callable  # seed -> (args, kwargs) of the same shapes
    exact: Optional[dict] = None  # parameter -> {q05, q50, q95, sd}


# --- baseball (NumPyro examples/baseball.py, partially pooled) -------------------------------------

BASEBALL_HITS = np.array([18, 17, 16, 15, 14, 14, 13, 12, 11, 11, 10, 10, 10, 10, 10, 9, 8, 7.0])


def partially_pooled(at_bats, hits=None):
    m = numpyro.sample("m", dist.Uniform(0, 1))
    kappa = numpyro.sample("kappa", dist.Pareto(1, 1.5))
    with numpyro.plate("num_players", at_bats.shape[0]):
        phi = numpyro.sample("phi", dist.Beta(m * kappa, (1 - m) * kappa))
        return numpyro.sample("obs", dist.Binomial(at_bats, probs=phi), obs=hits)


def baseball_new_data(seed):
    rng = np.random.default_rng(seed)
    return (jnp.full(18, 45.0),), {"hits": jnp.asarray(rng.binomial(45, BASEBALL_HITS / 45.0), float)}


# --- ucbadmit (NumPyro examples/ucbadmit.py, glmm) -------------------------------------------------

# Department A-F, then male (1) / female (0): admitted of applications.
UCB_ADMIT = np.array([512, 89, 353, 17, 120, 202, 138, 131, 53, 94, 22, 24])
UCB_APPLICATIONS = np.array([825, 108, 560, 25, 325, 593, 417, 375, 191, 393, 373, 341])
UCB_DEPT = np.repeat(np.arange(6), 2)
UCB_MALE = np.tile([1, 0], 6)


def glmm(dept, male, applications, admit=None):
    v_mu = numpyro.sample("v_mu", dist.Normal(0, jnp.array([4.0, 1.0])))
    sigma = numpyro.sample("sigma", dist.HalfNormal(jnp.ones(2)))
    L_Rho = numpyro.sample("L_Rho", dist.LKJCholesky(2, concentration=2))
    scale_tril = sigma[..., jnp.newaxis] * L_Rho
    z = numpyro.sample("z", dist.Normal(jnp.zeros((6, 2)), 1))
    v = jnp.dot(scale_tril, z.T).T
    logits = v_mu[0] + v[dept, 0] + (v_mu[1] + v[dept, 1]) * male
    numpyro.sample("admit", dist.Binomial(applications, logits=logits), obs=admit)


def ucbadmit_new_data(seed):
    rng = np.random.default_rng(seed)
    admit = rng.binomial(UCB_APPLICATIONS, UCB_ADMIT / UCB_APPLICATIONS)
    return (jnp.asarray(UCB_DEPT), jnp.asarray(UCB_MALE), jnp.asarray(UCB_APPLICATIONS, float)), \
        {"admit": jnp.asarray(admit, float)}


# --- ordinal regression with a Dirichlet prior on the category probabilities -----------------------

def ordinal(X, nclasses, Y=None):
    b_X_eta = numpyro.sample("b_X_eta", dist.Normal(0, 5))
    p = numpyro.sample("p", dist.Dirichlet(jnp.ones(nclasses)))
    cutpoints = logit(jnp.cumsum(p)[:-1])
    with numpyro.plate("obs", X.shape[0]):
        numpyro.sample("Y", dist.OrderedLogistic(X * b_X_eta, cutpoints), obs=Y)


def ordinal_new_data(seed, n=1000):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=n)
    latent = 1.5 * X + rng.logistic(size=n)
    Y = np.digitize(latent, [-1.0, 1.0])  # three classes
    return (jnp.asarray(X), 3), {"Y": jnp.asarray(Y)}


# --- Bayesian logistic regression on the breast-cancer data (d = 31) -------------------------------

def breast_cancer_data():
    with gzip.open(os.path.join(HERE, "data", "breast_cancer.csv.gz"), "rt") as f:
        a = np.loadtxt(f, delimiter=",", comments="#")
    X = (a[:, :-1] - a[:, :-1].mean(0)) / a[:, :-1].std(0)
    return X, a[:, -1]


def logistic_regression(X, y=None):
    intercept = numpyro.sample("intercept", dist.Normal(0, 5))
    coef = numpyro.sample("coef", dist.Normal(jnp.zeros(X.shape[1]), 1))
    numpyro.sample("y", dist.Bernoulli(logits=intercept + X @ coef), obs=y)


def breast_cancer_new_data(seed):
    X, y = breast_cancer_data()
    idx = np.random.default_rng(seed).integers(0, len(y), len(y))
    return (jnp.asarray(X[idx]),), {"y": jnp.asarray(y[idx])}


# --- Gaussians and a one-parameter normal model with exact answers --------------------------------

def normal_summary(mean, sd):
    return {"q50": float(mean), "q05": float(mean - 1.6448536 * sd), "q95": float(mean + 1.6448536 * sd),
            "sd": float(sd)}


def gaussian_model(mean, scale_tril):
    numpyro.sample("x", dist.MultivariateNormal(mean, scale_tril=scale_tril))


def gaussian_case(d, condition=None, seed=0):
    """``N(mu, Sigma)`` with random rotation; eigenvalues log-uniform over ``[1, condition]`` (or
    gamma-distributed when ``condition`` is None)."""

    def data(s):
        rng = np.random.default_rng(s)
        q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        ev = (np.exp(rng.uniform(0, np.log(condition), d)) if condition else rng.gamma(4.0, 0.25, d))
        cov = (q * ev) @ q.T
        mu = rng.normal(size=d)
        return (jnp.asarray(mu), jnp.asarray(np.linalg.cholesky(cov))), {}, mu, np.sqrt(np.diag(cov))

    args, kwargs, mu, sd = data(seed)
    exact = {f"x[{i}]": normal_summary(mu[i], sd[i]) for i in range(d)}
    return Case(gaussian_model, args, kwargs, lambda s: data(s)[:2], exact)


def normal_mean(y=None):
    mu = numpyro.sample("mu", dist.Normal(0, 1))
    numpyro.sample("y", dist.Normal(mu, 1), obs=y)


def normal1_case():
    y = jnp.asarray(np.random.default_rng(0).normal(0.5, 1.0, 4))
    post_var = 1.0 / (1.0 + len(y))
    m, s = float(jnp.sum(y)) * post_var, np.sqrt(post_var)
    return Case(normal_mean, (), {"y": y},
                lambda seed: ((), {"y": jnp.asarray(np.random.default_rng(seed).normal(0.5, 1.0, 4))}),
                {"mu": normal_summary(m, s)})


# --- Held-out models: written after the defaults were set, to check them on models nobody tuned on --

def horseshoe_regression(X, y=None):
    """Sparse linear regression with the horseshoe prior (as NumPyro's examples/horseshoe_regression.py)."""
    tau = numpyro.sample("tau", dist.HalfCauchy(1.0))
    with numpyro.plate("p", X.shape[1]):
        lam = numpyro.sample("lam", dist.HalfCauchy(1.0))
        beta = numpyro.sample("beta", dist.Normal(0.0, tau * lam))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    numpyro.sample("y", dist.Normal(X @ beta, sigma), obs=y)


def horseshoe_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 8))
    y = X @ np.array([2.0, -1.5, 1.0, 0, 0, 0, 0, 0]) + rng.normal(size=60)
    return (jnp.asarray(X),), {"y": jnp.asarray(y)}


def negbin_regression(X, y=None):
    a = numpyro.sample("a", dist.Normal(0, 5))
    b = numpyro.sample("b", dist.Normal(0, 2).expand([X.shape[1]]).to_event(1))
    phi = numpyro.sample("phi", dist.Exponential(1.0))
    numpyro.sample("y", dist.NegativeBinomial2(jnp.exp(a + X @ b), phi), obs=y)


def negbin_data(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 3))
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + np.exp(1.0 + X @ np.array([0.5, -0.3, 0.0]))))
    return (jnp.asarray(X),), {"y": jnp.asarray(y, float)}


def varying_intercepts(group, x, num_groups, y=None):
    """Centred varying-intercept regression (the radon model's form)."""
    mu_a = numpyro.sample("mu_a", dist.Normal(0, 10))
    sigma_a = numpyro.sample("sigma_a", dist.HalfCauchy(5))
    with numpyro.plate("groups", num_groups):
        a = numpyro.sample("a", dist.Normal(mu_a, sigma_a))
    b = numpyro.sample("b", dist.Normal(0, 10))
    sigma_y = numpyro.sample("sigma_y", dist.HalfCauchy(5))
    with numpyro.plate("n", group.shape[0]):
        numpyro.sample("y", dist.Normal(a[group] + b * x, sigma_y), obs=y)


def varying_intercepts_data(seed, num_groups=15, n=150):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, num_groups, n)
    x = rng.integers(0, 2, n).astype(float)
    y = (1.5 + 0.3 * rng.normal(size=num_groups))[g] - 0.6 * x + 0.8 * rng.normal(size=n)
    return (jnp.asarray(g), jnp.asarray(x), num_groups), {"y": jnp.asarray(y)}


def ordered_mixture(y=None):
    """Two-component normal mixture, the locations ordered (no label switching)."""
    w = numpyro.sample("w", dist.Dirichlet(jnp.ones(2)))
    loc = numpyro.sample("loc", dist.TransformedDistribution(dist.Normal(0, 5).expand([2]),
                                                             dist.transforms.OrderedTransform()))
    scale = numpyro.sample("scale", dist.HalfNormal(2).expand([2]).to_event(1))
    numpyro.sample("y", dist.MixtureSameFamily(dist.Categorical(w), dist.Normal(loc, scale)), obs=y)


def ordered_mixture_data(seed):
    rng = np.random.default_rng(seed)
    return (), {"y": jnp.asarray(np.concatenate([rng.normal(-1, 0.7, 70), rng.normal(2, 1.0, 50)]))}


def stochastic_volatility(T, y=None):
    """AR(1) log-volatility, non-centred innovations."""
    mu = numpyro.sample("mu", dist.Normal(0, 2))
    phi = numpyro.sample("phi", dist.Uniform(-1, 1))
    s = numpyro.sample("s", dist.HalfNormal(1.0))
    h0 = numpyro.sample("h0", dist.Normal(mu, s / jnp.sqrt(1 - phi**2)))
    with numpyro.plate("t", T - 1):
        eps = numpyro.sample("eps", dist.Normal(0, 1))

    def step(h, e):
        h = mu + phi * (h - mu) + s * e
        return h, h

    _, rest = jax.lax.scan(step, h0, eps)
    numpyro.sample("y", dist.Normal(0, jnp.exp(jnp.concatenate([h0[None], rest]) / 2)), obs=y)


def stochastic_volatility_data(seed, T=40):
    rng = np.random.default_rng(seed)
    h = np.zeros(T)
    h[0] = -1.0
    for t in range(1, T):
        h[t] = -1.0 + 0.9 * (h[t - 1] + 1.0) + 0.3 * rng.normal()
    return (T,), {"y": jnp.asarray(np.exp(h / 2) * rng.normal(size=T))}


def poisson_glmm(subject, x, num_subjects, y=None):
    b0 = numpyro.sample("b0", dist.Normal(0, 3))
    b1 = numpyro.sample("b1", dist.Normal(0, 3))
    sd = numpyro.sample("sd", dist.HalfNormal(1))
    with numpyro.plate("subjects", num_subjects):
        u = numpyro.sample("u", dist.Normal(0, sd))
    numpyro.sample("y", dist.Poisson(jnp.exp(b0 + b1 * x + u[subject])), obs=y)


def poisson_glmm_data(seed, num_subjects=25):
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(num_subjects), 4)
    x = rng.normal(size=subject.shape[0])
    y = rng.poisson(np.exp(0.5 + 0.4 * x + (0.5 * rng.normal(size=num_subjects))[subject]))
    return (jnp.asarray(subject), jnp.asarray(x), num_subjects), {"y": jnp.asarray(y, float)}


# --- More held-out models, written the same way -----------------------------------------------------

def weibull_survival(X, t, event):
    """Weibull regression on right-censored times: the censored ones enter by their survival
    function ``exp(-(t / lambda)^k)``."""
    a = numpyro.sample("a", dist.Normal(0, 2))
    b = numpyro.sample("b", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
    k = numpyro.sample("k", dist.LogNormal(0, 1))
    lam = jnp.exp(a + X @ b)
    numpyro.factor("lik", jnp.sum(event * dist.Weibull(lam, k).log_prob(t) + (1 - event) * (-((t / lam) ** k))))


def weibull_survival_data(seed, n=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    T = np.exp(1.0 + X @ np.array([0.5, -0.3])) * rng.weibull(1.5, n)
    C = rng.exponential(8.0, n)
    return (jnp.asarray(X), jnp.asarray(np.minimum(T, C)), jnp.asarray((T <= C).astype(float))), {}


def multinomial_logit(X, y=None):
    """Three-class softmax regression, the first class the reference."""
    beta = numpyro.sample("beta", dist.Normal(0, 2).expand([2, X.shape[1]]).to_event(2))
    logits = jnp.concatenate([jnp.zeros((X.shape[0], 1)), X @ beta.T], 1)
    numpyro.sample("y", dist.Categorical(logits=logits), obs=y)


def multinomial_logit_data(seed, n=200):
    rng = np.random.default_rng(seed)
    X = np.c_[np.ones(n), rng.normal(size=(n, 3))]
    logits = X @ np.array([[0.0, 0, 0, 0], [0.5, 1.0, -0.5, 0.3], [-0.3, -0.8, 0.6, 1.2]]).T
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, 1)).sum(1)
    return (jnp.asarray(X),), {"y": jnp.asarray(y)}


def robust_regression(x, y=None):
    """Student-t regression with unknown degrees of freedom."""
    a = numpyro.sample("a", dist.Normal(0, 5))
    b = numpyro.sample("b", dist.Normal(0, 5))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2))
    nu = numpyro.sample("nu", dist.Gamma(2, 0.1))
    numpyro.sample("y", dist.StudentT(nu, a + b * x, sigma), obs=y)


def robust_regression_data(seed, n=60):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return (jnp.asarray(x),), {"y": jnp.asarray(1.0 + 2.0 * x + 0.7 * rng.standard_t(3, n))}


def correlation(Y):
    """Bivariate normal with half-Cauchy scales and a uniform correlation on (-1, 1)."""
    mu = numpyro.sample("mu", dist.Normal(0, 10).expand([2]).to_event(1))
    s = numpyro.sample("s", dist.HalfCauchy(2.5).expand([2]).to_event(1))
    rho = numpyro.sample("rho", dist.Uniform(-1, 1))
    cov = jnp.array([[s[0] ** 2, rho * s[0] * s[1]], [rho * s[0] * s[1], s[1] ** 2]])
    numpyro.sample("Y", dist.MultivariateNormal(mu, cov), obs=Y)


def correlation_data(seed, n=30):
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(np.array([[1.0, 0.6], [0.6, 1.0]]))
    return (jnp.asarray((L @ rng.normal(size=(2, n))).T * np.array([1.0, 2.0]) + np.array([0.5, -1.0])),), {}


def dirichlet_multinomial(counts):
    """Groups' category probabilities drawn around a shared simplex with a concentration."""
    alpha = numpyro.sample("alpha", dist.Gamma(2, 0.5))
    m = numpyro.sample("m", dist.Dirichlet(jnp.ones(counts.shape[1])))
    with numpyro.plate("groups", counts.shape[0]):
        theta = numpyro.sample("theta", dist.Dirichlet(alpha * m))
        numpyro.sample("counts", dist.Multinomial(counts.sum(1), theta), obs=counts)


def dirichlet_multinomial_data(seed, groups=5):
    rng = np.random.default_rng(seed)
    theta = rng.dirichlet(8.0 * np.array([0.6, 0.3, 0.1]), groups)
    return (jnp.asarray(np.array([rng.multinomial(20, t) for t in theta], float)),), {}


#: The held-out models and their data, by name (`realworld.py --heldout`).
HELDOUT = {
    "horseshoe": (horseshoe_regression, horseshoe_data),
    "negbin": (negbin_regression, negbin_data),
    "varying_intercepts": (varying_intercepts, varying_intercepts_data),
    "ordered_mixture": (ordered_mixture, ordered_mixture_data),
    "stochastic_volatility": (stochastic_volatility, stochastic_volatility_data),
    "poisson_glmm": (poisson_glmm, poisson_glmm_data),
    "weibull_survival": (weibull_survival, weibull_survival_data),
    "multinomial_logit": (multinomial_logit, multinomial_logit_data),
    "robust_regression": (robust_regression, robust_regression_data),
    "correlation": (correlation, correlation_data),
    "dirichlet_multinomial": (dirichlet_multinomial, dirichlet_multinomial_data),
}


def cases() -> dict:
    """The non-posteriordb cases of the real-model table, by name (the held-out models included)."""
    X, y = breast_cancer_data()
    return {
        "baseball": Case(partially_pooled, (jnp.full(18, 45.0),), {"hits": jnp.asarray(BASEBALL_HITS)},
                         baseball_new_data),
        "ucbadmit": Case(glmm, (jnp.asarray(UCB_DEPT), jnp.asarray(UCB_MALE), jnp.asarray(UCB_APPLICATIONS, float)),
                         {"admit": jnp.asarray(UCB_ADMIT, float)}, ucbadmit_new_data),
        "ordinal": Case(ordinal, *ordinal_new_data(0), lambda s: ordinal_new_data(s + 1)),
        "breast_cancer": Case(logistic_regression, (jnp.asarray(X),), {"y": jnp.asarray(y)}, breast_cancer_new_data),
        "normal1": normal1_case(),
        "gauss50": gaussian_case(50),
        "gauss100_cond1e4": gaussian_case(100, condition=1e4),
        "gauss200": gaussian_case(200),
        **{name: Case(model, *data(1), lambda seed, data=data: data(seed + 2))
           for name, (model, data) in HELDOUT.items()},
    }
