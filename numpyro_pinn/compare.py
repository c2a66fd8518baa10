"""Side by side with NUTS: run both samplers on one model and tabulate their posteriors."""
from __future__ import annotations

import time
from typing import NamedTuple, Optional, Sequence

import jax
import numpy as np

from numpyro_pinn.sampler import PINNSampler

__all__ = ["Comparison", "compare", "plot_compare"]


class Comparison(NamedTuple):
    """Result of :func:`compare`.

    Attributes
    ----------
    table
        ``pandas.DataFrame`` indexed by scalar parameter (``"beta[0]"``, 0-based) with columns
        ``mean_pinn, sd_pinn, ess_pinn, mean_nuts, sd_nuts, ess_nuts, r_hat_nuts, z_diff`` and
        ``sd_ratio``. ``ess_pinn`` is the importance-sampling ESS (draws), ``ess_nuts`` ArviZ's bulk
        ESS; ``z_diff`` is the mean difference in units of its Monte Carlo standard error.
    pinn, nuts
        The fitted :class:`PINNSampler` and ``numpyro.infer.MCMC``.
    pinn_seconds, nuts_seconds
        Wall times (compilation included, as a user experiences them).
    """

    table: "object"
    pinn: PINNSampler
    nuts: "object"
    pinn_seconds: float
    nuts_seconds: float

    def __str__(self) -> str:
        """The whole table (every row and column, 3 decimals) and the wall times."""
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
            text = self.table.round(3).to_string()
        return (f"{text}\nwall time: PINN {self.pinn_seconds:.1f} s, NUTS {self.nuts_seconds:.1f} s "
                f"(ratio {self.pinn_seconds / self.nuts_seconds:.2f})")


def _scalars(samples: dict, var_names: Optional[Sequence[str]]):
    out = {}
    for k, v in samples.items():
        if var_names is not None and k not in var_names:
            continue
        v = np.asarray(v)
        flat = v.reshape(v.shape[0], -1)
        if flat.shape[1] == 1 and v.ndim == 1:
            out[k] = flat[:, 0]
        else:
            for i in range(flat.shape[1]):
                idx = np.unravel_index(i, v.shape[1:])
                out[f"{k}[{','.join(map(str, idx))}]"] = flat[:, i]
    return out


def compare(model, *args, key: jax.Array, num_warmup: int = 1000, num_samples: int = 1000, num_chains: int = 4,
            var_names: Optional[Sequence[str]] = None, pinn_kwargs: Optional[dict] = None,
            progress_bar: bool = True, **kwargs) -> Comparison:
    """Run :class:`PINNSampler` and NUTS (``num_chains`` x ``num_warmup`` + ``num_samples``) on ``model``.

    With ``progress_bar=True`` (default) each sampler shows its progress bar; ``print(result)``
    prints the whole table.

    Examples
    --------
    >>> res = compare(model, x, y=y, key=jax.random.PRNGKey(0))  # doctest: +SKIP
    >>> print(res)                                                 # doctest: +SKIP
    >>> plot_compare(res, "compare.png")                           # doctest: +SKIP
    """
    import arviz as az
    import pandas as pd
    from numpyro.infer import MCMC, NUTS

    k1, k2 = jax.random.split(key)
    if progress_bar:
        print("PINN sampler: warm start, training, drawing")
    t0 = time.perf_counter()
    pinn = PINNSampler(model, progress_bar=progress_bar, **(pinn_kwargs or {})).run(k1, *args, **kwargs)
    t_pinn = time.perf_counter() - t0
    if progress_bar:
        print(f"NUTS: {num_chains} chains x ({num_warmup} warm-up + {num_samples} draws)")
    t0 = time.perf_counter()
    nuts = MCMC(NUTS(model), num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                chain_method="sequential", progress_bar=progress_bar)
    nuts.run(k2, *args, **kwargs)
    t_nuts = time.perf_counter() - t0

    samples_p, lw = pinn.get_weighted_samples()
    w = np.asarray(jax.nn.softmax(lw))
    n_is = float(1.0 / np.sum(w**2))
    sp = _scalars(samples_p, var_names)
    sn = _scalars(nuts.get_samples(group_by_chain=False), var_names)
    grouped = nuts.get_samples(group_by_chain=True)
    rows = {}
    for name, xp in sp.items():
        if name not in sn:
            continue
        base = name.split("[")[0]
        g = np.asarray(grouped[base]).reshape(num_chains, num_samples, -1)
        col = 0 if "[" not in name else int(np.ravel_multi_index(
            tuple(int(i) for i in name[len(base) + 1:-1].split(",")), np.asarray(grouped[base]).shape[2:]))
        chains = g[:, :, col]
        mean_p = float(np.sum(w * xp))
        sd_p = float(np.sqrt(np.sum(w * (xp - mean_p) ** 2)))
        xn = sn[name]
        ess_n = float(az.ess(chains, method="bulk"))
        se = np.sqrt(sd_p**2 / n_is + np.var(xn) / max(ess_n, 1.0))
        rows[name] = {
            "mean_pinn": mean_p, "sd_pinn": sd_p, "ess_pinn": n_is,
            "mean_nuts": float(np.mean(xn)), "sd_nuts": float(np.std(xn)), "ess_nuts": ess_n,
            "r_hat_nuts": float(az.rhat(chains)),
            "z_diff": float((mean_p - np.mean(xn)) / se) if se > 0 else 0.0,
            "sd_ratio": sd_p / float(np.std(xn)) if np.std(xn) > 0 else np.nan,
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.attrs.update(pinn_seconds=t_pinn, nuts_seconds=t_nuts, time_ratio=t_pinn / t_nuts)
    return Comparison(table, pinn, nuts, t_pinn, t_nuts)


def plot_compare(result: Comparison, path: str, var_names: Optional[Sequence[str]] = None) -> str:
    """Overlay both posteriors' marginal densities (ArviZ ``plot_density``), save a PNG to ``path``
    and return ``path``."""
    import arviz as az
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    idata_p = az.from_numpyro(result.pinn)
    idata_n = az.from_numpyro(result.nuts)
    axes = az.plot_density([idata_p, idata_n], data_labels=["PINN", "NUTS"], var_names=var_names, shade=0.1)
    fig = np.asarray(axes).ravel()[0].figure
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path
