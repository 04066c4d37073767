"""What the app does around serving: start-up objects frozen for the garbage collector, released at shutdown."""

import gc
from pathlib import Path

from tests.conftest import ServerThread, make_settings


def test_start_up_objects_are_frozen_while_the_app_serves(tmp_path: Path) -> None:
    gc.unfreeze()
    server = ServerThread(make_settings(tmp_path, anchoring_worker=False))
    server.start()
    try:
        assert gc.get_freeze_count() > 10_000
    finally:
        server.stop()
    assert gc.get_freeze_count() == 0
