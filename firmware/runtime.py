"""The play loop: builds the instrument from /board.json and the active profile, then ticks it
at a fixed rate, serving the serial port, LED and watchdog between ticks.

Usage (main.py): import runtime; runtime.main()

A crash anywhere in a tick is logged to errors.log, every note is turned off, and the loop
starts again. While it plays, serial input is data, never control: Ctrl-C does not interrupt
(`micropython.kbd_intr(-1)`), so no byte a host sends can stop the music or reach the REPL.
The way in for mpremote and deploys is the `maintenance` command: it sets a one-shot flag file
and restarts; that boot skips the loop and the watchdog and leaves the REPL reachable (Ctrl-C
on); the next reset plays again (docs/protocol.md).
"""

import gc
import json
import os
import time

import hardware
import version
from console import Console
from instrument import Instrument, kind_defaults
from link import Link
from micropython import const, kbd_intr
from midi.outputs import DinMidi, Outputs, UsbMidi
from profiles import Profiles
from settings import Settings
from store import Store
from system import System, maintenance_requested

_PERIOD_US = const(1000)  # 1 kHz tick
_WDT_MS = const(2000)
_IDLE_GC_US = const(5000000)  # collect garbage at most this often, and only with no note held
# ...unless the serial link made garbage (replies, monitor lines) while notes are held: then at
# most this often, at a tick with no event, once this many bytes went out. Garbage left to pile
# up makes every tick slower: a bytecode function with more than ~11 words of locals and stack
# gets its frame from the heap on each call, and the search for room walks past the garbage
# (the emulated Pico's combo, `status` once a second, a switch held: 990 -> 390 ticks/s in 17 s)
_BUSY_GC_US = const(1000000)
_BUSY_GC_BYTES = const(2048)
# A collection holds up the loop (~23 ms on an RP2040), and a press made during it waits that
# long. Once one is due it comes just after a note began or ended (seen within 4 ticks): the
# client has just moved, and their next press rarely comes within 23 ms. With no such moment
# it comes anyway this long after the last collection (a client at rest, a note held still),
# or once the link has queued this much (heavy output: garbage must not pile up meanwhile)
_IDLE_GC_LATE_US = const(6000000)
_BUSY_GC_LATE_US = const(2000000)
_BUSY_GC_LATE_BYTES = const(3072)
# Whatever made it due, it waits while output is going out (`link.sending`): in the middle of a
# reply it would hold the rest up (a 12-channel `status` on the emulated Pico: 31 ms, 57 with a
# collection in it). It comes when the link is idle again, unless output has run on past this
# much, or the last one is this old (a host that keeps the port open without reading keeps the
# link sending for as long as it does)
_SENDING_GC_BYTES = const(6144)
_SENDING_GC_US = const(30000000)
_LOG_MAX = const(4096)
_SERVICE_BUDGET_US = const(400)  # serial/console work allowed after every 4th tick...
_IDLE_MARGIN_US = const(300)  # ...and while output waits, writing in a tick's idle time less
# this (a byte's I/O can take a few hundred us on a Pico when USB work lands in it)...
_IDLE_MIN_US = const(200)  # ...when that leaves at least this much
# while a tick waits for the next, the switches are looked at this often (one register load):
# a press made then is played at once, not up to a tick later (switch press to USB <= 2 ms)
_SWITCH_POLL_US = const(300)

BOARD_FILE = "board.json"
LOG_FILE = "errors.log"

INSTRUMENT = None  # the running instrument, for the simulator's probes and the REPL


def _collect_now(idle, since, just, queued, sending):
    # best when silent (a collection holds up the next tick); with notes held, a short, regular
    # pause beats slow ticks; either way just after a note began or ended if one does in time,
    # and not in the middle of a reply
    if sending and queued < _SENDING_GC_BYTES and since < _SENDING_GC_US:
        return False
    if idle and (just or since >= _IDLE_GC_LATE_US):
        return True
    if queued < _BUSY_GC_BYTES or since < _BUSY_GC_US:
        return False
    return just or queued >= _BUSY_GC_LATE_BYTES or since >= _BUSY_GC_LATE_US


class Stats:
    """Loop figures for `status`: reached tick rate, late ticks, uptime, free memory (as left
    by the last idle collection)."""

    def __init__(self):
        self.tick_hz = 0
        self.late_ticks = 0
        self.uptime_ms = 0
        self.mem_free = 0
        self.restarts = 0
        self.gc_us = 0  # how long the last garbage collection in the loop took
        self.collections = 0  # garbage collections in the loop since it started


def log_error(exc, where):
    """Append a crash report to errors.log (kept small; slow, so only on a crash)."""
    import sys

    try:
        try:
            if os.stat(LOG_FILE)[6] > _LOG_MAX:
                os.rename(LOG_FILE, LOG_FILE + ".old")
        except OSError:
            pass
        with open(LOG_FILE, "a") as f:
            f.write("--- " + where + " at " + str(time.ticks_ms()) + " ms\n")
            sys.print_exception(exc, f) if hasattr(sys, "print_exception") else f.write(
                repr(exc) + "\n"
            )
    except Exception:  # a full or read-only flash must not stop the music
        pass


class Pico(System):
    """The board under the play loop: a restart turns every note off first."""

    def __init__(self, player, firmware, board, instrument, title):
        System.__init__(self, firmware, board, instrument, title)
        self.player = player

    def reboot(self):
        import machine

        self.player.silence()
        time.sleep_ms(100)
        machine.reset()


class Player:
    """Everything the loop needs, built once per boot."""

    def __init__(self, board_file=BOARD_FILE):
        # importing (compiling) the firmware left garbage between the modules: collect it
        # before building what lives for ever, so a driver compiled next finds room in one
        # piece (the combo instrument ran out of memory here on the emulated Pico, from source)
        gc.collect()
        with open(board_file) as f:
            conf = json.load(f)
        board = conf["board"]
        inst_conf = conf["instrument"]
        self.title = inst_conf.get("title", inst_conf.get("name", "instrument"))
        wiring = inst_conf["channels"]
        built = hardware.build_sensors(board, inst_conf)
        sensors = []
        kinds = []
        i = 0
        for name, sensor in built:
            sensors.append((name, sensor, wiring[i]["sensor"]))
            kinds.append((name, sensor.KIND))
            i += 1
        self.settings = Settings([s[0] for s in sensors])
        defaults = kind_defaults(kinds)
        defaults.update(inst_conf.get("profile", {}))
        self.profiles = Profiles(Store(version.FIRMWARE), self.settings, defaults)
        self.profiles.load_startup()
        self.instrument = Instrument(self.settings, sensors)
        global INSTRUMENT
        INSTRUMENT = self.instrument
        din = hardware.build_din_midi(board)
        tone_pwm = hardware.build_tone_pin(board)
        tone = None
        if tone_pwm is not None:
            from synth.tone import Tone

            tone = Tone(tone_pwm)
        usb = UsbMidi.running()
        if usb is None:
            usb = UsbMidi.start("Attune " + self.title)
        self.outputs = Outputs(usb, DinMidi(din) if din is not None else None, tone)
        self.outputs.clear_din()  # a synth on DIN may still hold a note of the last boot
        self.led = hardware.build_led(board)
        self._led_on = -1
        self.stats = Stats()
        self.system = Pico(
            self, version.FIRMWARE, board.get("id", ""), inst_conf.get("name", ""), self.title
        )
        self.link = Link()
        self.console = Console(
            self.instrument,
            self.profiles,
            self.system,
            self.stats,
            self.link.send_async,
            self.link.send_line,
            self.link.send_frame,
        )
        self.wdt = None

    def silence(self):
        """All notes off, sent now (with a few tries if the USB queue is full)."""
        midi = self.instrument.midi
        tries = 0
        while tries < 20:
            done = self.instrument.panic()
            left = self.outputs.send(midi)
            if done and left == 0:
                return
            time.sleep_ms(2)
            tries += 1

    def _led(self, now_ms):
        led = self.led
        if led is None:
            return
        if self.instrument.midi.active:
            on = 1  # a note is sounding
        elif self._faulted:
            on = (now_ms >> 7) & 1  # fast blink: a sensor needs attention
        else:
            on = 1 if (now_ms & 1023) < 60 else 0  # heartbeat: alive
        if on != self._led_on:  # (a pin write only when it changes)
            self._led_on = on
            led.value(on)

    def run(self):
        """The fixed-rate loop. Returns only through an exception."""
        inst = self.instrument
        midi = inst.midi
        outputs = self.outputs
        link = self.link
        console = self.console
        # looked up once: on MicroPython every `console.handle` makes a new bound method (16
        # bytes of heap per serial service, 4 KB/s of garbage at 1 kHz)
        handle = console.handle
        stats = self.stats
        ticks_us = time.ticks_us
        ticks_diff = time.ticks_diff
        ticks_add = time.ticks_add
        sleep_us = time.sleep_us
        ticks_ms = time.ticks_ms
        # the banked switches' register, looked at between the loop's steps: one load and a
        # compare with the bank's last reading (inst.switches_moved without a call's cost)
        bank = inst.switch_bank()
        banked = bank is not None and inst.banked > 0
        mem = bank.mem if bank is not None else [0]  # (never read without a bank)
        addr = bank.addr if bank is not None else 0
        flip = bank.flip if bank is not None else 0
        mask = bank.mask if bank is not None else 0
        # (no banked switch: nothing to look at between ticks, one sleep)
        poll_us = _SWITCH_POLL_US if banked else 2 * _PERIOD_US
        # start-up leaves ~75 KB of garbage (imports, board.json, settings): collect it now,
        # silent, rather than let it fill the heap into an automatic collection mid-note
        gc.collect()
        stats.mem_free = gc.mem_free()
        if self.wdt is None:
            self.start_watchdog()  # before any sensor is touched: a hang anywhere is caught
        kbd_intr(-1)  # serial bytes are data while playing: a Ctrl-C byte must not stop the music
        t_start = ticks_us()
        inst.begin(t_start)
        self.silence()
        nxt = ticks_us()
        t_sec = nxt
        ticks = 3  # ticks this second, plus 3 (so it restarts at 3, in the same chore phase)
        last_gc = nxt
        gc_active = 0  # notes sounding at the last collection check (a change: one began or ended)
        self._faulted = False
        while True:
            now = ticks_us()
            # switches first, and their notes sent before the analog channels' work, so a
            # switch is heard within the tick whatever else the instrument has to do
            inst.tick_switches(now)
            sent = midi.count
            if sent:  # most ticks play nothing: skip two calls (~10 us each on a Pico)
                console.capture()  # the tick's events, for monitor lines (when monitoring)
                outputs.send(midi)  # (a new USB host is greeted here or in the LED chore)
            inst.tick_analog(now)
            if midi.count and not sent:
                # (after a send this tick, the rest waits for the next: one USB transfer a
                # tick, as a transfer costs a few hundred us on a Pico)
                console.capture()
                outputs.send(midi)
            elif banked and (mem[addr] ^ flip) & mask != inst.sw_last:
                # a press made during the analog half (a few hundred us on a Pico with pads)
                # is played now, not after the chore below
                self._switch_now()
            # between ticks, one chore per tick in turn, so no tick carries them all: serial
            # and console every 4 ms is quick enough for people and cheap for the loop
            ticks += 1
            chore = ticks & 3
            # (chore 0, serial, comes last: below)
            if chore == 1:
                console.poll(ticks_ms())
            elif chore == 2:
                if self.wdt is not None:
                    self.wdt.feed()
                # collect on the first silent moment once _IDLE_GC_US have passed, not only at
                # the once-a-second check: someone pressing in time with that second (once a
                # second, say) is never silent there, and the heap then fills until an
                # automatic collection (~20 ms on an RP2040) lands in the middle of a note
                if midi.count == 0:
                    since = ticks_diff(now, last_gc)
                    active = midi.active
                    just = active != gc_active  # a note began or ended in the last 4 ticks
                    gc_active = active
                    idle = active == 0 and since >= _IDLE_GC_US
                    if _collect_now(idle, since, just, link.queued, link.sending):
                        t0 = ticks_us()
                        gc.collect()
                        stats.gc_us = ticks_diff(ticks_us(), t0)
                        stats.collections += 1
                        last_gc = now
                        link.queued = 0
                        if idle:
                            # (mem_free walks the whole heap: ~6 ms on an RP2040, so here, in
                            # the same silence, not once a second in the middle of play)
                            stats.mem_free = gc.mem_free()
            elif chore == 3:
                outputs.check_host()
                self._led(ticks_ms())
                if ticks_diff(now, t_sec) >= 1000000:
                    # once a second (seen within 4 ticks): rate over the time since the last
                    ms = ticks_diff(now, t_sec) // 1000
                    stats.tick_hz = ((ticks - 3) * 1000 + (ms >> 1)) // ms
                    stats.uptime_ms = ticks_diff(now, t_start) // 1000
                    ticks = 3  # counting starts again, keeping the chores' order
                    t_sec = now
                    self._faulted = False
                    for ch in inst.channels:
                        if ch.fault:
                            self._faulted = True
            nxt = ticks_add(nxt, _PERIOD_US)
            wait = ticks_diff(nxt, ticks_us())
            if chore == 0:
                link.service(handle, _SERVICE_BUDGET_US)
                wait = ticks_diff(nxt, ticks_us())
            elif link.busy and wait - _IDLE_MARGIN_US >= _IDLE_MIN_US:
                # output waiting: the idle rest of this tick writes it too, so replies and a
                # monitor stream move faster without making the tick late
                link.drain(wait - _IDLE_MARGIN_US)
                wait = ticks_diff(nxt, ticks_us())
            if banked and (mem[addr] ^ flip) & mask != inst.sw_last:
                # (the console's poll and the serial service take up to ~2 ms on a Pico while
                # a monitor runs: a press made meanwhile goes out as soon as they end)
                self._switch_now()
                wait = ticks_diff(nxt, ticks_us())
            if wait <= 0:
                stats.late_ticks += 1
                if wait < -4 * _PERIOD_US:
                    nxt = ticks_us()  # far behind: start afresh rather than rush to catch up
                continue
            # while the tick waits, the switches are looked at every _SWITCH_POLL_US (a register
            # load): one that moved gets its half of a tick and its note sent now, not at the
            # next tick (which reads it again)
            if wait > poll_us:
                while wait > poll_us:
                    if (mem[addr] ^ flip) & mask != inst.sw_last:
                        self._switch_now()
                        wait = ticks_diff(nxt, ticks_us())
                        continue
                    sleep_us(poll_us)
                    wait -= poll_us  # (the loop's own time: the last sleep makes up for it)
                wait = ticks_diff(nxt, ticks_us())
            if wait > 0:
                sleep_us(wait)

    def _switch_now(self):
        # a banked switch moved between two steps of the loop: the switch half of a tick
        # again, its note sent at once (the next tick reads the bank again: nothing is lost)
        midi = self.instrument.midi
        self.instrument.tick_switches(time.ticks_us())
        if midi.count:
            self.console.capture()
            self.outputs.send(midi)

    def hand_over(self):
        """Ctrl-C: the REPL takes over. A started watchdog cannot be stopped, so a timer keeps
        feeding it while the REPL is used (a soft reset ends the timer: use the `maintenance`
        command, as `attune deploy` does, before copying files with mpremote)."""
        wdt = self.wdt
        if wdt is None:
            return
        import machine

        self._feeder = machine.Timer(
            -1, mode=machine.Timer.PERIODIC, period=500, callback=lambda t: wdt.feed()
        )

    def start_watchdog(self):
        """Started as the play loop starts (never in maintenance mode); fed every 4 ticks."""
        import machine

        self.wdt = machine.WDT(timeout=_WDT_MS)


def main(board_file=BOARD_FILE):
    """Boot: maintenance mode, or build the player and keep it playing whatever happens."""
    if maintenance_requested():
        kbd_intr(3)  # the REPL is the point of maintenance mode: Ctrl-C works again
        print("Attune: maintenance mode (no play loop, no watchdog). Reset to play.")
        return
    try:
        player = Player(board_file)
    except Exception as e:  # no instrument to play: say why, plainly, and stay reachable
        log_error(e, "start-up")
        print("Attune cannot start: " + str(e))
        return
    while True:
        try:
            player.run()
        except KeyboardInterrupt:  # not from serial (kbd_intr is off while playing)
            kbd_intr(3)
            player.silence()
            player.hand_over()
            print("Attune stopped (Ctrl-C). All notes off.")
            raise
        except Exception as e:
            log_error(e, "play loop")
            player.stats.restarts += 1
            player.silence()
