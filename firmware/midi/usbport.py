"""The USB MIDI port: micropython-lib's MIDIInterface with a batched way out, one USB transfer
for all of a tick's packets.

Usage: port = usbport.start("Attune Combo")   # once per power-up (midi/outputs.py UsbMidi.start)
       taken = port.write(buf, 0, n)          # after every tick: packets 0..n-1 of buf

Imported only where micropython-lib's usb.device is (the Pico, the simulator), so that
midi/outputs.py still imports on a computer without it. The built-in serial port stays
(builtin_driver=True): mpremote and the therapist's tools keep working next to MIDI; or, while
playing, firmware/usbserial.py's CDC port takes its place (same one serial port for the host).

Why not the base class's send_event(): it starts one transfer per packet, ~0.9 ms each on an
RP2040 (a chord would cost 3 ms of a 1 ms tick). This port keeps its own TX Buffer and sends it
with Interface's public xfer_pending()/submit_xfer(); the base class's TX buffer is left empty
(txlen 0: send_event() and note_on() refuse everything, so nothing can overtake the queue).
"""

from micropython import const
from usb.device.core import Buffer
from usb.device.midi import MIDIInterface

_TXLEN = const(128)  # bytes: 32 packets waiting for the host; midi/packets.py queues the rest
_OK = const(0)  # machine.USBDevice XFER result: the transfer completed


class UsbMidiPort(MIDIInterface):
    """USB MIDI in and out; out is written a tick at a time with `write`."""

    def __init__(self, txlen=_TXLEN):
        super().__init__(txlen=0)
        self._out = Buffer(txlen)
        self._done = self._sent  # bound once: a bound method made per transfer allocates
        # a transfer of ours may be in flight (set before each submit, cleared by its
        # completion): when clear, none is, and usb.device's xfer_pending() (a chain of Python
        # calls, ~0.1 ms on an RP2040, on the way of every switch press) is not asked
        self._inflight = False

    def write(self, buf, start, n):
        """Queue packets start..start+n-1 of buf (4 bytes each); returns how many were taken.

        With no host listening they are all "taken" (nobody would hear them; the queue must not
        fill up with stale notes). Otherwise as many as fit, and one transfer starts for all.
        """
        if not self.is_open():
            return n
        out = self._out
        room = out.writable() >> 2
        if room < n:
            n = room
        if n <= 0:
            return 0
        w = out.pend_write()
        i = 0
        j = start * 4
        end = n * 4
        while i < end:
            w[i] = buf[j]
            i += 1
            j += 1
        out.finish_write(end)
        self._send()
        return n

    def _send(self):
        # one IN transfer at a time carries everything waiting; its completion starts the next
        ep = self.ep_in
        if self._inflight and (not self.is_open() or self.xfer_pending(ep)):
            return  # (set but not pending: cancelled by a bus reset, which calls no completion)
        if self.is_open() and self._out.readable():
            self._inflight = True  # (before: the completion may run within submit_xfer)
            try:
                self.submit_xfer(ep, self._out.pend_read(), self._done)
            except Exception:
                self._inflight = False
                raise

    def _sent(self, ep, result, nbytes):
        self._inflight = False
        if result == _OK:
            self._out.finish_read(nbytes)
        self._send()

    def on_reset(self):
        # the host reset the bus: transfers are cancelled without completions
        super().on_reset()
        self._inflight = False

    def on_open(self):
        super().on_open()
        self._send()  # anything left from before a USB reset goes out first


def start(product, serial=None):
    """Make the port and start USB with it (the Pico enumerates as `product`, plus serial):
    `serial` (a usbserial.SerialPort) replaces the built-in serial port, else that is kept."""
    import usb.device

    port = UsbMidiPort()
    if serial is None:
        usb.device.get().init(
            port, builtin_driver=True, manufacturer_str="Attune", product_str=product
        )
    else:
        usb.device.get().init(
            serial, port, builtin_driver=False, manufacturer_str="Attune", product_str=product
        )
    return port
