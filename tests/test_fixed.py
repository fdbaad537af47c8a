"""Fixed parameters (``Param(fixed=)``, ``Law.fix``): held out of the solver, reported as fixed,
honoured by starts, bootstrap, standard errors and AIC/BIC."""

import numpy as np
import pytest

import jaxlaws as jl
from jaxlaws.analysis import allocation, compare

LOSS = "huber-log:1e-3"


@pytest.fixture(scope="module")
def free_fit(chinchilla_law, epoch_data):
    return jl.fit(chinchilla_law, epoch_data, loss=LOSS, starts=64)


@pytest.fixture(scope="module")
def e_fixed(chinchilla_law, free_fit):
    return chinchilla_law.fix(E=free_fit.params["E"])


def test_fix_moves_the_parameter_out_of_the_solvers_view(chinchilla_law, e_fixed):
    assert e_fixed.param_names == ("A", "B", "alpha", "beta") and e_fixed.n_params == 4
    assert list(e_fixed.fixed) == ["E"] and e_fixed.order == chinchilla_law.order
    assert list(e_fixed.all_params) == ["E", "A", "B", "alpha", "beta"]
    assert e_fixed.lower.shape == (4,)
    assert chinchilla_law.n_params == 5 and not chinchilla_law.fixed  # fix() returns a new law
    back = e_fixed.release()
    assert back.param_names == chinchilla_law.param_names and not back.fixed
    assert "fixed at" in e_fixed.describe()


def test_fixed_fit_reproduces_the_free_fit(free_fit, e_fixed, epoch_data):
    res = jl.fit(e_fixed, epoch_data, loss=LOSS, starts=64)
    assert res.params["E"] == free_fit.params["E"] and res.fixed == {"E": free_fit.params["E"]}
    assert list(res.params) == ["E", "A", "B", "alpha", "beta"]
    # The free optimum is also the optimum with E held at its value; both fits stop at
    # ftol 1e-14 relative on f, which leaves parameters good to ~sqrt(1e-14) = 1e-7 of their
    # SEs; A's SE is ~20% of A, so 1e-6 relative is generous and still far below any real change.
    for k in ("A", "B", "alpha", "beta"):
        assert res.params[k] == pytest.approx(free_fit.params[k], rel=1e-6)
    assert res.objective == pytest.approx(free_fit.objective, rel=1e-12)
    # One parameter fewer: AIC by 2 less, BIC by ln n, up to the refit. The Gaussian likelihood
    # is of the squared residuals, not stationary at the Huber optimum, so the ~1e-7 relative
    # difference between the two fits' points moves it at first order: n * |dRSS| / RSS ~ 240 *
    # 1e-8 = a few 1e-6 (measured 2.0e-6 to 2.3e-6 with either Cholesky); 2e-5 leaves margin.
    assert res.diagnostics.n_free == free_fit.diagnostics.n_free - 1
    assert free_fit.aic - res.aic == pytest.approx(2.0, abs=2e-5)
    assert free_fit.bic - res.bic == pytest.approx(np.log(240), abs=2e-5)
    assert res.se["E"] == 0.0 and np.isfinite(res.se["A"])
    assert res.to_dict()["fixed"] == {"E": free_fit.params["E"]}
    assert "fixed" in res.report().splitlines()[[i for i, l in enumerate(res.report().splitlines())
                                                 if l.strip().startswith("E ")][0]]


def test_bootstrap_keeps_a_fixed_parameter_constant(e_fixed, epoch_data):
    res = jl.fit(e_fixed, epoch_data, loss=LOSS, starts=16)
    boot = jl.bootstrap(e_fixed, epoch_data, n=16, loss=LOSS, fit=res)
    assert boot.params.shape == (16, 4)
    assert np.all(boot.samples("E") == res.params["E"])
    assert boot.se["E"] == 0.0 and boot.se["alpha"] > 0
    assert boot.ci(0.9)["E"] == (res.params["E"], res.params["E"])
    # derived quantities see the fixed value (allocation needs every parameter)
    alloc = allocation.from_bootstrap(boot, [1e22])
    assert alloc["N_opt"].samples.shape[0] == boot.n_used and np.all(np.isfinite(alloc["N_opt"].samples))


def test_starts_honour_fixed_parameters(e_fixed, free_fit):
    sizes = [len(p.grid) for p in e_fixed.params.values()]
    assert jl.starts.make(e_fixed, "grid").shape == (int(np.prod(sizes)), 4)  # the grid of the free four
    # a start mapping may name the fixed parameter at its value, not at another
    row = dict(free_fit.params)
    assert jl.starts.make(e_fixed, [row]).shape == (1, 4)
    with pytest.raises(jl.JaxlawsError, match="holds E fixed"):
        jl.starts.make(e_fixed, [{**row, "E": 1.0}])


def test_predict_fills_in_fixed_values_and_refuses_a_different_one(e_fixed, free_fit):
    free = {k: v for k, v in free_fit.params.items() if k != "E"}
    x = {"N": np.array([1e9]), "D": np.array([2e10])}
    np.testing.assert_allclose(e_fixed.predict(free, x), jl.laws.get("chinchilla").predict(free_fit.params, x),
                               rtol=1e-15)
    with pytest.raises(jl.JaxlawsError, match="holds E fixed"):
        e_fixed.predict({**free, "E": 0.5}, x)


def test_param_fixed_in_a_declaration_and_bad_values():
    @jl.law(inputs=("x",), params={"A": jl.Param(1e-3, 1e3, scale="log"), "alpha": jl.Param(0.0, 2.0, fixed=0.5)})
    def pl(p, x):
        return p["A"] * x["x"] ** -p["alpha"]

    assert pl.param_names == ("A",) and pl.fixed == {"alpha": 0.5}
    x = np.logspace(0, 4, 20)
    res = jl.fit(pl, jl.datasets.from_arrays(x={"x": x}, y=3.0 * x**-0.5), loss="mse", starts=4)
    assert res.params["A"] == pytest.approx(3.0, rel=1e-10)  # noise-free: exact to rounding
    with pytest.raises(jl.JaxlawsError, match="fixed value 5.0 must be finite and inside"):
        jl.Param(0.0, 2.0, fixed=5.0)
    with pytest.raises(jl.JaxlawsError, match="no parameter"):
        pl.fix(beta=1.0)


def test_a_law_with_every_parameter_fixed_is_evaluated_scored_and_predicted(chinchilla_law, free_fit, epoch_data):
    law = chinchilla_law.fix(**free_fit.params)
    assert law.n_params == 0
    res = jl.fit(law, epoch_data, loss=LOSS)
    assert res.status_counts == {"fixed": 1} and res.best_converged and res.n_starts == 1
    # the objective at the fixed values is the free fit's objective (same point, float64)
    assert res.objective == pytest.approx(free_fit.objective, rel=1e-12)
    assert res.params == free_fit.params
    assert res.aic == pytest.approx(free_fit.aic - 10.0, abs=1e-6)  # 5 parameters fewer
    np.testing.assert_allclose(res.predict(epoch_data.inputs), free_fit.predict(epoch_data.inputs), rtol=1e-15)


def test_published_constants_scored_without_fitting():
    # ParScale's law at fixed values on both groups: k = 0 free parameters, every group FIXED.
    law = jl.laws.get("parscale")
    values = {"A": 1.5e8, "k": 0.35, "alpha": 0.21, "E": 1.3}
    s = compare.score(law.fix(**values), "parallel", loss="mse")
    assert s.n_params == 0 and s.status == "fixed" and s.fixed == values
    assert np.isfinite(s.test_r2)
