"""Our LCA engine against StepMix on the same data, side by side in one run.

    .venv/bin/python bench/lca_vs_stepmix.py            # 20k, 200k, 1M × 50 and the sparse case
    .venv/bin/python bench/lca_vs_stepmix.py --quick    # 5k × 50 only

Same data (simulated with a seed, 6 classes), same number of random starts, the same convergence
rule: a start stops when one EM iteration changes the mean log-likelihood per row by less than
`--tol` (StepMix's `abs_tol`). Each engine runs in its own child process so its peak memory
(ru_maxrss, including the data) and time are its own. Prints a table with times, the time ratio,
both best log-likelihoods and their relative difference, and the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def simulate(n: int, p: int, k: int, seed: int, density: float | None, sep: float = 1.0):
    if p == 5 and n == 1000:  # the real multimodal case: LSAT section 6 (psych), 1,000 × 5
        import numpy as np

        path = ROOT / "tests" / "expected" / "lsat6.csv"
        return np.loadtxt(path, delimiter=",", skiprows=1)
    from workers.models.lca.simulation import simulate_binary

    X, _, _ = simulate_binary(n=n, p=p, k=k, seed=seed, density=density, sep=sep)
    return X


def run_ours(args: argparse.Namespace) -> dict:
    import numpy as np

    from backend.schemas.lca import LCAParams
    from workers.models.base import BinaryMatrix, no_progress
    from workers.models.lca.fit import fit

    X = simulate(args.n, args.p, args.k, args.seed, args.density, args.sep)
    data = BinaryMatrix(values=X, products=[f"p{j}" for j in range(args.p)])
    # The production defaults (start search until the best is replicated, tol 1e-8, max_iter
    # 5000) with n_init starts in the first round; the stability resamples are a separate
    # analysis StepMix does not do, so they are off here (their cost is printed by --stability).
    options: dict = dict(n_classes=args.k, n_init=args.starts, random_state=args.seed)
    options["stability_samples"] = args.stability
    if args.finish_all:
        options.update(n_final=args.starts)
    if args.old_rule:  # the defaults before issue 14: one round, tol 1e-6, max_iter 1000
        options.update(replicate=1, max_starts=args.starts, tol=args.tol, max_iter=args.max_iter)
    if args.starts_budget:
        options.update(max_starts=args.starts_budget, n_final=args.starts_budget, replicate=1)
        options.update(n_init=args.starts_budget)
    params = LCAParams(**options)
    t = time.perf_counter()
    cpu = time.process_time()
    result = fit(data, params, no_progress)
    elapsed = time.perf_counter() - t
    return {
        "engine": "ours" + (" (all starts finished)" if args.finish_all else ""),
        "seconds": elapsed,
        "cpu_seconds": time.process_time() - cpu,
        "loglik": result.loglik,
        "layout": result.layout,
        "iterations": [s.iterations for s in result.starts],
        "finished": int(np.sum([s.finished for s in result.starts])),
        "at_best": result.n_starts_at_best,
        "starts": result.n_starts,
    }


def run_stepmix(args: argparse.Namespace) -> dict:
    from stepmix.stepmix import StepMix

    X = simulate(args.n, args.p, args.k, args.seed, args.density, args.sep)
    model = StepMix(
        n_components=args.k,
        measurement="binary",
        n_init=args.starts,
        max_iter=args.max_iter,
        abs_tol=args.tol,
        random_state=args.seed,
        progress_bar=0,
        verbose=0,
    )
    t = time.perf_counter()
    cpu = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    elapsed = time.perf_counter() - t
    # The log-likelihood at StepMix's final parameters (one more E-step, not timed).
    return {
        "engine": "stepmix",
        "seconds": elapsed,
        "cpu_seconds": time.process_time() - cpu,
        "loglik": float(model.score(X)) * args.n,
        "iterations": int(model.n_iter_),
    }


def child(args: argparse.Namespace) -> None:
    out = run_stepmix(args) if args.one == "stepmix" else run_ours(args)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def spawn(args: argparse.Namespace, engine: str, **over: object) -> dict:
    cmd = [sys.executable, __file__, "--one", engine]
    for key, value in {**vars(args), **over}.items():
        if key in ("one", "quick", "cases", "skip_stepmix_above", "also_all", "json", "also"):
            continue
        if isinstance(value, bool):
            if value:
                cmd.append(f"--{key.replace('_', '-')}")
        elif value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"engine": engine, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


CASES = {
    "20k": dict(n=20_000, p=50, density=None),
    "200k": dict(n=200_000, p=50, density=None),
    "1M": dict(n=1_000_000, p=50, density=None),
    "sparse": dict(n=100_000, p=500, density=0.05),
    # Weakly separated classes (relative entropy about 0.5): EM needs many more iterations.
    "50k-weak": dict(n=50_000, p=50, density=None, sep=0.5),
    "quick": dict(n=5_000, p=50, density=None),
    # Multimodal: LSAT 6 with 4 classes; 4 of 500 random starts reach the optimum.
    "lsat6": dict(n=1000, p=5, density=None, k=4),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="5k × 50 only")
    ap.add_argument(
        "--cases", default="20k,200k,1M,sparse", help="comma list of " + ",".join(CASES)
    )
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--skip-stepmix-above",
        type=int,
        default=200_000,
        help="rows above which StepMix is not run (too slow)",
    )
    ap.add_argument(
        "--also-all",
        action="store_true",
        help="also run ours with every start finished (no two-stage)",
    )
    ap.add_argument("--json", help="append the rows to this JSON-lines file")
    ap.add_argument(
        "--also",
        default="",
        help="comma list of extra rows of ours: old (one round of n_init starts, tol 1e-6, "
        "max_iter 1000: the defaults before issue 14, on the new engine), "
        "s500 (500 random starts, all finished: the exhaustive reference)",
    )
    ap.add_argument("--stability", type=int, default=0, help="stability_samples of ours")
    # child-process arguments
    ap.add_argument("--one", choices=["ours", "stepmix"], help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--p", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--density", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--finish-all", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--old-rule", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--starts-budget", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--sep", type=float, default=1.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        child(args)
        return

    cases = ["quick"] if args.quick else args.cases.split(",")
    print(f"cpus {os.cpu_count()}, load average before {os.getloadavg()}")
    header = (
        f"{'case':>7} {'n':>9} {'p':>4} {'engine':>28} {'seconds':>8} {'cpu s':>7} "
        f"{'peak MB':>8} {'best loglik':>18} {'iterations':>12} {'starts':>6}"
    )
    print(header)
    summary = []
    for name in cases:
        case = CASES[name]
        rows = [spawn(args, "ours", **case)]
        if args.also_all:
            rows.append(spawn(args, "ours", finish_all=True, **case))
        extra = [a for a in args.also.split(",") if a]
        if "old" in extra:
            old = spawn(args, "ours", old_rule=True, **case)
            old["engine"] = "ours, 1 round, tol 1e-6"
            rows.append(old)
        if "s500" in extra:
            ref = spawn(args, "ours", starts_budget=500, **case)
            ref["engine"] = "ours, 500 starts all finished"
            rows.append(ref)
        if case["n"] <= args.skip_stepmix_above:
            rows.append(spawn(args, "stepmix", **case))
        load = os.getloadavg()
        for r in rows:
            if "error" in r:
                print(f"{name:>7} {r['engine']:>28} failed: {r['error']}")
                continue
            its = r["iterations"]
            its_s = f"{min(its)}-{max(its)}" if isinstance(its, list) else str(its)
            print(
                f"{name:>7} {case['n']:>9} {case['p']:>4} {r['engine']:>28} {r['seconds']:>8.2f} "
                f"{r['cpu_seconds']:>7.1f} {r['peak_rss_mb']:>8.0f} {r['loglik']:>18.4f} "
                f"{its_s:>12} {r.get('starts', '')!s:>6}"
            )
        ours, sm = rows[0], next((r for r in rows if r["engine"] == "stepmix"), rows[-1])
        line = {"case": name, **case, "load": load, "rows": rows}
        if sm["engine"] == "stepmix" and "error" not in sm and "error" not in ours:
            ratio = sm["seconds"] / ours["seconds"]
            rel = (ours["loglik"] - sm["loglik"]) / abs(sm["loglik"])
            print(
                f"{'':>7} StepMix / ours time ratio {ratio:.1f}×; ours − StepMix loglik "
                f"{ours['loglik'] - sm['loglik']:+.4f} ({rel:+.2e} relative); load {load}"
            )
            line.update(ratio=ratio, rel_loglik=rel)
        else:
            print(f"{'':>7} StepMix not run for n={case['n']}; load {load}")
        summary.append(line)
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
