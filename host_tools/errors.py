"""Errors the `attune` tool reports to a therapist: each a plain sentence and its own exit status.

Usage: raise NoDevice("No Attune instrument is plugged in.")
"""

from __future__ import annotations

# Exit statuses, documented in `attune --help`. 2 is argparse's "the command was mistyped".
OK = 0
FAILED = 1
USAGE = 2
NO_DEVICE = 3
SEVERAL_DEVICES = 4
PORT_BUSY = 5
NOT_ATTUNE = 6
TIMEOUT = 7
REFUSED = 8
DEPLOY_FAILED = 9
BAD_FILE = 10
BAD_REPLY = 11
BAD_VALUE = 12
INTERRUPTED = 130

EXIT_CODES = (
    (OK, "done"),
    (FAILED, "something else went wrong (the message says what)"),
    (USAGE, "the command was typed wrongly"),
    (NO_DEVICE, "no instrument (or no Pico) found"),
    (SEVERAL_DEVICES, "several found: pass --port or --device to choose"),
    (PORT_BUSY, "the port is in use by another program, or permission was denied"),
    (NOT_ATTUNE, "the device did not answer as an Attune instrument"),
    (TIMEOUT, "the instrument stopped answering"),
    (REFUSED, "the instrument refused the request (its reason is shown)"),
    (DEPLOY_FAILED, "deploy failed (compile, copy or mpremote)"),
    (BAD_FILE, "a profile file could not be read or written"),
    (BAD_REPLY, "the instrument sent a reply this tool could not read"),
    (BAD_VALUE, "a value holds characters that cannot be sent (e.g. control characters)"),
    (INTERRUPTED, "stopped with Ctrl-C"),
)


class AttuneError(Exception):
    """An error with a plain-language message and the exit status `attune` ends with."""

    exit_code = FAILED
    kind = "failed"

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "error": self.kind,
            "message": self.message,
            "exit": self.exit_code,
        }
        if self.details:
            out["details"] = self.details
        return out


class NoDevice(AttuneError):
    exit_code = NO_DEVICE
    kind = "no_device"


class SeveralDevices(AttuneError):
    exit_code = SEVERAL_DEVICES
    kind = "several_devices"


class PortBusy(AttuneError):
    exit_code = PORT_BUSY
    kind = "port_busy"


class NotAttune(AttuneError):
    exit_code = NOT_ATTUNE
    kind = "not_attune"


class DeviceTimeout(AttuneError):
    exit_code = TIMEOUT
    kind = "timeout"


class Refused(AttuneError):
    """The device answered `ERR <code> <reason>`; `reason` is its own words, shown verbatim."""

    exit_code = REFUSED
    kind = "refused"

    def __init__(self, code: str, reason: str, request: str = "") -> None:
        super().__init__(reason or ("The instrument refused '" + request + "' (" + code + ")."))
        self.code = code
        self.reason = reason
        self.request = request

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out["code"] = self.code
        out["request"] = self.request
        return out


class DeployFailed(AttuneError):
    exit_code = DEPLOY_FAILED
    kind = "deploy_failed"


class BadFile(AttuneError):
    exit_code = BAD_FILE
    kind = "bad_file"


class BadReply(AttuneError):
    """The device's reply was not what the protocol promises (garbled, or another shape)."""

    exit_code = BAD_REPLY
    kind = "bad_reply"


class BadValue(AttuneError, ValueError):
    """Something this tool was asked to send cannot go on the serial line (nothing was sent)."""

    exit_code = BAD_VALUE
    kind = "bad_value"


class ProfileExists(AttuneError):
    """A profile of that name is already on the instrument; nothing was changed."""

    exit_code = REFUSED
    kind = "exists"
