"""An analog input on an ADC pin (FSR divider, Sharp IR distance sensor), averaged in integers.

    pad = AnalogSensor(ADC(Pin(26)), oversample=4)
    pad.read(now_us)  # -> 0..65535 (read_u16 units), higher = more voltage

Cost per read: `oversample` calls to read_u16(). On an RP2040 each conversion takes 2 us
(500 ksps), but the Python call around it costs roughly 10-15 us as bytecode, so
oversample=4 is about 50 us of the 1 ms tick; 1 gives the least latency, 16 the least noise.
Averaging n reads lowers the ADC's ~1 LSB RMS noise by about sqrt(n); it does not remove the
RP2040-E11 steps near codes 512/1536/2560/3584 (the conditioner's smoothing handles those).
"""


class AnalogSensor:
    KIND = "analog"
    FULL_SCALE = 65535
    REST = 0
    # A reading pinned at 65535 for seconds is a short to 3V3, not a squeeze: a 10 kOhm FSR
    # divider tops out near 63500 and a Sharp IR sensor near 61000.
    RAIL_FAULT = True

    def __init__(self, adc, oversample=4, invert=False):
        if not 1 <= oversample <= 64:
            raise ValueError(f"oversample is {oversample}, but it must be 1 to 64 readings.")
        self._adc = adc
        self._n = oversample
        self.invert = invert
        self.fault = 0
        self.fault_text = ""

    def begin(self):
        """Nothing to configure: the ADC arrives set up. Kept for the common interface."""

    def read(self, now_us):
        adc = self._adc
        n = self._n
        total = adc.read_u16()
        i = 1
        while i < n:
            total += adc.read_u16()
            i += 1
        # At most 64 * 65535 < 2**30: stays a small int, no heap.
        return total // n
