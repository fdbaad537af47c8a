"""Fine-tuning: the rectified scaling law of Lin et al. (2024), "Selecting Large
Language Model to Fine-tune via Rectified Scaling Law" (arXiv:2402.02314):

    L(D) = A / (D^alpha + B) + C

the loss after fine-tuning on D examples. B plays the paper's "pre-learned
data size" D_l: for D^alpha << B the curve is flat at A/B + C (the pre-power
phase), for D^alpha >> B it is the power law A D^-alpha + C. (The paper writes
B / (D_l + D^beta) + E.) D = 0, the zero-shot point, is allowed: for alpha > 0
the law gives A/B + C there.
"""

from __future__ import annotations

from jaxlaws.law import Law, Param
from jaxlaws.laws import register


def _sft_rectified(p, x):
    # jnp's power differentiates 0^alpha in alpha as 0 (lax.pow's rule guards log 0),
    # so D = 0 is safe in value, Jacobian and gradient.
    return p["A"] / (x["D"] ** p["alpha"] + p["B"]) + p["C"]


sft_rectified = register(
    Law(
        name="sft_rectified",
        fn=_sft_rectified,
        inputs=("D",),
        params={
            "A": Param(1e-6, 1e10, scale="log", start=(1e-1, 1e4)),
            "B": Param(1e-6, 1e10, scale="log", start=(1e-2, 1e3)),
            "C": Param(0.0, 20.0, start=(0.0, 3.0)),
            "alpha": Param(0.0, 3.0, start=(0.05, 1.5)),
        },
        description="L = A/(D^alpha + B) + C",
        reference="Lin et al. 2024 (arXiv:2402.02314)",
    )
)
