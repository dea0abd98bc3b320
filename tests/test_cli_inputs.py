"""What users type into `rig`: every refusal is a usage error (exit 2) that names the option and says why.

The property test takes the commands and their options from the click group itself, so an option is
covered as soon as it exists, and feeds each random and hostile values. Quick commands run for real;
a command that would start a DUT, a broker, a recording or an endless stream goes through its
parse-only path (``make_context``: every type, range and callback, nothing run). Run with ``-s`` to see
a summary of the input classes tried and what they gave.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import traceback
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.cli import main
from rig.cli_inputs import Duration, MeterTime, Port, Speed, check_fault_specs, reading_json
from rig.cli_security import key_option
from rig.emulators.faults import FAULTS
from rig.reading import FIELDS
from tests.spec_frames import LIST2_HEX, unhex

RIG = str(Path(sys.executable).with_name("rig"))
EXAMPLES = int(os.environ.get("RIG_INPUT_EXAMPLES", "100"))  # per command; raise it to search harder
QUICK = {"meters", "faults", "frames", "decode"}  # run for real
# run for real with these arguments, unless one of the options named is fuzzed (it could make the run long)
FAST = {"emulate": (["--duration=2s", "--speed=100000"], {"port", "speed", "duration"}),
        "replay": (["--speed=100000"], {"port", "speed", "loop_"})}
SLOW_OPTIONS = {"frames": {"count"}}  # a large valid value would print for long
EXIT_CODES = {"decode": {0, 1, 2}, "replay": {0, 1, 2}}  # 1: the input was read and a frame or line was bad
REQUIRED = {"meter_id": "kaifa-ma304h4", "port": "loop://", "bench_path": "rig/benches/sim-led.toml"}
NAMES_AN_OPTION = re.compile(r"'(--?[\w-]+|\[?[A-Z_]+\]?)'|No such option|unexpected extra argument")


def run(*args: str, stdin: str | bytes = ""):
    return CliRunner().invoke(main, list(args), input=stdin)


def refused(result) -> str:
    """The error line of a clear refusal: exit 2, no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), _trace(result.exception)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


# -- the cases of the issue, one by one --------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", '{"p_import_w": "abc"}'],
     "Invalid value for '--reading': p_import_w is a number: give a JSON number, not \"abc\""),
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", '{"p_import_w": NaN}'],
     "Invalid value for '--reading': p_import_w is nan: give a finite number"),
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", '{"p_import_w": true}'],
     "p_import_w is a number: give a JSON number, not true"),
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", '{"meter_type": 5}'], "meter_type is text"),
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", '{"meter_type": "\u03a9"}'],
     "meter_type is what the meter sends as a visible string: printable ASCII only"),
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", '{"p_import_w": -5}'],
     "'--reading': p_import_w=-5 is outside the uint32 range of the wire"),
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", '{"timestamp": "x"}'], "give it with --at"),
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", '{"power": 5}'], "unknown field 'power'; fields: meter_id"),
    (["frames", "--meter", "kaifa-ma304h3e", "--list", "1", "--reading", '{"u_l1_v": 230}'],
     "Invalid value for '--reading': kaifa-ma304h3e List 1 does not carry u_l1_v; it carries p_import_w"),
    (["frames", "--meter", "kaifa-ma304h3e", "--at", "2024-10-01T19:00:02", "--reading", '{"u_l1_v": 230}'],
     "List 1 does not carry u_l1_v; it carries p_import_w (choose a list with --list)"),
    (["frames", "--meter", "kaifa-ma304h3e", "--reading", "[" * 100_000], "'--reading': not JSON"),
    (["frames", "--meter", "kaifa-ma304h3e", "--at", "9999-12-31T23:59:59", "--count", "3"],
     "Invalid value for '--at': '9999-12-31T23:59:59' is out of range: meter clocks here run from "
     "2000-01-01T00:00:00 to 2099-12-31T23:59:59"),
    (["frames", "--meter", "kaifa-ma304h3e", "--count", "1000001"], "'--count'"),
    (["frames", "--meter", "nope"], "Invalid value for '--meter': unknown meter profile 'nope'; known: aidon-6534"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--speed", "inf"],
     "Invalid value for '--speed': 'inf' is out of range: give 0.01 to 100000"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--speed", "nan"],
     "Invalid value for '--speed': 'nan' is not a number: give 0.01 to 100000"),
    (["run", "--speed", "inf"], "Invalid value for '--speed': 'inf' is out of range"),
    (["run", "--speed", "1e-3"], "Invalid value for '--speed': '1e-3' is out of range"),
    (["dut", "--speed", "-0"], "Invalid value for '--speed': '-0' is out of range"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "socket://127.0.0.1"],
     "Invalid value for '--port': 'socket://127.0.0.1' is incomplete: give socket://host:port"),
    (["capture", "--port", "rfc2217://127.0.0.1"], "'rfc2217://127.0.0.1' is incomplete: give rfc2217://host:port"),
    (["capture", "--port", "socket://127.0.0.1:99999"], "the TCP port must be a number from 1 to 65535"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://x"], "give loop:// (options after ?)"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "ftp://h:1"], "unknown URL scheme 'ftp'; give sim, a serial"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", ""], "no port given; give sim, a serial device"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "/dev/ttyNOPE9"], "'/dev/ttyNOPE9': no such device"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", __file__], "is a file, not a serial device; give sim"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "/"], "'/' is a directory, not a serial device"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--duration", "0"],
     "Invalid value for '--duration': '0' is no time: give more than 0 s"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--duration", "-5s"], "'-5s' is negative"),
    (["run", "--duration", "0"], "Invalid value for '--duration': '0' is no time"),
    (["run", "--duration", "9999h"], "'9999h' is too long: at most 366 days"),
    (["capture", "--port", "loop://", "--duration", "0s"], "Invalid value for '--duration': '0s' is no time"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--start", "2024-03-31T02:30:00"],
     "Invalid value for '--start': 2024-03-31T02:30:00 does not exist in Europe/Oslo"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--start", "2099-12-31T23:59:00", "--duration", "2m"],
     "Invalid value for '--duration': from 2099-12-31T23:59:00 it runs past 2099-12-31T23:59:59"),
    (["run", "--start", "2024-10-01T19:00:00+02:00"], "'--start': give the meter's local wall-clock time, without"),
    (["run", "--meter", "nope"], "Invalid value for '--meter': unknown meter profile 'nope'"),
    (["run", "--seed", "-1"], "Invalid value for '--seed': -1 is not in the range 0<=x<=4294967295"),
    (["decode", "--key", "zz"], "Invalid value for '--key': a key must be 32 hex digits (16 bytes); got 2 characters, "
                                "not all hex"),
    (["decode", "--auth-key", "00"], "Invalid value for '--auth-key': a key must be 32 hex digits (16 bytes); got 2 "
                                     "characters"),
    (["decode", "/"], "Invalid value for '[SOURCE]': File '/' is a directory"),
    (["decode", "/nonexistent/x.hex"], "Invalid value for '[SOURCE]': File '/nonexistent/x.hex' does not exist"),
    (["replay", "/nonexistent.jsonl", "--port", "loop://"], "Invalid value for 'FILE': File '/nonexistent.jsonl'"),
    (["replay", "/", "--port", "loop://"], "Invalid value for 'FILE': File '/' is a directory"),
    (["capture", "--port", "sim"], "Invalid value for '--port': sim is the rig's own virtual line, for playing into"),
    (["capture", "--port", "loop://", "--line", "0 8E1"], "Invalid value for '--line': baud rate must be positive"),
    (["capture", "--port", "loop://", "--line", "99999999 8N1"], "baud rate 99999999 is out of range"),
    (["capture", "--port", "loop://", "-o", "/"], "Invalid value for '-o' / '--output'"),
    (["dut", "--broker", "mqtt://127.0.0.1:99999"], "Invalid value for '--broker': 'mqtt://127.0.0.1:99999': the port"),
    (["dut", "--broker", "mqtt://"], "Invalid value for '--broker': 'mqtt://': give mqtt://host:port"),
    (["dut", "--topic", "han/{x}"], "Invalid value for '--topic': 'han/{x}': braces may only be {serial}"),
    (["dut", "--topic", "han/#"], "'han/#': a topic to publish to is 1 to 65535 bytes without + # or NUL"),
    (["test", "--bench", "/nonexistent.toml"], "Invalid value for '--bench': bench file not found"),
    (["run", "--fault", "split:1"], "Invalid value for '--fault': bad parameter for fault 'split'"),
    (["emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--bad-fcs-every", "1"],
     "Invalid value for '--bad-fcs-every': 1 is not in the range 2<=x<=1000000"),
])
def test_a_bad_input_is_a_usage_error_naming_the_option_and_why(args: list[str], message: str) -> None:
    assert message in refused(run(*args))


@pytest.mark.parametrize("args, stdin, message", [
    (["decode"], '{"hex": ' + "[" * 100_000, "JSON lines must each carry a 'hex' field of frame bytes"),
    (["decode"], '{"hex": "zz"}', "JSON lines must each carry a 'hex' field"),
    (["decode"], "7ea", "hex input has an odd number of digits"),
    (["replay", "-", "--port", "loop://"], "", "Invalid value for 'FILE'"),
])
def test_bad_content_is_a_clear_error_never_a_traceback(args: list[str], stdin: str, message: str) -> None:
    result = run(*args, stdin=stdin)
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), _trace(result.exception)


def test_replay_of_json_nested_too_deep_says_it_is_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"format": "han-rig-capture", "version": 1}\n{"t": 0, "hex": ' + "[" * 100_000 + "\n")
    result = run("replay", str(path), "--port", "loop://")
    assert result.exit_code == 1 and f"{path}:2: not a capture line: JSON nested too deep" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), _trace(result.exception)


def test_a_field_the_list_carries_is_set_and_a_number_may_be_an_integer_or_a_float() -> None:
    result = run("frames", "--meter", "kaifa-ma304h3e", "--at", "2024-10-01T19:00:10", "--list", "3", "--json",
                 "--reading", '{"u_l1_v": 230, "e_import_wh": 12345.0, "meter_type": "MA304H3E"}')
    assert result.exit_code == 0, result.output
    reading = json.loads(result.output)["reading"]
    assert (reading["u_l1_v"], reading["e_import_wh"]) == (230.0, 12345)


def test_frames_without_a_list_check_the_fields_against_every_list_they_send() -> None:
    args = ["frames", "--meter", "kaifa-ma304h4", "--at", "2024-10-01T19:00:00", "--json"]
    both = run(*args, "--count", "2", "--reading", '{"u_l1_v": 231.5}')  # List 2 then List 1
    assert both.exit_code == 0, both.output
    assert [json.loads(x)["reading"].get("u_l1_v") for x in both.output.splitlines()] == [231.5, None]
    only_list1 = run(*args[:4], "2024-10-01T19:00:02", "--json", "--reading", '{"u_l1_v": 231.5}')
    assert "does not carry u_l1_v" in refused(only_list1)


@pytest.mark.parametrize("port, opened", [
    ("loop://", "loop://"), ("LOOP://", "loop://"), ("loop://?logging=debug", "loop://?logging=debug"),
    ("socket://127.0.0.1:1", "socket://127.0.0.1:1"), ("Socket://localhost:7000", "socket://localhost:7000"),
    ("rfc2217://localhost:2217", "rfc2217://localhost:2217"), ("socket://[::1]:5000", "socket://[::1]:5000"),
    ("spy:///dev/ttyUSB0", "spy:///dev/ttyUSB0"), ("sim", "sim"), ("pty", "pty")])
def test_complete_ports_are_accepted_with_the_scheme_as_the_links_match_it(port: str, opened: str) -> None:
    assert Port().convert(port, None, None) == opened


def test_a_pty_device_is_a_port_and_sim_is_one_only_to_play_into() -> None:
    master, slave = pty.openpty()
    try:
        device = os.ttyname(slave)
        assert Port(sim=False).convert(device, None, None) == device
    finally:
        os.close(master)
        os.close(slave)
    with pytest.raises(click.BadParameter, match="the rig's own virtual line"):
        Port(sim=False).convert("pty", None, None)


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("0.5s", 0.5),
                                           ("8784h", 8784 * 3600)])
def test_durations(text: str, seconds: float) -> None:
    assert Duration().convert(text, None, None) == seconds


def test_emulate_counts_its_writes_in_words_that_agree_with_the_number() -> None:
    result = run("emulate", "--meter", "kaifa-ma304h4", "--port", "loop://", "--duration", "1s", "--speed", "100",
                 "--start", "2024-10-01T19:00:00")
    assert result.exit_code == 0, result.output
    assert "1 write sent" in result.output and "1 writes" not in result.output


def test_decode_at_a_terminal_says_it_reads_standard_input() -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([RIG, "decode"], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        os.write(master, unhex(LIST2_HEX).hex().encode() + b"\n\x04")  # Ctrl-D at the start of a line: EOF
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    assert "reading frames from standard input (hex or raw); Ctrl-D to end" in err
    assert proc.returncode == 0 and json.loads(out)["ok"] is True
    piped = run("decode", stdin=unhex(LIST2_HEX).hex())
    assert piped.exit_code == 0 and "Ctrl-D" not in piped.output


def test_rig_test_prints_only_the_reports_pytest_wrote(tmp_path: Path) -> None:
    usage = subprocess.run([RIG, "test", "--no-such-pytest-option"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
    assert usage.returncode == 4 and "report:" not in usage.stderr and "JUnit:" not in usage.stderr
    mine = tmp_path / "mine" / "mine.html"
    done = subprocess.run([RIG, "test", "-k", "no_such_scenario", f"--html={mine}", "-p", "no:cacheprovider"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 5, done.stdout[-2000:] + done.stderr[-2000:]  # nothing selected
    (junit,) = (tmp_path / "reports").glob("*/junit.xml")
    assert f"report: {mine}\n" in done.stderr and f"JUnit:  {junit}\n" in done.stderr
    assert not list((tmp_path / "reports").glob("*/report.html"))


# -- the property: every option of every command, random and hostile values ----------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Files a hostile user names: garbage, empty, not UTF-8, a directory, a capture that plays."""
    base = tmp_path_factory.mktemp("inputs")
    paths = {"garbage": b"\x00\xff garbage \x7e\x7e\xa0", "empty": b"", "not UTF-8": b"\xff\xfe[bench]\n",
             "bad JSON lines": b'{"format": "han-rig-capture", "version": 1}\n{"t": "x"}\n',
             "deep JSON": b'{"format": "han-rig-capture", "version": 1}\n{"t": 0, "hex": ' + b"[" * 100_000 + b"\n",
             "capture": ('{"format": "han-rig-capture", "version": 1, "line": "2400 8E1"}\n'
                         f'{{"t": 0, "hex": "{unhex(LIST2_HEX).hex()}"}}\n').encode()}
    out = {}
    for name, data in paths.items():
        (base / name.replace(" ", "_")).write_bytes(data)
        out[name] = str(base / name.replace(" ", "_"))
    out["directory"] = str(base)
    return out


TRIED: list[tuple[str, str, int, str]] = []  # (command, class of the value, exit status, refusal)


@pytest.fixture(scope="module", autouse=True)
def summary():
    """What the property test fed and got, printed at the end of the module (see it with -s)."""
    yield
    seen = TRIED
    by_class: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for command, label, code, message in seen:
        by_class[label].append((command, code, message))
    print(f"\n{len(seen)} inputs tried; by class: runs, exit codes, example refusals")
    for label, rows in sorted(by_class.items()):
        codes = sorted({code for _, code, _ in rows})
        examples = list(dict.fromkeys(m for _, code, m in rows if code == 2 and m))[:2]
        print(f"  {label:<16} {len(rows):>4}  exit {codes}  " + " | ".join(e[:110] for e in examples))


def _hostile(files: dict[str, str]) -> list[tuple[str, str]]:
    classes = {
        "empty": ["", " ", "\t"],
        "negative": ["-1", "-0", "-0.0", "-1s", "-1e9", "-2024-10-01T19:00:00"],
        "zero": ["0", "0.0", "0s", "0h0m"],
        "huge": ["9" * 40, "1e309", "1e300", str(2**64), "99999999999h", "1" * 400 + "s"],
        "nan/inf": ["nan", "NaN", "inf", "-inf", "Infinity"],
        "unicode": ["٣", "١٠s", "été", "𝟘", "日本", "\u202e", "\udcff", "a\x00b"],
        "very long": ["a" * 10_000, "9" * 5000],
        "malformed JSON": ["{", "[1]", "{'a': 1}", '{"p_import_w":}', "[" * 5000, "null", '{"a": 1'],
        "JSON wrong type": ['{"p_import_w": "abc"}', '{"p_import_w": true}', '{"p_import_w": NaN}',
                            '{"p_import_w": Infinity}', '{"p_import_w": 1e400}', '{"p_import_w": null}',
                            '{"p_import_w": [1]}', '{"meter_id": 5}', '{"timestamp": "x"}', '{"nosuch": 1}',
                            '{"u_l1_v": 230}', '{"p_import_w": -5}', '{"p_import_w": 1e15}', '{"meter_id": "123"}',
                            '{"list_version": "' + "x" * 300 + '"}', '{"meter_type": ""}'],
        "bad date": ["9999-12-31T23:59:59", "0001-01-01T00:00:00", "1999-12-31T23:59:59", "2100-01-01T00:00:00",
                     "2024-02-30T00:00:00", "2024-10-01T19:00:00+02:00", "2024-03-31T02:30:00", "now",
                     "2024-10-01T24:00:00"],
        "incomplete URL": ["socket://127.0.0.1", "socket://:5000", "socket://127.0.0.1:0", "socket://127.0.0.1:99999",
                           "socket://127.0.0.1:abc", "rfc2217://", "rfc2217://host", "loop", "loop://x", "foo://bar",
                           "spy://", "mqtt://", "mqtt://h:99999", "mqtt://h:x", "http://h", "://", "socket://h:1/x"],
        "fault spec": ["nosuch", "split:", "split:1", "garbage:nan", "silence:inf", "bad_fcs:0", "clock_jump:abc",
                       "::", "split:1:2", "oversized:1e9", "mid_frame:x", "clock_jump:99999999999h", "restart:-1s"],
        "line settings": ["0 8E1", "2400 9E1", "2400-8X1", "99999999 8N1", "AUTO", "2400  8E1"],
        "topic": ["{serial}", "{", "{x}", "a/+/b", "#", "{0}", "{serial.x}"],
        "path": ["/nonexistent/dir/x.jsonl", "/", ".", "/dev/null", "~", *files.values()],
    }
    return [(label, value) for label, values in classes.items() for value in values]


def _values(files: dict[str, str], param: click.Parameter) -> st.SearchStrategy[tuple[str, str]]:
    """(class, value): the hostile catalogue, random values of every kind, and values of the option's own kind."""
    texts = st.text(max_size=60).map(lambda t: ("random text", t))
    ints = st.integers(-(2**70), 2**70).map(lambda n: ("random integer", str(n)))
    floats = st.floats(allow_nan=True, allow_infinity=True).map(lambda x: ("random float", repr(x)))
    dates = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)).map(lambda d: ("random date", d.isoformat()))
    durations = st.builds(lambda n, u: ("random duration", f"{n}{u}"), st.integers(-5, 10**12),
                          st.sampled_from(["", "s", "m", "h", "d", "ms", "h30m"]))
    readings = st.dictionaries(
        st.sampled_from([*FIELDS, "nosuch"]),
        st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=20),
                  st.lists(st.integers(), max_size=2)),
        max_size=4).map(lambda d: ("random reading", json.dumps(d)))
    faults = st.builds(lambda name, p: ("random fault", name if p is None else f"{name}:{p}"),
                       st.sampled_from([*FAULTS, "nosuch"]),
                       st.one_of(st.none(), st.integers(-10, 10**20).map(str),
                                 st.sampled_from(["nan", "inf", "-1h", "1e9", "", "99999999h", "0s"])))
    urls = st.builds(lambda s, h, p: ("random URL", f"{s}://{h}{p}"),
                     st.sampled_from(["socket", "rfc2217", "loop", "SOCKET", "spy", "foo", "mqtt", ""]),
                     st.sampled_from(["", "127.0.0.1", "localhost", "[::1]", "::1", "h h"]),
                     st.sampled_from(["", ":", ":0", ":1", ":65535", ":65536", ":-1", ":abc", ":5000/x", "?logging=x"]))
    keys = st.binary(max_size=40).map(lambda b: ("random hex", b.hex()))
    everything = st.one_of(st.sampled_from(_hostile(files)), texts, ints, floats)
    own = {Speed: st.one_of(floats, ints), Duration: durations, MeterTime: dates, Port: urls,
           click.IntRange: ints, click.Path: st.sampled_from([v for v in _hostile(files) if v[0] == "path"])}
    callbacks = {reading_json: readings, check_fault_specs: faults, key_option: keys}
    kind = next((s for t, s in own.items() if isinstance(param.type, t)), None)
    if kind is None:
        kind = callbacks.get(param.callback)
    return everything if kind is None else st.one_of(kind, everything)


def _stdin(files: dict[str, str]) -> st.SearchStrategy[bytes]:
    """What `rig decode -` reads: random bytes or text, the hostile catalogue, broken JSON lines."""
    lines = ['{"hex": ' + "[" * 100_000, '{"hex": "7e"}\n{"nohex": 1}', '{"hex": 5}', unhex(LIST2_HEX).hex()[:-1]]
    texts = st.one_of(st.text(max_size=200), st.sampled_from([v for _, v in _hostile(files)] + lines))
    return st.one_of(st.binary(max_size=200), texts.map(lambda t: t.encode("utf-8", "surrogatepass")))


def _trace(exc: BaseException | None) -> str:
    return "".join(traceback.format_exception(exc)) if exc else ""


def _error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("Error:")]
    return " ".join(lines[-1].split()) if lines else ""


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()) -> dict[str, click.Command]:
    """Every command that runs, by its words ("results list"): a group's subcommands stand for the group."""
    found: dict[str, click.Command] = {}
    for word, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= _leaves(command, (*prefix, word))
        else:
            found[" ".join((*prefix, word))] = command
    return found


COMMANDS = _leaves(main)


@pytest.mark.parametrize("name", sorted(COMMANDS))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_option_gives_a_run_or_a_clear_refusal_never_a_traceback(name: str, data: st.DataObject,
                                                                      files: dict[str, str]) -> None:
    command = COMMANDS[name]
    options = [p for p in command.params if p.name]
    chosen = data.draw(st.lists(st.sampled_from(options), min_size=1, max_size=3, unique_by=lambda p: p.name))
    fuzzed = {p.name for p in chosen}
    args: list[str] = []
    positional: list[str] = []
    labels: dict[str, str] = {}  # how click names the option -> the class of the value it got
    for param in chosen:
        names = [f"'{param.human_readable_name}'", f"'[{param.human_readable_name}]'", *(f"'{o}'" for o in param.opts)]
        if isinstance(param, click.Option) and (param.is_flag or param.count):
            args.append(data.draw(st.sampled_from(param.opts + param.secondary_opts)))
            labels.update(dict.fromkeys(names, "flag"))
            continue
        label, value = data.draw(_values(files, param))
        labels.update(dict.fromkeys(names, label))
        if isinstance(param, click.Argument):
            positional.append(value)
        else:
            long = max(param.opts, key=len)
            args += [f"{long}={value}"] * data.draw(st.integers(1, 2) if param.multiple else st.just(1))
    for param in command.params:
        if param.required and param.name not in fuzzed:
            if isinstance(param, click.Argument):
                positional.append(files["capture"])
            else:
                args.insert(0, f"{max(param.opts, key=len)}={REQUIRED[param.name]}")
    fast_args, blocking = FAST.get(name, ([], set()))
    quick = (name in QUICK or (name in FAST and not fuzzed & blocking)) and not fuzzed & SLOW_OPTIONS.get(name, set())
    argv = [*fast_args, *args, "--", *positional] if quick else [*args, "--", *positional]
    if quick:
        stdin = data.draw(_stdin(files)) if name == "decode" else ""
        result = CliRunner().invoke(main, [*name.split(), *argv], input=stdin)
        assert result.exception is None or isinstance(result.exception, SystemExit), _trace(result.exception)
        assert "Traceback" not in result.output
        code, message = result.exit_code, _error_line(result.output)
        assert code in EXIT_CODES.get(name, {0, 2}), (argv, result.output[-2000:])
    else:
        try:
            with command.make_context(name, list(argv)):
                code, message = 0, ""
        except click.exceptions.Exit as exc:
            code, message = exc.exit_code, ""
        except click.ClickException as exc:
            code, message = exc.exit_code, " ".join(f"Error: {exc.format_message()}".split())
        assert code in (0, 2), (argv, message)
    if code == 2:
        assert NAMES_AN_OPTION.search(message), (argv, message)
        named = [label for option, label in labels.items() if option in message]
        TRIED.append((name, named[0] if named else "(other)", code, message))
    else:
        TRIED.extend((name, label, code, "") for label in set(labels.values()))
