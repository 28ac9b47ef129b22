"""The monitor on usbserial's port (the simulated combo with usb-device-cdc, as Studio's simulated
instruments run): a pad's press and release reach the host in an early frame within a few ms of
the move, not a frame period later; sensors that stay still send only their rounds. Virtual time.
"""

from tests.test_serial_usb import run

PRESS_AT = [2510, 3237, 3964, 4691]  # ms: odd times against the 30 Hz rounds


def pad_trace(ms: int) -> list[int]:
    """read_u16 each ms: at rest, pressed for 300 ms from each PRESS_AT."""
    return [30000 if any(0 <= t - at < 300 for at in PRESS_AT) else 1600 for t in range(ms)]


def pad_delays(rate: int) -> tuple[list[float], list[str]]:
    """The ms from each of the pad's steps to the first frame showing its press flipped, and
    the frames."""
    rec = run(
        5.5, [(1.2, b"monitor " + str(rate).encode() + b"\r\n")], trace={"pad": pad_trace(5500)}
    )
    assert rec.first(1200, 'OK {"monitor"')[1] == 'OK {"monitor":' + str(rate) + ',"max":50}'
    frames = [(t, x) for t, x in rec.lines if x.startswith("* levels ")]
    delays = []
    for at in PRESS_AT:
        for edge, want in ((at, ",1"), (at + 300, ",0")):
            t = next(
                t
                for t, x in frames
                if t >= edge and " pad=" in x and x.split(" pad=")[1].split()[0].endswith(want)
            )
            delays.append(t - edge)
    return delays, [x for _, x in frames]


def test_a_pad_move_reaches_the_host_within_a_poll_or_two_not_a_frame_later():
    # 5 Hz: a frame every 200 ms, yet the pad's press and release each bring one early
    delays, frames = pad_delays(5)
    # the pad's level crosses its trigger a few ms after the trace's step (smoothing), then the
    # next 4 ms poll sends an early frame; a round would have come up to 200 ms later. The
    # first press, a jump from rest before any press is learned, waits for the twitch check
    # (up to 25 ms: docs/sensing.md "Twitches"); its frame follows at once
    assert max(delays[1:]) <= 12, delays
    assert delays[0] <= 12 + 25, delays
    assert len(frames) <= 5 * 4.3 + 8 + 8  # the rounds, and one for each press and release


def test_at_studio_s_rate_a_press_shows_within_a_poll_or_two_too():
    # 30 Hz (Studio's): a press or release brings a frame 8 ms after the last one at the
    # soonest, so it need not wait for the next round (33 ms apart)
    delays, frames = pad_delays(30)
    assert max(delays[1:]) <= 12, delays
    assert len(frames) <= 30 * 4.3 + 8 + 8
