"""Adding a command: a handler registered with the registry alone (no edit to console.py)
answers over the serial port, `help` lists it, and its between-tick work runs."""

from __future__ import annotations

import commands
import protocol
import pytest
from host_fake import FakeAttune, FakeSerial

from host_tools.client import Client


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for this test, so the throw-away command does not outlive it."""
    monkeypatch.setattr(commands, "HANDLERS", dict(commands.HANDLERS))
    monkeypatch.setattr(commands, "USAGE", list(commands.USAGE))
    monkeypatch.setattr(commands, "STARTS", list(commands.STARTS))
    monkeypatch.setattr(commands, "POLLS", list(commands.POLLS))
    return commands


def test_a_registered_command_answers_over_serial_and_help_lists_it(registry):
    @registry.start
    def start(con):
        con.echoes = 0

    @registry.command("echo", "echo <text>")
    def echo(con, rest):
        con.echoes += 1
        return protocol.ok({"echo": rest, "sensors": len(con.inst.channels)})

    @registry.between_ticks(40)
    def echo_news(con, now_ms):
        if con.echoes == 1:
            con.write(protocol.notice("info", "echoed once"))
            con.echoes = 2

    client = Client(FakeSerial(FakeAttune()), timeout=0.3)
    client.hello()
    assert client.request("echo hi there") == {"echo": "hi there", "sensors": 3}
    assert client.read_async(0.3) == "* info echoed once"
    usage = client.request("help")["commands"]
    assert usage[-1] == "echo <text>" and usage[0] == "hello"


def test_a_command_that_is_not_registered_is_unknown(registry):
    client = Client(FakeSerial(FakeAttune()), timeout=0.3)
    client.hello()
    assert "echo <text>" not in client.request("help")["commands"]


def test_help_lists_the_commands_in_their_usual_order_whoever_imports_first():
    client = Client(FakeSerial(FakeAttune()), timeout=0.3)
    client.hello()
    assert client.request("help")["commands"] == [
        "hello",
        "help",
        "params [offset]",
        "get <key> | get <sensor> | get global",
        "set <key> <value>",
        "reset",
        "profile list",
        "profile save [name]",
        "profile load <name>",
        "profile show <name>",
        "profile delete <name>",
        "profile rename <old> <new>",
        "status",
        "monitor <rate_hz> | monitor off",
        "calibrate <sensor> | calibrate apply | calibrate cancel | calibrate",
        "panic",
        "maintenance",
        "diagnose",
        "journal",
        "journal read <seq>",
        "journal clear <seq>",
    ]
