"""Every bundled dataset with a train/test split x every catalog law that fits it: held-out
R^2, NMSE and NMAE by SLDBench's protocol (jaxlaws.analysis.compare), train objective, AIC/BIC,
status, fit time.

A law fits a dataset when the dataset has every input the law reads and as many outputs as
the law predicts. Fits on the train split, scores on the test split (per-group fits for
grouped data, pooled scores). Writes benchmarks/results/catalog.md and catalog.json; the
README's table is this file's output.
"""

import argparse
import json
import os
import tempfile

from jaxlaws.devices import use_compilation_cache, use_cpu_cores


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    use_cpu_cores()  # before jax starts: one device per core
    use_compilation_cache(tempfile.mkdtemp(prefix="jaxlaws-xla-"))  # fresh: the first run compiles
    from jaxlaws.analysis import compare

    import suites

    import jaxlaws as jl

    # The eight SLDBench tasks (chinchilla / chinchilla_epoch have no train/test split: see
    # benchmarks/grid.py).
    TASKS = ["moe", "data_constrained", "vocab", "sft", "domain_mixture", "lr_bsz", "parallel", "easy_question"]
    PLAN = []
    for name in TASKS:
        data = jl.datasets.load(name)
        k = 1 if data.y.ndim == 1 else data.y.shape[1]
        fits = [law for law in jl.laws.names()
                if set(jl.laws.get(law).inputs) <= set(data.inputs) and jl.laws.get(law).n_outputs == k]
        PLAN.append((name, fits, "mse"))

    rows, blocks = [], []
    for name, laws, loss in PLAN:
        scores = compare.compare(laws, name, loss=loss, starts=256)
        blocks.append(f"### {name} ({loss})\n\n" + compare.table(scores))
        rows += [dict(dataset=name, loss=loss, **s.to_dict()) for s in scores]
        print(blocks[-1], flush=True)

    results = os.path.join(suites.HERE, "results")
    with open(os.path.join(results, "catalog.md"), "w") as fh:
        fh.write("\n\n".join(blocks) + "\n")
    with open(os.path.join(results, "catalog.json"), "w") as fh:
        json.dump({"rows": rows, "machine": suites.machine()}, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
