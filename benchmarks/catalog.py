"""Every bundled dataset x the laws that fit it: train objective, held-out R^2, fit time.

Fits on the train split, scores on the test split (per-group fits for grouped data,
pooled scores). Writes benchmarks/results/catalog.md and catalog.json; the README's
table is this file's output.
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

    # chinchilla / chinchilla_epoch have no train/test split: see benchmarks/grid.py.
    PLAN = [
        ("moe", ["moe_6p", "moe_clark"], "mse"),
        ("data_constrained", ["data_constrained", "chinchilla_linear"], "mse"),
        ("vocab", ["vocab"], "mse"),
        ("sft", ["sft_rectified"], "mse"),
        ("domain_mixture", ["mixing"], "mse"),
        ("lr_bsz", ["lr_bsz"], "mse"),
    ]

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
