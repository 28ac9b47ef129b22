"""Register-level models of the I2C sensor chips, for the simulator and the driver tests.

A chip answers raw I2C transactions the way the datasheet says the part does, so the real
firmware drivers can run against it unchanged:

    chip = VL6180XChip(clock=lambda: world.now_us)   # clock: µs ticks; None = instant results
    chip.write(b"\\x00\\x18\\x01")                   # register address bytes, then data
    chip.read(1)                                     # from the register pointer, auto-increment
    chip.set_distance_mm(80)                         # the simulated world moves the hand
    chip.connected = False                           # unplugged: every transaction raises EIO

A fake machine.I2C routes by address: writeto(a, buf) = write(buf); readfrom(a, n) = read(n);
writeto_mem(a, reg, buf, addrsize) = write(reg bytes + buf); readfrom_mem(_into)(a, reg, n,
addrsize) = write(reg bytes) then read(n); scan() = addresses of connected chips.
Each chip checks the driver's side of the conversation and appends a plain sentence to
`errors` for every datasheet rule broken (tests assert it stays empty); `log` keeps the
latest transactions as ("write"|"read", register, bytes).

SIMULATED (at the end) says, per sensor type, what the simulator feeds it and which chip
stands in for an I2C one: the world wires every channel through it and the firmware's registry.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

TICKS_PERIOD = 1 << 30  # MicroPython's ticks_us wraps here
_TICKS_HALF = TICKS_PERIOD // 2
_MAX_ERRORS = 100
_BYTE = tuple(bytes((i,)) for i in range(256))  # one-byte reads without a bytes() call


def ticks_diff(a: int, b: int) -> int:
    """A - b on the wrapping ticks clock, like time.ticks_diff on MicroPython."""
    half = TICKS_PERIOD // 2
    return ((a - b + half) % TICKS_PERIOD) - half


class I2CChip:
    """What every modelled chip shares: address, plug state, register pointer, log, errors."""

    ADDRESS_BYTES = 1

    def __init__(self, address: int, clock: Callable[[], int] | None = None) -> None:
        self.address = address
        self.clock = clock
        self._connected = True
        self.stuck = False  # True: the chip holds SDA low; the bus times out until released
        self.log: deque[tuple[str, int, bytes]] = deque(maxlen=4096)
        self.errors: list[str] = []
        self.writes = 0
        self.reads = 0
        self.pointer = 0
        self.regs: dict[int, int] = {}
        # The class's flags (below), copied onto the instance: faster to read on CPython 3.11.
        cls = type(self)
        self._plain_advance = cls._plain_advance
        self._plain_registers = cls._plain_registers
        self._has_after_read = cls._has_after_read
        self.power_on_reset()

    # -- plugging -------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    @connected.setter
    def connected(self, value: bool) -> None:
        if value and not self._connected:
            self.power_on_reset()  # plugging back in powers the chip up from scratch
        self._connected = bool(value)

    def unplug(self) -> None:
        self.connected = False

    def plug_in(self) -> None:
        self.connected = True

    def release(self) -> None:
        """The bus was recovered (9 clocks and a STOP): the chip lets go of SDA."""
        self.stuck = False

    # -- I2C transactions -----------------------------------------------------------------
    # A bus transaction runs every couple of milliseconds of the firmware's loop, so these avoid
    # per-byte method calls and bytes() constructions where the subclass keeps the stock
    # registers (the class flags below), with the same effects either way.

    def write(self, data: bytes) -> None:
        """One I2C write transaction: register address bytes, then data (auto-increment)."""
        self._answer()
        if type(data) is not bytes:
            data = bytes(data)
        self.writes += 1
        if not data:
            return  # address-only probe, as scan() sends
        n = self.ADDRESS_BYTES
        if len(data) < n:
            self._error(f"a write of {len(data)} byte(s) is shorter than the register address")
            return
        if n == 2:
            reg = (data[0] << 8) | data[1]
        elif n == 1:
            reg = data[0]
        else:
            reg = int.from_bytes(data[:n], "big")
        self.pointer = reg
        payload = data[n:]
        self.log.append(("write", reg, payload))
        if payload:
            store = self._store
            if self._plain_advance:
                for value in payload:
                    store(reg, value)
                    reg += 1
                    self.pointer = reg
            else:
                for value in payload:
                    store(self.pointer, value)
                    self.pointer = self._advance(self.pointer)

    def read(self, n: int) -> bytes:
        """One I2C read transaction of n bytes from the register pointer."""
        self._answer()
        self.reads += 1
        return self._read_from(self.pointer, n)

    def read_register(self, reg: int, n: int) -> bytes:
        """write(the ADDRESS_BYTES of `reg`) then read(n), as one call with the same effects:
        the fake I2C's readfrom_mem on a chip with `stock_transactions`."""
        # self._answer(), inline, once: the address write and the read are one transaction
        if not self._connected:
            raise OSError(errno.EIO, "I2C device not answering (unplugged)")
        if self.stuck:
            raise OSError(errno.ETIMEDOUT, "I2C bus stuck")
        self._update()
        self.writes += 1
        self.reads += 1
        self.pointer = reg
        self.log.append(("write", reg, b""))
        if not self._plain_registers:
            return self._read_from(reg, n)
        # self._read_from(reg, n), inline
        get = self.regs.get
        if n == 1:
            out = _BYTE[get(reg, 0) & 0xFF]
        elif n == 3:
            out = bytes((get(reg, 0) & 0xFF, get(reg + 1, 0) & 0xFF, get(reg + 2, 0) & 0xFF))
        else:
            out = bytes([get(r, 0) & 0xFF for r in range(reg, reg + n)])
        if n > 0:
            self.pointer = reg + n
        self.log.append(("read", reg, out))
        if self._has_after_read:
            self._after_read(reg, n)
        return out

    def _read_from(self, start: int, n: int) -> bytes:
        if self._plain_registers:  # the stock _load and _advance
            regs = self.regs
            get = regs.get
            if n == 1:
                out = _BYTE[get(start, 0) & 0xFF]
            elif n == 3:
                out = bytes(
                    (get(start, 0) & 0xFF, get(start + 1, 0) & 0xFF, get(start + 2, 0) & 0xFF)
                )
            elif n == 2:
                out = bytes((get(start, 0) & 0xFF, get(start + 1, 0) & 0xFF))
            else:
                out = bytes([get(r, 0) & 0xFF for r in range(start, start + n)])
            if n > 0:
                self.pointer = start + n
        else:
            buf = bytearray()
            for _ in range(n):
                buf.append(self._load(self.pointer) & 0xFF)
                self.pointer = self._advance(self.pointer)
            out = bytes(buf)
        self.log.append(("read", start, out))
        if self._has_after_read:
            self._after_read(start, n)
        return out

    # What a class keeps of the stock methods (set for each subclass), so the shortcuts above
    # apply only where they give the stock behaviour.
    _plain_advance = True  # _advance is reg + 1
    _plain_registers = True  # ... and _load is regs.get(reg, 0)
    _has_after_read = False  # _after_read does something
    stock_transactions = True  # write, read, _answer and connected are I2CChip's

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_advance = cls._advance is I2CChip._advance
        cls._plain_registers = cls._plain_advance and cls._load is I2CChip._load
        cls._has_after_read = cls._after_read is not I2CChip._after_read
        cls.stock_transactions = (
            cls.write is I2CChip.write
            and cls.read is I2CChip.read
            and cls._answer is I2CChip._answer
            and cls.connected is I2CChip.connected
        )

    # -- for subclasses -------------------------------------------------------------------
    def power_on_reset(self) -> None:
        raise NotImplementedError

    def _update(self) -> None:
        """Bring measurements up to date with the clock (called before each transaction)."""

    def _store(self, reg: int, value: int) -> None:
        self.regs[reg] = value

    def _load(self, reg: int) -> int:
        return self.regs.get(reg, 0)

    def _advance(self, reg: int) -> int:
        return reg + 1

    def _after_read(self, start: int, n: int) -> None:
        pass

    def _now(self) -> int | None:
        return None if self.clock is None else self.clock()

    def _error(self, text: str) -> None:
        if len(self.errors) < _MAX_ERRORS:
            self.errors.append(text)

    def _answer(self) -> None:
        if not self._connected:
            raise OSError(errno.EIO, "I2C device not answering (unplugged)")
        if self.stuck:
            raise OSError(errno.ETIMEDOUT, "I2C bus stuck")
        self._update()


class VL6180XChip(I2CChip):
    """ST VL6180X proximity sensor: 16-bit register addresses, single-shot and continuous."""

    ADDRESS_BYTES = 2
    MODEL_ID = 0xB4
    FAR = 255
    # ST AN4545 "mandatory: private registers": must be loaded after a fresh reset.
    PRIVATE_SETTINGS = {
        0x0207: 0x01, 0x0208: 0x01, 0x0096: 0x00, 0x0097: 0xFD, 0x00E3: 0x00, 0x00E4: 0x04,
        0x00E5: 0x02, 0x00E6: 0x01, 0x00E7: 0x03, 0x00F5: 0x02, 0x00D9: 0x05, 0x00DB: 0xCE,
        0x00DC: 0x03, 0x00DD: 0xF8, 0x009F: 0x00, 0x00A3: 0x3C, 0x00B7: 0x00, 0x00BB: 0x3C,
        0x00B2: 0x09, 0x00CA: 0x09, 0x0198: 0x01, 0x01B0: 0x17, 0x01AD: 0x00, 0x00FF: 0x05,
        0x0100: 0x05, 0x0199: 0x05, 0x01A6: 0x1B, 0x01AC: 0x3E, 0x01A7: 0x1F, 0x0030: 0x00,
    }  # fmt: skip
    REG_MODEL_ID = 0x000
    REG_INTERRUPT_CONFIG = 0x014
    REG_INTERRUPT_CLEAR = 0x015
    REG_FRESH_OUT_OF_RESET = 0x016
    REG_SYSRANGE_START = 0x018
    REG_INTERMEASUREMENT = 0x01B
    REG_MAX_CONVERGENCE = 0x01C
    REG_RANGE_STATUS = 0x04D
    REG_INTERRUPT_STATUS = 0x04F
    REG_RANGE_VAL = 0x062
    REG_AVERAGING = 0x10A
    ERROR_SYSTEM = 1  # VCSEL continuity test: what an unconfigured part may report
    ERROR_ECE = 6  # early convergence estimate failed: nothing in view
    ERROR_OVERFLOW = 15

    def __init__(
        self,
        address: int = 0x29,
        clock: Callable[[], int] | None = None,
        distance_mm: int | None = None,
    ) -> None:
        self._distance = distance_mm
        super().__init__(address, clock)

    def set_distance_mm(self, value: int | None) -> None:
        """Distance of the nearest target; None (or beyond ~255 mm) = nothing in view."""
        if value is None:
            self._distance = None
        else:  # max(0, int(value)), without the two builtin calls for an int (every poll)
            if type(value) is not int:
                value = int(value)
            self._distance = value if value > 0 else 0

    def power_on_reset(self) -> None:
        self.regs = {
            self.REG_MODEL_ID: self.MODEL_ID, 0x001: 0x01, 0x002: 0x03,
            self.REG_FRESH_OUT_OF_RESET: 0x01, self.REG_MAX_CONVERGENCE: 0x31,
            self.REG_AVERAGING: 0x30, self.REG_RANGE_STATUS: 0x01,
        }  # fmt: skip
        self.pointer = 0
        self.configured = False
        self.samples = 0
        self._measuring = False
        self._continuous = False
        self._done_at: int | None = None

    # -- measurement model ----------------------------------------------------------------
    def _conversion_us(self) -> int:
        averaging = 1300 + self.regs.get(_VL_REG_AVERAGING, 0x30) * 645 // 10
        max_convergence = self.regs.get(_VL_REG_MAX_CONVERGENCE, 0x31) * 1000
        if self._distance is None or self._distance >= _VL_FAR:
            convergence = 1500  # the early convergence estimate gives up quickly
        else:
            convergence = min(500 + 10 * self._distance, max_convergence)
        return averaging + convergence

    def _begin_measurement(self) -> None:
        self._measuring = True
        self.regs[_VL_REG_RANGE_STATUS] &= 0xF0  # device_ready = 0 while measuring
        now = self._now()
        self._done_at = None if now is None else now + self._conversion_us()

    def _update(self) -> None:
        if not self._measuring:
            return
        clock = self.clock  # (self._now() and ticks_diff(), inline: this runs on every poll)
        if clock is not None:
            now = clock()
            done = self._done_at
            if (
                now is not None
                and done is not None
                and (now - done + _TICKS_HALF) % TICKS_PERIOD < _TICKS_HALF
            ):
                return
        self._complete()
        if self._continuous:
            period_us = (self.regs.get(_VL_REG_INTERMEASUREMENT, 0xFF) + 1) * 10_000
            self._begin_measurement()
            if self._done_at is not None:
                self._done_at += max(0, period_us - self._conversion_us())

    def _complete(self) -> None:
        self._measuring = False
        if not self.configured:
            code, value = _VL_ERROR_SYSTEM, _VL_FAR
        elif self._distance is None:
            code, value = _VL_ERROR_ECE, _VL_FAR
        elif self._distance >= _VL_FAR:
            code, value = _VL_ERROR_OVERFLOW, _VL_FAR
        else:
            code, value = 0, self._distance
        self.regs[_VL_REG_RANGE_VAL] = value
        self.regs[_VL_REG_RANGE_STATUS] = (code << 4) | 0x01
        if (self.regs.get(_VL_REG_INTERRUPT_CONFIG, 0) & 0x07) == 0x04:
            status = self.regs.get(_VL_REG_INTERRUPT_STATUS, 0)
            self.regs[_VL_REG_INTERRUPT_STATUS] = (status & ~0x07) | 0x04
        self.samples += 1

    # -- register side effects ------------------------------------------------------------
    def _store(self, reg: int, value: int) -> None:
        if reg == _VL_REG_INTERRUPT_CLEAR:
            status = self.regs.get(_VL_REG_INTERRUPT_STATUS, 0)
            if value & 0x01:
                status &= ~0x07
            if value & 0x02:
                status &= ~0x38
            if value & 0x04:
                status &= ~0xC0
            self.regs[_VL_REG_INTERRUPT_STATUS] = status
        elif reg == _VL_REG_FRESH_OUT_OF_RESET:
            if not value & 1 and self.regs.get(reg, 0) & 1:
                missing = [r for r, v in self.PRIVATE_SETTINGS.items() if self.regs.get(r) != v]
                for r in missing:
                    self._error(
                        f"private register 0x{r:03X} was not set to "
                        f"0x{self.PRIVATE_SETTINGS[r]:02X} (AN4545) before "
                        "SYSTEM__FRESH_OUT_OF_RESET was cleared"
                    )
                self.configured = not missing
            self.regs[reg] = value & 1
        elif reg == _VL_REG_SYSRANGE_START:
            self._start(value)
        elif reg in (_VL_REG_MODEL_ID, _VL_REG_RANGE_STATUS, _VL_REG_INTERRUPT_STATUS,
                     _VL_REG_RANGE_VAL):  # fmt: skip
            self._error(f"wrote 0x{value:02X} to read-only register 0x{reg:03X}")
        else:
            self.regs[reg] = value

    def _start(self, value: int) -> None:
        if not value & 0x01:
            return
        if not self.configured:
            self._error("ranging started before the AN4545 settings were loaded")
        if value & 0x02:  # continuous mode: the start bit toggles it
            self._continuous = not self._continuous
            if self._continuous and not self._measuring:
                self._begin_measurement()
            return
        if self._continuous:  # a single-shot start stops continuous ranging
            self._continuous = False
            return
        if self._measuring:
            self._error("SYSRANGE__START written while a measurement was running")
            return
        if self.regs.get(_VL_REG_INTERRUPT_STATUS, 0) & 0x07:
            self._error("a measurement was started before the last result's interrupt was cleared")
        self._begin_measurement()


# VL6180XChip's constants as module globals for its per-transaction methods (faster to load).
_VL_ERROR_ECE = VL6180XChip.ERROR_ECE
_VL_ERROR_OVERFLOW = VL6180XChip.ERROR_OVERFLOW
_VL_ERROR_SYSTEM = VL6180XChip.ERROR_SYSTEM
_VL_FAR = VL6180XChip.FAR
_VL_REG_AVERAGING = VL6180XChip.REG_AVERAGING
_VL_REG_FRESH_OUT_OF_RESET = VL6180XChip.REG_FRESH_OUT_OF_RESET
_VL_REG_INTERMEASUREMENT = VL6180XChip.REG_INTERMEASUREMENT
_VL_REG_INTERRUPT_CLEAR = VL6180XChip.REG_INTERRUPT_CLEAR
_VL_REG_INTERRUPT_CONFIG = VL6180XChip.REG_INTERRUPT_CONFIG
_VL_REG_INTERRUPT_STATUS = VL6180XChip.REG_INTERRUPT_STATUS
_VL_REG_MAX_CONVERGENCE = VL6180XChip.REG_MAX_CONVERGENCE
_VL_REG_MODEL_ID = VL6180XChip.REG_MODEL_ID
_VL_REG_RANGE_STATUS = VL6180XChip.REG_RANGE_STATUS
_VL_REG_RANGE_VAL = VL6180XChip.REG_RANGE_VAL
_VL_REG_SYSRANGE_START = VL6180XChip.REG_SYSRANGE_START


class LPS22Chip(I2CChip):
    """ST LPS22HB / LPS22HH pressure sensor: 8-bit registers, ODR sampling, block data update."""

    WHO_AM_I = {"LPS22HB": 0xB1, "LPS22HH": 0xB3}
    ODR_HZ = {
        "LPS22HB": (0, 1, 10, 25, 50, 75, 75, 75),
        "LPS22HH": (0, 1, 10, 25, 50, 75, 100, 200),
    }
    REG_WHO_AM_I = 0x0F
    REG_CTRL1 = 0x10
    REG_CTRL2 = 0x11
    REG_STATUS = 0x27
    REG_PRESS_XL = 0x28
    REG_PRESS_H = 0x2A
    REG_TEMP_L = 0x2B
    REG_TEMP_H = 0x2C
    P_DA, T_DA, P_OR, T_OR = 0x01, 0x02, 0x10, 0x20
    READ_ONLY = frozenset({REG_WHO_AM_I, REG_STATUS, 0x28, 0x29, 0x2A, 0x2B, 0x2C})

    def __init__(
        self,
        address: int = 0x5D,
        model: str = "LPS22HB",
        clock: Callable[[], int] | None = None,
        pressure_pa: int = 101_325,
    ) -> None:
        if model not in self.WHO_AM_I:
            raise ValueError(f"model must be one of {sorted(self.WHO_AM_I)}, not {model!r}")
        self.model = model
        self._pressure_pa = int(pressure_pa)
        self._temperature_c100 = 2500
        super().__init__(address, clock)

    def set_pressure_pa(self, value: int) -> None:
        """Absolute pressure at the port (101325 Pa = sea-level atmosphere)."""
        self._pressure_pa = int(value)

    def set_temperature_c(self, value: float) -> None:
        self._temperature_c100 = round(value * 100)

    def power_on_reset(self) -> None:
        self.regs = {self.REG_WHO_AM_I: self.WHO_AM_I[self.model], self.REG_CTRL1: 0x00,
                     self.REG_CTRL2: 0x10, self.REG_STATUS: 0x00}  # fmt: skip
        self.pointer = 0
        self.samples = 0
        self._next_sample_at: int | None = None
        self._partial = False  # a read stopped between PRESS_OUT_XL and PRESS_OUT_H
        self._pending = False  # a sample is waiting for the partial read to finish (BDU)

    # -- measurement model ----------------------------------------------------------------
    def _odr_hz(self) -> int:
        return self.ODR_HZ[self.model][(self.regs[self.REG_CTRL1] >> 4) & 0x07]

    def _update(self) -> None:
        hz = self._odr_hz()
        if hz == 0:
            return
        now = self._now()
        if now is None:
            self._sample()  # no clock: every transaction sees a fresh sample
            return
        if self._next_sample_at is None:
            self._next_sample_at = now + 1_000_000 // hz
            return
        if ticks_diff(now, self._next_sample_at) >= 0:
            self._sample()
            period = 1_000_000 // hz
            while ticks_diff(now, self._next_sample_at) >= 0:
                self._next_sample_at += period

    def _sample(self) -> None:
        if self.regs[self.REG_CTRL1] & 0x02 and self._partial:
            self._pending = True  # block data update: keep the half-read sample intact
            return
        raw = round(self._pressure_pa * 4096 / 100)
        raw = max(-(1 << 23), min((1 << 23) - 1, raw)) & 0xFFFFFF
        temp = self._temperature_c100 & 0xFFFF
        self.regs[0x28], self.regs[0x29], self.regs[0x2A] = raw & 0xFF, raw >> 8 & 0xFF, raw >> 16
        self.regs[self.REG_TEMP_L], self.regs[self.REG_TEMP_H] = temp & 0xFF, temp >> 8
        status = self.regs[self.REG_STATUS]
        if status & self.P_DA:
            status |= self.P_OR
        if status & self.T_DA:
            status |= self.T_OR
        self.regs[self.REG_STATUS] = status | self.P_DA | self.T_DA
        self.samples += 1

    # -- registers ------------------------------------------------------------------------
    def _advance(self, reg: int) -> int:
        return reg + 1 if self.regs[self.REG_CTRL2] & 0x10 else reg

    def _after_read(self, start: int, n: int) -> None:
        if self.regs[self.REG_CTRL2] & 0x10:
            touched = set(range(start, start + n))
        else:
            touched = {start}
            if n > 1:
                self._error("a multi-byte read with IF_ADD_INC off repeats one register")
        if touched & {0x28, 0x29, 0x2A} and self._odr_hz() == 0 and self.samples == 0:
            self._error("pressure read before measurements were started (CTRL_REG1 ODR is 0)")
        if self.REG_PRESS_H in touched:
            self.regs[self.REG_STATUS] &= ~(self.P_DA | self.P_OR)
            self._partial = False
            if self._pending:
                self._pending = False
                self._sample()
        elif touched & {0x28, 0x29}:
            self._partial = True
        if self.REG_TEMP_H in touched:
            self.regs[self.REG_STATUS] &= ~(self.T_DA | self.T_OR)

    def _store(self, reg: int, value: int) -> None:
        if reg in self.READ_ONLY:
            self._error(f"wrote 0x{value:02X} to read-only register 0x{reg:02X}")
            return
        if reg == self.REG_CTRL2:
            self._store_ctrl2(value)
            return
        if reg == self.REG_CTRL1:
            was_running = self._odr_hz() != 0
            self.regs[reg] = value
            if not was_running:
                self._next_sample_at = None
            return
        self.regs[reg] = value

    def _store_ctrl2(self, value: int) -> None:
        old = self.regs[self.REG_CTRL2]
        if value & 0x84:  # BOOT or SWRESET: back to power-on state
            self.power_on_reset()
            return
        if self.model == "LPS22HB" and value & 0x02:
            self._error("CTRL_REG2 bit 1 must be 0 on the LPS22HB")
        if self.model == "LPS22HB" and value & 0x08:
            self._error("CTRL_REG2 I2C_DIS set: the LPS22HB would stop answering on I2C")
        if self.model == "LPS22HH" and (old ^ value) & 0x02 and self._odr_hz() != 0:
            self._error("LOW_NOISE_EN changed while measuring (allowed only in power-down)")
        self.regs[self.REG_CTRL2] = value & ~0x01  # ONE_SHOT clears itself
        if value & 0x01 and self._odr_hz() == 0:
            self._sample()


# -- the simulated sensor of each type ----------------------------------------------------------


@dataclass(frozen=True)
class Simulated:
    """How the simulator stands in for one sensor type of the firmware's registry
    (firmware/sensors/__init__.py): its raw reading at rest and at a full press, in the
    registry's unit (used for channels a trace leaves out, interactive play and demo traces),
    and for an I2C type the chip model that answers on the bus and its method that takes the
    raw reading. Wiring, unit and default address come from the registry itself."""

    rest: int
    press: int
    chip: Callable[..., I2CChip] | None = None  # chip(address=..., clock=...), "i2c" wiring
    feed: str = ""  # the chip's method taking one raw reading, e.g. "set_distance_mm"
    # demo traces of a type not read through the ADC (whose own model adds its noise): the
    # reading's noise (standard deviation, raw units) and the range it is clipped to
    noise: float = 0.0
    limits: tuple[int, int] = (0, 65535)


# One entry per registry type: adding a sensor = driver file + registry entry + a line here.
SIMULATED: dict[str, Simulated] = {
    "switch": Simulated(0, 1),
    "fsr": Simulated(1600, 48000),  # read_u16: a resting pad reads a little above zero
    "ir_distance": Simulated(6000, 40000),  # read_u16: a nearer hand gives a higher voltage
    "vl6180x": Simulated(200, 20, VL6180XChip, "set_distance_mm", 1.0, (0, 255)),  # mm: closer
    "lps22": Simulated(101325, 102325, LPS22Chip, "set_pressure_pa", 3.0, (26000, 126000)),  # Pa
}
