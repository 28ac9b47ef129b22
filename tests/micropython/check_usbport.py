"""The USB MIDI port's send path (midi/usbport.py) on real MicroPython: a tick's packets queued
and their transfer started, and the completion that sends what came meanwhile, allocate
nothing; packets reach the host whole and in order. usb.device is the VM's stand-in
(tests/micropython/usbfake/usb/device/, only on this check's path: check_diagnosis needs the VM
without usb; on the Pico it is micropython-lib's).

Run: node tests/micropython/run.mjs tests/micropython/check_usbport.py --path firmware \
     --path tests/micropython/usbfake
"""

from checks import alloc_bytes, run
from midi.packets import MidiOut
from midi.usbport import UsbMidiPort
from usb.device import core

VM_PATHS = ("tests/micropython/usbfake",)
_EP = 0x83


def _open_port():
    port = UsbMidiPort()
    port.on_open()
    return port


def check_a_send_and_its_completion_allocate_nothing():
    port = _open_port()
    midi = MidiOut()
    dev = core.get()

    def tick():
        midi.note_on(0, 60, 90)
        port.write(midi.buf, 0, midi.count)  # starts a transfer
        midi.count = 0
        midi.note_off(0, 60)
        midi.note_on(0, 64, 90)
        midi.note_off(0, 64)
        port.write(midi.buf, 0, midi.count)  # waits behind it
        midi.count = 0
        dev.complete(_EP)  # sends the two waiting
        dev.complete(_EP)

    assert alloc_bytes(tick, 200) == 0


def check_packets_reach_the_host_whole_and_in_order():
    port = _open_port()
    midi = MidiOut()
    dev = core.get()
    low = dev._usbd
    heard = []
    midi.note_on(0, 60, 90)
    assert port.write(midi.buf, 0, midi.count) == 1
    midi.count = 0
    first = bytes(low.data)
    midi.note_on(0, 64, 90)
    midi.note_on(0, 67, 90)
    assert port.write(midi.buf, 0, midi.count) == 2
    midi.count = 0
    assert bytes(low.data) == first  # nothing new started while one is in flight
    heard.append(first)
    dev.complete(_EP)
    heard.append(bytes(low.data))
    dev.complete(_EP)
    notes = [b[k + 2] for b in heard for k in range(0, len(b), 4)]
    assert notes == [60, 64, 67], notes


def check_a_failed_transfer_is_sent_again_never_dropped():
    port = _open_port()
    midi = MidiOut()
    dev = core.get()
    low = dev._usbd
    midi.note_on(0, 60, 90)
    midi.note_off(0, 60)
    assert port.write(midi.buf, 0, midi.count) == 2
    midi.count = 0
    n = low.transfers
    dev.complete(_EP, result=1)  # not completed: a note-off lost would hold the note
    assert low.transfers == n + 1 and bytes(low.data)[5:7] == b"\x80\x3c"


run(globals())
