"""Table 1 of the PINN-sampling workshop paper, for our loss family, with the paper's numbers beside ours.

Targets: GMM (the 9-mode mixture of appendix D.1, d=2), Many-Well (d=5, m=5, delta=4), Many-Well
(d=50, m=5, delta=2) and Neal's funnel (d=10: x_0 ~ N(0, 3^2), x_i | x_0 ~ N(0, e^{x_0})). All have
exact log Z (Many-Well by 1-D quadrature: the target factorises) and exact samples (Many-Well by
inverse-CDF sampling of its 1-D factor on a fine grid), so every metric is against the truth:

* ``dlogZ (LB)``: lower bound ``mean(log w)`` minus the true log Z, as the paper reports it (with a
  Student-t base component, the bound of the proposal without it:
  ``diagnostics["log_Z_lower_bound_core"]``);
  ``dlogZ (IS)``: the importance-sampling estimate minus the truth;
* ``ESS``: normalised effective sample size of the importance weights;
* ``dstd``: mean over coordinates of |weighted std - true std|;
* ``Sinkhorn``: the debiased Sinkhorn divergence ``OT(x, y) - (OT(x, x) + OT(y, y)) / 2``, where
  ``OT`` is the entropic transport cost ``<P, C>`` (squared Euclidean cost, log-domain Sinkhorn, 300
  iterations, ``eps = 0.05 * median(C)`` of the ``(x, y)`` pair), between 2,000 resampled draws and
  2,000 exact draws. The ``exact samples`` row gives it between two independent exact samples: the
  floor set by the sample size. (The paper's W^2_gamma used other sample sizes and eps and no
  debiasing: compare within a column of this table, not with its numbers.)

Each method trains for ``--steps`` Adam steps (batch 1024, default network, learning rate 2e-3 with
cosine decay, no early stopping) from the N(0, I) prior, as the paper; the row ``ode + mixture prior``
is the same budget with our default prior (``base="auto"``: one Gaussian per mode the warm start
finds, N(0, I) when it finds one).

    python benchmarks/paper_table.py [--targets gmm mw5 mw50 funnel] [--methods ode sde anneal sde_diffusion ot sb]
                                     [--steps 2000] [--num 20000] [--num-sde 4000] [--seed 0]
                                     [--prior-skew true|false|weights] [--out FILE]
                                     [--hidden 64 64 64] [--skew-steps 300] [--path-spacing 0.5]

``--hidden`` sets the transport's layer widths; ``--skew-steps`` the Adam steps of the mixture
prior's skew fit (``bases.fit_skew``; the sampler uses 300); ``--path-spacing`` the spacing of a
funnel-like target's path components (``bases.draw_mixture(path_spacing=...)``, with as many more
points as keep their reach). The defaults are the sampler's own.

Particles: ``--num`` for the ODE-type methods; ``--num-sde`` for the SDE-type ones, whose
probability-flow velocity evaluates the target's Laplacian (``d`` Hessian-vector products) at every
solver stage.
"""
from __future__ import annotations

import argparse
import datetime
import dataclasses
import os
import platform
import resource
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate

sys.path.insert(0, os.path.dirname(__file__))
from targets import Synthetic, funnel, gmm9, many_well  # noqa: E402

from numpyro_pinn import PINNSampler, Training, bases  # noqa: E402
from numpyro_pinn.transports.ode import ODETransport  # noqa: E402

jax.config.update("jax_enable_x64", True)

# Table 1 of the workshop paper: (dlogZ, Sinkhorn, ESS, dstd); None where it reports none.
PAPER = {
    "gmm": {"ode": (0.001, 0.058, 0.9979, 0.005), "sde": (2.140, 1.507, 0.9985, 3.306),
            "anneal": (5.813, 1.672, 0.0123, 3.647), "sde_diffusion": (0.040, 0.055, 0.9046, 0.027),
            "ot": (0.120, 0.060, 0.7833, 0.475), "sb": (3.137, 0.377, 0.0053, 2.727)},
    "mw5": {"ode": (0.003, 0.118, 0.9954, 0.000), "sde": (0.156, 0.193, 0.8228, 0.017),
            "anneal": (0.011, 0.206, 0.9782, 0.001), "sde_diffusion": (2.984, 0.469, 0.0124, 0.004),
            "ot": (170.18, 0.478, 0.0605, 0.119), "sb": (29.074, 1.570, 0.1109, 2.727)},
    "mw50": {"ode": (0.003, 6.816, 0.9937, 0.002), "sde": (0.040, 6.829, 0.9253, 0.001),
             "anneal": (0.804, 7.271, 0.08, 0.011), "sde_diffusion": (1.989, 6.803, 0.1065, 0.016),
             "ot": (0.124, 7.311, 0.9026, 0.000), "sb": (190.772, 7.991, 0.0101, 0.045)},
    # LFIS (the best published PDE-based sampler we know of on the funnel): ESS 0.97, dlogZ -0.07
    "funnel": {"ode": (0.07, None, 0.97, None)},
}


def _mw_factor(delta):
    """Grid, CDF and second moment of the 1-D Many-Well factor exp(-(x^2 - delta)^2)."""
    lim = np.sqrt(delta) + 3.0
    g = np.linspace(-lim, lim, 200001)
    p = np.exp(-((g**2 - delta) ** 2))
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    m2 = integrate.quad(lambda t: t**2 * np.exp(-((t**2 - delta) ** 2)), -np.inf, np.inf)[0] / integrate.quad(
        lambda t: np.exp(-((t**2 - delta) ** 2)), -np.inf, np.inf)[0]
    return g, cdf, m2


def truth(key: str, t: Synthetic, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``(exact samples (n, d), true marginal standard deviations (d,))``."""
    d = t.dim
    if key == "gmm":
        comp = rng.integers(0, 9, n)
        x = t.modes[comp] + np.sqrt(0.3) * rng.standard_normal((n, 2))
        return x, np.full(2, np.sqrt(0.3 + 50.0 / 3.0))
    if key.startswith("mw"):
        delta = 4.0 if key == "mw5" else 2.0
        g, cdf, m2 = _mw_factor(delta)
        x = rng.standard_normal((n, d))
        x[:, :5] = np.interp(rng.random((n, 5)), cdf, g)
        return x, np.array([np.sqrt(m2)] * 5 + [1.0] * (d - 5))
    x0 = 3.0 * rng.standard_normal(n)
    x = np.concatenate([x0[:, None], np.exp(0.5 * x0)[:, None] * rng.standard_normal((n, d - 1))], 1)
    return x, np.array([3.0] + [np.exp(9.0 / 4.0)] * (d - 1))


def _ot(x, y, eps):
    """Entropic OT cost <P, C> between two equal-weight point clouds (log-domain Sinkhorn)."""
    c = jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, -1)
    la = lb = -jnp.log(x.shape[0])

    def body(_, fg):
        f, g = fg
        f = -eps * jax.scipy.special.logsumexp((g[None, :] - c) / eps + lb, axis=1)
        g = -eps * jax.scipy.special.logsumexp((f[:, None] - c) / eps + la, axis=0)
        return f, g

    f, g = jax.lax.fori_loop(0, 300, body, (jnp.zeros(x.shape[0]), jnp.zeros(y.shape[0])))
    p = jnp.exp((f[:, None] + g[None, :] - c) / eps + la + lb)
    return jnp.sum(p * c)


@jax.jit
def sinkhorn_cost(x, y):
    """Debiased Sinkhorn divergence ``OT(x, y) - (OT(x, x) + OT(y, y)) / 2`` with one ``eps``."""
    eps = 0.05 * jnp.median(jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, -1))
    return _ot(x, y, eps) - 0.5 * (_ot(x, x, eps) + _ot(y, y, eps))


PRIOR_SKEW = {"true": True, "false": False, "weights": "weights"}
TARGETS = {"gmm": gmm9, "mw5": lambda: many_well(5, 5, 4.0), "mw50": lambda: many_well(50, 5, 2.0), "funnel": funnel}


def base_option(name: str, args):
    """The base option ``name`` with the command line's skew and path settings."""
    base = bases.resolve(name)
    if not hasattr(base, "skew"):
        return base
    opts = {"skew": PRIOR_SKEW[args.prior_skew]}
    if args.skew_steps is not None:
        opts["skew_steps"] = args.skew_steps
    if args.path_spacing is not None:  # the same reach along the path: points scaled by 0.5 / spacing
        f = 0.5 / args.path_spacing
        opts["draw_options"] = {"path_spacing": args.path_spacing, "path_points": round(64 * f),
                                "path_beyond": round(24 * f), "max_components": round(160 * f)}
    return dataclasses.replace(base, **opts)


def run(key, t: Synthetic, method: str, args, prior: str):
    sde_type = method in ("sde", "sde_diffusion", "sb")  # probability-flow weights need the target's Laplacian
    kw = dict(potential_fn=t.potential, method=method, num_particles=args.num_sde if sde_type else args.num,
              num_samples=2000, progress_bar=False, base=base_option(prior, args), num_steps=args.steps,
              training=Training(min_steps=args.steps), target_ess=None)
    if (args.hidden is not None or args.drift_scale is not None) and method != "sde_diffusion":
        opts = {} if args.hidden is None else {"hidden": tuple(args.hidden)}
        if args.drift_scale is not None:
            opts["drift_scale"] = args.drift_scale
        kw["transport"] = ODETransport(method=method, **opts)
    t0 = time.perf_counter()
    s = PINNSampler(**kw).run(jax.random.PRNGKey(args.seed), init_params=jnp.zeros(t.dim))
    wall = time.perf_counter() - t0
    d = s.diagnostics
    x, lw = s.get_weighted_samples()
    x, lw = np.asarray(x), np.asarray(lw)
    w = np.exp(lw - lw.max())
    w /= w.sum()
    rng = np.random.default_rng(args.seed)
    exact, std_true = truth(key, t, 2000, rng)
    m = np.sum(w[:, None] * x, 0)
    std_hat = np.sqrt(np.sum(w[:, None] * (x - m) ** 2, 0))
    draws = np.asarray(s.get_samples())
    sk = float(sinkhorn_cost(jnp.asarray(draws[:2000]), jnp.asarray(exact)))
    # With a Student-t base component, the bound of the proposal without it (the flow's own, as
    # LFIS reports); the full proposal's is ruined by the component's far draws.
    bound = d["log_Z_lower_bound"] if d.get("log_Z_lower_bound_core") is None else d["log_Z_lower_bound_core"]
    return dict(lb=bound - t.log_Z, iz=d["log_Z"] - t.log_Z, se=d["log_Z_se"], ess=d["ess"],
                dstd=float(np.mean(np.abs(std_hat - std_true))), sk=sk, k=d["pareto_k"], steps=d["num_train_steps"],
                train=d["train_seconds"], wall=wall, evals=d["target_evals"], proposal=d.get("proposal", "transport"),
                transport_ess=d.get("transport_ess"), prior_ess=d.get("base_ess"))


def fmt_paper(p):
    if p is None:
        return "| | | | "
    return "| " + " | ".join("—" if v is None else f"{v:g}" for v in p) + " "


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--targets", nargs="+", default=list(TARGETS))
    p.add_argument("--methods", nargs="*", default=["ode", "sde", "anneal", "sde_diffusion", "ot", "sb"])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--num", type=int, default=20000)
    p.add_argument("--num-sde", type=int, default=4000, help="particles for sde, sde_diffusion, sb")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-mixture-row", action="store_true")
    p.add_argument("--draws-prior-row", action="store_true",
                   help="add an ode row with base='draws' (a Gaussian mixture fitted to the warm-start draws)")
    p.add_argument("--prior-skew", choices=list(PRIOR_SKEW), default="true",
                   help="the base option's skew for the mixture-base rows: skewed components (default), "
                        "Gaussian ones with the warm start's weights, or Gaussian ones with the weights "
                        "re-estimated from the skewed fit (the better start for long training in d=50)")
    p.add_argument("--hidden", type=int, nargs="+", default=None,
                   help="hidden layer widths of the transport's networks (default: ODETransport's)")
    p.add_argument("--path-spacing", type=float, default=None,
                   help="the base option's draw_options={'path_spacing': ...} (default: draw_mixture's own)")
    p.add_argument("--skew-steps", type=int, default=None,
                   help="the base option's skew_steps (bases.fit_skew; default 300)")
    p.add_argument("--drift-scale", choices=["auto", "prior", "none"], default=None,
                   help="ODETransport(drift_scale=...) for the methods with a drift network (default: its default)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    lines = [f"`python benchmarks/paper_table.py {' '.join(sys.argv[1:])}` — {datetime.date.today()}, "
             f"{platform.machine()} {jax.devices()[0].device_kind} x{len(jax.devices())}, jax {jax.__version__}",
             "",
             "| target | method | dlogZ (LB) | dlogZ (IS) ± se | ESS | dstd | Sinkhorn | Pareto k | steps | train s "
             "| total s | target evals | paper dlogZ | paper Sinkhorn | paper ESS | paper dstd |",
             "|" + "---|" * 16]

    def emit(line):
        lines.append(line)
        print(line, flush=True)
        if args.out:
            with open(args.out, "w") as f:
                f.write("\n".join(lines) + "\n")

    for line in lines:
        print(line)
    for key in args.targets:
        t = TARGETS[key]()
        rng = np.random.default_rng(123)
        e1, _ = truth(key, t, 2000, rng)
        e2, _ = truth(key, t, 2000, rng)
        emit(f"| {t.name} | exact samples (floor) | | | | | {float(sinkhorn_cost(jnp.asarray(e1), jnp.asarray(e2))):.4f} "
             "| | | | | | | | | |")
        rows = ([(m, "gaussian") for m in args.methods] + ([] if args.no_mixture_row else [("ode", "auto")])
                + ([("ode", "draws")] if args.draws_prior_row else []))
        for method, prior in rows:
            try:
                r = run(key, t, method, args, prior)
            except Exception as exc:  # a failed method is a result too
                emit(f"| {t.name} | {method} | failed: {type(exc).__name__}: {str(exc)[:80]} |" + " |" * 13)
                continue
            label = {"gaussian": method, "auto": f"{method} + mixture prior",
                     "draws": f"{method} + base='draws'"}[prior]
            if r["prior_ess"] is not None:  # which proposal the sampler kept (the base's fallback)
                label += (f" [prior draws kept: transport ESS {r['transport_ess']:.4f}]" if r["proposal"] == "base"
                          else f" [transport kept: prior alone ESS {r['prior_ess']:.4f}]")
            paper = PAPER.get(key, {}).get(method)
            emit(f"| {t.name} | {label} | {r['lb']:+.4f} | {r['iz']:+.4f} ± {r['se']:.4f} | {r['ess']:.4f} "
                 f"| {r['dstd']:.4f} | {r['sk']:.4f} | {r['k']:.2f} | {r['steps']} | {r['train']:.0f} | {r['wall']:.0f} "
                 f"| {r['evals']:.2e} {fmt_paper(paper)}|")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit("")
    emit(f"peak resident memory of the whole run: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
