"""After the test session: no meter key of the rig's encrypted profiles (nor the keys the scenarios set on
request) appears in any file the session wrote: reports (HTML, JUnit), logs, captures, records.

    .venv/bin/python tests/scan_secrets.py reports/tests

Run by `make test` after the suite (the HTML report is written when the session ends, so no test can
scan it). Keys are looked for as raw bytes and as hex in either case. The Smarty AAD key is left out:
it is a fixed public value that every Smarty reader uses, not a secret. Exit 1 naming each file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rig.emulators.profiles import list_profiles, profile_security
from rig.emulators.smarty import SMARTY_AAD_KEY
from rig.scenarios.test_encryption import ON_REQUEST_AK, ON_REQUEST_KEY


def secret_keys() -> list[bytes]:
    keys = [ON_REQUEST_KEY, ON_REQUEST_AK]
    for profile in list_profiles():
        security = profile_security(profile)
        if security is not None:
            keys += [k for k in (security.key, security.auth_key) if k and k != SMARTY_AAD_KEY]
    return keys


def leaks(folders: list[Path], keys: list[bytes]) -> list[str]:
    forms = [f for k in keys for f in (k, k.hex().encode(), k.hex().upper().encode())]
    found = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if any(form in data for form in forms):
                found.append(str(path))
    return found


def main(argv: list[str]) -> int:
    folders = [Path(a) for a in argv] or [Path("reports/tests")]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        print(f"scan_secrets: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    keys = secret_keys()
    found = leaks(folders, keys)
    files = sum(1 for f in folders for p in f.rglob("*") if p.is_file())
    if found:
        print(f"scan_secrets: a meter key appears in {len(found)} of {files} files:", *found, sep="\n  ")
        return 1
    where = ", ".join(map(str, folders))
    print(f"scan_secrets: none of {len(keys)} meter keys appears in the {files} files of {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
