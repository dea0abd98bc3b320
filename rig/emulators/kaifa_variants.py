"""The Kaifa profiles beyond the Norwegian MA304H4 and MA304H3E, for the registry (``rig meters``)."""

from __future__ import annotations

from rig.emulators.kaifa import MA105H2E, MA105H2E_SE, MA304H4D_SE, MA304T3, MA304T4, MA304T4_SE
from rig.emulators.kaifa_p1 import MA304H4E
from rig.emulators.kaifa_se import MA304H4_SE

VARIANTS = (MA105H2E, MA304T3, MA304T4, MA304H4_SE, MA304H4D_SE, MA105H2E_SE, MA304T4_SE, MA304H4E)
