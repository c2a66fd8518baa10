"""Data parallelism: training and sampling sharded over two (forced host) devices match one device."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent('''
    import json
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_enable_x64", True)
    from numpyro_pinn import core
    from numpyro_pinn.bases import Gaussian
    assert len(jax.devices()) == 2, jax.devices()
    MUS = jnp.array([[-1.5, 0.0], [1.5, 0.5]])
    def U(x):
        lp = jax.scipy.stats.multivariate_normal.logpdf(x, MUS, 0.5 * jnp.eye(2))
        return -jax.scipy.special.logsumexp(lp + jnp.log(jnp.array([0.4, 0.6])))
    ws = core.make_warm_start(jax.random.PRNGKey(0), U, jnp.zeros(2), "laplace")
    out = {}
    for devs in (None, "all"):
        s = core.Settings(num_steps=100, chunk_size=50, batch_size=256, target_ess=None, base=Gaussian(),
                          num_paths=256, finetune="gauss_newton", gn_steps=1, gn_batch_size=512, devices=devs)
        f = core.fit_transport(jax.random.PRNGKey(1), U, ws, s, progress_bar=False)
        x, lw = core.draw(jax.random.PRNGKey(2), f, 512)
        out[str(devs)] = dict(losses=np.asarray(f.train.losses).tolist(), lw=np.asarray(lw).tolist(),
                              ndev=len(x.sharding.device_set), gn_loss=f.finetune["loss_after"])
    print("RESULT" + json.dumps(out))
''')


@pytest.mark.slow
def test_sharded_training_and_sampling_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    one, two = out["None"], out["all"]
    assert one["ndev"] == 1 and two["ndev"] == 2  # the particles really live on two devices
    # same computation up to floating-point reassociation of the cross-device reductions
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-4)
    np.testing.assert_allclose(two["gn_loss"], one["gn_loss"], rtol=1e-3)
    np.testing.assert_allclose(two["lw"], one["lw"], atol=0.02)


def test_sharding_options_and_their_errors():
    """``devices``: None (no constraint), "all", or a list; anything else is an error naming it."""
    import jax
    import jax.numpy as jnp

    from numpyro_pinn.sharding import data_sharding, num_shards, shard

    assert data_sharding(None) is None and num_shards(None) == 1
    x = jnp.ones((4, 2))
    assert shard(x, None) is x
    assert num_shards(data_sharding("all")) == len(jax.devices())
    assert num_shards(data_sharding(jax.devices()[:1])) == 1
    with pytest.raises(ValueError, match="`devices` must be"):
        data_sharding("gpus")
    with pytest.raises(ValueError, match="`devices` is empty"):
        data_sharding([])
