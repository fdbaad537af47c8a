"""The 6-parameter MoE law on the `moe` train split: jaxlaws (mse, 1,000 starts) vs scipy, one run.

* jaxlaws: projected LM from 1,000 Latin-hypercube starts, summed squared error.
* scipy L-BFGS-B (exact numpy gradient, the law's bounds) from the first 300 of the same starts.
* the seed procedure (shared/seeds/moe_law_scipy_fit.txt): one start, mean squared error,
  data-dependent bounds, L-BFGS-B with finite differences, maxiter 2000.

Both test R^2 values are reported: a lower train objective need not extrapolate better.
Writes benchmarks/results/moe_<device>.json.
"""

import argparse
import json
import tempfile
import time

import numpy as np

from jaxlaws.devices import use_compilation_cache, use_cpu_cores


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    use_cpu_cores()  # before jax starts: one device per core
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))  # fresh: the first run compiles
    from scipy.optimize import minimize

    import jaxlaws as jl
    import suites

    law = jl.laws.get("moe_6p")
    data = jl.datasets.load("moe")
    train, test = data.split("train"), data.split("test")
    E, N, y = train.inputs["E"], train.inputs["N"] / 1e8, train.y

    def f_np(p, E=E, N=N):
        return p[0] * N ** p[1] * E ** p[2] + p[3] * E ** p[4] + p[5]

    def sse(p):
        r = f_np(p) - y
        return float(r @ r)

    def sse_grad(p):
        r = 2 * (f_np(p) - y)
        t1 = N ** p[1] * E ** p[2]
        t2 = E ** p[4]
        return np.array([r @ t1, r @ (p[0] * t1 * np.log(N)), r @ (p[0] * t1 * np.log(E)), r @ t2,
                         r @ (p[3] * t2 * np.log(E)), r.sum()])

    def r2(pred, yy):
        return float(1 - np.mean((pred - yy) ** 2) / np.var(yy))

    def test_pred(p):
        return f_np(p, test.inputs["E"], test.inputs["N"] / 1e8)


    starts = jl.starts.make(law, 1000, seed=0)
    t = time.perf_counter()
    jl.fit(law, train, loss="mse", starts=1000, seed=0)  # cold: compiles
    cold_s = time.perf_counter() - t
    t = time.perf_counter()
    res = jl.fit(law, train, loss="mse", starts=1000, seed=0)
    warm_s = time.perf_counter() - t
    p_jl = np.array([res.params[k] for k in law.params])

    nat = np.asarray(law.to_natural(starts))[:300]
    bounds = list(zip([p.lower for p in law.params.values()], [p.upper for p in law.params.values()]))
    t = time.perf_counter()
    sp = [minimize(sse, s, jac=sse_grad, method="L-BFGS-B", bounds=bounds) for s in nat]
    sp_s = time.perf_counter() - t
    best = min(sp, key=lambda r: r.fun)

    # The seed's one-start procedure, verbatim in substance.
    init = np.array([2.0, -0.15, -0.05, 0.5, -0.05, np.min(y) * 0.9])
    seed_bounds = [(0.001, 20.0), (-1.0, -0.01), (-1.0, 1.0), (0.0, 10.0), (-1.0, 1.0), (0.0, np.max(y))]
    t = time.perf_counter()
    sr = minimize(lambda p: sse(p) / len(y), init, method="L-BFGS-B", bounds=seed_bounds, options={"maxiter": 2000})
    seed_s = time.perf_counter() - t
    p_seed = sr.x if sr.success else init

    out = {
        "problem": "moe_6p on moe train (193 points), summed squared error",
        "jaxlaws_lm_1000_starts": {"objective": res.objective, "params": res.params, "warm_s": warm_s, "cold_s": cold_s,
                                   "n_converged": res.n_converged, "n_failed": res.n_failed,
                                   "test_r2": r2(test_pred(p_jl), test.y)},
        "scipy_lbfgsb_300_starts": {"objective": float(best.fun), "params": best.x.tolist(), "seconds": sp_s,
                                    "test_r2": r2(test_pred(best.x), test.y)},
        "seed_one_start_procedure": {"objective_sse": sse(p_seed), "params": p_seed.tolist(), "seconds": seed_s,
                                     "success": bool(sr.success), "test_r2": r2(test_pred(p_seed), test.y)},
        "machine": suites.machine(),
    }
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}, indent=2, default=float))
    suites.write_result("moe", out)


if __name__ == "__main__":
    main()
