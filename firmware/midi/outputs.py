"""MIDI outputs: USB MIDI (midi/usbport.py), 5-pin DIN MIDI on a UART and a PWM tone.

Usage: usb = UsbMidi.start("Attune Combo")   # in boot.py, so the Pico enumerates once
       out = Outputs(usb, din_uart, tone); out.send(instrument.midi)   # after every tick

Importing this module never imports usb.device (a computer without micropython-lib can still
use DinMidi and Outputs): UsbMidi.start does, through midi/usbport.py.
"""

from micropython import const

_ALL_NOTES_OFF = const(123)

_usb = None  # the port made in boot.py, found again by main.py


class UsbMidi:
    """The one USB MIDI port of this power-up (a midi.usbport.UsbMidiPort: `write(buf, start,
    n)` takes a tick's packets in one USB transfer, `is_open()` says whether a host listens)."""

    @staticmethod
    def start(product, serial=None):
        """Create the port once per power-up (a second init would re-enumerate); `serial`: the
        usbserial port to enumerate in place of the built-in one (boot.py)."""
        global _usb
        if _usb is None:
            from midi import usbport

            _usb = usbport.start(product, serial)
        return _usb

    @staticmethod
    def running():
        """The port boot.py started, or None (no USB MIDI: e.g. boot.py failed)."""
        return _usb


class DinMidi:
    """Classic 5-pin MIDI out at 31,250 baud (for hardware synths in therapy rooms)."""

    def __init__(self, uart):
        self.uart = uart
        self._msg = bytearray(3)
        self._short = bytearray(2)

    def write(self, buf, i):
        """Send packet i of buf as a MIDI message."""
        k = i * 4
        status = buf[k + 1]
        if status & 0xF0 == 0xD0:  # channel pressure has one data byte
            m = self._short
            m[0] = status
            m[1] = buf[k + 2]
        else:
            m = self._msg
            m[0] = status
            m[1] = buf[k + 2]
            m[2] = buf[k + 3]
        self.uart.write(m)


class Outputs:
    """Every way the instrument sounds: USB MIDI, DIN MIDI, a PWM tone. Unsent USB packets
    stay queued for the next tick; DIN and tone see each packet once.

    A note left sounding by an earlier boot (watchdog reset, power cut) or while no host was
    listening has no note-off coming: `clear_din()` at start-up, and each USB host that opens
    the port, get All Notes Off on all 16 MIDI channels before anything else.
    """

    def __init__(self, usb=None, din=None, tone=None):
        self.usb = usb
        self.din = din
        self.tone = tone
        self._seen = 0  # packets at the front of the queue that DIN/tone already had
        clear = bytearray(64)  # CC 123 (All Notes Off) on channels 1-16, as USB-MIDI packets
        ch = 0
        while ch < 16:
            clear[ch * 4] = 0x0B
            clear[ch * 4 + 1] = 0xB0 | ch
            clear[ch * 4 + 2] = _ALL_NOTES_OFF
            ch += 1
        self._clear = clear
        # a host that has the port open already hears whatever this boot sends
        self._heard = usb is None or usb.is_open()

    def clear_din(self):
        """All Notes Off on every channel of the DIN output (at start-up)."""
        if self.din is not None:
            ch = 0
            while ch < 16:
                self.din.write(self._clear, ch)
                ch += 1

    def check_host(self):
        """Between ticks: notice a USB host going away, so the next one hears All Notes Off."""
        usb = self.usb
        if usb is None:
            return
        if not usb.is_open():
            self._heard = False
        elif not self._heard:
            # all 16 or try again next tick (a repeated All Notes Off is harmless)
            self._heard = usb.write(self._clear, 0, 16) == 16

    def send(self, midi):
        """Send what the tick queued. Returns the number of USB packets still waiting."""
        if not self._heard:
            self.check_host()  # before any note of this boot reaches a new host
        n = midi.count
        if n == 0:
            return 0
        buf = midi.buf
        i = self._seen
        while i < n:
            if self.din is not None:
                self.din.write(buf, i)
            if self.tone is not None:
                self.tone.play(buf, i)
            i += 1
        sent = self.usb.write(buf, 0, n) if self.usb is not None else n
        midi.consume(sent)
        self._seen = n - sent
        return n - sent
