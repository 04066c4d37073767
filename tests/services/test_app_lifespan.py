"""What the app does around serving: the garbage collector's settings while it serves, restored at shutdown."""

import gc
from pathlib import Path

from segell.services.notary.settings import NotarySettings
from tests.helpers import ServerThread, make_settings


def test_start_up_objects_are_frozen_and_collections_rarer_while_the_app_serves(tmp_path: Path) -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    server = ServerThread(make_settings(tmp_path, NotarySettings(anchoring_worker=False)))
    server.start()
    try:
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] > before[0]
    finally:
        server.stop()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
