import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rig.bench import DEFAULT_BENCH, BenchError, load_bench, posix_tz

ROOT = Path(__file__).parent.parent
SHIPPED = sorted((ROOT / "rig" / "benches").glob("*.toml")) + sorted((ROOT / "benches").glob("*.toml"))

# A valid board bench using every key; the property tests break it one way at a time.
VALID: dict[str, dict[str, Any]] = {
    "bench": {"name": "t", "station": "lab-t"},
    "meter": {"link": "socket://127.0.0.1:4000", "profile": "kaifa-ma304h4", "timezone": "Europe/Oslo"},
    "dut": {"kind": "board", "serial_number": "HAN-1", "http_url": "http://127.0.0.1:8080",
            "modbus_host": "127.0.0.1", "modbus_port": 5020},
    "broker": {"spawn": False, "url": "mqtt://127.0.0.1:1883", "topic": "han/{serial}"},
    "features": {"modbus": True, "mqtt": True, "led_photodiode": False, "led_camera": False, "power": False},
}
FIELDS = [(section, key) for section, table in VALID.items() for key in table]


def _value(value: Any) -> str:
    """``value`` as TOML (strings, ints, finite floats, booleans, dates, lists and inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = "".join("\\" + c if c in '"\\' else f"\\u{ord(c):04x}" if ord(c) < 0x20 or c == "\x7f" else c
                          for c in value)
        return f'"{escaped}"'
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + "}"


def _toml(data: dict[str, dict[str, Any]]) -> tuple[str, dict[tuple[str, ...], int]]:
    """A bench file for ``data`` (tables of key = value) and the line number of each header and key."""
    lines: list[str] = ["# a bench under test", ""]
    where: dict[tuple[str, ...], int] = {}
    for section, table in data.items():
        lines.append(f"[{section}]")
        where[(section,)] = len(lines)
        for key, value in table.items():
            lines.append(f"{key} = {_value(value)}")
            where[(section, key)] = len(lines)
        lines.append("")
    return "\n".join(lines), where


def _refused(tmp_path: Path, text: str) -> tuple[Path, str]:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    with pytest.raises(BenchError) as info:
        load_bench(path)
    return path, str(info.value)


def _with(section: str, key: str, value: Any) -> dict[str, dict[str, Any]]:
    data = {name: dict(table) for name, table in VALID.items()}
    data.setdefault(section, {})[key] = value
    return data


def test_default_bench_is_the_software_dut() -> None:
    bench = load_bench()
    assert bench.path == DEFAULT_BENCH
    assert bench.is_software and bench.link == "sim"
    assert bench.broker_spawn and bench.has("mqtt") and bench.has("modbus")
    assert not bench.has("led_camera")
    assert bench.topic == f"han/{bench.serial_number}"
    assert bench.modbus_port is None and bench.http_url is None


def test_example_bench_parses() -> None:
    bench = load_bench(ROOT / "benches" / "example-bench.toml")
    assert bench.dut_kind == "board"
    assert (bench.broker_host, bench.broker_port) == ("192.0.2.1", 1883)
    assert bench.link == "/dev/ttyUSB0"
    assert (bench.modbus_host, bench.modbus_port) == ("192.0.2.10", 502)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_benches_load_cleanly(path: Path) -> None:
    bench = load_bench(path)
    assert bench.path == path and bench.topic


def test_the_valid_bench_of_these_tests_loads(tmp_path: Path) -> None:
    path = tmp_path / "bench.toml"
    path.write_text(_toml(VALID)[0])
    bench = load_bench(path)
    assert (bench.name, bench.link, bench.modbus_port, bench.broker_port) == ("t", VALID["meter"]["link"], 5020, 1883)
    assert bench.features == VALID["features"]


def test_a_board_without_modbus_port_gets_the_modbus_tcp_port(tmp_path: Path) -> None:
    data = _with("dut", "kind", "board")
    del data["dut"]["modbus_port"]
    path = tmp_path / "bench.toml"
    path.write_text(_toml(data)[0])
    assert load_bench(path).modbus_port == 502


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("dut", "serial_nuber", "SIM-0042", "unknown key (did you mean serial_number?); allowed: kind, serial_number"),
        ("dut", "name", "x", "unknown key (it belongs in [bench])"),
        ("broker", "spawn", "no", "must be true or false (a TOML boolean, no quotes), got 'no'"),
        ("features", "modbus", "no", "must be true or false"),
        ("features", "mqtt", 1, "must be true or false"),
        ("features", "powr", False, "unknown feature (did you mean power?)"),
        ("dut", "modbus_port", "abc", "must be an integer, got 'abc'"),
        ("dut", "modbus_port", 0, "must be a port number 1..65535, got 0"),
        ("dut", "modbus_port", 65536, "must be a port number 1..65535"),
        ("dut", "modbus_port", 502.0, "must be an integer"),
        ("dut", "kind", "toaster", "must be 'software' or 'board', got 'toaster'"),
        ("dut", "serial_number", "", "must not be empty"),
        ("broker", "topic", "han/{serail}", "unknown placeholder {serail} in 'han/{serail}' (did you mean serial?)"),
        ("broker", "topic", "han/{}", "unknown placeholder {}"),
        ("broker", "topic", "han/{serial", "bad brace in topic template"),
        ("broker", "topic", "han/{serial!r}", "no conversion or format spec"),
        ("broker", "topic", "han/#", "not a topic to publish on"),
        ("meter", "timezone", "Europe/Olso", "unknown time zone 'Europe/Olso' (did you mean Europe/Oslo?)"),
        ("meter", "timezone", "/etc/passwd", "unknown time zone '/etc/passwd'"),
        ("meter", "link", "socket://127.0.0.1", "socket:// needs host:port"),
        ("meter", "link", "rfc2217://127.0.0.1:0", "rfc2217:// needs host:port (port 1..65535)"),
        ("meter", "link", "ttyUSB0", "not a serial line"),
        ("meter", "link", "tcp://127.0.0.1:4000", "unknown link scheme 'tcp://'"),
        ("meter", "profile", "kaifa-ma304h", "unknown meter profile 'kaifa-ma304h' (did you mean kaifa-ma304h4?)"),
        ("dut", "http_url", "http//127.0.0.1", "no host in 'http//127.0.0.1'"),
        ("dut", "http_url", "ftp://127.0.0.1", "must be http://HOST[:PORT] or https://"),
        ("dut", "http_url", "http://127.0.0.1:99999", "bad port in 'http://127.0.0.1:99999'"),
        ("dut", "modbus_host", "tcp://127.0.0.1", "must be a host name or address"),
        ("broker", "url", "mqtt://127.0.0.1:0", "bad port"),
        ("broker", "url", "http://127.0.0.1", "must look like mqtt://host:1883"),
        ("bench", "name", 7, "must be a string, got 7"),
    ],
)
def test_a_bad_value_is_refused_naming_file_line_and_key(
        tmp_path: Path, section: str, key: str, value: Any, message: str) -> None:
    text, where = _toml(_with(section, key, value))
    path, error = _refused(tmp_path, text)
    assert error == f"{path}:{where[(section, key)]}: [{section}] {key}: " + error.split(": ", 2)[2]
    assert message in error


def test_an_unknown_section_is_refused_with_the_close_match(tmp_path: Path) -> None:
    data = {("dutt" if name == "dut" else name): table for name, table in VALID.items()}
    text, where = _toml(data)
    path, error = _refused(tmp_path, text)
    assert error == (f"{path}:{where[('dutt',)]}: [dutt]: unknown section (did you mean dut?); "
                     "sections: bench, meter, dut, broker, features, led, eol")


def test_a_key_outside_any_section_says_where_it_belongs(tmp_path: Path) -> None:
    path, error = _refused(tmp_path, 'serial_number = "SIM-0042"\n\n[dut]\nkind = "software"\n')
    assert error == f"{path}:1: [serial_number]: a key outside any section; it belongs in [dut]"


def test_every_problem_is_listed_one_per_line_in_file_order(tmp_path: Path) -> None:
    data = _with("broker", "spawn", "no")
    data["dut"]["modbus_port"] = "abc"
    data["bench"]["nam"] = "x"
    text, where = _toml(data)
    path, error = _refused(tmp_path, text)
    assert [line.split(": ", 2)[:2] for line in error.splitlines()] == [
        [f"{path}:{where[('bench', 'nam')]}", "[bench] nam"],
        [f"{path}:{where[('dut', 'modbus_port')]}", "[dut] modbus_port"],
        [f"{path}:{where[('broker', 'spawn')]}", "[broker] spawn"],
    ]


def test_inline_tables_and_dotted_keys_are_located(tmp_path: Path) -> None:
    path, error = _refused(tmp_path, '[meter]\nlink = "sim"\n\ndut = { kind = "software", serial_nuber = "x" }\n'
                                     'broker.spawn = "yes"\n')
    assert error.splitlines() == [
        f"{path}:4: [meter] dut: unknown key ([dut] is a section of its own, not a key of [meter]); "
        "allowed: link, profile, timezone",
        f"{path}:5: [meter] broker: unknown key ([broker] is a section of its own, not a key of [meter]); "
        "allowed: link, profile, timezone",
    ]
    path, error = _refused(tmp_path, 'dut = { kind = "software", serial_nuber = "x" }\nbroker.spawn = "yes"\n')
    assert error.splitlines() == [
        f"{path}:1: [dut] serial_nuber: unknown key (did you mean serial_number?); allowed: kind, serial_number, "
        "http_url, modbus_host, modbus_port",
        f"{path}:2: [broker] spawn: must be true or false (a TOML boolean, no quotes), got 'yes'",
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[dut]\nkind = 'board'\n", 1, "[dut] http_url: a board DUT needs http_url"),
        ("[meter]\nlink = '/dev/ttyUSB0'\n", 2, "[meter] link: the software DUT reads a virtual line"),
        ("[dut]\nmodbus_port = 502\n", 2, "[dut] modbus_port: only for a board DUT"),
        ("\n[broker]\nspawn = false\n", 2, "[broker] url: spawn = false needs a url"),
        ("[broker]\nurl = 'mqtt://127.0.0.1:1883'\n", 2, "[broker] url: unused with spawn = true"),
        ("[features]\nlaser = true\n", 2, "[features] laser: unknown feature; allowed: modbus, mqtt"),
        ("features = 3\n", 1, "[features]: must be a table"),
        ("[bench]\n\n[dut\n", 3, "not valid TOML"),
    ],
)
def test_bad_bench_files_say_what_is_wrong(tmp_path: Path, text: str, line: int, message: str) -> None:
    path, error = _refused(tmp_path, text)
    assert error.startswith(f"{path}:{line}: ") and message in error


def test_missing_bench_file(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="not found"):
        load_bench(tmp_path / "nope.toml")


def test_a_file_that_cannot_be_read_as_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bench.toml"
    path.write_bytes(b'[bench]\nname = "\xff"\n')
    for unreadable in (path, tmp_path, f"{tmp_path}/a\0b.toml"):
        with pytest.raises(BenchError, match="cannot read the bench file"):
            load_bench(unreadable)


def test_posix_tz_of_nordic_zones() -> None:
    assert posix_tz("Europe/Oslo") == "CET-1CEST,M3.5.0,M10.5.0/3"
    assert posix_tz("Europe/Helsinki") == "EET-2EEST,M3.5.0/3,M10.5.0/4"
    for bad in ("Mars/Olympus_Mons", "/etc/passwd", "Europe", "../zoneinfo/Europe/Oslo", ""):
        with pytest.raises(BenchError, match="unknown time zone"):
            posix_tz(bad)


# Property tests: any broken bench is refused with a BenchError naming the key and its line, never a traceback.

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
KEY_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,11}", fullmatch=True)
SCALARS = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                    TEXT, st.dates())
ANY_VALUE = st.one_of(SCALARS, st.lists(st.integers(), max_size=3),
                      st.dictionaries(KEY_NAMES, st.integers(), max_size=2))


def _wrong_type_for(example: Any) -> st.SearchStrategy[Any]:
    if isinstance(example, bool):
        return ANY_VALUE.filter(lambda v: not isinstance(v, bool))
    if isinstance(example, int):
        return ANY_VALUE.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))
    return ANY_VALUE.filter(lambda v: not isinstance(v, str))


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(data=st.data(), field=st.sampled_from(FIELDS))
def test_a_wrong_typed_value_is_refused_at_its_line(tmp_path: Path, data: st.DataObject,
                                                    field: tuple[str, str]) -> None:
    section, key = field
    value = data.draw(_wrong_type_for(VALID[section][key]), label="value")
    text, where = _toml(_with(section, key, value))
    path, error = _refused(tmp_path, text)
    assert error.startswith(f"{path}:{where[field]}: [{section}] {key}: must be "), error


@PROPERTY
@given(section=st.sampled_from([*VALID, "extra"]), key=KEY_NAMES, value=ANY_VALUE)
def test_an_unknown_key_or_section_is_refused_at_its_line(tmp_path: Path, section: str, key: str,
                                                          value: Any) -> None:
    assume(key not in VALID.get(section, {}))
    text, where = _toml(_with(section, key, value))
    path, error = _refused(tmp_path, text)
    if section == "extra":
        assert re.match(rf"{re.escape(str(path))}:{where[('extra',)]}: \[extra\]: unknown section\b.*; sections: ",
                        error), error
    else:
        assert re.match(rf"{re.escape(str(path))}:{where[(section, key)]}: \[{section}\] {re.escape(key)}: "
                        r"unknown (key|feature)\b.*; allowed: ", error), error


@PROPERTY
@given(field=st.sampled_from([f for f in FIELDS if isinstance(VALID[f[0]][f[1]], str)]), value=TEXT)
def test_any_text_in_a_string_key_loads_or_is_a_bench_error(tmp_path: Path, field: tuple[str, str],
                                                            value: str) -> None:
    section, key = field
    path = tmp_path / "bench.toml"
    text, where = _toml(_with(section, key, value))
    path.write_text(text, encoding="utf-8")
    try:
        bench = load_bench(path)
    except BenchError as exc:
        assert str(exc).startswith(f"{path}:{where[field]}: [{section}] {key}: "), str(exc)
    else:
        assert bench.topic
