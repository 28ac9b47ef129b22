"""ST LPS22HB / LPS22HH barometric pressure sensor over I2C: squeeze bulb or sip-and-puff tube.

    breath = LPS22(i2c)          # address 0x5D (SA0 high, most breakouts) or 0x5C
    breath.begin()
    breath.read(now_us)          # -> absolute pressure in Pa, e.g. 101325 at rest

The chip measures continuously at 75 Hz with block data update; read() polls STATUS and the
three pressure bytes in one 4-byte transaction every 4 ms and keeps the newest sample.
Conversion is integer only: raw is 24-bit two's complement in 1/4096 hPa, so
Pa = raw * 100 / 4096 = raw * 25 / 1024; |raw * 25| < 2**28, a small int on MicroPython.
The reading is absolute (weather and altitude move it by kPa); the conditioner's baseline
tracks rest, and FULL_SCALE is the usable span above rest: a firm squeeze or puff is a few
kPa, 10 kPa is about the most a person can blow.
"""

from micropython import const

from sensors.i2cdevice import ENODATA, ENODEV, I2CDevice

ADDRESS = const(0x5D)
WHO_AM_I_HB = const(0xB1)
WHO_AM_I_HH = const(0xB3)
SPAN_PA = const(10_000)
STANDARD_ATMOSPHERE_PA = const(101_325)

_REG_WHO_AM_I = const(0x0F)
_REG_CTRL1 = const(0x10)
_REG_CTRL2 = const(0x11)
_REG_STATUS = const(0x27)  # followed by PRESS_OUT_XL, _L, _H

_CTRL1_75HZ_BDU = const(0x52)  # ODR 75 Hz (0b101 << 4) | BDU: bytes of one sample together
_CTRL2_ADD_INC = const(0x10)  # IF_ADD_INC: multi-byte reads auto-increment
_CTRL2_LOW_NOISE = const(0x02)  # LPS22HH only; may change only while powered down
_P_DA = const(0x01)

_POLL_US = const(4_000)
_STALL_POLLS = const(60)  # ~240 ms without a new sample: the chip reset or stopped

# States. PROBE (0) comes from I2CDevice.
_CONFIG = const(1)
_MEASURE = const(2)  # = _RUN


class LPS22(I2CDevice):
    KIND = "analog"
    FULL_SCALE = SPAN_PA
    REST = STANDARD_ATMOSPHERE_PA
    _RUN = _MEASURE

    def __init__(self, i2c, address=ADDRESS, invert=False, recover=None, bus_lines=None):
        super().__init__(i2c, address, recover, bus_lines)
        self.invert = invert  # True for "sip" instruments: less pressure plays
        self.chip = 0  # WHO_AM_I once probed: 0xB1 LPS22HB, 0xB3 LPS22HH
        self._rbuf = bytearray(4)
        self._one = memoryview(self._rbuf)[0:1]
        self._wbuf = bytearray(2)
        self._config_step = 0
        self._polls = 0

    def _write(self, reg, value):
        # writeto() with one prebuilt buffer: writeto_mem() would join two buffers on the heap.
        w = self._wbuf
        w[0] = reg
        w[1] = value
        self._i2c.writeto(self._address, w)

    def _step(self, now_us):
        state = self._state
        if state == _MEASURE:
            b = self._rbuf
            self._i2c.readfrom_mem_into(self._address, _REG_STATUS, b)
            if b[0] & _P_DA:
                raw = b[1] | (b[2] << 8) | (b[3] << 16)
                if raw & 0x800000:
                    raw -= 0x1000000
                self.value = (raw * 25 + 512) >> 10
                self._polls = 0
                self._ok()
            else:
                self._polls += 1
                if self._polls > _STALL_POLLS:
                    raise OSError(ENODATA)
            self._wait(now_us, _POLL_US)
        elif state == _CONFIG:
            # Power down, set CTRL_REG2, then start at 75 Hz (LOW_NOISE_EN needs power-down).
            step = self._config_step
            if step == 0:
                self._write(_REG_CTRL1, 0)
            elif step == 1:
                ctrl2 = _CTRL2_ADD_INC
                if self.chip == WHO_AM_I_HH:
                    ctrl2 |= _CTRL2_LOW_NOISE
                self._write(_REG_CTRL2, ctrl2)
            else:
                self._write(_REG_CTRL1, _CTRL1_75HZ_BDU)
                self._state = _MEASURE
                self._polls = 0
            self._config_step = step + 1
            self._timed = False
        else:  # PROBE
            self._i2c.readfrom_mem_into(self._address, _REG_WHO_AM_I, self._one)
            chip = self._rbuf[0]
            if chip != WHO_AM_I_HB and chip != WHO_AM_I_HH:
                raise OSError(ENODEV)
            self.chip = chip
            self._config_step = 0
            self._state = _CONFIG
            self._timed = False
