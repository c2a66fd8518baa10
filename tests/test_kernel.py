"""PINNKernel: the trained transport as an independence Metropolis-Hastings proposal
(numpyro_pinn.kernel), exact on a target with known moments even when the transport is poor."""
import arviz as az
import jax
import numpy as np
import pytest
from numpyro.infer import MCMC

from numpyro_pinn import PINNKernel, PINNSampler


def _chain(sampler, y, key, num_samples=2000, num_chains=2):
    mcmc = MCMC(PINNKernel(sampler), num_warmup=0, num_samples=num_samples, num_chains=num_chains,
                chain_method="sequential", progress_bar=False)
    mcmc.run(key, y)
    return mcmc


def _check_moments(mcmc, cn):
    """Mean and sd against the closed form, within 4 Monte Carlo standard errors (ArviZ's MCSE over
    chains, which accounts for the chain's autocorrelation)."""
    idata = az.from_numpyro(mcmc)
    mu = idata.posterior["mu"]
    mean_se = float(az.mcse(idata, var_names=["mu"], method="mean")["mu"])
    sd_se = float(az.mcse(idata, var_names=["mu"], method="sd")["mu"])
    assert abs(float(mu.mean()) - cn.mean) < 4 * mean_se, (float(mu.mean()), cn.mean, mean_se)
    assert abs(float(mu.std()) - cn.sd) < 4 * sd_se, (float(mu.std()), cn.sd, sd_se)
    assert float(az.rhat(idata)["mu"]) < 1.05


@pytest.mark.slow
def test_good_transport_accepts_almost_everything_and_is_exact(conjugate_normal):
    cn = conjugate_normal(1.0)
    s = PINNSampler(cn.model, warm_start="laplace", num_samples=200, progress_bar=False).run(jax.random.PRNGKey(0), cn.y)
    mcmc = _chain(s, cn.y, jax.random.PRNGKey(1))
    acc = mcmc.get_extra_fields()["accept_prob"]
    assert acc.shape == (4000,) and float(acc.mean()) > 0.95
    assert mcmc.get_samples()["mu"].shape == (4000,)
    _check_moments(mcmc, cn)


@pytest.mark.slow
def test_poor_transport_gives_a_slower_but_exact_chain(conjugate_normal):
    """A base shifted by one posterior sd and 1.6 times too wide, untrained: acceptance well below 1,
    moments still right (acceptance 0.56 measured). Mutation tried: accepting every proposal
    (ignoring the weights) gives mean 1.39 against 1.03, 46 standard errors off: fails."""
    cn = conjugate_normal(1.0)
    rng = np.random.default_rng(0)
    poor = (cn.mean + cn.sd + 1.6 * cn.sd * rng.standard_normal(4000))[:, None]
    s = PINNSampler(cn.model, warm_start=poor, num_steps=1, target_ess=None, base="gaussian", num_samples=200,
                    progress_bar=False).run(jax.random.PRNGKey(0), cn.y)
    mcmc = _chain(s, cn.y, jax.random.PRNGKey(2), num_samples=3000, num_chains=2)
    _check_moments(mcmc, cn)
    acc = float(mcmc.get_extra_fields()["accepted"].mean())
    assert 0.2 < acc < 0.85, acc  # 0.56 measured


def test_kernel_needs_a_fitted_sampler(conjugate_normal):
    with pytest.raises(RuntimeError, match="call `run"):
        PINNKernel(PINNSampler(conjugate_normal(1.0).model))
    with pytest.raises(ValueError, match="block_size"):
        PINNKernel(PINNSampler(conjugate_normal(1.0).model), block_size=0)
