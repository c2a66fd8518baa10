"""JAX's persistent compilation cache across processes: one PINN run of a real model, in a fresh process.

    python benchmarks/compile_cache.py --cache-dir /tmp/jaxcache            # fill the cache
    python benchmarks/compile_cache.py --cache-dir /tmp/jaxcache            # again: compiled programs come from it
    python benchmarks/compile_cache.py                                      # no cache
    python benchmarks/compile_cache.py --cache-dir /tmp/jaxcache --new-data 5   # new data of the same shapes

New data reuse the compiled programs only with JAX's hoisted constants, set before Python starts:
``JAX_USE_SIMPLIFIED_JAXPR_CONSTANTS=True JAX_EMBEDDED_CONSTANTS_MAX_BYTES=0 python benchmarks/compile_cache.py ...``
(docs: choosing.md, "Compilation").

Prints the run's wall time and each stage's seconds (BENCHMARKS.md, Real models, "Compilation").
"""
import argparse
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(__file__))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model", nargs="?", default="normal1", help="a case of benchmarks/models.py")
    p.add_argument("--cache-dir", default=None, help="JAX's persistent compilation cache (default: none)")
    p.add_argument("--new-data", type=int, default=None, help="run on the case's new data with this seed")
    args = p.parse_args()
    hoisted = None
    if args.cache_dir:
        from numpyro_pinn.compiling import cache_compiled_programs

        hoisted = cache_compiled_programs(args.cache_dir)
    from models import cases  # noqa: E402

    from numpyro_pinn import PINNSampler  # noqa: E402

    c = cases()[args.model]
    a, kw = (c.args, c.kwargs) if args.new_data is None else c.new_data(args.new_data)
    t0 = time.perf_counter()
    s = PINNSampler(c.model, progress_bar=False).run(jax.random.PRNGKey(0), *a, **kw)
    stages = {k: round(v["seconds"], 1) for k, v in s.diagnostics["stages"].items()}
    print(f"{args.model} cache={args.cache_dir is not None} hoisted={hoisted} new_data={args.new_data}: "
          f"{time.perf_counter() - t0:.1f} s, stages {stages}")


if __name__ == "__main__":
    main()
