"""The serial link on usbserial's port (link.py), on real MicroPython: its between-tick call
allocates nothing while nothing arrives, before and after a request is answered. (A reply
itself leaves garbage: the runtime collects it, notes held or not, once `link.queued` says
enough went out.)

Run: node tests/micropython/run.mjs tests/micropython/check_link.py --path firmware
"""

import protocol
from checks import alloc_per_call, run
from link import Link

_REPLY = "OK " + "x" * 1100  # about a `status` reply: more than the link's reply hold


class _Port:
    """usbserial.SerialPort as the link uses it: `send` takes what fits in 512 bytes, the host
    takes it all at every `pump`, and `recv_into` hands over what the host sent."""

    def __init__(self):
        self.room = 512
        self.held = 0
        self.inbox = bytearray(64)
        self.n = 0

    def send(self, data, start, end):
        n = end - start
        if n > self.room - self.held:
            n = self.room - self.held
        self.held += n
        return n

    def recv_into(self, buf, start=0):
        n = self.n
        if n > len(buf) - start:
            n = len(buf) - start
        buf[start : start + n] = self.inbox[:n]
        self.n = 0
        return n

    def pump(self):
        self.held = 0

    def readable(self):
        return self.n > 0

    def waiting(self):
        return 0

    def arrive(self, data):
        self.inbox[: len(data)] = data
        self.n = len(data)


def _link():
    port = _Port()
    lnk = Link(port=port)
    lnk.handler = lambda line: _REPLY
    return lnk, port


def check_an_idle_service_allocates_nothing():
    lnk, port = _link()
    per = alloc_per_call(lambda: lnk.service(None, 400), n=200, warmup=4)
    assert per == 0, per


def check_the_calls_after_a_request_allocate_nothing_once_it_is_answered():
    lnk, port = _link()
    port.arrive(b"status\r\n")
    i = 0
    while i < 50:  # the request read, answered and its reply drained
        lnk.service(None, 400)
        i += 1
    per = alloc_per_call(lambda: lnk.service(None, 400), n=200, warmup=4)
    assert per == 0, per


def check_cleaning_a_reply_makes_no_string_per_character():
    # (a Python loop over a str makes one per character: 7.4 ms for one ERR line on a Pico)
    reason = "'zzz' is not a command. Send 'help' for the list."
    assert protocol.clean(reason) == reason
    per = alloc_per_call(lambda: protocol.clean(reason), n=20, warmup=1)
    assert per <= 128, per  # the one encoded copy the check walks in C (96 bytes)
    assert protocol.clean("caf\u00e9\x01") == "caf??"


run(globals())
