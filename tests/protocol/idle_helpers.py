"""Helpers for the idle-release tests: wait, bounded, for the server to log that a stream
freed its XML parser (limits.idle_release_delay)."""
import time


def released_count(server, stream_id):
    return server.log_text().count('stream %s idle, XML parser released' % stream_id)


def wait_released(server, client, times=1, timeout=8):
    """Waits until the server has released `client`'s current stream `times` times."""
    sid = client.stream_attrs['id']
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if released_count(server, sid) >= times:
            return
        time.sleep(0.05)
    raise AssertionError('stream %s was not released %d time(s) within %ss'
                         % (sid, times, timeout))
