"""The therapist's console: runs protocol commands (docs/protocol.md) against the playing
instrument, and between ticks sends monitor, event, fault and calibration lines.

Usage: console = Console(instrument, profiles, system, stats, link.send_async)
       each loop: inst.tick(t); console.capture(); outputs.send(midi); ...; console.poll(now_ms)

The commands live in commands/, one small module each, named in MODULES below; importing a
module registers its words, usage lines and between-tick work (commands/__init__.py). `help`
lists what is registered.
"""

import commands
import protocol

# The command modules (in commands/): importing one registers its words. `help` lists them in
# this order. A new command is a new module named here.
MODULES = (
    "identity",
    "params",
    "profile",
    "status",
    "telemetry",
    "calibrate",
    "panic",
    "maintenance",
    "diagnose",
    "journal",
)
for _name in MODULES:
    __import__("commands." + _name)


class Console:
    """Executes one request line at a time (`handle`) and does the between-tick work (`poll`).

    Collaborators: `inst` (the Instrument), `settings`, `profiles` (Profiles: the one in use),
    `system` (System: who we are, reboot, maintenance), `stats` (loop figures), `write` (sends
    one asynchronous line; `write_line`, if given, one made as bytes with its newline;
    `write_frame`, if given, a meter frame's own buffer: link.send_frame). Command
    modules keep their own state on the console (see `start`).
    """

    def __init__(
        self, instrument, profiles, system, stats, write, write_line=None, write_frame=None
    ):
        self.inst = instrument
        self.settings = instrument.settings
        self.profiles = profiles
        self.system = system
        self.stats = stats
        self.write = write
        # the same for a line made as bytes with its newline (link.send_line): monitor lines
        self.write_line = write_line if write_line is not None else self._write_line
        # a meter frame's buffer, rewritten in place for each frame (link.send_frame sends the
        # latest): without a link, a copy of its text
        self.write_frame = write_frame if write_frame is not None else self._write_line
        self.now = 0  # ticks_ms of the last poll
        self.cal = None  # the calibration run (running or finished), if any: commands/calibrate
        for fn in commands.STARTS:
            fn(self)
        self._polls = tuple(p[1] for p in commands.POLLS)  # (looked up once, not every poll)

    def _write_line(self, data):
        # (a `write` that takes text only: tests' line lists)
        self.write(bytes(data).decode().rstrip())

    def capture(self):
        """Right after a tick, before its MIDI is sent (commands/telemetry.py replaces it)."""

    def handle(self, line):
        """One request line (bytes) -> its reply line (str, no newline), or None for an empty
        line. Never raises: an unexpected failure becomes `ERR internal`. A request tagged
        `@<tag> ` gets its reply tagged the same way (docs/protocol.md)."""
        tag = None
        try:
            tag, line, error = protocol.split_tag(line)
            if error:
                return error
            return protocol.tagged(tag, self._run(line))
        except Exception as e:  # a bug in a command must not stop the instrument
            return protocol.tagged(
                tag,
                protocol.err(
                    "internal",
                    "The command failed unexpectedly (" + repr(e) + "); the instrument plays on.",
                ),
            )

    def _run(self, line):
        cmd, rest, error = protocol.parse(line)
        if error:
            return error
        if not cmd:
            return None
        run = commands.HANDLERS.get(cmd)
        if run is None:
            return protocol.err(
                "unknown", "'" + cmd + "' is not a command. Send 'help' for the list."
            )
        return run(self, rest)

    def poll(self, now_ms):
        """Between ticks: each module's bounded work (faults, calibration, monitor lines...)."""
        self.now = now_ms
        for fn in self._polls:
            if fn(self, now_ms):
                return
