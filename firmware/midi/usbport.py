"""The USB MIDI port: micropython-lib's MIDIInterface with a batched way out, one USB transfer
for all of a tick's packets.

Usage: port = usbport.start("Attune Combo")   # once per power-up (midi/outputs.py UsbMidi.start)
       taken = port.write(buf, 0, n)          # after every tick: packets 0..n-1 of buf

Imported only where micropython-lib's usb.device is (the Pico, the simulator), so that
midi/outputs.py still imports on a computer without it. The built-in serial port stays
(builtin_driver=True): mpremote and the therapist's tools keep working next to MIDI; or, while
playing, firmware/usbserial.py's CDC port takes its place (same one serial port for the host).

Why not the base class's send_event(): it starts one transfer per packet, ~0.9 ms each on an
RP2040 (a chord would cost 3 ms of a 1 ms tick). This port keeps its own two TX buffers and one
transfer at a time; the base class's TX buffer is left empty (txlen 0: send_event() and
note_on() refuse everything, so nothing can overtake the queue).
"""

from micropython import const
from usb.device.midi import MIDIInterface
from usbxfer import start_transfer

_TXLEN = const(128)  # bytes: 32 packets waiting for the host; midi/packets.py queues the rest
_OK = const(0)  # machine.USBDevice XFER result: the transfer completed


class UsbMidiPort(MIDIInterface):
    """USB MIDI in and out; out is written a tick at a time with `write`.

    Two buffers: packets are copied into one while the other is in flight, and at most `txlen`
    bytes wait in both together. On the emulated Pico usb.device's Buffer (five Python calls to
    queue and take a packet) and Interface.submit_xfer's checks cost ~0.3 ms of the ~0.65 ms
    from a switch's note to its transfer: here a transfer starts with one call into
    machine.USBDevice (usbxfer.py)."""

    def __init__(self, txlen=_TXLEN):
        super().__init__(txlen=0)
        self._txlen = txlen
        bufs = (memoryview(bytearray(txlen)), memoryview(bytearray(txlen)))
        self._mv = bufs
        # each buffer's first 4k bytes as a view, made once: a slice made per transfer would
        # allocate (16 bytes on the heap each time a tick sends)
        self._views = tuple(tuple(b[: 4 * k] for k in range(txlen // 4 + 1)) for b in bufs)
        self._fill = 0  # the buffer packets are copied into
        self._n = 0  # bytes in it
        self._flight = None  # the bytes of our transfer in flight (a memoryview), or None
        self._owed = None  # ... or that a bus reset cancelled: sent first when the host is back
        self._up = False  # the host has configured the port (on_open) and not reset it since
        self._done = self._sent  # bound once: a bound method made per transfer allocates

    def write(self, buf, start, n):
        """Queue packets start..start+n-1 of buf (4 bytes each); returns how many were taken.

        With no host listening they are all "taken" (nobody would hear them; the queue must not
        fill up with stale notes). Otherwise as many as fit, and a transfer starts for all of
        them unless one is in flight (its completion sends them).
        """
        if not self._up:
            return n
        k = self._n
        f = self._flight
        room = (self._txlen - k - (len(f) if f is not None else 0)) >> 2
        if room < n:
            n = room
        if n <= 0:
            return 0
        b = self._mv[self._fill]
        j = start * 4
        end = k + n * 4
        while k < end:
            b[k] = buf[j]
            k += 1
            j += 1
        self._n = k
        if f is None:
            self._submit()
        return n

    def _submit(self, data=None):
        # start our one transfer: of `data` (a failed transfer again, or one a bus reset
        # cancelled), else of the buffer being filled, which is swapped for the other one
        if data is None:
            i = self._fill
            data = self._views[i][self._n >> 2]
            self._fill = 1 - i
            self._n = 0
        self._flight = data  # (before: the completion may run within the submit)
        if not start_transfer(self, self.ep_in, data, self._done):
            self._flight = None
            raise OSError("USB MIDI transfer refused")

    def _sent(self, ep, result, nbytes):
        data = self._flight
        self._flight = None
        if not self._up:
            return
        if result != _OK and data is not None:
            self._submit(data)  # (never dropped: a lost note-off would hold a note)
        elif self._n:
            self._submit()

    def on_reset(self):
        # the host reset the bus: transfers are cancelled without completions; what was in
        # flight goes out again first once the host has the port open again
        super().on_reset()
        self._up = False
        self._owed = self._flight
        self._flight = None

    def on_open(self):
        super().on_open()
        self._up = True
        owed = self._owed
        self._owed = None
        if owed is not None:
            self._submit(owed)
        elif self._n:
            self._submit()


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
