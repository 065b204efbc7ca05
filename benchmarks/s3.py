"""S3 store figures against a local S3 API (moto_server in its own process, so the server does
not compete with tracker for this process's interpreter): runs logged per second, a fresh
reader of loose and compacted runs, compaction, and a site build.

Run: ``python -m benchmarks.s3 [--runs 500]`` (needs the dev extra: ``moto[server]``, boto3).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
            return server, endpoint
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit("moto_server did not start") from None
            time.sleep(0.1)


def measure(endpoint: str, runs: int) -> dict[str, float]:
    """Log ``runs`` runs (1 param, 10 metric points each) into a new bucket, then read them."""
    import boto3

    import tracker
    from tracker.query import StoreQuery
    from tracker.site.build import build
    from tracker.store.compact import compact
    from tracker.store.s3 import open_s3_store

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    uri = "s3://bench/store"
    tracker.set_tracking_uri(uri)
    tracker.set_experiment("bench")
    out: dict[str, float] = {}
    started = time.perf_counter()
    for i in range(runs):
        with tracker.start_run(run_name=f"r{i}"):
            tracker.log_param("i", i)
            for step in range(10):
                tracker.log_metric("loss", 1 / (step + 1), step=step)
    out["runs_per_s"] = runs / (time.perf_counter() - started)

    def fresh_search() -> float:
        query = StoreQuery(open_s3_store(uri))
        started = time.perf_counter()
        found = query.sql("select count(*) as n from runs")["n"][0]
        assert found == runs, found
        return time.perf_counter() - started

    out["loose_fresh_s"] = fresh_search()
    tracker.search_runs()  # the logging process's own reader loads the store once
    started = time.perf_counter()
    assert len(tracker.search_runs()) == runs
    out["loose_warm_s"] = time.perf_counter() - started
    started = time.perf_counter()
    compact(open_s3_store(uri))
    out["compact_s"] = time.perf_counter() - started
    out["compacted_fresh_s"] = fresh_search()
    started = time.perf_counter()
    build(uri, tempfile.mkdtemp(prefix="bench-s3-site-"))
    out["build_s"] = time.perf_counter() - started
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    server, endpoint = _start_server()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=endpoint,
        TRACKER_AUTO_COMPACT="0",
    )
    try:
        figures = measure(endpoint, args.runs)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"S3 (moto_server on 127.0.0.1), {args.runs} runs of 1 param + 10 metric points; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  logging:                         {figures['runs_per_s']:.0f} runs/s")
    print(f"  fresh reader, loose runs:        {figures['loose_fresh_s']:.2f} s")
    print(f"  search_runs, loose, warm:        {figures['loose_warm_s']:.2f} s")
    print(f"  compaction:                      {figures['compact_s']:.2f} s")
    print(f"  fresh reader, compacted:         {figures['compacted_fresh_s']:.2f} s")
    print(f"  tracker build (compacted store): {figures['build_s']:.2f} s")


if __name__ == "__main__":
    main()
