#!/usr/bin/env python3
"""One bounded `reactor-harness load` run with CPU and memory sampling.

Runs the load runner against the embedded mock (one process) or against a
separate `reactor-harness mock` process on loopback, samples /proc every
0.5 s for each process (utime+stime, VmRSS) and for the host (/proc/stat),
then prints one JSON object (and appends it to --jsonl) with:

  frame latency percentiles and counters from summary.json,
  fps per session over the measured window,
  CPU (cores) of runner and mock over the measured window (warm-up end to
  run end), CPU per 1,000 frames, RSS after warm-up / at the end / max,
  host CPU busy over the window (other users of the machine included).

Every run is bounded: the load process is killed after duration + 60 s.
Only loopback addresses are used. See docs/performance.md.
"""
import argparse, json, os, signal, subprocess, sys, threading, time

TCK = os.sysconf("SC_CLK_TCK")


def proc_sample(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / TCK  # utime + stime
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])  # kB
        return cpu, rss
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


def host_sample():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / TCK, sum(v) / TCK


class Sampler(threading.Thread):
    def __init__(self, pids, t0, period=0.5):
        super().__init__(daemon=True)
        self.pids, self.t0, self.period = pids, t0, period
        self.rows = []  # (t, host_busy, host_total, {name: (cpu, rss)})
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t = time.monotonic() - self.t0
            hb, ht = host_sample()
            per = {}
            for name, pid in self.pids.items():
                s = proc_sample(pid)
                if s:
                    per[name] = s
            self.rows.append((t, hb, ht, per))
            self.stop.wait(self.period)


def at(rows, t, name):
    """First sample at or after t that has the process."""
    for r in rows:
        if r[0] >= t and name in r[3]:
            return r
    return None


def before(rows, t, name):
    """Last sample at or before t that has the process."""
    best = None
    for r in rows:
        if r[0] <= t and name in r[3]:
            best = r
    return best


def wait_quiet(limit, cores):
    """Wait (at most limit seconds) for a 3 s window with the host at most
    `cores` busy: the machine is shared, other users' bursts skew figures.
    Returns the seconds waited (the run starts anyway after limit)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        b0, t_0 = host_sample()
        time.sleep(3)
        b1, t_1 = host_sample()
        if (b1 - b0) / max(t_1 - t_0, 1e-9) * os.cpu_count() <= cores:
            break
    return round(time.monotonic() - t0, 1)


def parse_dur(s):
    s = s.strip()
    for suf, mul in (("ms", 1e-3), ("s", 1), ("m", 60)):
        if s.endswith(suf) and s[: -len(suf)].replace(".", "", 1).isdigit():
            return float(s[: -len(suf)]) * mul
    return float(s)


def start_mock(binary, scenario, log):
    cmd = [binary, "mock", "--listen", "127.0.0.1:0"]
    if scenario:
        cmd += ["--scenario", scenario]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    url = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        if line.startswith("mock Reactor listening on "):
            url = line.split()[-1]
        if line.startswith("scenario:"):
            break
    if not url:
        p.kill()
        raise SystemExit("mock did not start")
    threading.Thread(target=lambda: p.stdout.read(), daemon=True).start()
    return p, url


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="bin/reactor-harness")
    ap.add_argument("--mode", choices=["embedded", "separate"], default="embedded")
    ap.add_argument("--scenario", default="fixtures/scenarios/load-unlimited.yaml")
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--duration", default="20s")
    ap.add_argument("--warmup", default="3s")
    ap.add_argument("--ramp", default="0s")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", default="")
    ap.add_argument("--jsonl", default="")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="wait up to this many seconds for 3 s in which the host is at most "
                         "--quiet-cores busy before starting (0 = start at once)")
    ap.add_argument("--quiet-cores", type=float, default=0.3)
    ap.add_argument("--perf-record", type=float, default=0,
                    help="record a `perf record -g` CPU profile of each process for this many "
                         "seconds after the warm-up (OUT/perf-<process>.data)")
    ap.add_argument("--side", default="",
                    help="separate mode: a command started beside the runner against the same "
                         "mock ({url} is replaced by its base URL), sampled as process \"side\"; "
                         "the last JSON line it prints is kept as side_result")
    ap.add_argument("load_args", nargs="*", help="extra load flags (after --)")
    a = ap.parse_args()
    waited = wait_quiet(a.quiet_wait, a.quiet_cores)

    dur, warm = parse_dur(a.duration), parse_dur(a.warmup)
    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "stderr.log"), "w")
    mock = None
    cmd = [a.bin, "load", "--sessions", str(a.sessions), "--duration", a.duration,
           "--warmup", a.warmup, "--ramp", a.ramp, "--out", a.out]
    if a.mode == "separate":
        mock, url = start_mock(a.bin, a.scenario, log)
        cmd += ["--target", url, "--api-key", "rk_mock_key"]
    else:
        cmd += ["--scenario", a.scenario]
    cmd += a.load_args
    t0 = time.monotonic()
    side = None
    if a.side:
        if not mock:
            raise SystemExit("--side needs --mode separate")
        side_out = open(os.path.join(a.out, "side.stdout"), "w")
        side = subprocess.Popen("exec " + a.side.replace("{url}", url), shell=True, stdout=side_out,
                                stderr=open(os.path.join(a.out, "side.stderr"), "w"))
    p = subprocess.Popen(cmd, stdout=open(os.path.join(a.out, "stdout.txt"), "w"), stderr=log)
    pids = {"runner": p.pid}
    if mock:
        pids["mock"] = mock.pid
    if side:
        pids["side"] = side.pid
    smp = Sampler(pids, t0)
    smp.start()
    perfs = []
    if a.perf_record > 0:
        def record():
            time.sleep(max(warm + 1 - (time.monotonic() - t0), 0))
            for name, pid in pids.items():
                perfs.append(subprocess.Popen(
                    ["perf", "record", "-q", "-F", "199", "-g", "-p", str(pid), "-o",
                     os.path.join(a.out, f"perf-{name}.data"), "--", "sleep", str(a.perf_record)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        threading.Thread(target=record, daemon=True).start()
    try:
        rc = p.wait(timeout=dur + 60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "killed"
    smp.stop.set()
    smp.join()
    for pr in perfs:
        try:
            pr.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pr.kill()
    if side:
        try:
            side.wait(timeout=60)
        except subprocess.TimeoutExpired:
            side.kill()
            side.wait()
    if mock:
        mock.send_signal(signal.SIGINT)
        try:
            mock.wait(timeout=20)
        except subprocess.TimeoutExpired:
            mock.kill()
    wall = time.monotonic() - t0

    with open(os.path.join(a.out, "summary.json")) as f:
        s = json.load(f)
    c, m = s["counters"], s["metrics"]
    fl = m.get("frame_latency", {})
    n = a.sessions
    measured = s.get("measured_s") or (dur - warm)
    res = {
        "tag": a.tag, "mode": a.mode, "scenario": os.path.basename(a.scenario), "sessions": n,
        "duration_s": dur, "warmup_s": warm, "ramp": a.ramp, "exit": rc, "wall_s": round(wall, 1), "quiet_wait_s": waited,
        "ready": c.get("sessions_ready", 0), "failed": c.get("sessions_failed", 0),
        "errors": s.get("errors_total", 0), "error_classes": s.get("errors", {}),
        "frames": c.get("frames", 0), "packets_lost": c.get("packets_lost", 0),
        "missing_frames": c.get("missing_frames", 0), "late_frames": c.get("late_frames", 0),
        "fps_per_session": round(c.get("frames", 0) / (n * measured), 2) if measured else None,
        "fl_min_ms": fl.get("min_ms"), "fl_p50_ms": fl.get("p50_ms"), "fl_p90_ms": fl.get("p90_ms"),
        "fl_p99_ms": fl.get("p99_ms"), "fl_max_ms": fl.get("max_ms"),
        "gap_p99_ms": m.get("inter_frame_gap", {}).get("p99_ms"),
        "dc_rtt_p50_ms": m.get("dc_rtt", {}).get("p50_ms"),
        "dc_rtt_p99_ms": m.get("dc_rtt", {}).get("p99_ms"),
        "rl_p99_ms": m.get("receive_lag", {}).get("p99_ms"),
    }
    rows = smp.rows
    w0, w1 = warm + 0.3, dur - 0.3
    for name in pids:
        a0, a1 = at(rows, w0, name), before(rows, w1, name)
        if a0 and a1 and a1[0] > a0[0]:
            cpu = a1[3][name][0] - a0[3][name][0]
            span = a1[0] - a0[0]
            res[f"{name}_cpu_cores"] = round(cpu / span, 3)
            res[f"{name}_cpu_s_window"] = round(cpu, 2)
            res[f"{name}_window_s"] = round(span, 2)
            res[f"{name}_rss_warm_mb"] = round(a0[3][name][1] / 1024, 1)
            res[f"{name}_rss_end_mb"] = round(a1[3][name][1] / 1024, 1)
            if name == "runner" and span > 0 and res["frames"]:
                fps_total = res["frames"] / measured
                res["runner_cpu_ms_per_1k_frames"] = round(cpu / span / fps_total * 1e6, 2)
        allr = [r[3][name][1] for r in rows if name in r[3]]
        if allr:
            res[f"{name}_rss_max_mb"] = round(max(allr) / 1024, 1)
        tot = [r[3][name][0] for r in rows if name in r[3]]
        if tot:
            res[f"{name}_cpu_s_total"] = round(tot[-1], 2)
        if name == "runner" and n:
            res["runner_cpu_ms_per_session_s"] = round(res.get("runner_cpu_cores", 0) * 1000 / n, 3)
    h0, h1 = at(rows, w0, "runner"), before(rows, w1, "runner")
    if h0 and h1 and h1[2] > h0[2]:
        ncpu = os.cpu_count()
        busy = (h1[1] - h0[1]) / (h1[2] - h0[2]) * ncpu
        ours = sum(res.get(f"{k}_cpu_cores", 0) for k in pids)
        res["host_busy_cores"] = round(busy, 2)
        res["others_cores"] = round(max(busy - ours, 0), 2)
    if side:
        res["side_exit"] = side.returncode
        for line in open(os.path.join(a.out, "side.stdout")):
            try:
                res["side_result"] = json.loads(line)
            except ValueError:
                pass
    with open(os.path.join(a.out, "perf.json"), "w") as f:
        json.dump({"result": res, "samples": rows}, f)
    line = json.dumps(res)
    print(line, flush=True)
    if a.jsonl:
        with open(a.jsonl, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
