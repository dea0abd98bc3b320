"""The security options of `rig frames`, `rig emulate` and `rig run`: how the meter ciphers its frames.

``--key``, ``--auth-key``, ``--system-title``, ``--frame-counter`` and ``--security-control`` turn any
profile into an encrypted meter (general-glo-ciphering) or change the test keys of one that encrypts by
default. ``key_option`` checks the keys of every command that takes one (`rig decode` too), and its
errors never quote a key (a secret).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from rig.emulators.profiles import profile_security
from rig.emulators.security import FRAME_COUNTER_MAX, HAN_SECURITY_CONTROLS, KEY_BYTES, Security

F = TypeVar("F", bound=Callable[..., Any])
SECURITY_OPTIONS = ("key", "auth_key", "system_title", "frame_counter", "security_control")
# System titles of a profile that does not encrypt by default: the maker's 3-letter code, then 5 bytes
_MAKER_CODES = {"Kaifa": "KFM", "Landis+Gyr": "LGZ", "Aidon": "ADN", "Kamstrup": "KAM", "Sagemcom": "SAG"}
_HEX = re.compile(r"[0-9A-Fa-f]*")


def _hex_bytes(param: click.Parameter, ctx: click.Context, value: str, size: int, what: str) -> bytes:
    text = value.strip()
    if not _HEX.fullmatch(text) or len(text) != 2 * size:
        raise click.BadParameter(f"{what} must be {2 * size} hex digits ({size} bytes); got "
                                 f"{len(text)} characters{'' if _HEX.fullmatch(text) else ', not all hex'}",
                                 ctx=ctx, param=param)
    return bytes.fromhex(text)


def key_option(ctx: click.Context, param: click.Parameter, value: str | None) -> bytes | None:
    """Callback of ``--key``/``--auth-key``: 32 hex digits; the message never quotes the value."""
    return None if value is None else _hex_bytes(param, ctx, value, KEY_BYTES, "a key")


def system_title_option(ctx: click.Context, param: click.Parameter, value: str | None) -> bytes | None:
    """Callback of ``--system-title``: 16 hex digits (8 bytes: maker code and serial)."""
    return None if value is None else _hex_bytes(param, ctx, value, 8, "the system title")


def security_control_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """Callback of ``--security-control``: 20, 21 or 30 (hex, ``0x`` optional)."""
    if value is None:
        return None
    text = value.strip().lower().removeprefix("0x")
    allowed = ", ".join(f"0x{sc:02X}" for sc in HAN_SECURITY_CONTROLS)
    try:
        sc = int(text, 16)
    except ValueError:
        sc = -1
    if sc not in HAN_SECURITY_CONTROLS:
        raise click.BadParameter(f"{value!r} is not a security control HAN meters send; one of {allowed}",
                                 ctx=ctx, param=param)
    return sc


def security_options(command: F) -> F:
    """Add the five security options to a click command (keyword arguments of the same names)."""
    options = [
        click.option("--key", callback=key_option, metavar="HEX",
                     help="Encrypt every frame (general-glo-ciphering) with this AES-128 key: 32 hex digits. "
                          "Profiles that encrypt by default use public test keys (`rig meters`)."),
        click.option("--auth-key", callback=key_option, metavar="HEX",
                     help="Authentication key (32 hex digits): needed for security control 0x30."),
        click.option("--system-title", callback=system_title_option, metavar="HEX",
                     help="System title, 16 hex digits (default: the profile's, or the maker's code + 0000000001)."),
        click.option("--frame-counter", type=click.IntRange(0, FRAME_COUNTER_MAX), metavar="N",
                     help="Invocation counter of the first frame; it increases by one per frame (default 1)."),
        click.option("--security-control", callback=security_control_option, metavar="SC",
                     help="0x20 or 0x21 (encrypted, no tag) or 0x30 (AES-GCM with a tag; needs --auth-key). "
                          "Default: 0x30 with --auth-key, else 0x20."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def security_of(profile: Any, key: bytes | None = None, auth_key: bytes | None = None,
                system_title: bytes | None = None, frame_counter: int | None = None,
                security_control: int | None = None) -> Security | None:
    """The security a meter plays with: the profile's own (its test keys), changed by what the options give.

    None for a plain profile given no option. ``click.UsageError`` for a combination that cannot work
    (an option without ``--key`` on a plain profile, 0x30 without an authentication key).
    """
    base = profile_security(profile)
    given = {name: value for name, value in (("key", key), ("auth_key", auth_key), ("system_title", system_title),
                                             ("frame_counter", frame_counter),
                                             ("security_control", security_control)) if value is not None}
    if not given:
        return base
    if base is None:
        if key is None:
            raise click.BadParameter(f"{profile.id} sends plain frames; give --key to encrypt them",
                                     param_hint=_hints(given))
        title = system_title or (_MAKER_CODES.get(profile.make, "RIG").encode("ascii") + bytes.fromhex("0000000001"))
        sc = security_control if security_control is not None else (0x30 if auth_key is not None else 0x20)
        base_args: dict[str, Any] = {"key": key, "system_title": title, "security_control": sc, "auth_key": auth_key,
                                     "frame_counter": 1 if frame_counter is None else frame_counter}
    else:
        base_args = {"key": base.key, "system_title": base.system_title, "security_control": base.security_control,
                     "auth_key": base.auth_key, "frame_counter": base.frame_counter, **given}
        if security_control is None and auth_key is not None and base.security_control != 0x30:
            base_args["security_control"] = 0x30
    if base_args["security_control"] == 0x30 and base_args["auth_key"] is None:
        raise click.BadParameter("0x30 authenticates every frame: give --auth-key (32 hex digits)",
                                 param_hint="'--security-control'")
    try:
        return Security(**base_args) if base is None else replace(base, **base_args)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=_hints(given)) from None


def _hints(names: object) -> str:
    """The options named, as click quotes them: ``'--auth-key', '--frame-counter'``."""
    return ", ".join(f"'--{name.replace('_', '-')}'" for name in names)  # type: ignore[attr-defined]


def describe(security: Security | None) -> str:
    """One line for the terminal, keys redacted: ``encrypted: SC 0x30, system title ..., frame counter 1``."""
    if security is None:
        return "plain (not encrypted)"
    shown = security.redacted()
    auth = ", authentication key ***" if security.auth_key else ""
    return (f"encrypted: SC {shown['security_control']}, system title {shown['system_title']}, "
            f"first frame counter {shown['frame_counter']}, key ***{auth}")


def run_security(profile: Any, capture: bool, given: dict[str, Any]) -> tuple[Security | None, dict[str, str] | None]:
    """(the meter's security, the keys the DUT gets) of `rig run`. A capture is replayed as recorded: only
    ``--key``/``--auth-key`` apply (the DUT decrypts with them); None keys: the meter's own."""
    if not capture:
        return security_of(profile, **given), None
    fixed = ("system_title", "frame_counter", "security_control")
    extra = sorted(name for name in fixed if given.get(name) is not None)
    if extra:
        raise click.BadParameter("a capture is replayed as recorded; only --key and --auth-key apply (the keys "
                                 "the DUT decrypts it with)", param_hint=_hints(extra))
    keys = {name: given[name].hex().upper() for name in ("key", "auth_key") if given.get(name) is not None}
    return None, keys or None
