"""Single-variable power laws in an input ``x``.

``power_law``: y = A x^-alpha. ``power_law_offset``: y = A x^-alpha + E.
The forms every scaling-law paper starts from (e.g. Kaplan et al. 2020, eq. 1.1-1.3).
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlaws.law import Law, Param
from jaxlaws.laws import register

power_law = register(
    Law(
        name="power_law",
        fn=lambda p, x: jnp.log(p["A"]) - p["alpha"] * jnp.log(x["x"]),
        inputs=("x",),
        params={
            "A": Param(1e-8, 1e12, scale="log", start=(1e-2, 1e6)),
            "alpha": Param(0.0, 5.0, start=(0.0, 2.0)),
        },
        predicts_log=True,
        description="y = A x^-alpha",
        reference="Kaplan et al. 2020 (arXiv:2001.08361)",
    )
)

power_law_offset = register(
    Law(
        name="power_law_offset",
        fn=lambda p, x: p["A"] * x["x"] ** -p["alpha"] + p["E"],
        inputs=("x",),
        params={
            "A": Param(1e-8, 1e12, scale="log", start=(1e-2, 1e6)),
            "alpha": Param(0.0, 5.0, start=(0.0, 2.0)),
            "E": Param(0.0, 1e4, start=(0.0, 10.0)),
        },
        description="y = A x^-alpha + E",
        reference="Hestness et al. 2017 (arXiv:1712.00409); Kaplan et al. 2020",
    )
)
