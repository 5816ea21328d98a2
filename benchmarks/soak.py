"""Soak run: ICM through the OpenAI-compatible backend while its server is killed and restarted.

    OMP_NUM_THREADS=1 python benchmarks/soak.py --n 1024 --batch-size 256 --iterations 8 \\
        --rows benchmarks/results/soak.jsonl

What it does, on one CPU thread for the server and one for the client:

1. starts llama-cpp-python's server (`python -m llama_cpp.server`, `--n_threads 1`) on a free
   loopback port, serving `--model`'s GGUF (default smollm2-135m-instruct: its 49k-token
   vocabulary makes the server's per-request log-prob building ~5x cheaper than Gemma's 262k);
2. runs `elicit label --task sst2 --split train --n N --batch-size B --iterations I
   --lm-batch-size 1 --checkpoint-every 1 --model openai:http://127.0.0.1:PORT/v1/ALIAS`
   in-process (`run_label`, in a thread) into `--out`/soak;
3. SIGKILLs the server at each `--kill-at BATCH:ITERATION` (default: a third of the way into
   batch 2 and two thirds into batch 3; read from the run's checkpoints, so the kill lands in
   the middle of that batch's requests), waits `--down` seconds and restarts it on the same
   port. The client rides through on its retries (`backends/openai.py`); if they run out, the
   label run stops with a BackendError and is continued with `resume=True` (counted as a
   resume: `elicit label --resume`);
4. checks that nothing was lost: the run finished (metrics.json), every batch ran all its
   iterations (checkpoints, trace and metrics agree), labels.jsonl holds exactly the union of
   the batches' final labelled sets, and, with `--reference` (default), that the labels equal
   those of an uninterrupted run with the same seed and settings against a fresh server.

One JSON row per run (soak, reference) is appended to `--rows`: seconds, scoring requests the
server answered (its access log), retries and seconds spent waiting in them (the client's debug
log), restarts, downtime (kill to the restarted server answering /v1/models), retries and
resumes per outage, batches, iterations, labelled, and agreement with the reference. Runs and
server logs live in `--out` (default runs/soak/<model>-n<N>-b<B>-i<I>-s<seed>).

The 8 iterations per batch (the paper uses ~3000 per 256) fit a 2-core CPU shared with other
jobs: ~20 min per run. docs/RELIABILITY.md ("Soak run") has the numbers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# One client thread: set before numpy (imported by elicit) starts its BLAS pool.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ALIAS = "soak"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """llama-cpp-python's server on a fixed loopback port, killable and restartable."""

    def __init__(self, gguf: Path, port: int, log: Path, n_ctx: int) -> None:
        self.cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
                    "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
                    "--n_ctx", str(n_ctx), "--n_threads", "1", "--n_threads_batch", "1"]  # fmt: skip
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180.0) -> float:
        """Start it and wait until it answers /v1/models; the seconds that took."""
        t0 = time.monotonic()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT)
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"llama_cpp.server exited ({self.proc.returncode}); see {self.log}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2):
                    return time.monotonic() - t0
            except OSError:
                if time.monotonic() - t0 > timeout:
                    self.kill()
                    raise SystemExit(f"llama_cpp.server did not start; see {self.log}") from None
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, in-flight requests die with the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def answered(self) -> int:
        """Completions the server answered with 200, over all its lives (uvicorn's access log)."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text.count('"POST /v1/completions HTTP/1.1" 200')


class RetryLog(logging.Handler):
    """Counts the OpenAI client's "... failed (...); retrying in W s" debug records."""

    _WAIT = re.compile(r"retrying in ([0-9.]+) s")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retries = 0
        self.wait_s = 0.0
        self.reasons: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        m = self._WAIT.search(record.getMessage())
        if m is None:
            return
        self.retries += 1
        self.wait_s += float(m.group(1))
        # args: (method, path, reason, wait)
        reason = str(record.args[2]) if isinstance(record.args, tuple) else "?"
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass
class LabelThread:
    """`run_label` in a thread; a BackendError (retries ran out) is continued with resume."""

    config: Any
    max_resumes: int
    resumes: int = 0
    error: BaseException | None = None
    seconds: float = 0.0
    thread: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from dataclasses import replace

        from elicit.commands.label import run_label
        from elicit.errors import BackendError

        t0 = time.perf_counter()
        config = self.config
        try:
            while True:
                try:
                    run_label(config)
                    break
                except BackendError as e:
                    if self.resumes >= self.max_resumes:
                        raise
                    self.resumes += 1
                    print(f"  label run stopped ({e}); resuming", flush=True)
                    time.sleep(5)
                    config = replace(self.config, resume=True, force=False)
        except BaseException as e:
            self.error = e
        self.seconds = time.perf_counter() - t0


def checkpoint_iteration(out: Path, batch: int) -> int:
    """The last checkpointed iteration of `batch` (-1 before its first checkpoint)."""
    path = out / "checkpoints" / f"batch-{batch:03d}" / "checkpoint.json"
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["iteration"])
    except (OSError, ValueError, KeyError):
        return -1


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def nothing_lost(out: Path, n_batches: int, iterations: int) -> dict[str, Any]:
    """Check the finished run against its own checkpoints; the facts, and a list of problems."""
    problems: list[str] = []
    if not (out / "metrics.json").is_file():
        return {"finished": False, "problems": ["no metrics.json: the run did not finish"]}
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    labels = {row["uid"]: row["label"] for row in read_jsonl(out / "labels.jsonl")}
    trace = read_jsonl(out / "trace.jsonl")
    batches = metrics["batches"]
    if len(batches) != n_batches:
        problems.append(f"{len(batches)} batches in metrics.json, expected {n_batches}")
    final: dict[str, int] = {}
    for b in range(n_batches):
        path = out / "checkpoints" / f"batch-{b:03d}" / "checkpoint.json"
        ckpt = json.loads(path.read_text(encoding="utf-8"))
        its = sorted(row["iteration"] for row in trace if row["batch"] == b)
        if its != list(range(1, iterations + 1)):
            problems.append(
                f"batch {b}: trace iterations {its[:3]}...{its[-3:]}, not 1..{iterations}"
            )
        if ckpt["iteration"] != iterations or batches[b]["iterations"] != iterations:
            problems.append(
                f"batch {b}: checkpoint at {ckpt['iteration']}, metrics {batches[b]['iterations']}"
                f" iterations, expected {iterations}"
            )
        final.update({uid: int(y) for uid, y in ckpt["labels"]})
    if labels != final:
        problems.append(
            f"labels.jsonl ({len(labels)}) differs from the checkpoints' labels ({len(final)})"
        )
    if metrics["n_labelled"] != len(labels):
        problems.append(f"metrics n_labelled {metrics['n_labelled']} != {len(labels)} labels")
    return {
        "finished": True,
        "batches": len(batches),
        "iterations": [b["iterations"] for b in batches],
        "labelled": len(labels),
        "agreement_gold": metrics["agreement"],
        "problems": problems,
    }


def run(args: argparse.Namespace, name: str, kills: list[tuple[int, int]]) -> dict[str, Any]:
    """One label run against a fresh server, killing it at `kills`; its result row."""
    from elicit.commands.label import LabelConfig
    from elicit.models import gguf_file

    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    out = root / name
    log = root / f"{name}-server.log"
    log.unlink(missing_ok=True)
    server = Server(gguf_file(args.model), free_port(), log, args.n_ctx)
    config = LabelConfig(
        task="sst2", split="train", n=args.n, seed=args.seed, batch_size=args.batch_size,
        iterations=args.iterations, lm_batch_size=1, checkpoint_every=1,
        model=f"openai:{server.url}/{ALIAS}", out=str(out), force=True, progress=False,
    )  # fmt: skip
    retries = RetryLog()
    logger = logging.getLogger("elicit")
    logger.addHandler(retries)
    logger.setLevel(logging.DEBUG)
    downtimes: list[float] = []
    hits: list[dict[str, int]] = []
    try:
        print(f"{name}: server up in {server.start():.1f} s at {server.url}", flush=True)
        job = LabelThread(config, max_resumes=args.max_resumes)
        job.thread.start()
        pending = sorted(kills)
        while job.thread.is_alive():
            job.thread.join(0.2)
            if pending and checkpoint_iteration(out, pending[0][0]) >= pending[0][1]:
                batch, it = pending.pop(0)
                t_kill, seen = time.monotonic(), (retries.retries, job.resumes)
                server.kill()
                print(f"{name}: killed the server at batch {batch + 1} iteration {it}", flush=True)
                time.sleep(args.down)
                server.start()
                downtimes.append(time.monotonic() - t_kill)
                # Give the client a moment to reach the new server, then note what this
                # outage cost it (a kill after the run's last request costs nothing).
                job.thread.join(5)
                hits.append(
                    {"retries": retries.retries - seen[0], "resumes": job.resumes - seen[1]}
                )
                print(f"{name}: restarted; down {downtimes[-1]:.1f} s; {hits[-1]}", flush=True)
        if job.error is not None:
            raise SystemExit(f"{name}: the label run failed: {job.error!r}")
    finally:
        server.kill()
        logger.removeHandler(retries)
    n_batches = -(-args.n // args.batch_size)
    check = nothing_lost(out, n_batches, args.iterations)
    return {
        "run": name,
        "seconds": round(job.seconds, 1),
        "requests": server.answered(),
        "retries": retries.retries,
        "retry_wait_s": round(retries.wait_s, 1),
        "retry_reasons": retries.reasons,
        "restarts": len(downtimes),
        "downtime_s": [round(d, 1) for d in downtimes],
        "per_outage": hits,
        "resumes": job.resumes,
        **check,
        "out": str(out),
    }


def compare(a: Path, b: Path) -> dict[str, Any]:
    """How far the labels (and final leave-one-out scores) of runs a and b agree."""
    ra = {row["uid"]: row for row in read_jsonl(a / "labels.jsonl")}
    rb = {row["uid"]: row for row in read_jsonl(b / "labels.jsonl")}
    both = ra.keys() & rb.keys()
    same = sum(ra[u]["label"] == rb[u]["label"] for u in both)
    return {
        "identical_to_reference": ra.keys() == rb.keys() and same == len(both),
        "same_uids_as_reference": ra.keys() == rb.keys(),
        "label_agreement_with_reference": same / len(both) if both else None,
        "max_score_diff_vs_reference": max(
            (abs(ra[u]["score"] - rb[u]["score"]) for u in both), default=None
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m-instruct", help="registered model (GGUF)")
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=8, help="ICM iterations per batch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-ctx", type=int, default=2048, help="server context (--n_ctx)")
    ap.add_argument(
        "--kill-at", default=None,
        help="BATCH:ITERATION,... (1-based) at which to SIGKILL the server "
             "(default: 2:I/3,3:2I/3)",
    )  # fmt: skip
    ap.add_argument("--down", type=float, default=3.0, help="seconds between kill and restart")
    ap.add_argument("--max-resumes", type=int, default=2, help="resumes allowed if retries run out")
    ap.add_argument(
        "--reference", action=argparse.BooleanOptionalAction, default=True,
        help="also run uninterrupted and compare the labels",
    )  # fmt: skip
    ap.add_argument("--out", default=None, help="folder for the runs and server logs")
    ap.add_argument("--rows", default=None, help="append JSON rows here")
    args = ap.parse_args()
    if args.out is None:
        args.out = (
            f"runs/soak/{args.model}-n{args.n}-b{args.batch_size}-i{args.iterations}-s{args.seed}"
        )
    if args.kill_at is None:
        third = max(1, args.iterations // 3)
        args.kill_at = f"2:{third},3:{max(1, args.iterations - third)}"
    kills = [(int(b) - 1, int(i)) for b, i in (k.split(":") for k in args.kill_at.split(","))]

    rows = [run(args, "soak", kills)]
    if args.reference:
        rows.append(run(args, "reference", []))
        rows[0].update(compare(Path(rows[0]["out"]), Path(rows[1]["out"])))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    for row in rows:
        row.update({
            "model": args.model, "task": "sst2", "n": args.n, "batch_size": args.batch_size,
            "iterations_per_batch": args.iterations, "seed": args.seed,
            "kill_at": args.kill_at if row["run"] == "soak" else None, "down_s": args.down,
            "server_threads": 1, "lm_batch_size": 1, "machine": platform.machine(),
            "cpus": os.cpu_count(), "date": stamp,
        })  # fmt: skip
        print(json.dumps(row), flush=True)
    if args.rows:
        with open(args.rows, "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    failed = [f"{r['run']}: {p}" for r in rows for p in r["problems"]]
    if args.reference and not rows[0]["identical_to_reference"]:
        failed.append("soak labels differ from the reference run's")
    if failed:
        raise SystemExit("NOT OK: " + "; ".join(failed))
    print("OK: nothing lost", flush=True)


if __name__ == "__main__":
    main()
