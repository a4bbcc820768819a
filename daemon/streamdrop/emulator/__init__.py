"""A local stand-in for Stream's chat import API over real HTTP, for tests, demos and rehearsals.

Stream's routes (also under /api/v2): POST /import_urls, PUT /upload/<id>?token&expires
(the presigned URL it hands out), POST /imports, GET /imports/{id}, GET /imports,
GET /roles, GET /channeltypes, GET /rate_limits.
Test routes, loopback only, no auth: GET /_emulator/imports, GET /_emulator/stats,
POST /_emulator/advance?seconds=S (move emulated time on),
POST /_emulator/faults?next=500,drop[&endpoint=get_import] (queue faults).

`app.create_app(config, clock=...)` builds the ASGI app, `server` serves it,
`streamdrop.testing.running_emulator` serves it in a thread for tests, and
`streamdrop emulator` from the command line.
"""

from streamdrop.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig"]
