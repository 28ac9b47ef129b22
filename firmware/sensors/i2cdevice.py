"""Shared base of the I2C drivers: one short transaction per read(), fault and back-off.

A driver is a small state machine. Its _step(now_us) does at most one I2C transaction and
either asks to run again on the next read() (self._timed = False) or at a later time
(self._timed = True, self._due_us = ticks_add(...)). States below _RUN probe and configure
the chip; begin() runs them all at once, read() one per call when recovering after a re-plug,
so a recovering sensor never stalls the tick. Any OSError (or a stalled chip) sets fault,
goes back to probing, and retries after a back-off of 50 ms doubling to 1 s. After a timeout
(a stuck bus), a retry first reads the bus lines (`bus_lines`): SDA alone held low is a chip
stuck mid-byte, which a recovery may free; SCL low too means no pull-ups (the sensor's board
unplugged) or a short, which nothing here can fix. Either way no transaction is tried while a
line is low: each would wait out the I2C timeout (6 ms for a register read on an emulated
RP2040, and a recovery ~13 ms) in the middle of the play loop.
"""

from time import ticks_add, ticks_diff

from micropython import const

_BACKOFF_FIRST_US = const(50_000)
_BACKOFF_MAX_US = const(1_000_000)
# Two timeouts in a row mean a stuck bus (a chip holding SDA low): call recover().
_TIMEOUTS_BEFORE_RECOVERY = const(2)
_SCL_HIGH = const(2)  # bus_lines(): SCL high, SDA low
_LINES_HIGH = const(3)  # bus_lines(): both high, the bus is free

EIO = const(5)
ENODEV = const(19)
ENODATA = const(61)
ETIMEDOUT = const(110)

PROBE = const(0)

# Static strings: setting fault_text never allocates.
_TEXT_EIO = "sensor not answering: check its cable"
_TEXT_NODEV = "a different chip answers at this address"
_TEXT_NODATA = "sensor stopped measuring"
_TEXT_TIMEDOUT = "I2C bus stuck: check wiring and pull-ups"
_TEXT_OTHER = "sensor error"


def fault_text(err):
    """The plain-words reason for an errno-like fault code ('' for 0)."""
    if err == 0:
        return ""
    if err == EIO:
        return _TEXT_EIO
    if err == ENODEV:
        return _TEXT_NODEV
    if err == ENODATA:
        return _TEXT_NODATA
    if err == ETIMEDOUT:
        return _TEXT_TIMEDOUT
    return _TEXT_OTHER


class I2CDevice:
    """Base of VL6180X and LPS22. Subclasses set _RUN, REST and implement _step(now_us)."""

    KIND = "analog"
    REST = 0
    _RUN = 1  # first state of the measuring loop; begin() stops there

    def __init__(self, i2c, address, recover=None, bus_lines=None):
        self._i2c = i2c
        self._address = address
        self._recover = recover  # callable returning a fresh I2C object after a bus reset
        self._bus_lines = bus_lines  # callable: SDA level | SCL level << 1 (3: both high)
        self.value = self.REST
        self.fault = 0
        self.fault_text = ""
        self._state = PROBE
        self._timed = False
        self._due_us = 0
        self._backoff_us = _BACKOFF_FIRST_US
        self._timeouts = 0

    def begin(self):
        """Probe and configure now (a few ms of I2C). Sets fault instead of raising."""
        self._state = PROBE
        self._timed = False
        try:
            while self._state < self._RUN:
                self._step(0)
        except OSError as e:
            self._fail(e, None)

    def read(self, now_us):
        if self._timed and ticks_diff(now_us, self._due_us) < 0:
            return self.value
        if self.fault == ETIMEDOUT and not self._bus_usable(now_us):
            return self.value
        try:
            self._step(now_us)
        except OSError as e:
            self._fail(e, now_us)
        return self.value

    def _step(self, now_us):
        raise NotImplementedError

    def _bus_usable(self, now_us):
        # fault path only, after a timeout: try the bus again only once both lines are high
        lines = self._bus_lines
        if lines is None:
            return True
        state = lines()
        if state == _SCL_HIGH:  # SDA held: a stuck chip
            self._recover_bus()
            state = lines()
        if state == _LINES_HIGH:
            return True
        self._back_off(now_us)
        return False

    def _recover_bus(self):
        # nine clocks and a STOP (hardware.py), then a fresh I2C object; nothing without one
        recover = self._recover
        if recover is not None:
            try:
                self._i2c = recover()
            except OSError:
                pass

    def _back_off(self, now_us):
        # wait before the next try, twice as long as the last time (up to _BACKOFF_MAX_US)
        self._wait(now_us, self._backoff_us)
        self._backoff_us = min(self._backoff_us * 2, _BACKOFF_MAX_US)

    def _wait(self, now_us, delay_us):
        self._due_us = ticks_add(now_us, delay_us)
        self._timed = True

    def _ok(self):
        """A good reading arrived: the sensor is healthy again."""
        if self.fault:
            self.fault = 0
            self.fault_text = ""
        self._backoff_us = _BACKOFF_FIRST_US
        self._timeouts = 0

    def _fail(self, e, now_us):
        # Fault path only (rare): the exception object is already allocated by the raiser.
        err = e.args[0] if e.args else EIO
        if not isinstance(err, int) or err <= 0:
            err = EIO
        self.fault = err
        self.fault_text = fault_text(err)
        self._state = PROBE
        if err == ETIMEDOUT:
            self._timeouts += 1
            if self._timeouts >= _TIMEOUTS_BEFORE_RECOVERY:
                self._timeouts = 0
                self._recover_bus()
        if now_us is None:
            self._timed = False  # begin() failed: retry on the first read()
        else:
            self._back_off(now_us)
