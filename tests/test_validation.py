"""The shared argument checks and the host-side finiteness check."""
import jax.numpy as jnp
import numpy as np
import pytest

from numpyro_pinn.validation import all_finite, check_count, check_positive


def test_all_finite_sees_every_entry_of_every_array():
    assert all_finite(jnp.zeros((2, 3)), np.ones(4), 1.5)
    assert not all_finite(jnp.zeros(3), jnp.array([0.0, jnp.nan]))
    assert not all_finite(jnp.array(jnp.inf))
    assert not all_finite(np.array([[1.0, -np.inf]]))
    assert all_finite()


def test_counts_and_positive_numbers_refuse_bools_and_out_of_range_values():
    check_count("n", 3, 1)
    check_positive("x", 0.5)
    check_positive("x", 0, allow_zero=True)
    for bad in (True, 0, 2.0):
        with pytest.raises(ValueError, match="`n`"):
            check_count("n", bad, 1)
    for bad in (False, 0.0, -1, "1"):
        with pytest.raises(ValueError, match="`x`"):
            check_positive("x", bad)
