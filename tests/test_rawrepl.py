"""The raw REPL client (host_tools/rawrepl.py) against a fake board: a board that misses the
first Ctrl-C and Ctrl-A (still starting) is asked again; one that never answers is named."""

from __future__ import annotations

import time

import pytest

from host_tools import rawrepl


class Board:
    """A serial port to a MicroPython board that enters the raw REPL on the `answer_at`-th
    Ctrl-A (0: never) and runs any program as printing `hello`."""

    def __init__(self, answer_at: int) -> None:
        self.answer_at = answer_at
        self.ctrl_a = 0
        self.out = b""
        self.raw = False

    def write(self, data: bytes) -> int:
        for byte in data:
            if byte == 1:
                self.ctrl_a += 1
                if self.ctrl_a == self.answer_at:
                    self.raw = True
                    self.out += b"raw REPL; CTRL-B to exit\r\n>"
            elif byte == 4 and self.raw:
                self.out += b"OKhello\r\n\x04\x04>"
        return len(data)

    def read(self, n: int) -> bytes:
        time.sleep(0.01)
        chunk, self.out = self.out[:n], self.out[n:]
        return chunk


def test_a_board_that_misses_the_first_ctrl_a_is_asked_again() -> None:
    board = Board(answer_at=2)
    out, err = rawrepl.run_code("fake", "print('hello')", timeout=5.0, port=board)
    assert (out, err) == ("hello\r\n", "") and board.ctrl_a == 2


def test_a_board_that_never_answers_is_named_after_the_timeout() -> None:
    board = Board(answer_at=0)
    t0 = time.monotonic()
    with pytest.raises(rawrepl.NoRepl, match="No MicroPython prompt answered"):
        rawrepl.run_code("fake", "print('hello')", timeout=2.0, port=board)
    assert 2.0 <= time.monotonic() - t0 < 3.5 and board.ctrl_a >= 2
