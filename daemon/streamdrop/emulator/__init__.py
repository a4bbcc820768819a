"""A local stand-in for Stream's import APIs (chat and Import V2) over real HTTP, for tests.

Stream's routes (also under /api/v2): POST /import_urls, PUT /upload/<id>?token&expires&
X-Amz-Credential (the presigned URL it hands out), POST /imports, GET /imports/{id},
GET /imports, GET /roles, GET /channeltypes, GET /channeltypes/{name}, GET /rate_limits,
and Import V2: POST|GET /imports/v2, GET|DELETE /imports/v2/{id}, POST /imports/v2/{id}/cancel.
Test routes, loopback only, no auth: GET /_emulator/imports, GET /_emulator/stats,
POST /_emulator/advance?seconds=S (move emulated time on),
POST /_emulator/faults?next=500,drop,late[&endpoint=get_import] (queue faults).

`app.create_app(config, clock=...)` builds the ASGI app, `server` serves it,
`streamdrop.testing.running_emulator` serves it in a thread for tests, and
`streamdrop emulator` from the command line.
"""

from streamdrop.emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig"]
