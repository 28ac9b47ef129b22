"""The profile in use: its name, where its settings came from (and why), whether they changed
since, and start-up loading. The files themselves are store.py's.

Usage: profiles = Profiles(store, settings, instrument_defaults); profiles.load_startup()
"""

from micropython import const

_NOTES_MAX = const(10)  # skipped-value notes kept for `status`


def apply_values(s, values):
    """Apply stored values one by one; refused or unknown keys are skipped.

    Returns notes in plain words, one per skipped key. Two passes, so that pairs such as
    velocity_min/velocity_max settle whatever order the keys come in.
    """
    notes = []
    retry = []
    for key in values:
        if s.row(key) is None:
            notes.append(
                "'" + key + "' is not a setting of this instrument and firmware; skipped."
            )
        elif s.set(key, values[key]) is not None:
            retry.append(key)
    for key in retry:
        why = s.set(key, values[key])
        if why is not None:
            notes.append(why + " Skipped.")
    if len(notes) > _NOTES_MAX:
        more = len(notes) - _NOTES_MAX + 1
        notes = notes[: _NOTES_MAX - 1]
        notes.append("... and " + str(more) + " more.")
    return notes


class Profiles:
    """The session's profile state, for `status` and the profile commands.

    `name` (None: no profile in use), `config` ("saved", "backup" or "defaults": where the
    settings came from), `reason` (why, when not the plain saved copy), `notes` (values that
    were skipped) and `unsaved` (changed since the last save or load).
    """

    def __init__(self, store, settings, defaults=None):
        self.store = store
        self.settings = settings
        self.defaults = defaults  # the instrument's own defaults over the schema's
        self.name = None
        self.config = "defaults"
        self.reason = ""
        self.notes = []
        self.unsaved = False

    def _to_defaults(self):
        """Every setting to the schema's defaults, then the instrument's; returns notes."""
        self.settings.reset()
        extra = self.defaults
        return apply_values(self.settings, extra) if extra else []

    def _use(self, name, config, reason, notes, unsaved):
        self.name = name
        self.config = config
        self.reason = reason
        self.notes = notes
        self.unsaved = unsaved

    def load_startup(self):
        """At start-up: defaults, then the instrument's defaults, then the active stored profile.

        Returns (profile_name or None, config) with config "saved", "backup" or "defaults";
        the reason and any skipped values are kept for `status`.
        """
        notes = self._to_defaults()
        config = "defaults"
        reason = ""
        name, where, lost = self.store.pointer()
        damaged = where not in ("saved", "missing")
        if damaged and not name:
            reason = (
                "The record of which profile to start with is damaged (" + lost + "); playing "
                "with the defaults. Load the client's profile with 'profile load <name>'."
            )
        if name:
            values, src, why = self.store.load(name)
            if values is None:
                if src == "missing":
                    reason = (
                        "The start-up profile '" + name + "' is not on the flash; playing "
                        "with the defaults."
                    )
                else:
                    reason = (
                        "The start-up profile '" + name + "' is damaged and has no good "
                        "backup (" + why + "); playing with the defaults."
                    )
            else:
                notes = notes + apply_values(self.settings, values)
                config = src
                reason = why
            if damaged:
                # the backup names the profile started before the last change: perhaps
                # another client's, so say so rather than look like a normal start
                head = (
                    "The record of which profile to start with was damaged or not saved "
                    "completely (" + lost + "); "
                )
                if values is None:
                    config = "defaults"
                    reason = (
                        head
                        + "the profile it named before, '"
                        + name
                        + "', "
                        + ("could not be loaded either. " + reason)
                    )
                else:
                    config = "backup"
                    reason = (
                        head + "started with '" + name + "', the profile it named before. If "
                        "this is not the client's profile, load theirs with 'profile load "
                        "<name>'." + (" " + reason if reason else "")
                    )
        self._use(name, config, reason, notes, False)
        return name, config

    def reset(self):
        """Back to the instrument's defaults, by command (not saved)."""
        notes = self._to_defaults()
        self._use(self.name, "defaults", "Reset to the defaults by command.", notes, True)

    def load(self, name, values, config, reason):
        """Play stored `values` (read from `config`, "saved" or "backup"); returns the notes on
        skipped values (the same list `status` shows)."""
        notes = self._to_defaults()
        notes = notes + apply_values(self.settings, values)
        self._use(name, config, reason, notes, False)
        return notes

    def saved(self, name):
        """The settings in use were just saved as `name`."""
        self._use(name, "saved", "", [], False)

    def deleted(self, name):
        """`name` was deleted from the flash: if it was in use, no profile is now."""
        if self.name == name:
            self.name = None
            self.unsaved = True
            return True
        return False

    def renamed(self, old, new):
        if self.name == old:
            self.name = new
