"""The serial edge: whole lines in, one reply out each, bounded work per call, and never a
blocking write, over real pipes standing in for the USB serial port."""

import os
import select
import time

import link as link_mod
import protocol
import pytest
from console_kit import Kit
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from link import Link as FirmwareLink


class Link(FirmwareLink):
    """The firmware's Link with two test-only views: `pump(now_ms)`, one between-tick call with
    a given clock and byte budgets only, and `pending`, the bytes waiting to go out."""

    def pump(self, now_ms):
        if self._port is not None:
            self._read_port(now_ms, 0, 0)
            self._write_port(0, 0)
        else:
            self._read(now_ms, 0, 0)
            self._write(0, 0)

    @property
    def pending(self):
        return self._rbytes + self._abytes


class Port:
    """Two pipes: the host writes requests into one and reads replies from the other (the
    built-in serial port's streams, written and read a byte per readiness check)."""

    kind = "pipe"

    def link(self, handler):
        return Link(handler, self.inp, self.out)

    def __init__(self):
        r, self.host_w = os.pipe()
        self.host_r, w = os.pipe()
        os.set_blocking(self.host_r, False)
        os.set_blocking(w, False)  # a write the link should not have made shows as None
        self.inp = open(r, "rb", buffering=0)
        self.out = open(w, "wb", buffering=0)
        self.filler = 0

    def send(self, data):
        os.write(self.host_w, data)

    def read(self):
        out = b""
        while True:
            try:
                chunk = os.read(self.host_r, 65536)
            except BlockingIOError:
                return out
            if not chunk:
                return out
            out += chunk

    def stop_reading(self):
        """The host holds the port open but reads nothing: fill the pipe to the brim."""
        os.set_blocking(self.out.fileno(), False)
        while True:
            try:
                self.filler += os.write(self.out.fileno(), b"~" * 4096)
            except BlockingIOError:
                break
        while True:
            try:
                self.filler += os.write(self.out.fileno(), b"~")
            except BlockingIOError:
                return

    def resume_reading(self):
        """Read (and discard) the filler; returns what came after it."""
        data = b""
        while len(data) < self.filler:
            data += self.read()
        rest = data[self.filler :]
        self.filler = 0
        return rest

    def close(self):
        self.inp.close()
        self.out.close()
        os.close(self.host_w)
        os.close(self.host_r)


class UsbDev:
    """usbserial.SerialPort as the link uses it: `send` takes what fits in its 512 bytes,
    `recv_into` hands over what the host sent, a USB packet (64 bytes) at a time at most, and
    `on_data()` is called when bytes arrive."""

    ROOM = 512

    def __init__(self):
        self.held = bytearray()  # taken, not yet read by the host
        self.to_dev = bytearray()  # sent by the host, not yet read
        self.on_data = None

    PACKET = 64

    def send(self, data, start, end):
        n = min(end - start, self.ROOM - len(self.held))
        self.held += data[start : start + n]
        return n

    def send_packets(self, views):
        # all or none, each view whole (in the real port a packet-sized slot each)
        if sum(len(v) for v in views) > self.ROOM - len(self.held):
            return False
        for v in views:
            self.held += bytes(v)
        return True

    def recv_into(self, buf, start=0):
        n = min(len(buf) - start, 64, len(self.to_dev))
        buf[start : start + n] = self.to_dev[:n]
        del self.to_dev[:n]
        return n

    def pump(self):
        pass

    def readable(self):
        return bool(self.to_dev)

    def waiting(self):
        return 0


class UsbPort:
    """The same host as Port, on usbserial's port (chunks in, chunks out, never waiting)."""

    kind = "usb"

    def __init__(self):
        self.dev = UsbDev()
        self.reading = True

    def link(self, handler):
        return Link(handler, port=self.dev)

    def send(self, data):
        self.dev.to_dev += data
        if self.dev.on_data is not None:
            self.dev.on_data()

    def read(self):
        if not self.reading:
            return b""
        out = bytes(self.dev.held)
        self.dev.held.clear()
        return out

    def stop_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True
        return self.read()

    def close(self):
        pass


@pytest.fixture(params=["pipe", "usb"])
def port(request):
    p = Port() if request.param == "pipe" else UsbPort()
    yield p
    p.close()


@pytest.fixture
def pipe_port():
    """The built-in port only: its byte-by-byte budgets (the usb port has its own tests)."""
    p = Port()
    yield p
    p.close()


def echo(calls):
    def handler(line):
        calls.append(line)
        return "OK " + line.decode()

    return handler


def echo_link(port):
    """A Link on the fake port whose handler records every line; returns (link, calls)."""
    calls = []
    return port.link(echo(calls)), calls


def pump_all(lnk, port, rounds=2000, now_ms=0):
    out = b""
    for _ in range(rounds):
        lnk.pump(now_ms)
        out += port.read()
    return out


def test_a_complete_line_is_handled_and_its_reply_goes_out_with_a_newline(port):
    lnk, calls = echo_link(port)
    port.send(b"hello\n")
    assert pump_all(lnk, port, 20) == b"OK hello\n"
    assert calls == [b"hello"]


def test_a_line_arriving_in_pieces_is_handled_once_it_is_whole(port):
    lnk, calls = echo_link(port)
    port.send(b"set pad.ra")
    pump_all(lnk, port, 5)
    assert calls == []
    port.send(b"nge 50\n")
    pump_all(lnk, port, 5)
    assert calls == [b"set pad.range 50"]


def test_lf_cr_and_crlf_each_end_one_line_and_empty_lines_get_no_reply(port):
    lnk, calls = echo_link(port)
    port.send(b"a\nb\rc\r\n\n\r\nd\n")
    assert pump_all(lnk, port, 50) == b"OK a\nOK b\nOK c\nOK d\n"


def test_an_over_long_line_is_dropped_whole_with_one_error_and_the_next_line_works(port):
    lnk, calls = echo_link(port)
    port.send(b"set pad.range " + b"9" * 5000 + b"\r\nhello\n")
    out = pump_all(lnk, port, 400).split(b"\n")
    assert out[0].startswith(b"ERR toolong The line was 5014 bytes long; the most is 200.")
    assert out[1:] == [b"OK hello", b""]
    assert calls == [b"hello"]


def test_a_line_of_exactly_200_bytes_is_handled(port):
    lnk, calls = echo_link(port)
    port.send(b"x" * 200 + b"\n")
    pump_all(lnk, port, 50)
    assert calls == [b"x" * 200]


def test_each_call_reads_at_most_128_bytes_so_a_flood_cannot_hold_up_a_tick(pipe_port):
    port = pipe_port
    calls = []
    lnk = port.link(lambda line: calls.append(line) or "OK")
    port.send(b"a\n" * 500)
    lnk.pump(0)
    assert len(calls) == 64
    lnk.pump(0)
    assert len(calls) == 128


def test_each_call_writes_at_most_128_reply_bytes_and_64_async_bytes(pipe_port):
    port = pipe_port
    lnk = port.link(None)
    lnk.reply("x" * 300)
    lnk.pump(0)
    assert port.read() == b"x" * 128
    for _ in range(3):
        lnk.pump(0)
    assert port.read() == b"x" * 172 + b"\n"
    lnk.send("* " + "y" * 200)
    lnk.pump(0)
    assert port.read() == b"* " + b"y" * 62


def test_a_reply_goes_out_before_waiting_async_lines(port):
    lnk = port.link(lambda line: "OK {}")
    for i in range(20):
        lnk.send("* monitor t=" + str(i) + " pad raw=1 level=2 trigger=3 pressed=0")
    lnk.pump(0)  # the first `* ` lines are written (the port's: as many as it takes at once)
    before = port.read()  # (the built-in port: one line and a bit; usb: 512 bytes' worth)
    port.send(b"panic\n")
    lnk.pump(0)
    out = (before + port.read() + pump_all(lnk, port, 100)).split(b"\n")
    # only the lines already written or under way come first: lines are never cut
    assert out.index(b"OK {}") == before.count(b"\n") + 1 and len(out) == 22
    assert out.index(b"OK {}") == (2 if port.kind == "pipe" else 10)
    k = out.index(b"OK {}")
    assert all(x.startswith(b"* monitor t=") for x in out[:k] + out[k + 1 : -1])


def test_requests_are_read_and_answered_while_much_async_output_waits(port):
    lnk, calls = echo_link(port)
    port.stop_reading()
    for i in range(100):
        lnk.send("* monitor line " + str(i) + " " + "." * 60)
    port.send(b"panic\nstatus\n")
    for _ in range(10):
        lnk.pump(0)
    assert calls == [b"panic", b"status"]  # read at once, though 4 KiB of `* ` lines wait
    out = port.resume_reading()
    out += pump_all(lnk, port, 20)
    replies = [x for x in out.split(b"\n") if x.startswith(b"OK")]
    assert replies == [b"OK panic", b"OK status"]
    first = out.split(b"\n").index(b"OK panic")
    assert first <= 1  # behind at most the one `* ` line that was under way


def test_the_meter_frame_goes_after_waiting_lines_and_only_the_latest_goes(port):
    # Telemetry rewrites one buffer in place for each frame: a frame not yet sent is replaced
    lnk = port.link(None)
    buf = bytearray(b"* levels t=0000000001 pad=00001,0" + b" " * 94 + b"\n")  # 128 bytes
    lnk.send("* event pad note_on 60 90")
    lnk.send_frame(buf)
    buf[20] = ord("2")
    buf[30] = ord("2")
    lnk.send_frame(buf)
    assert lnk.busy and lnk.sending and not lnk.idle
    out = pump_all(lnk, port, 20).split(b"\n")
    assert out[0] == b"* event pad note_on 60 90"
    assert out[1].rstrip() == b"* levels t=0000000002 pad=00002,0" and out[2:] == [b""]
    assert pump_all(lnk, port, 20) == b""  # sent once
    assert lnk.idle and not lnk.sending
    # a reply waiting goes out before it
    lnk.send_frame(buf)
    lnk.reply("OK {}")
    assert pump_all(lnk, port, 20).split(b"\n")[0] == b"OK {}"


def test_a_meter_frame_is_not_sent_in_part_while_the_host_does_not_read(port):
    lnk = port.link(None)
    port.stop_reading()
    if port.kind == "usb":
        port.dev.held += b"x" * (port.dev.ROOM - 100)  # room for 100 bytes: not a frame
    buf = bytearray(b"* levels t=0000000001 pad=00001,0" + b" " * 94 + b"\n")
    lnk.send_frame(buf)
    for _ in range(20):
        lnk.pump(0)
    buf[20] = ord("3")  # the next frame, written in place meanwhile
    lnk.send_frame(buf)
    out = port.resume_reading()
    if port.kind == "usb":
        port.dev.held.clear()
        out = b""
    out += pump_all(lnk, port, 50)
    frames = [x for x in out.split(b"\n") if x.startswith(b"* levels")]
    # usb: none went out in part, and the latest is whole; the built-in port writes a copy of
    # the one it began, whole, then the latest
    assert frames[-1].rstrip() == b"* levels t=0000000003 pad=00001,0"
    assert all(len(f) == 127 for f in frames), frames


def test_a_host_that_stops_reading_never_blocks_a_write(port):
    lnk = port.link(None)
    port.stop_reading()
    lnk.reply("OK {}")
    t0 = time.perf_counter()
    for _ in range(1000):
        lnk.pump(0)  # the out pipe is non-blocking: a write without room would fail loudly
    assert time.perf_counter() - t0 < 1.0
    if port.kind == "pipe":
        assert lnk.pending == 6
        assert port.resume_reading() == b""
        assert pump_all(lnk, port, 10) == b"OK {}\n"
    else:  # usbserial's port holds up to 512 bytes itself, sent when the host reads again
        assert lnk.pending == 0
        assert port.resume_reading() == b"OK {}\n"


def test_when_the_host_stops_reading_the_oldest_async_lines_are_dropped_never_replies(port):
    lnk = port.link(None)
    port.stop_reading()
    for i in range(200):
        lnk.send("* monitor line " + str(i) + " " + "." * 40)
        if i % 50 == 0:
            lnk.reply('OK {"n": ' + str(i) + "}")
    assert lnk.dropped > 0
    assert lnk._abytes <= 4096
    port.resume_reading()
    out = pump_all(lnk, port, 5000).decode().splitlines()
    replies = [x for x in out if x.startswith("OK")]
    assert replies == ['OK {"n": 0}', 'OK {"n": 50}', 'OK {"n": 100}', 'OK {"n": 150}']
    monitors = [x for x in out if x.startswith("* monitor")]
    assert monitors[-1].startswith("* monitor line 199 ")  # the newest are kept
    assert len(monitors) + lnk.dropped == 200


def test_while_replies_pile_up_no_new_requests_are_read(port):
    calls = []
    lnk = port.link(lambda line: calls.append(line) or "OK " + "r" * 300)
    port.stop_reading()
    port.send(b"status\n" * 50)
    for _ in range(100):
        lnk.pump(0)
    # about 1 KiB of replies waiting (plus the 512 bytes usbserial's port holds): the rest
    # wait in the port
    assert len(calls) <= (4 if port.kind == "pipe" else 6)
    assert lnk.pending < 4096
    out = port.resume_reading()
    out += pump_all(lnk, port, 50000)
    assert len(calls) == 50
    assert out.count(b"\n") == 50  # still exactly one reply per line


def test_a_half_line_left_by_a_host_that_went_away_is_forgotten(port):
    lnk, calls = echo_link(port)
    port.send(b"set pad.sensi")
    lnk.pump(1000)
    lnk.pump(7000)
    port.send(b"hello\n")
    lnk.pump(7001)
    assert calls == [b"hello"]


def test_a_slow_typist_keeps_the_line(port):
    lnk, calls = echo_link(port)
    for i, ch in enumerate(b"hello\n"):
        port.send(bytes([ch]))
        lnk.pump(i * 3000)
    assert calls == [b"hello"]


def test_a_failing_handler_still_gives_one_reply_and_the_link_goes_on(port):
    def broken(line):
        if line == b"boom":
            raise ValueError("bug")
        return "OK"

    lnk = port.link(broken)
    port.send(b"boom\nfine\n")
    out = pump_all(lnk, port, 30).split(b"\n")
    assert out[0].startswith(b"ERR internal ")
    assert out[1:] == [b"OK", b""]


def test_a_line_before_the_console_is_ready_is_answered_busy(port):
    lnk = port.link(None)
    port.send(b"hello\n")
    assert pump_all(lnk, port, 20).startswith(b"ERR busy ")


def test_a_closed_host_pipe_drops_the_output_instead_of_raising(pipe_port):
    port = pipe_port
    lnk = port.link(None)
    os.close(port.host_r)
    port.host_r = os.open(os.devnull, os.O_RDONLY)
    lnk.reply("OK {}")
    lnk.send("* info x")
    for _ in range(10):
        lnk.pump(0)
    assert lnk.pending == 0 and lnk.dropped == 2


def costly_clock(monkeypatch, us_per_look):
    """The link's clock, moved on `us_per_look` by every look at it."""
    clock = [0]

    def ticks_us():
        clock[0] += us_per_look
        return clock[0]

    monkeypatch.setattr(link_mod.time, "ticks_us", ticks_us, raising=False)
    monkeypatch.setattr(link_mod.time, "ticks_ms", lambda: clock[0] // 1000, raising=False)
    monkeypatch.setattr(link_mod.time, "ticks_diff", lambda a, b: a - b, raising=False)


def test_service_stops_reading_once_its_time_budget_is_spent(port, monkeypatch):
    costly_clock(monkeypatch, 50)
    calls = []
    lnk = port.link(None)
    port.send(b"a\n" * 30)
    lnk.service(lambda line: calls.append(line) or "OK", 400)
    assert 1 <= len(calls) < 30
    assert lnk.handler is not None


def test_a_service_whose_time_is_spent_before_it_reads_still_takes_a_request(port, monkeypatch):
    # a loop near full: every look at the clock says the service's 400 us are gone
    costly_clock(monkeypatch, 500)
    calls = []
    lnk = port.link(None)
    port.send(b"zzz\r\n")
    for _ in range(5):  # (the built-in port takes a byte a call)
        lnk.service(lambda line: calls.append(line) or "OK", 400)
    assert calls == [b"zzz"]


def test_a_stream_that_cannot_be_polled_for_output_is_written_anyway(pipe_port):
    port = pipe_port

    class Sink:
        def __init__(self):
            self.data = b""

        def write(self, b):
            self.data += bytes(b)
            return len(b)

    sink = Sink()
    lnk = Link(None, port.inp, sink)
    lnk.reply("OK {}")
    for _ in range(10):
        lnk.pump(0)
    assert sink.data == b"OK {}\n"


def split_lines(stream):
    """A byte-by-byte reader's view of a stream: each complete non-empty line, or the length
    of one over 200 bytes (which gets `ERR toolong`)."""
    out = []
    seg = b""
    for b in stream:
        if b in (10, 13):
            if len(seg) > 200:
                out.append(len(seg))
            elif seg:
                out.append(seg)
            seg = b""
        else:
            seg += bytes([b])
    return out


def expected_replies(stream):
    """How many replies the protocol promises for this byte stream (complete lines only)."""
    n = 0
    for seg in split_lines(stream):
        if isinstance(seg, int):  # over 200 bytes: ERR toolong
            n += 1
            continue
        _, rest, bad = protocol.split_tag(seg)
        printable = bad is None and all(32 <= c <= 126 or c == 9 for c in rest)
        if not printable or rest.strip(b" \t"):
            n += 1
    return n


CHUNKS = st.lists(
    st.one_of(
        st.binary(max_size=80),
        st.sampled_from(
            [
                b"hello\n",
                b"status\r\n",
                b"set pad.sensitivity 500\n",
                b"\n",
                b"\r",
                b"set pad.range 40\n",
                b"get pad\n",
                b"x" * 300,
                b"panic\n",
                b"\xff\xc3\n",
                b"profile save anna\n",
                b"monitor 50\n",
                b"calibrate pad\n",
            ]
        ),
    ),
    max_size=25,
)


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(CHUNKS)
def test_any_bytes_into_the_playing_console_get_exactly_one_reply_per_complete_line(
    tmp_path, monkeypatch, chunks
):
    monkeypatch.chdir(tmp_path)
    port = Port()
    try:
        kit = Kit()
        lnk = port.link(kit.console.handle)
        kit.console.write = lnk.send
        kit.play(250)
        out = b""
        for chunk in chunks:
            port.send(chunk)
            for _ in range(20):
                kit.tick()
                lnk.pump(kit.t_ms)
                out += port.read()
        end = b"\nmonitor off\ncalibrate cancel\n"  # ends any half line; quiets the lines
        port.send(end)
        for _ in range(20000):
            kit.tick()
            lnk.pump(kit.t_ms)
            out += port.read()
            if lnk.idle and not select.select([port.inp], [], [], 0)[0]:
                break
        stream = b"".join(chunks) + end
        lines = out.split(b"\n")
        assert lines[-1] == b""
        replies = [x for x in lines[:-1] if not x.startswith(b"* ")]
        # (a tagged request's reply starts with its tag: `@0 ERR control ...`)
        untagged = [x.split(b" ", 1)[1] if x.startswith(b"@") else x for x in replies]
        assert all(x.startswith((b"OK ", b"ERR ")) for x in untagged), replies
        assert not any(x.startswith(b"ERR internal") for x in replies)
        assert len(replies) == expected_replies(stream)
    finally:
        port.close()


def test_the_wrap_of_ticks_ms_does_not_forget_a_line_being_typed(port):
    lnk, calls = echo_link(port)
    port.send(b"hel")
    lnk.pump(0x3FFFFFFF - 5)
    port.send(b"lo\n")
    lnk.pump(10)
    assert calls == [b"hello"]


def test_the_link_is_busy_while_output_waits_and_drain_only_writes(port):
    lnk, calls = echo_link(port)
    assert not lnk.busy
    lnk.send("* info one")
    assert lnk.busy  # the runtime now gives it each tick's idle time (drain)
    port.send(b"hello\n")
    for _ in range(5):
        lnk.drain(0)
    if port.kind == "usb":  # usbserial's port: drain reads as well, at once (reply first)
        assert port.read() == b"OK hello\n* info one\n" and not lnk.busy
        assert calls == [b"hello"]
        return
    assert port.read() == b"* info one\n" and not lnk.busy
    assert calls == []  # drain never reads: requests are read by service, every 4th tick
    lnk.pump(0)
    assert calls == [b"hello"] and port.read() == b"OK hello\n" and not lnk.busy


STREAM = st.lists(
    st.one_of(
        st.binary(max_size=90),
        st.sampled_from([b"\r\n", b"\n", b"\r", b"ok\n", b"x" * 199, b"y" * 200, b"z" * 201]),
        st.integers(min_value=1, max_value=1500).map(lambda n: b"w" * n),
    ),
    max_size=30,
)


@hsettings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(STREAM, st.lists(st.integers(min_value=1, max_value=700), min_size=1), st.booleans())
def test_usbserial_chunks_split_into_the_same_lines_as_byte_by_byte(
    monkeypatch, parts, cuts, find
):
    # bytearray.find, or (an older MicroPython without it) a bytes copy of each chunk to search
    monkeypatch.setattr(link_mod, "_BA_FIND", find)
    stream = b"".join(parts)
    port = UsbPort()
    calls = []
    lnk = port.link(lambda line: calls.append(line))
    out = b""
    i = 0
    k = 0
    while i < len(stream):
        step = cuts[k % len(cuts)]
        port.send(stream[i : i + step])
        i += step
        k += 1
        for _ in range(3):
            lnk.pump(0)
            out += port.read()
    out += pump_all(lnk, port, 40)
    want = split_lines(stream)
    assert calls == [x for x in want if isinstance(x, bytes)]
    errs = [x for x in out.split(b"\n") if x]
    assert errs == [
        b"ERR toolong The line was %d bytes long; the most is 200. It was ignored." % n
        for n in want
        if isinstance(n, int)
    ]
    assert lnk.idle or not stream.endswith((b"\n", b"\r"))  # (a half line is kept)


def test_a_5000_byte_line_is_read_in_at_most_512_bytes_a_call_on_usbserials_port():
    port = UsbPort()
    lnk, calls = echo_link(port)
    port.send(b"q" * 5000 + b"\r\nhello\n")
    rounds = 0
    while not calls:
        lnk.pump(0)
        rounds += 1
    assert rounds == 10  # 5009 bytes at 512 a call (the budget of one service)
    assert port.read().startswith(b"ERR toolong The line was 5000 bytes long")
