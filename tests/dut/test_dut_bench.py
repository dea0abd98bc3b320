"""BenchDut: a board at an address; start() checks reachability only."""

import socket

import pytest

from rig.dut import BenchDut, Dut, DutError
from rig.netutil import free_port


def test_reachable_board():
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        dut = BenchDut(f"http://127.0.0.1:{port}/", serial_number="HAN-123")
        assert isinstance(dut, Dut)
        with dut as d:
            assert d.http_url == f"http://127.0.0.1:{port}"
            assert d.modbus_address == ("127.0.0.1", 502)
            assert d.log_path is None
        assert dut.stop() is None


def test_unreachable_board_names_the_address():
    port = free_port()
    dut = BenchDut(f"http://127.0.0.1:{port}", "127.0.0.1", 5020, "HAN-404", timeout=0.3)
    with pytest.raises(DutError, match=rf"HAN-404 is not reachable.*127\.0\.0\.1:{port}"):
        dut.start()


def test_bad_url():
    with pytest.raises(ValueError, match="http://HOST"):
        BenchDut("192.168.1.20:80")
