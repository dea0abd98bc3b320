"""The reader under load: a saturated meter line plus an HTTP request rate and Modbus clients.

Run: ``.venv/bin/python benchmarks/bench_load.py [--seconds 60] [--http-rate 200] [--http-clients 4]
[--modbus-clients 20] [--profile kaifa-ma304h4] [--baud 115200] [--firmware PATH|REV] [--json]``.

Brings up the software DUT (the firmware on the MicroPython unix port, on a paced pty, HTTP and Modbus on
loopback, MQTT to a mosquitto of its own) and streams the meter's frames in schedule order back to back,
in writes of about 0.1 s of line time, so the line never idles (at 115200 8N1: 11,520 bytes/s; the meter's
timestamps follow its schedule, not the stream). For ``--seconds`` it meanwhile sends ``--http-rate``
requests/s (``GET /meter``, one in ten ``/health``, one in ten ``/han``) from ``--http-clients`` keep-alive
client threads on an open-loop schedule (a late request goes at once and counts as late; its latency runs
from its scheduled time), and ``--modbus-clients`` pymodbus clients read registers 0-7 of the default map
back to back. It prints the frame accounting (LOST = sent - decoded - counted, which must be 0), the most
bytes seen waiting in the DUT's serial port, the requests made, answered and failed per interface with the
achieved rate and latency p50/p99/max (and the slowest Modbus connect), the DUT's free heap (after a
collection) at the start and the end, its CPU time, and the kernel's listen-queue overflows. The load is
``rig/load.py``'s ``run_load`` (the scenario rig/scenarios/test_load_service.py runs it CI-sized). Exit 1 when a frame
was lost or a request failed; the DUT's log and the line log are then kept (the path is printed).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rig.bench import load_bench  # noqa: E402
from rig.dut.firmware_tree import FirmwareError, resolve_firmware  # noqa: E402
from rig.emulators import get_profile  # noqa: E402
from rig.fixtures.harness import Harness  # noqa: E402
from rig.load import run_load  # noqa: E402
from rig.session import start_broker  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--http-rate", type=float, default=200.0, help="HTTP requests per second (default 200)")
    parser.add_argument("--http-clients", type=int, default=4,
                        help="HTTP client threads sharing the rate, each keep-alive (default 4)")
    parser.add_argument("--modbus-clients", type=int, default=20, help="Modbus clients polling (default 20)")
    parser.add_argument("--profile", default="kaifa-ma304h4", help="meter profile (default kaifa-ma304h4)")
    parser.add_argument("--baud", type=int, default=115200, help="line rate, 8N1 (default 115200)")
    parser.add_argument("--firmware", metavar="PATH|REV", help="the firmware build to run: a firmware directory or "
                        "a git revision (default: the firmware beside the rig)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    if not args.seconds > 0 or args.baud <= 0 or args.http_clients <= 0:
        parser.error("--seconds, --baud and --http-clients must be positive")
    if args.http_rate < 0 or args.modbus_clients < 0:
        parser.error("--http-rate and --modbus-clients must not be negative")
    try:
        get_profile(args.profile)
    except (KeyError, ValueError) as exc:
        parser.error(f"--profile: {exc.args[0]}")
    try:
        args.build = resolve_firmware(args.firmware) if args.firmware else None
    except FirmwareError as exc:
        parser.error(f"--firmware: {exc}")
    return args


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped for a full listen queue (``TcpExt ListenOverflows``, this
    network namespace: other programs' too); None where /proc/net/netstat does not say."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
        rows = [line.split() for line in lines if line.startswith("TcpExt:")]
        return int(dict(zip(rows[0], rows[1], strict=True))["ListenOverflows"])
    except (OSError, IndexError, KeyError, ValueError):
        return None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(result: dict, profile: str) -> str:
    """The result for people."""
    f, dut = result["frames"], result["dut"]
    counted = {k: v for k, v in f["counted"].items() if v}
    lines = [
        f"meter {profile} on {result['line']}, frames back to back (line used {f['line_utilisation']:.1%}, "
        f"writer at most {f['writer_worst_late_ms']} ms late, {f['bytes_dropped']} bytes dropped at a full pty); "
        f"load for {result['seconds']} s",
        f"serial   most bytes waiting for the DUT's serial task: {f['peak_backlog_bytes']} "
        f"({_ms(f['peak_backlog_ms'])} ms of line time; sampled every 10 ms)",
        f"frames   sent {f['sent']}  decoded {f['decoded']}  counted {sum(counted.values())} "
        f"{counted or '(no error counted)'}  LOST {f['lost']}" + (f"  line error: {f['error']}" if f["error"] else ""),
    ]
    for name, label in (("http", "HTTP"), ("modbus", "Modbus")):
        t = result[name]
        extra = (f"target {t['target_rate_per_s']:g}/s from {t['clients']} clients, late {t['late']}" if name == "http"
                 else f"{t['clients']} clients, slowest connect {t['slowest_connect_ms']} ms")
        lines.append(f"{label:<8} made {t['made']}  answered {t['answered']}  failed {t['failed']}"
                     f"{' ' + str(t['failures']) if t['failures'] else ''}  rate {t['rate_per_s']}/s ({extra})  "
                     f"p50 {_ms(t['p50_ms'])} ms  p99 {_ms(t['p99_ms'])} ms  max {_ms(t['max_ms'])} ms")
    lines += [
        "latency: HTTP from each request's scheduled time (open loop), Modbus from sending the request",
        f"DUT      free heap {dut['free_heap_start']} -> {dut['free_heap_end']} bytes (after a collection); "
        f"CPU {dut['cpu_s']} s in {result['seconds']} s of load; alive {dut['alive']}",
        f"DUT      http server {dut['http_server']}",
        f"DUT      modbus {dut['modbus_counters']}; MQTT published {dut['mqtt_published']}, "
        f"not published {dut['mqtt_not_published']}",
        f"kernel   connections dropped for a full listen queue during the run: {result['listen_overflows']} "
        "(TcpExt ListenOverflows, any program's)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # every failed request is in the tally
    bench = load_bench(None)
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    with ExitStack() as stack:
        broker, process = start_broker(bench, workdir / "broker")
        if process is not None:
            stack.callback(process.stop)
        h = Harness(bench, workdir, broker, profile=args.profile, firmware=args.build)
        stack.callback(h.close)
        overflows = listen_overflows()
        result = run_load(h, args.seconds, args.http_rate, args.modbus_clients, args.baud, args.http_clients)
    after = listen_overflows()
    result["listen_overflows"] = after - overflows if after is not None and overflows is not None else None
    result["profile"] = args.profile
    bad = bool(result["frames"]["lost"] or result["frames"]["error"] or result["http"]["failed"]
               or result["modbus"]["failed"] or not result["dut"]["alive"])
    result["logs"] = str(workdir) if bad else None  # the DUT log and line log are kept when something failed
    if not bad:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result) if args.json else report(result, args.profile) + (f"\nlogs: {workdir}" if bad else ""))
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
