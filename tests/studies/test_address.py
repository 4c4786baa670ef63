"""--address: a cluster that is not there, or Ray Client (ray://, refused: the Jobs API is Ray's way for Tune),
is one clear line, fast, and leaves no study folder behind."""
import socket

import pytest

from studies.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address, message", [
    ("127.0.0.1:{port}", "--address: nothing answers at 127.0.0.1:{port}"),
    ("ray://127.0.0.1:{port}", "(Ray Client) is not supported for a study; allowed: 'auto' or HOST:PORT on a node "
                               "of the cluster, or submit the study with the Jobs API"),
    ("nonsense", "--address: 'nonsense' is not allowed; allowed: 'auto' or HOST:PORT"),
])
def test_unreachable_or_malformed_address(tmp_path, capsys, address, message):
    port = free_port()
    code = main(["search", "--address", address.format(port=port), "--root", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message.format(port=port) in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []
