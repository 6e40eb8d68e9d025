"""Hub against floor: ``POST /v1/outcomes`` on the hub and on ``bench/floor_app.py``, same requests.

Usage: .venv/bin/python bench/ingest.py --compare-floor [--backend both] [--rounds 3] [--seconds 10]

Per backend, one fresh database (migrated by ``ctihub db upgrade``) and two gunicorns started with
the same command (``-c python:hub.serving.gunicorn_conf -w <workers>``, sync workers, no access
log), one serving the floor and one the hub (the sandbox CRM; no hub worker runs). Then:

1. throughput, after an untimed ``--warmup`` run against each server, in ``--rounds`` rounds
   alternating floor-hub and hub-floor: ``wrk`` (closed loop, ``--connections`` connections,
   ``--threads`` threads) sends pre-signed, distinct valid events for ``--seconds``; throughput is
   the 2xx answers per second; each round's ratio is hub/floor, and the result is the median of
   the rounds' ratios, with their range and quartiles (more, shorter rounds: a steadier median).
   ``wrk`` costs far less CPU per request than a Python client, which matters
   on a machine where client and servers share the cores;
2. latency: the repository's open-loop Python client (``bench/ingest.py``; latency counted from
   each request's scheduled time, so no coordinated omission, which wrk's closed loop has) offers
   one fixed rate (``--rate``, default 70 % of the floor's median throughput) to the hub and the
   floor, alternating, ``--latency-rounds`` runs each of ``--seconds``; p99 is the acknowledgment
   latency there (``--rounds 0 --rate N``: the latency runs alone);
3. durability: after every run the inbox's new rows are compared with the 2xx answers (requests
   cut off when wrk stops may add up to ``--connections`` rows).

The load average (``/proc/loadavg``) is printed before every round: this machine is shared.
Targets: hub/floor >= 0.75 on SQLite, >= 0.85 on PostgreSQL; p99 < 15 ms at 70 % of the floor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ingest  # bench/ingest.py (this directory is on sys.path when it runs)

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = {"sqlite": 0.75, "postgres": 0.85}
TARGET_P99_MS = 15.0
LOAD_SHARE = 0.70
WRK_SCRIPT = r"""
counter = 0
local reqs, n, i = {}, 0, 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args)
  local path, threads, k = args[1], tonumber(args[2]), 0
  for line in io.lines(path) do
    if k % threads == tid then
      local signature, body = line:match("^([^\t]*)\t(.*)$")
      n = n + 1
      reqs[n] = wrk.format("POST", "/v1/outcomes",
        {["Content-Type"] = "application/json", ["X-CTIHub-Signature"] = signature}, body)
    end
    k = k + 1
  end
end
function request() i = i + 1; if i > n then i = 1 end; return reqs[i] end
function done(summary, latency, requests)
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}\n', summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class AppServer(ingest.ServerConfig):
    """gunicorn with the hub's settings module, serving ``app`` (the hub or the floor)."""

    name: str = "hub"

    @property
    def label(self) -> str:
        return f"{self.name} sync x{self.workers}"

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "-c", "python:hub.serving.gunicorn_conf",
            "-w", str(self.workers), "-b", f"127.0.0.1:{port}", "--backlog", "4096", self.app,
        ]  # fmt: skip


@dataclass
class WrkRun:
    server: str
    round: int
    requests: int
    non2xx: int
    socket_errors: int
    seconds: float
    ok_per_s: float
    p50_ms: float
    p99_ms: float
    inbox_delta: int
    durable: bool
    loadavg: str


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def write_requests(path: Path, secret: str, tag: str, count: int) -> None:
    from webhooks.generic import sign

    timestamp = int(time.time())
    with path.open("w") as out:
        for k in range(count):
            body = ingest.event_body(f"{tag}-{k}", k)
            out.write(f"{sign(secret, body, timestamp)}\t{body.decode()}\n")


def run_wrk(port: int, requests: Path, script: Path, args: argparse.Namespace) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    command = [
        wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{args.seconds:g}s", "--timeout", "10s",
        "-s", str(script), f"http://127.0.0.1:{port}", "--", str(requests), str(args.wrk_threads),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    return json.loads(line[4:])


def throughput_run(
    server: str, round_: int, port: int, database_url: str, secret: str, work: Path, args: argparse.Namespace
) -> WrkRun:
    requests = work / f"{server}-{round_}.tsv"
    write_requests(requests, secret, f"{server}-{round_}-{secrets.token_hex(4)}", int(args.seconds * 4000))
    ingest.wait_until_quiet(args.quiet_wait)
    load = loadavg()
    before = ingest.inbox_count(database_url)
    result = run_wrk(port, requests, work / "wrk.lua", args)
    delta = ingest.inbox_count(database_url) - before
    requests.unlink()
    ok = result["requests"] - result["non2xx"]
    seconds = result["duration_us"] / 1e6
    return WrkRun(
        server=server,
        round=round_,
        requests=result["requests"],
        non2xx=result["non2xx"],
        socket_errors=result["socket_errors"],
        seconds=seconds,
        ok_per_s=ok / seconds,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        inbox_delta=delta,
        durable=ok <= delta <= ok + args.connections,
        loadavg=load,
    )


@contextlib.contextmanager
def both_servers(env: dict[str, str], args: argparse.Namespace, logs: Path) -> Iterator[dict[str, tuple]]:
    floor = AppServer(args.workers, "sync", 1, "bench.floor_app:create()", name="floor")
    hub = AppServer(args.workers, "sync", 1, "hub.web:create_app()", name="hub")
    env = {**env, "PYTHONPATH": str(ROOT)}
    with contextlib.ExitStack() as stack:
        servers = {}
        for config in (floor, hub):
            port = ingest.free_port()
            pid = stack.enter_context(ingest.running_server(config, env, port, logs / f"{config.name}.log"))
            servers[config.name] = (config, port, pid)
        yield servers


def compare_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    secret = secrets.token_hex(32)
    with ingest.fresh_database(backend, args.postgres_url, args.keep) as database_url:
        env = ingest.server_environment(database_url, secret)
        env["CTIHUB_SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous
        subprocess.run(
            [sys.executable, "-m", "hub.cli", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        print(f"\n[{backend}] {ingest.durability_settings(database_url)}")
        with both_servers(env, args, work) as servers:
            runs: list[WrkRun] = []
            if args.throughput_rounds:
                warm_up(servers, database_url, secret, work, args)
            for round_ in range(1, args.throughput_rounds + 1):
                for name in round_order(round_):
                    _, port, _ = servers[name]
                    runs.append(throughput_run(name, round_, port, database_url, secret, work, args))
                    print("  " + format_run(runs[-1]))
            floor_runs = sorted((r for r in runs if r.server == "floor"), key=lambda r: r.round)
            hub_runs = sorted((r for r in runs if r.server == "hub"), key=lambda r: r.round)
            ratios = [h.ok_per_s / f.ok_per_s for f, h in zip(floor_runs, hub_runs, strict=True)]
            rate = args.rate or round(LOAD_SHARE * statistics.median(r.ok_per_s for r in floor_runs))
            latency = latency_rounds(backend, servers, database_url, secret, rate, args)
    median_ratio = statistics.median(ratios) if ratios else None
    if ratios:
        print(f"  {backend}: hub/floor per round {', '.join(f'{r:.2f}' for r in ratios)}; {spread(ratios)} ")
        print(f"    (target >= {TARGET_RATIO[backend]})")
    for name in ("hub", "floor"):
        p99s = [r["p99_ms"] for r in latency[name]]
        print(
            f"  {backend}: {name} p99 at {rate}/s per run {', '.join(f'{p:.1f}' for p in p99s)} ms; "
            f"{spread(p99s)} (target < {TARGET_P99_MS:.0f} ms)"
        )
    return {
        "backend": backend,
        "runs": [asdict(r) for r in runs],
        "ratios": ratios,
        "median_ratio": median_ratio,
        "latency_rate": rate,
        "latency": latency,
    }


def round_order(round_: int) -> tuple[str, str]:
    """Floor-hub, hub-floor, floor-hub, ...: neither side always runs first (after the other's
    writes, on a warmer or a busier machine), so a drift of the machine does not favour one."""
    return ("floor", "hub") if round_ % 2 else ("hub", "floor")


def spread(values: list[float]) -> str:
    """Median and spread: the range, and the quartiles when there are enough values."""
    if not values:
        return "no runs"
    ordered = sorted(values)
    text = f"median {statistics.median(ordered):.2f}, range {ordered[0]:.2f}-{ordered[-1]:.2f}"
    if len(ordered) >= 4:
        q1, _q2, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        text += f", quartiles {q1:.2f}-{q3:.2f}"
    return text


def warm_up(
    servers: dict[str, tuple], database_url: str, secret: str, work: Path, args: argparse.Namespace
) -> None:
    """An untimed wrk run against each server first: imports, the pool and the page cache warm."""
    if args.warmup <= 0:
        return
    warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup, "quiet_wait": 0})
    for name in ("floor", "hub"):
        _, port, _ = servers[name]
        run = throughput_run(name, 0, port, database_url, secret, work, warm)
        print(f"  warm-up {name}: {run.ok_per_s:.0f}/s, inbox {'ok' if run.durable else 'BAD'}")


def latency_rounds(
    backend: str,
    servers: dict[str, tuple],
    database_url: str,
    secret: str,
    rate: int,
    args: argparse.Namespace,
) -> dict[str, list[dict[str, Any]]]:
    """The open-loop client at one fixed rate, hub and floor alternating, ``--latency-rounds`` each."""
    latency: dict[str, list[dict[str, Any]]] = {"hub": [], "floor": []}
    for round_ in range(1, args.latency_rounds + 1):
        for name in round_order(round_ + 1):  # hub first in the first round, as before
            config, port, pid = servers[name]
            ingest.wait_until_quiet(args.quiet_wait)
            load = loadavg()
            result = ingest.timed_run(
                backend, config, database_url, pid, port, secret, rate, _open_loop(args)
            )
            latency[name].append({"round": round_, "rate": rate, "loadavg": load, **asdict(result)})
            print(
                f"  latency round {round_} {name:5} at {rate}/s open loop (load {load}): "
                f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
                f"lag p99 {result.lag_p99_ms:.1f} ms, "
                f"accepted {result.accepted}/{result.sent}, errors {result.errors or 0}, "
                f"inbox {'ok' if result.durable else 'BAD'}"
            )
    return latency


def _open_loop(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(seconds=args.seconds, clients=1, connections=64, timeout=30.0, drain=30.0)


def format_run(run: WrkRun) -> str:
    return (
        f"round {run.round} {run.server:5}: {run.ok_per_s:7.0f}/s  wrk p50 {run.p50_ms:6.1f} ms  "
        f"p99 {run.p99_ms:6.1f} ms  non-2xx {run.non2xx}  socket errors {run.socket_errors}  "
        f"inbox {run.inbox_delta} {'ok' if run.durable else 'BAD'}  load {run.loadavg}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--compare-floor")
    group.add_argument(
        "--compare-floor", action="store_true", help="measure the hub against bench/floor_app.py"
    )
    group.add_argument(
        "--rounds",
        dest="throughput_rounds",
        type=int,
        default=7,
        help="throughput rounds, floor-hub and hub-floor alternating (0: latency only; default 7)",
    )
    group.add_argument(
        "--latency-rounds", type=int, default=3, help="open-loop latency runs per side (default 3)"
    )
    group.add_argument(
        "--rate",
        type=int,
        default=0,
        help="the open-loop rate for latency (default: 70 %% of the floor's median throughput)",
    )
    group.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    group.add_argument("--sqlite-synchronous", choices=("full", "normal"), default="full")


def main(args: argparse.Namespace) -> int:
    if args.throughput_rounds < 0 or args.latency_rounds < 0 or args.rate < 0:
        raise SystemExit("--rounds, --latency-rounds and --rate must not be negative")
    if args.throughput_rounds == 0 and not args.rate:
        raise SystemExit("--rounds 0 (latency only) needs --rate: no floor throughput to take 70 % of")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    args.workers = args.workers[0]
    command = " ".join(getattr(sys, "orig_argv", sys.argv))
    print(f"command: {command}")
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"gunicorn sync x{args.workers}, "
        f"wrk {args.wrk_threads} threads x {args.connections} connections, {args.seconds:g} s per run, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    work = Path(tempfile.mkdtemp(prefix="ctihub-floor-"))
    (work / "wrk.lua").write_text(WRK_SCRIPT)
    results = []
    try:
        for backend in backends:
            results.append(compare_backend(backend, args, work))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"command": command, "results": results}, indent=2, default=str))
    bad = [r for result in results for r in result["runs"] if not r["durable"]]
    return 1 if bad else 0
