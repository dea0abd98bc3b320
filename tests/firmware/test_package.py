"""The firmware is one package: its modules import each other relatively, so no top-level module of the same
name (an installed ``config``, ``state``, ``han``...) can take their place, on CPython or on MicroPython."""

import ast
import subprocess
import sys
from pathlib import Path

import dut_firmware

FIRMWARE_DIR = Path(dut_firmware.__path__[0])
FIRMWARE_ROOT = FIRMWARE_DIR.parent
TOP_LEVEL = {p.stem for p in FIRMWARE_DIR.glob("*.py")} | {p.name for p in FIRMWARE_DIR.iterdir() if p.is_dir()}


def _absolute_firmware_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in TOP_LEVEL or top == "dut_firmware":
                found.append(f"{path.relative_to(FIRMWARE_ROOT)}:{node.lineno} {name}")
    return found


def test_every_import_of_a_firmware_module_is_relative():
    modules = sorted(FIRMWARE_DIR.rglob("*.py"))
    assert len(modules) > 30 and FIRMWARE_DIR / "app.py" in modules
    assert [bad for path in modules for bad in _absolute_firmware_imports(path)] == []


def test_the_entry_point_is_one_import_and_one_call():
    code = [line for line in (FIRMWARE_DIR / "main.py").read_text().splitlines()
            if line.strip() and not line.startswith(('"""', "#"))]
    assert code == ["from .app import run", "run()"]


SHADOWED = r"""
import sys
sys.path.insert(0, %(shadow)r)
sys.path.insert(1, %(root)r)
from dut_firmware import app, config
cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null-han"}})
a = app.App(cfg)
print("OK", type(a.state).__module__, type(a.decoder).__module__)
"""


def test_top_level_modules_of_the_same_names_do_not_shadow_the_firmware(tmp_path, micropython):
    """Modules named like the firmware's, first on the path, that fail when imported, are never imported."""
    shadow = tmp_path / "shadow"
    for name in ("config", "state", "tz", "message", "led", "factory"):
        (shadow / f"{name}.py").parent.mkdir(parents=True, exist_ok=True)
        (shadow / f"{name}.py").write_text(f"raise ImportError('shadow {name} imported')\n")
    for package in ("han", "hal", "services"):
        (shadow / package).mkdir()
        (shadow / package / "__init__.py").write_text(f"raise ImportError('shadow {package} imported')\n")
    script = SHADOWED % {"shadow": str(shadow), "root": str(FIRMWARE_ROOT)}
    for interpreter in (micropython, sys.executable):
        done = subprocess.run([interpreter, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.stdout.split() == ["OK", "dut_firmware.state", "dut_firmware.han.decoder"], done.stderr


NARROW = r"""
import sys
sys.path.insert(0, %(root)r)
from dut_firmware import app, config
cfg = config.merge(config.DEFAULTS, {"serial": {"device": "/dev/null-han"}})
a = app.App(cfg)
out = []
for name in ("http", "modbus", "mqtt"):
    view = getattr(a, name).app
    members = sorted(k for k in view.__dict__ if not k.startswith("_"))
    out.append("%%s %%s %%s" %% (name, view is not a, ",".join(members)))
views = [a.http.app, a.modbus.app, a.mqtt.app]
before = all(v.cfg is cfg for v in views)
a.cfg = config.copy(cfg)                       # a change replaces the configuration: every view sees the new one
out.append("cfg %%s %%s" %% (before, all(v.cfg is a.cfg for v in views)))
out.append("factory %%s" %% (hasattr(a.factory, "app"),))
print("|".join(out))
"""


def test_services_get_only_what_they_use_not_the_application(micropython):
    """Each service holds a View of the members it uses (services/__init__.py), never the App: no decoder,
    serial port or other service to reach into; the configuration it reads is always the current one."""
    script = NARROW % {"root": str(FIRMWARE_ROOT)}
    want = ["http True configure,hal,health_message,log,meter_id,public_config,state,state_message,update_firmware",
            "modbus True configure,hal,log,state",
            "mqtt True hal,log,on_mqtt_status,state",
            "cfg True True",
            "factory False"]
    for interpreter in (micropython, sys.executable):
        done = subprocess.run([interpreter, "-c", script], capture_output=True, text=True, timeout=60)
        assert done.stdout.strip().split("|") == want, done.stderr
