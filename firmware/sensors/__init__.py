"""Sensor drivers: each turns one physical input into an int, without blocking the tick.

hardware.build_sensors() creates them from the board and instrument JSON. Every driver has
the same duck-typed interface, so instrument.py treats them alike:

    KIND          class attr: "switch" (reads 0/1) or "analog" (reads a level)
    FULL_SCALE    class attr: the largest meaningful reading, in the driver's unit
    REST          class attr: what read() returns before the first good reading
    NO_TARGET     class attr, optional: the reading that means "nothing in range" (not a
                  position: never learned as the rest point)
    RAIL_FAULT    class attr, optional: True when a reading pinned at its "most" end for
                  seconds means a wiring fault (AnalogSensor only)
    invert        instance attr, bool: True means "less = more" (a closer hand reads fewer mm)
    fault         instance attr: 0 when OK, else an errno-like int while it cannot be read
                  (5 EIO not answering, 19 ENODEV wrong chip, 61 ENODATA stopped measuring,
                  110 ETIMEDOUT bus stuck)
    fault_text    instance attr: a short plain-words reason, '' when OK (static strings)
    begin()       configures the hardware; never raises for a missing I2C sensor (sets fault)
    read(now_us)  the latest value (int); never blocks, never allocates, never raises OSError.
                  now_us is time.ticks_us(); drivers only use ticks_diff/ticks_add on it.

    driver            KIND      unit                  FULL_SCALE  REST    invert default
    Switch            switch    1 pressed, 0 not      1           0       False
    AnalogSensor      analog    read_u16 0..65535     65535       0       False
    VL6180X           analog    mm, 255 = FAR         255         255     True
    LPS22             analog    Pa (absolute)         10000 (span above rest)  101325  False

An I2C sensor that stops answering keeps returning its last good value with fault set, and
retries on its own with back-off (50 ms doubling to 1 s) until it answers, then clears fault.
"""
