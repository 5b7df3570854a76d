#!/usr/bin/env python3
"""Soak test driver (see scripts/soak.sh and README "Soak test").

Starts a release `tallyho` agent on 127.0.0.1 pushing to a real Pushgateway, sends StatsD
at a fixed rate while scraping /metrics, kills and restarts the Pushgateway for injected
outages, and at the end compares what was sent with what the agent (and the Pushgateway)
report. Samples the agent's RSS over time. Exits 1 when totals differ, a scrape failed,
the agent died or its RSS grew past the allowed drift.
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8", "replace")


def wait_http(url, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            http_get(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"soak: {what} did not answer at {url} within {seconds} s")


def sample_sum(text, name, labels=""):
    """Sum of every sample `name{...}` in exposition `text` whose labels contain `labels`."""
    total, found = 0.0, False
    pat = re.compile(r"^" + re.escape(name) + r"(\{[^}]*\})?\s+(\S+)")
    for line in text.splitlines():
        m = pat.match(line)
        if m and labels in (m.group(1) or ""):
            total += float(m.group(2))
            found = True
    return total if found else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Pushgateway:
    def __init__(self, binary, port, log):
        self.binary, self.port, self.log, self.proc = binary, port, log, None

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=self.log)
        wait_http(f"http://127.0.0.1:{self.port}/metrics", "pushgateway")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def sender(port, rate, per_datagram, stop, counts):
    """Sends `rate` counter increments per second (plus one gauge and one timing line per
    datagram), in datagrams of `per_datagram` lines, paced every 10 ms."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    start = time.time()
    sent = 0
    n = 0
    while not stop.is_set():
        due = int((time.time() - start) * rate)
        while sent < due:
            k = min(per_datagram, due - sent)
            lines = [f"soak.sent:1|c|#shard:s{(n + i) % 8}" for i in range(k)]
            lines.append(f"soak.depth:{n % 100}|g")
            lines.append(f"soak.latency:{n % 250}|ms")
            sock.send("\n".join(lines).encode())
            sent += k
            n += 1
        counts["sent"] = sent
        counts["datagrams"] = n
        time.sleep(0.01)


def scraper(url, stop, counts):
    while not stop.is_set():
        try:
            http_get(url)
            counts["scrapes"] += 1
        except OSError as e:
            counts["scrape_errors"] += 1
            counts["last_scrape_error"] = str(e)
        time.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agent", required=True, help="release tallyho binary")
    ap.add_argument("--pushgateway", default="prometheus-pushgateway")
    ap.add_argument("--duration", type=float, default=600, help="seconds of sending")
    ap.add_argument("--rate", type=int, default=5000, help="counter increments per second")
    ap.add_argument("--per-datagram", type=int, default=20)
    ap.add_argument("--interval", type=int, default=5, help="agent interval_seconds")
    ap.add_argument("--outage-every", type=float, default=120)
    ap.add_argument("--outage-for", type=float, default=40)
    ap.add_argument("--rss-drift", type=float, default=0.25,
                    help="allowed RSS growth from the first minute's peak to the last sample")
    ap.add_argument("--out", default=None, help="folder for logs and rss.csv")
    args = ap.parse_args()

    out = args.out or tempfile.mkdtemp(prefix="tallyho-soak-")
    os.makedirs(out, exist_ok=True)
    http_port, statsd_port, pg_port = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    config = os.path.join(out, "agent.toml")
    with open(config, "w") as f:
        f.write(f"""listen = "127.0.0.1:{http_port}"
statsd = "127.0.0.1:{statsd_port}"
interval_seconds = {args.interval}
service = "soak"
[host]
enabled = true
[history]
enabled = false
[dashboard]
enabled = false
[export]
pushgateway_url = "http://127.0.0.1:{pg_port}"
""")
    pg = Pushgateway(args.pushgateway, pg_port, open(os.path.join(out, "pushgateway.log"), "w"))
    pg.start()
    agent_log = open(os.path.join(out, "agent.log"), "w")
    agent = subprocess.Popen([args.agent, "--config", config, "serve"],
                             stdout=agent_log, stderr=agent_log)
    metrics_url = f"http://127.0.0.1:{http_port}/metrics"
    wait_http(metrics_url, "agent")
    print(f"soak: agent pid {agent.pid} on {http_port}, StatsD {statsd_port}, "
          f"pushgateway {pg_port}; logs in {out}", flush=True)

    stop = threading.Event()
    counts = {"sent": 0, "datagrams": 0, "scrapes": 0, "scrape_errors": 0, "outages": 0}
    threads = [
        threading.Thread(target=sender, args=(statsd_port, args.rate, args.per_datagram, stop, counts)),
        threading.Thread(target=scraper, args=(metrics_url, stop, counts)),
    ]
    for t in threads:
        t.start()

    rss = []
    started = time.time()
    next_outage = started + args.outage_every
    outage_ends = None
    rss_csv = open(os.path.join(out, "rss.csv"), "w")
    rss_csv.write("seconds,rss_kib,sent\n")
    failed = []
    try:
        while time.time() - started < args.duration:
            now = time.time()
            if agent.poll() is not None:
                failed.append(f"the agent exited with {agent.returncode}")
                break
            if outage_ends is None and now >= next_outage:
                pg.kill()
                counts["outages"] += 1
                outage_ends = now + args.outage_for
                print(f"soak: {now - started:.0f} s: pushgateway killed", flush=True)
            elif outage_ends is not None and now >= outage_ends:
                pg.start()
                outage_ends = None
                next_outage = now + args.outage_every
                print(f"soak: {now - started:.0f} s: pushgateway back", flush=True)
            r = rss_kib(agent.pid)
            rss.append((now - started, r))
            rss_csv.write(f"{now - started:.0f},{r},{counts['sent']}\n")
            rss_csv.flush()
            time.sleep(10)
    finally:
        stop.set()
        for t in threads:
            t.join()
    if outage_ends is not None:
        pg.start()

    # Let the last datagrams land and two pushes go out.
    time.sleep(2 * args.interval + 2)
    text = http_get(metrics_url)
    received = sample_sum(text, "soak_sent_total") or 0.0
    lines = sample_sum(text, "tallyho_statsd_lines_total") or 0.0
    drops = sample_sum(text, "tallyho_statsd_kernel_drops_total")
    malformed = sample_sum(text, "tallyho_statsd_malformed_lines_total")
    refused = sample_sum(text, "tallyho_statsd_refused_lines_total")
    pushes = sample_sum(text, "tallyho_exports_total", 'exporter="pushgateway"')
    push_failures = sample_sum(text, "tallyho_export_failures_total", 'exporter="pushgateway"')
    push_dropped = sample_sum(text, "tallyho_export_dropped_total", 'exporter="pushgateway"')
    pg_text = http_get(f"http://127.0.0.1:{pg_port}/metrics")
    at_pushgateway = sample_sum(pg_text, "soak_sent_total") or 0.0
    final_rss = rss_kib(agent.pid)
    agent.send_signal(signal.SIGTERM)
    try:
        rc = agent.wait(timeout=20)
    except subprocess.TimeoutExpired:
        agent.kill()
        rc = "killed after 20 s"
    pg.kill()
    log_lines = open(os.path.join(out, "agent.log")).read().splitlines()
    errors = sum(1 for line in log_lines if " ERROR " in line)
    warns = sum(1 for line in log_lines if " WARN " in line)
    export_reports = sum(1 for line in log_lines if line.startswith("tallyho-export:"))

    sent = counts["sent"]
    expected_lines = sent + 2 * counts["datagrams"]
    first_minute = [r for t, r in rss if t <= 60] or [final_rss]
    base = max(first_minute)
    print("soak: results")
    print(f"  duration            {time.time() - started:.0f} s, rate {args.rate}/s, "
          f"outages {counts['outages']} x {args.outage_for:.0f} s")
    print(f"  sent increments     {sent} in {counts['datagrams']} datagrams")
    print(f"  agent soak_sent     {received:.0f}")
    print(f"  pushgateway         {at_pushgateway:.0f}")
    print(f"  statsd lines        {lines:.0f} of {expected_lines} sent; kernel drops {drops}, "
          f"malformed {malformed}, refused {refused}")
    print(f"  pushes              {pushes} ok, {push_failures} failed attempts, "
          f"{push_dropped} dropped batches")
    print(f"  scrapes             {counts['scrapes']} ok, {counts['scrape_errors']} failed "
          f"{counts.get('last_scrape_error', '')}")
    print(f"  RSS KiB             first minute peak {base}, min {min(r for _, r in rss)}, "
          f"max {max(r for _, r in rss)}, last {final_rss} (samples in {out}/rss.csv)")
    print(f"  agent log           {errors} ERROR, {warns} WARN lines, {export_reports} "
          f"export failure reports (rate-limited); exit {rc}")
    if received != sent:
        failed.append(f"agent counted {received:.0f} of {sent} increments")
    if at_pushgateway != sent:
        failed.append(f"pushgateway holds {at_pushgateway:.0f} of {sent} increments")
    if lines != expected_lines:
        failed.append(f"agent counted {lines:.0f} of {expected_lines} lines")
    if counts["scrape_errors"]:
        failed.append(f"{counts['scrape_errors']} scrapes failed")
    if final_rss > base * (1 + args.rss_drift):
        failed.append(f"RSS grew from {base} to {final_rss} KiB")
    if rc != 0:
        failed.append(f"agent exit {rc} after SIGTERM")
    for f in failed:
        print(f"soak: FAIL: {f}")
    print("soak: PASS" if not failed else "soak: FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
