"""The schema of a bench file: pydantic models for its sections, and the checks of each value.

Every section forbids unknown keys; booleans, integers and strings must be of their TOML type (``"no"`` is
not false). Values are checked for what the rig does with them: the link must be a line ``open_link`` can
open, the meter profile must exist, the time zone must have a POSIX rule for the firmware, the topic
template may use only the placeholders the rig fills. Checks across sections are in :func:`cross_check`.
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
import string
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

SIM_LINKS = ("sim", "pty")  # the virtual line into the software DUT (rig.links.SIM_URLS)
TOPIC_FIELDS = ("serial",)  # the placeholders Bench.topic fills
DEFAULT_MODBUS_PORT = 502

Issue = tuple[tuple[str, ...], str]  # (where: section, key...; what is wrong)


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean X?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""


def shown(value: object) -> str:
    """``repr(value)``, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def tz_rule(name: str) -> str:
    """The POSIX TZ rule of the IANA zone ``name``: the footer line of its TZif (version 2+) file.

    ValueError saying why when the zone is unknown or its file carries no rule.
    """
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(name, sorted(zoneinfo.available_timezones()))
        raise ValueError(f"unknown time zone {shown(name)}{hint}; use an IANA name such as Europe/Oslo") from None
    data = _tzif_bytes(name)
    footer = data.rstrip(b"\n").rsplit(b"\n", 1)[-1] if data[:5] in (b"TZif2", b"TZif3", b"TZif4") else b""
    if not footer or not footer.isascii() or not footer.decode().isprintable():
        raise ValueError(f"time zone {shown(name)} has no POSIX TZ rule for the reader firmware")
    return footer.decode()


def _tzif_bytes(name: str) -> bytes:
    try:
        for root in zoneinfo.TZPATH:
            candidate = Path(root) / name
            if candidate.is_file():
                return candidate.read_bytes()
        return importlib.resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).read_bytes()
    except (ModuleNotFoundError, OSError, ValueError):
        return b""


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a port number 1..65535, got {value}")
    return value


def _host_port(url: str, what: str) -> None:
    """ValueError unless ``url`` has a host and, when it names one, a valid port."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"not a URL: {shown(url)} ({exc}); write {what}") from None
    if not parts.hostname:
        raise ValueError(f"no host in {shown(url)}; write {what}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"bad port in {shown(url)} (1..65535); write {what}")


def _link(url: str) -> str:
    """A line ``open_link`` opens: sim/pty, a device path, or a pyserial URL with what it needs."""
    if url in SIM_LINKS or re.fullmatch(r"/\S+|COM\d+", url):
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a serial line: {shown(url)}; use 'sim', a device path (/dev/ttyUSB0) or a pyserial "
                         "URL (rfc2217://host:port, socket://host:port, loop://)")
    if scheme in ("socket", "rfc2217"):
        hostport = rest.split("?", 1)[0]
        host, colon, port = hostport.rpartition(":")
        if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{scheme}:// needs host:port (port 1..65535), got {shown(url)}")
    elif scheme == "loop":
        pass
    elif scheme in ("spy", "alt", "hwgrep", "cp2110"):
        if not rest:
            raise ValueError(f"{scheme}:// needs what follows it, got {shown(url)}")
    else:
        raise ValueError(f"unknown link scheme {scheme + '://'!r}; known: rfc2217://, socket://, loop://, "
                         "spy://, alt://, hwgrep://, cp2110://")
    return url


def _profile(profile_id: str) -> str:
    from rig.emulators import list_profiles

    known = [p.id for p in list_profiles()]
    if profile_id not in known:
        raise ValueError(f"unknown meter profile {shown(profile_id)}{did_you_mean(profile_id, known)}; "
                         f"known: {', '.join(known)}")
    return profile_id


def _timezone(name: str) -> str:
    tz_rule(name)
    return name


def _http_url(url: str) -> str:
    _host_port(url, "http://HOST[:PORT]")
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"must be http://HOST[:PORT] or https://..., got {shown(url)}")
    return url


def _mqtt_url(url: str) -> str:
    _host_port(url, "mqtt://HOST[:PORT]")
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"must look like mqtt://host:1883, got {shown(url)}")
    return url


def _host(host: str) -> str:
    if "://" in host or not host.strip() or any(c.isspace() for c in host):
        raise ValueError(f"must be a host name or address (no scheme, no spaces), got {shown(host)}")
    return host


def _serial_number(serial: str) -> str:
    if any(c.isspace() or c in "+#" for c in serial):
        raise ValueError(f"no spaces or MQTT wildcards (+ #) please, it goes in the topic; got {shown(serial)}")
    return serial


def _topic(template: str) -> str:
    allowed = ", ".join("{" + name + "}" for name in TOPIC_FIELDS)
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        literal = "write {{ or }} for a literal brace"
        raise ValueError(f"bad brace in topic template {shown(template)} ({exc}); {literal}") from None
    for name, spec, conv in fields:
        if name not in TOPIC_FIELDS:
            hint = did_you_mean(name, TOPIC_FIELDS) if name else ""
            raise ValueError(f"unknown placeholder {{{name}}} in {shown(template)}{hint}; allowed: {allowed}")
        if spec or conv:
            raise ValueError(f"placeholders take no conversion or format spec, got {shown(template)}; "
                             f"allowed: {allowed}")
    topic = template.format(serial="S")
    if not topic or "+" in topic or "#" in topic or "\0" in topic:
        raise ValueError(f"not a topic to publish on: {shown(template)} (empty, or has the wildcards + #)")
    return template


Text = Annotated[str, Field(min_length=1)]
Port = Annotated[int, AfterValidator(_port)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class BenchSection(_Section):
    name: Text | None = None
    station: Text | None = None


class MeterSection(_Section):
    link: Annotated[str, AfterValidator(_link)] = "sim"
    profile: Annotated[str, AfterValidator(_profile)] = "kaifa-ma304h4"
    timezone: Annotated[str, AfterValidator(_timezone)] = "Europe/Oslo"


class DutSection(_Section):
    kind: Literal["software", "board"] = "software"
    serial_number: Annotated[Text, AfterValidator(_serial_number)] = "SIM-0001"
    http_url: Annotated[str, AfterValidator(_http_url)] | None = None
    modbus_host: Annotated[str, AfterValidator(_host)] | None = None
    modbus_port: Port | None = None


class BrokerSection(_Section):
    spawn: bool = True
    url: Annotated[str, AfterValidator(_mqtt_url)] | None = None
    topic: Annotated[str, AfterValidator(_topic)] = "han/{serial}"


class FeaturesSection(_Section):
    modbus: bool = False
    mqtt: bool = False
    led_photodiode: bool = False
    led_camera: bool = False
    power: bool = False


def _roi(roi: list[int]) -> list[int]:
    if len(roi) != 4 or roi[0] < 0 or roi[1] < 0 or roi[2] < 6 or roi[3] < 6:
        raise ValueError(f"must be [x, y, width, height] in pixels (width, height at least 6), got {roi}")
    return roi


class LedSection(_Section):
    """The LED instruments: ``sim`` is the simulation fed by the software DUT's LED (rig/led/session.py)."""

    photodiode: Text | None = None  # a VISA resource string (TCPIP0::host::port::SOCKET, USB0::...) or "sim"
    photodiode_rate_hz: Annotated[float, Field(gt=0, le=1e6)] = 2000.0
    photodiode_full_scale_v: Annotated[float, Field(gt=0)] = 1.0  # volts with the LED at full drive
    camera: Text | int | None = None  # a camera index, a video file, a stream URL, "sim" or "sim-stream"
    camera_roi: Annotated[list[int], AfterValidator(_roi)] | None = None  # written by `rig led calibrate`
    camera_gain: Annotated[float, Field(gt=0)] = 1.0  # light level per (region level / 255)
    camera_buffer_s: Annotated[float, Field(gt=0, le=60)] = 6.0  # the station camera's frames kept for the slots


class SlotSection(_Section):
    """One fixture of an end-of-line station: its supply channel, meter line and LED region."""

    channel: Annotated[int, Field(ge=1, le=16)]
    link: Annotated[str, AfterValidator(_link)] = "sim"
    camera_roi: Annotated[list[int], AfterValidator(_roi)] | None = None  # its region of [led] camera
    photodiode: Text | None = None  # its photodiode (VISA resource string or "sim"); default: [led] photodiode


class EolSection(_Section):
    """The end-of-line station (rig/eol): its power supply, the port budget units are judged against,
    the firmware they must run and its fixtures (``[[eol.slot]]``)."""

    supply: Text = "sim"  # a VISA resource string (TCPIP0::host::port::SOCKET) or "sim"
    port: Literal["han", "p1"] = "han"
    current_limit_ma: Annotated[float, Field(gt=0, le=3000)] | None = None  # default: twice the budget
    firmware_version: Text = "0.1.0"
    boot_limit_ms: Annotated[float, Field(gt=0)] = 3000.0
    speed: Annotated[float, Field(ge=1, le=1000)] = 60.0  # the units' time compression during the sequence
    stream_s: Annotated[float, Field(gt=0, le=3600)] = 12.0  # meter seconds streamed per unit
    slot: list[SlotSection] = []


class BenchFile(_Section):
    bench: BenchSection = BenchSection()
    meter: MeterSection = MeterSection()
    dut: DutSection = DutSection()
    broker: BrokerSection = BrokerSection()
    features: FeaturesSection = FeaturesSection()
    led: LedSection = LedSection()
    eol: EolSection = EolSection()


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation for name, info in BenchFile.model_fields.items()  # type: ignore[misc]
}
KNOWN_FEATURES = tuple(FeaturesSection.model_fields)


def cross_check(bench: BenchFile) -> list[Issue]:
    """What is wrong across keys: ``(location, message)`` for each rule a valid-looking file breaks."""
    issues: list[Issue] = []
    dut, broker = bench.dut, bench.broker
    if dut.kind == "software":
        if bench.meter.link not in SIM_LINKS:
            issues.append((("meter", "link"), f"the software DUT reads a virtual line: link must be 'sim', "
                                              f"got {shown(bench.meter.link)}"))
        for key in ("http_url", "modbus_host", "modbus_port"):
            if getattr(dut, key) is not None:
                issues.append((("dut", key), "only for a board DUT (kind = 'board'); the software DUT's "
                                             "addresses are its own"))
    elif dut.http_url is None:
        issues.append((("dut", "http_url"), "a board DUT needs http_url = 'http://HOST[:PORT]'"))
    if not broker.spawn and broker.url is None:
        issues.append((("broker", "url"), "spawn = false needs a url = 'mqtt://host:port' "
                                          "(or spawn = true for a broker of the rig's own)"))
    if broker.spawn and broker.url is not None:
        issues.append((("broker", "url"), "unused with spawn = true: set spawn = false to use this broker"))
    for feature, key, what in (("led_photodiode", "photodiode", "a VISA resource string or 'sim'"),
                               ("led_camera", "camera", "a camera index, video file, stream URL or 'sim'")):
        value = getattr(bench.led, key)
        if getattr(bench.features, feature) and value is None:
            issues.append((("led", key), f"feature {feature} needs [led] {key} = {what}"))
        if value in ("sim", "sim-stream") and dut.kind != "software":
            issues.append((("led", key), "'sim' films the software DUT's LED; a board needs a real instrument"))
    channels = [slot.channel for slot in bench.eol.slot]
    for n, channel in enumerate(channels):
        if channel in channels[:n]:
            issues.append((("eol", "slot", str(n), "channel"), f"channel {channel} belongs to another slot already"))
    if bench.eol.slot and dut.kind != "software":
        issues.append((("eol", "slot"), "the station powers software DUTs only so far (dut kind = 'software')"))
    for n, slot in enumerate(bench.eol.slot):
        if dut.kind == "software" and slot.link not in SIM_LINKS:
            issues.append((("eol", "slot", str(n), "link"), f"the software DUT reads a virtual line: link must be "
                                                            f"'sim', got {shown(slot.link)}"))
    return issues


def validate(data: dict[str, Any]) -> tuple[BenchFile | None, list[Issue]]:
    """The parsed bench file and no issues, or None and every issue found (type errors before cross checks)."""
    try:
        model = BenchFile.model_validate(data)
    except ValidationError as exc:
        return None, [(tuple(str(p) for p in err["loc"]), _message(err)) for err in exc.errors()]
    issues = cross_check(model)
    return (None if issues else model), issues


def _message(err: Any) -> str:
    """A pydantic error as a sentence about the bench file."""
    loc, kind, value = err["loc"], err["type"], err.get("input")
    if kind == "extra_forbidden":
        if len(loc) == 1 and not isinstance(value, dict):
            home = [name for name, section in SECTIONS.items() if loc[0] in section.model_fields]
            where = f"it belongs in [{home[0]}]" if home else f"sections: {', '.join(SECTIONS)}"
            return f"a key outside any section; {where}"
        if len(loc) == 1:
            return f"unknown section{did_you_mean(loc[0], list(SECTIONS))}; sections: {', '.join(SECTIONS)}"
        if loc[:2] == ("eol", "slot") and len(loc) == 4:
            allowed = list(SlotSection.model_fields)
            return f"unknown key{did_you_mean(str(loc[3]), allowed)}; allowed: {', '.join(allowed)}"
        allowed = list(SECTIONS[loc[0]].model_fields)
        what = "feature" if loc[0] == "features" else "key"
        hint = did_you_mean(loc[1], allowed) or next(
            (f" (it belongs in [{name}])" for name, section in SECTIONS.items() if loc[1] in section.model_fields), "")
        if loc[1] in SECTIONS:
            hint = f" ([{loc[1]}] is a section of its own, not a key of [{loc[0]}])"
        return f"unknown {what}{hint}; allowed: {', '.join(allowed)}"
    if kind == "bool_type":
        return f"must be true or false (a TOML boolean, no quotes), got {shown(value)}"
    if kind == "int_type":
        return f"must be an integer, got {shown(value)}"
    if kind == "string_type":
        return f"must be a string, got {shown(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a table ([{loc[0]}] with key = value lines), got {shown(value)}"
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}, got {shown(value)}"
    if kind == "value_error":
        return str(err["ctx"]["error"])
    return f"{err['msg']}, got {shown(value)}"
