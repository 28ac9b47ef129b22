"""The one fake sensor of every test kit and benchmark, on CPython and in the MicroPython VM.

    pad = FakeSensor("analog", values=[2000, 2000, 9000])   # one value per read; the last holds
    hand = FakeSensor("analog", 255, invert=True, values=arr, loop=True)   # a looping trace
    knob = FakeSensor("analog", value=2000); knob.value = 40000   # the test sets the reading
    knob.fault, knob.fault_text = 5, "not answering"   # what a driver shows while it fails

It has the drivers' duck-typed interface (KIND, FULL_SCALE, RAIL_FAULT, invert, fault,
fault_text, begin, read; see firmware/sensors/__init__.py). read() allocates nothing and costs
about what a driver's cheapest read does, so the 0 bytes/tick and tick-time figures measured
with it (benchmarks/mp/bench_tick.py) are the engine's. Lives in benchmarks/mp/ because that
folder is on the VM's path for the checks and the benchmark alike; CPython test kits import it
as benchmarks.mp.fakesensor.
"""

_FULL_SCALE = {"switch": 1, "analog": 65535}


class FakeSensor:
    """kind: "switch" or "analog"; full_scale: default 1 / 65535; values: a list or array read
    back one per read() (held at the last value, or from the start again with loop=True);
    without values read() returns `value`, which a test may set at any time (that replaces
    any trace); rail_fault: a reading pinned at full scale is a wiring fault (an ADC input)."""

    def __init__(
        self,
        kind="analog",
        full_scale=0,
        values=None,
        value=0,
        invert=False,
        loop=False,
        rail_fault=False,
    ):
        self.KIND = kind
        self.FULL_SCALE = full_scale or _FULL_SCALE[kind]
        self.RAIL_FAULT = rail_fault
        self.invert = invert
        self.fault = 0
        self.fault_text = ""
        self.loop = loop
        self.begun = 0
        if values:
            self.values = values
        else:
            self.value = value

    @property
    def values(self):
        return self._values

    @values.setter
    def values(self, values):
        """A new trace, read from its start."""
        self._values = values
        self.n = len(values)
        # where read() goes after the last value: the start again, or stay on the last one
        self._restart = 0 if self.loop else self.n - 1
        self.i = 0

    @property
    def value(self):
        """What the next read() returns."""
        return self._values[self.i]

    @value.setter
    def value(self, value):
        self._values = [value]  # (a test's set, never the tick: read() allocates nothing)
        self.n = 1
        self._restart = 0
        self.i = 0

    def begin(self):
        self.begun += 1

    def read(self, now_us):
        # as cheap as a driver's read: one index, one compare, one store
        i = self.i
        v = self._values[i]
        i += 1
        self.i = i if i < self.n else self._restart
        return v
