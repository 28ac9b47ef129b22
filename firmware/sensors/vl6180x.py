"""ST VL6180X time-of-flight proximity sensor (I2C 0x29): hand distance in mm, polled.

    hand = VL6180X(i2c)     # i2c = machine.I2C(0, sda=Pin(4), scl=Pin(5), timeout=3000)
    hand.begin()
    hand.read(now_us)       # -> 0..254 mm, or FAR (255) when nothing is in range

Single-shot ranging, one I2C transaction per read(): clear the interrupt and start a
measurement (one write: SYSTEM__INTERRUPT_CLEAR to SYSRANGE__START, auto-increment), poll the
interrupt status, read RESULT__RANGE_VAL, and again. A measurement takes about 5-10 ms with a
hand in view (readout averaging 4.4 ms plus convergence), so the first poll comes when the last
measurement took (learned: 1 ms later each time it is early, 0.25 ms sooner each time it was
ready), then every 1 ms: about three transactions per fresh distance, one every 7-12 ms.
Single-shot rather than continuous mode: SYSRANGE__START toggles continuous mode, so after a
glitch the driver could not tell whether it had just stopped the sensor; a single shot is
always safe to (re)start. A measurement with a range error (no target, too far, too weak)
reads FAR. The settings follow ST AN4545 (the "private registers" after
SYSTEM__FRESH_OUT_OF_RESET) with a 30 ms maximum convergence time to bound latency.
"""

from micropython import const

from sensors.i2cdevice import ENODATA, ENODEV, I2CDevice

ADDRESS = const(0x29)
FAR = const(255)

_MODEL_ID = const(0xB4)
_REG_MODEL_ID = const(0x000)
_REG_INTERRUPT_CLEAR = const(0x015)
_REG_FRESH_OUT_OF_RESET = const(0x016)
_REG_SYSRANGE_START = const(0x018)
_REG_RANGE_STATUS = const(0x04D)  # 0x04D range status, 0x04E ALS status, 0x04F int status
_REG_RANGE_VAL = const(0x062)

_NEW_SAMPLE_READY = const(4)  # RESULT__INTERRUPT_STATUS_GPIO bits 2:0 in "new sample" mode
_FIRST_POLL_US = const(5_000)  # before the first measurement's length is known
_FIRST_MIN_US = const(4_000)  # readout averaging alone takes 4.4 ms
_FIRST_MAX_US = const(30_000)
_EARLIER_US = const(250)
_POLL_US = const(1_000)
_STALL_POLLS = const(100)  # ~100 ms without a result: the chip reset or stopped

# States. PROBE (0) comes from I2CDevice.
_FRESH = const(1)
_CONFIG = const(2)
_START = const(3)  # = _RUN: begin() stops here
_WAIT = const(4)
_RESULT = const(5)

# (register high byte, low byte, value) triples, written one per step.
# ST AN4545 "mandatory: private registers", loaded only when fresh out of reset.
# fmt: off
_SETTINGS = bytes((
    0x02, 0x07, 0x01,  0x02, 0x08, 0x01,  0x00, 0x96, 0x00,  0x00, 0x97, 0xFD,
    0x00, 0xE3, 0x00,  0x00, 0xE4, 0x04,  0x00, 0xE5, 0x02,  0x00, 0xE6, 0x01,
    0x00, 0xE7, 0x03,  0x00, 0xF5, 0x02,  0x00, 0xD9, 0x05,  0x00, 0xDB, 0xCE,
    0x00, 0xDC, 0x03,  0x00, 0xDD, 0xF8,  0x00, 0x9F, 0x00,  0x00, 0xA3, 0x3C,
    0x00, 0xB7, 0x00,  0x00, 0xBB, 0x3C,  0x00, 0xB2, 0x09,  0x00, 0xCA, 0x09,
    0x01, 0x98, 0x01,  0x01, 0xB0, 0x17,  0x01, 0xAD, 0x00,  0x00, 0xFF, 0x05,
    0x01, 0x00, 0x05,  0x01, 0x99, 0x05,  0x01, 0xA6, 0x1B,  0x01, 0xAC, 0x3E,
    0x01, 0xA7, 0x1F,  0x00, 0x30, 0x00,
    # Public settings, written after every (re)start.
    0x00, 0x11, 0x10,  # SYSTEM__MODE_GPIO1: GPIO1 = interrupt output, active low
    0x01, 0x0A, 0x30,  # READOUT__AVERAGING_SAMPLE_PERIOD: 48 (4.4 ms, AN4545 value)
    0x00, 0x31, 0xFF,  # SYSRANGE__VHV_REPEAT_RATE: temperature recalibration every 255
    0x00, 0x2E, 0x01,  # SYSRANGE__VHV_RECALIBRATE: calibrate once now
    0x00, 0x1C, 0x1E,  # SYSRANGE__MAX_CONVERGENCE_TIME: 30 ms (default 49)
    0x00, 0x14, 0x04,  # SYSTEM__INTERRUPT_CONFIG_GPIO: range "new sample ready"
    0x00, 0x16, 0x00,  # SYSTEM__FRESH_OUT_OF_RESET: our settings are loaded
))
# fmt: on
_PUBLIC_FROM = const(30 * 3)  # byte offset of the first public setting
# From SYSTEM__INTERRUPT_CLEAR (0x015) on: clear all flags; SYSTEM__FRESH_OUT_OF_RESET 0 (as
# configured); SYSTEM__GROUPED_PARAMETER_HOLD 0 (its default); SYSRANGE__START single shot.
_CLEAR_AND_START = b"\x00\x15\x07\x00\x00\x01"


class VL6180X(I2CDevice):
    KIND = "analog"
    FULL_SCALE = FAR
    REST = FAR
    NO_TARGET = FAR
    _RUN = _START

    def __init__(self, i2c, address=ADDRESS, invert=True, recover=None, bus_lines=None):
        super().__init__(i2c, address, recover, bus_lines)
        self.invert = invert
        self._rbuf = bytearray(3)
        self._one = memoryview(self._rbuf)[0:1]  # sliced once here, never in read()
        self._wbuf = bytearray(3)
        self._at = 0  # next byte offset in _SETTINGS
        self._polls = 0
        self._first_us = _FIRST_POLL_US  # when to poll first: the last measurement's length
        self._range_error = 0

    def _read(self, reg, buf):
        # 16-bit register address. readfrom_mem_into does not allocate on rp2.
        self._i2c.readfrom_mem_into(self._address, reg, buf, addrsize=16)

    def _write(self, reg, value):
        # writeto() with one prebuilt buffer: writeto_mem() would join two buffers on the heap.
        w = self._wbuf
        w[0] = reg >> 8
        w[1] = reg & 0xFF
        w[2] = value
        self._i2c.writeto(self._address, w)

    def _step(self, now_us):
        state = self._state
        if state == _WAIT:
            self._read(_REG_RANGE_STATUS, self._rbuf)
            polls = self._polls
            if (self._rbuf[2] & 7) == _NEW_SAMPLE_READY:
                self._range_error = self._rbuf[0] >> 4
                self._state = _RESULT
                self._timed = False
                # poll first a little sooner next time, so the length is followed both ways
                if polls == 0 and self._first_us > _FIRST_MIN_US:
                    self._first_us -= _EARLIER_US
            else:
                if polls == 0 and self._first_us < _FIRST_MAX_US:
                    self._first_us += _POLL_US
                polls += 1
                self._polls = polls
                if polls > _STALL_POLLS:
                    raise OSError(ENODATA)
                self._wait(now_us, _POLL_US)
        elif state == _RESULT:
            self._read(_REG_RANGE_VAL, self._one)
            self.value = FAR if self._range_error else self._rbuf[0]
            self._ok()
            self._state = _START
        elif state == _START:
            self._i2c.writeto(self._address, _CLEAR_AND_START)
            self._polls = 0
            self._state = _WAIT
            self._wait(now_us, self._first_us)
        elif state == _CONFIG:
            at = self._at
            s = _SETTINGS
            self._write((s[at] << 8) | s[at + 1], s[at + 2])
            at += 3
            self._at = at
            if at >= len(s):
                self._state = _START  # (clears anything pending as it starts)
            self._timed = False
        elif state == _FRESH:
            self._read(_REG_FRESH_OUT_OF_RESET, self._one)
            self._at = 0 if self._rbuf[0] & 1 else _PUBLIC_FROM
            self._state = _CONFIG
            self._timed = False
        else:  # PROBE
            self._read(_REG_MODEL_ID, self._one)
            if self._rbuf[0] != _MODEL_ID:
                raise OSError(ENODEV)
            self._state = _FRESH
            self._timed = False
