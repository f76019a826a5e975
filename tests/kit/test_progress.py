from __future__ import annotations

from kit.progress import StageProgress, listening


def test_listeners_receive_clipped_fractions_only_while_subscribed():
    seen = []
    progress = StageProgress("train row")  # outside a task run: no artifact, listeners only
    with listening(lambda name, f: seen.append((name, f))):
        progress.update(0.5)
        progress.update(1.7)
    progress.update(0.9)
    assert seen == [("train row", 0.5), ("train row", 1.0)]
