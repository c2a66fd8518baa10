import jax
import numpy as np
import pytest

from numpyro_pinn.resampling import systematic_resample


def test_systematic_resampling_draws_each_particle_its_expected_number_of_times():
    """Systematic resampling draws particle i either floor(num w_i) or ceil(num w_i) times (its
    defining property, far tighter than multinomial draws), never a particle of log weight -inf
    or NaN, in random order; the same key gives the same indices and typed keys work. Mutation:
    ignoring the weights (uniform draws) breaks the counts."""
    rng = np.random.default_rng(0)
    lw = rng.normal(size=500) * 2.0
    lw[:7] = -np.inf
    lw[7] = np.nan
    w = np.exp(np.where(np.isfinite(lw), lw, -np.inf) - np.nanmax(lw))
    w /= w.sum()
    num = 3000
    idx = systematic_resample(jax.random.PRNGKey(0), lw, num)
    counts = np.bincount(idx, minlength=500)
    assert idx.shape == (num,) and counts[:8].sum() == 0
    assert np.all(counts >= np.floor(num * w) - 1e-9) and np.all(counts <= np.ceil(num * w) + 1e-9)
    assert not np.all(np.diff(idx) >= 0)  # shuffled, not in the cumulative order
    assert np.array_equal(idx, systematic_resample(jax.random.PRNGKey(0), lw, num))
    assert not np.array_equal(idx, systematic_resample(jax.random.PRNGKey(1), lw, num))
    typed = systematic_resample(jax.random.key(0), lw, num)
    assert np.all(np.abs(np.bincount(typed, minlength=500) - num * w) < 1.0)
    with pytest.raises(ValueError, match="every log weight"):
        systematic_resample(jax.random.PRNGKey(0), np.full(3, -np.inf), 10)
