"""A local stand-in for Stream's chat import API over real HTTP, for tests, demos and rehearsals.

`create_app(config, clock=...)` builds the ASGI app; `server` runs it;
`streamdrop.testing.running_emulator` serves it in a thread for tests.
"""

from streamdrop.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig"]
