"""The USB serial port the play loop talks through: micropython-lib's CDCInterface
(usb-device-cdc) with a data path that never waits and takes whole chunks.

Usage: port = usbserial.start()          # boot.py, before USB starts (ImportError: the
                                         # usb-device-cdc package is not installed)
       usb.device.get().init(midi, port, builtin_driver=False, ...)
       n = port.send(data, start, end)   # bytes of data[start:end] taken now (0: no room)
       ok = port.send_packets(views)     # each view (<= 64 bytes) whole in a slot, all or none
       n = port.recv_into(buf)           # bytes read into buf now (0: none)

Why not the built-in serial port while playing: it has no way to say how much room it has, and a
write bigger than the room waits up to 500 ms for a host that does not read (so link.py wrote
one byte per readiness check, ~60 us a byte), and reading blocks until every byte asked for
has come (one byte per check again). Here `send` copies what fits into sixteen 64-byte slots and
`recv_into` what has arrived, and each USB transfer carries one slot (one bulk packet: longer
transfers came out of order on the emulated Pico).

A bulk transfer ends with a packet shorter than 64 bytes (USB 2.0, 5.8.3): a host's driver may
keep whole packets until one comes (the emulated Pico's host does not; TinyUSB's own CDC class
sends a zero-length packet for this). So when a full packet goes and nothing follows it yet, a
zero-length packet goes after it: else a reply that ended on a packet boundary could wait for
the next output (for ever, with no monitor running).

Completion callbacks run between any two bytecodes of the loop, so they touch only what the
loop is not using: a send callback frees its slot and sends the next *closed* one (never the
slot being filled: the loop's `pump`, called once the link has handed over what it had, closes
it, so a short reply goes out right after the packet before it, not at the next pump); a
receive callback records its slot's length and waits on the next free slot. Nothing here
allocates per byte. Receiving: eight 64-byte slots; while all are full no OUT transfer waits,
so USB flow control holds the host back (as the built-in port's 256-byte buffer does).

The REPL can use the port too (`os.dupterm(port)`: `write` waits up to 500 ms for room, as the
built-in port does), so a board whose instrument cannot start stays reachable. Maintenance mode
does not use this port at all (boot.py keeps the built-in one there, for mpremote).
"""

import time

from micropython import const
from usb.device.cdc import CDCInterface
from usbxfer import start_transfer

_TXS = const(64)  # bytes a send slot holds: one transfer of one bulk packet (transfers of
# two or four packets arrived out of order on the emulated Pico)
_TX_SLOTS = const(16)  # send slots (1 KB: a 12-channel `status` reply nearly fits, and goes
# out from the completions without waiting for the loop: 70 -> 62 ms on the emulated Pico)
_SLOT = const(64)  # one bulk packet
_SLOTS = const(8)  # receive slots (512 bytes: the loop empties them every 4 ms)
_WRITE_WAIT_MS = const(500)  # the REPL's writes (dupterm) wait this long for room, at most
_POLL_RD = const(0x01)
_POLL_WR = const(0x04)
_POLL_HUP = const(0x10)
_FLUSH = const(1)
_POLL = const(3)
_EINVAL = const(-22)

_port = None


def _nothing():
    pass


class SerialPort(CDCInterface):
    """USB CDC serial with non-blocking chunked `send` / `recv_into` (and a stream API)."""

    PACKET = _TXS  # what send_packets takes in each view, at most

    def __init__(self):
        # the base class's own ring buffers are not used: keep them minimal
        super().__init__(timeout=0, txbuf=1, rxbuf=_SLOT)
        tx = memoryview(bytearray(_TXS * _TX_SLOTS))
        self._txm = tuple(tx[i * _TXS : (i + 1) * _TXS] for i in range(_TX_SLOTS))
        # each slot one byte short of full: what a meter frame's last packet fills (its length
        # is 64k - 1, telemetry.frame_bytes), sent with no slice made (and it ends the read)
        self._txs = tuple(m[: _TXS - 1] for m in self._txm)
        self._zlp = self._txm[0][:0]  # a zero-length packet
        self._tlen = bytearray(_TX_SLOTS)  # bytes in each send slot (0: free)
        self._tw = 0  # the slot being filled (the loop's)
        self._tr = 0  # the slot sent next or in flight
        rx = memoryview(bytearray(_SLOT * _SLOTS))
        self._rxm = tuple(rx[i * _SLOT : (i + 1) * _SLOT] for i in range(_SLOTS))
        self._rlen = bytearray(_SLOTS)  # bytes in each slot (0: free); the callback fills
        self._rw = 0  # the slot the next OUT transfer fills (the callback's)
        self._rr = 0  # the slot being read (the loop's)
        self._roff = 0  # bytes of it already read
        self._rdone = self._received  # bound once: a bound method made per transfer allocates
        self._tdone = self._sent
        self._zlp_out = False  # the transfer in flight is the zero-length packet
        self.on_data = _nothing  # called from the receive callback when bytes arrive
        # a send transfer of ours may be in flight (set before each submit, cleared by its
        # completion): when clear, usb.device's xfer_pending() (~0.1 ms of Python calls on an
        # RP2040, at every pump) need not be asked
        self._inflight = False

    # ---- sending ----

    def connected(self):
        """A host has the port open (configured, and DTR set by the program using it)."""
        return self.is_open() and (self._line_state & 1)

    def send(self, data, start, end):
        """Copy what fits of data[start:end]; returns how many bytes were taken. With no host
        holding the port open everything is taken (and lost, as on the built-in port)."""
        if not self.connected():
            return end - start
        tlen = self._tlen
        mv = memoryview(data)
        i = start
        while i < end:
            w = self._tw
            k = tlen[w]
            if k >= _TXS:  # full: on to the next slot, if it is free
                nxt = (w + 1) % _TX_SLOTS
                if tlen[nxt] or nxt == self._tr:
                    break  # (the slot sent next is never filled past its turn)
                self._tw = nxt
                continue
            n = end - i
            if n > _TXS - k:
                n = _TXS - k
            self._txm[w][k : k + n] = mv[i : i + n]
            tlen[w] = k + n
            i += n
        self._wr_xfer()
        return i - start

    def send_packets(self, views):
        """Copy each of `views` (memoryviews of up to PACKET bytes, made once by the caller)
        into a slot of its own, all of them or none; True when taken. Nothing is allocated: a
        view fills its slot from the start, and a full slot is sent whole (link.py's meter
        frame, rewritten in place for each frame). Bytes already in the slot being filled go
        out first, in their own packet."""
        if not self.connected():
            return True  # (as `send`: with no host holding the port open, taken and lost)
        tlen = self._tlen
        w = self._tw
        s = w
        if tlen[w]:  # part of a line waits there: the views start in the next slot
            s = (w + 1) % _TX_SLOTS
        k = s
        for _ in views:  # room for every one?
            if tlen[k] or (k == self._tr and k != w):
                return False
            k = (k + 1) % _TX_SLOTS
        k = s
        for v in views:
            self._txm[k][: len(v)] = v
            tlen[k] = len(v)
            k = (k + 1) % _TX_SLOTS
        # the slot being filled is the next one after them, if free (else the last of them,
        # full or not: `send` moves on from a full one when the next is free)
        last = (k - 1) % _TX_SLOTS
        self._tw = k if not tlen[k] and k != self._tr else last
        self._wr_xfer()
        return True

    def pump(self):
        """Close the slot being filled (the link calls this once it has handed over what it
        had), so it goes out right after the slots before it, and start the next IN transfer
        (one packet) if one is waiting and the endpoint is free."""
        w = self._tw
        if self._tlen[w]:
            nxt = (w + 1) % _TX_SLOTS
            if not self._tlen[nxt] and nxt != self._tr:
                # closed: the completion callback of the transfer before it sends it (a short
                # reply no longer waits for the loop's next pump while a `* ` line goes out)
                self._tw = nxt
        self._wr_xfer()

    def _wr_xfer(self):
        # start the next IN transfer if one waits and the endpoint is free (CDCInterface's
        # on_open() calls it too). A completion callback runs whole between two bytecodes: if
        # none is pending here, the last one has run, so no slot is submitted twice
        r = self._tr
        if not self._tlen[r]:
            return  # nothing to send (most pumps at rest: no call at all)
        ep = self.ep_d_in
        if self._inflight and (not self.is_open() or self.xfer_pending(ep)):
            return  # (set but not pending: cancelled by a bus reset, which calls no completion)
        if self.is_open():
            if r == self._tw:
                self._tw = (r + 1) % _TX_SLOTS  # close it: later bytes go to the next slot
            self._inflight = True  # (before: the completion may run within submit_xfer)
            try:
                self.submit_xfer(ep, self._view(r), self._tdone)
            except Exception:
                self._inflight = False
                raise

    def _view(self, r):
        # slot r's bytes to send: a full slot, or a frame's last packet, with no slice made
        k = self._tlen[r]
        if k == _TXS:
            return self._txm[r]
        return self._txs[r] if k == _TXS - 1 else self._txm[r][:k]

    def _sent(self, ep, res, num_bytes):
        # a completion callback: free the slot just sent (not for the zero-length packet), and
        # send the next one if it is closed (the loop is not filling it); the slot being filled
        # waits for the loop's pump(). A whole packet with nothing after it yet is followed by
        # a zero-length one: it ends the host's read
        self._inflight = False
        r = self._tr
        tlen = self._tlen
        if self._zlp_out:
            self._zlp_out = False
        else:
            tlen[r] = 0
            r = (r + 1) % _TX_SLOTS
            self._tr = r
        if res:
            return
        if tlen[r] and r != self._tw:
            buf = self._view(r)
        elif num_bytes == _TXS and not tlen[r]:
            buf = self._zlp
            self._zlp_out = True
        else:
            return
        self._inflight = True
        # from a completion the endpoint is open and free (usb.device's own _xfer_cb has just
        # cleared it), so its checks can be skipped (~70 us a packet, emulated Pico)
        if not start_transfer(self, ep, buf, self._tdone):
            self._inflight = False
            self._zlp_out = False

    def waiting(self):
        """Bytes only a pump() sends (in the slot being filled); 0: all sent or on their way
        (closed slots follow each other from the completion callbacks)."""
        return self._tlen[self._tw]

    # ---- receiving ----

    def _rd_xfer(self):
        # keep one OUT transfer waiting while a slot is free (CDCInterface.on_open() calls it)
        ep = self.ep_d_out
        w = self._rw
        if self.is_open() and not self._rlen[w] and not self.xfer_pending(ep):
            self.submit_xfer(ep, self._rxm[w], self._rdone)

    def _received(self, ep, res, num_bytes):
        # a completion callback: record the bytes, start the next transfer if a slot is free
        w = self._rw
        if res == 0 and num_bytes:
            self._rlen[w] = num_bytes
            w = (w + 1) % _SLOTS
            self._rw = w
            self.on_data()  # (link.py: read them in this tick's idle time)
        if res == 0 and not self._rlen[w] and self.is_open():
            self.submit_xfer(ep, self._rxm[w], self._rdone)

    def recv_into(self, buf, start=0):
        """Copy the bytes that have arrived into buf[start:]; returns how many (0: none)."""
        got = 0
        room = len(buf) - start
        rlen = self._rlen
        while room > 0:
            r = self._rr
            k = rlen[r]
            if not k:
                break
            off = self._roff
            n = k - off
            if n > room:
                n = room
            buf[start + got : start + got + n] = self._rxm[r][off : off + n]
            got += n
            room -= n
            if off + n < k:
                self._roff = off + n
                break
            self._roff = 0
            self._rr = (r + 1) % _SLOTS
            rlen[r] = 0  # free: if the callback found no free slot, no transfer waits now
            self._rd_xfer()
        return got

    def readable(self):
        return self._rlen[self._rr] > 0

    def on_reset(self):
        # the host reset the bus: transfers are cancelled without callbacks
        super().on_reset()
        self._inflight = False
        self._zlp_out = False
        for i in range(_TX_SLOTS):
            self._tlen[i] = 0
        self._tw = self._tr = 0
        for i in range(_SLOTS):
            self._rlen[i] = 0
        self._rw = self._rr = self._roff = 0

    # ---- stream API (the REPL through os.dupterm, print) ----

    def write(self, buf):
        t0 = time.ticks_ms()
        done = 0
        end = len(buf)
        while done < end:
            done += self.send(buf, done, end)
            if done >= end or time.ticks_diff(time.ticks_ms(), t0) >= _WRITE_WAIT_MS:
                break
            time.sleep_ms(1)
        return done

    def readinto(self, b):
        n = self.recv_into(b)
        return n if n else None  # None: nothing now (dupterm asks again later)

    def ioctl(self, req, arg):
        if req == _POLL:
            r = 0
            if arg & _POLL_WR and (self._tlen[self._tw] < _TXS or not self.connected()):
                r |= _POLL_WR
            if arg & _POLL_RD and self.readable():
                r |= _POLL_RD
            if arg & _POLL_HUP and not self.is_open():
                r |= _POLL_HUP
            return r
        if req == _FLUSH:
            t0 = time.ticks_ms()
            while self._tlen[self._tr] and self.connected():
                self.pump()
                if time.ticks_diff(time.ticks_ms(), t0) >= _WRITE_WAIT_MS:
                    break
                time.sleep_ms(1)
            return 0
        return _EINVAL


def start():
    """Make the port once per power-up (without usb-device-cdc importing this module fails and
    the play loop uses the built-in serial port, one byte per readiness check)."""
    global _port
    if _port is None:
        _port = SerialPort()
    return _port


def running():
    """The port boot.py made and USB enumerates, or None (then the built-in port is in use)."""
    if _port is None or _port.ep_d_in is None:
        return None  # made, but USB did not start with it
    return _port
