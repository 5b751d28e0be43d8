"""Test-only: record the argv and environment of every process spip starts.

Loaded through PYTHONPATH into the spip process under test (spip removes PYTHONPATH for its
own children, so only spip's direct children are recorded, which is what the tests check).
"""

import json
import os
import sys

_LOG = os.environ.get("SPIP_TEST_AUDIT_LOG")

if _LOG:

    def _hook(event, args):
        if event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
            try:
                _executable, argv, *rest = args
                env = None
                for item in rest:
                    if isinstance(item, dict):
                        env = item
                with open(_LOG, "a", encoding="utf-8") as handle:
                    handle.write(
                        json.dumps(
                            {
                                "event": event,
                                "argv": [str(a) for a in (argv or [])],
                                "env": {str(k): str(v) for k, v in (env or {}).items()},
                            }
                        )
                        + "\n"
                    )
            except Exception:
                pass

    sys.addaudithook(_hook)
