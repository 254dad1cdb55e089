"""The Host/Origin allow-list (issue 17: ``--host 0.0.0.0`` used to turn the checks off): which names a
server answers to when bound to loopback, to every address, or with ``--allow-host``."""

import http.client
import json
import socket
import types

import pytest

import ownnet as on
from ownnet.apps.cli import main
from ownnet.apps.serve import Predictor, make_server, start_in_thread
from ownnet.apps.serve.commands import start_up_lines
from ownnet.apps.serve.hosts import HostPolicy, check_allow_hosts, host_name

MACHINE = socket.gethostname().lower()


@pytest.mark.parametrize("header, name", [
    ("127.0.0.1:8000", "127.0.0.1"), ("[::1]:8000", "::1"), ("LocalHost", "localhost"), ("::1", "::1"),
    ("mybox.lan:80", "mybox.lan"),
])
def test_host_name_drops_the_port_and_case(header, name):
    assert host_name(header) == name


def test_a_wildcard_bind_keeps_the_checks():
    hosts = HostPolicy("0.0.0.0")
    local = "192.168.1.5"  # the address a request arrived on
    for name in ("localhost", "127.0.0.1", "::1", MACHINE, "192.168.1.5"):
        assert hosts.allows(name, local), name
    # DNS rebinding: a page's own name, or another address than the one the request reached
    for name in ("evil.example", "192.168.1.6", "mybox.lan"):
        assert not hosts.allows(name, local), name
    assert hosts.allows("192.168.1.5", "::ffff:192.168.1.5")  # an IPv4 client on an IPv6 socket
    assert hosts.check_origin("http://192.168.1.5:8000", local)
    assert hosts.check_origin(None, local) and hosts.check_origin("null", local)
    assert not hosts.check_origin("http://evil.example", local)
    assert not hosts.loopback_only and "the IP address it was reached at" in hosts.describe()


def test_allow_host_adds_names_and_star_turns_the_checks_off():
    hosts = HostPolicy("0.0.0.0", ["MyBox.lan", "photos.example:8000"])
    assert hosts.allows("mybox.lan", "10.0.0.2") and hosts.allows("photos.example", "10.0.0.2")
    assert not hosts.allows("evil.example", "10.0.0.2")
    assert "mybox.lan" in hosts.describe()
    anything = HostPolicy("0.0.0.0", ["*"])
    assert anything.allows("evil.example", "10.0.0.2") and anything.check_origin("http://evil.example", "")
    assert "checks are off" in anything.describe()


def test_a_specific_address_is_a_name_too():
    hosts = HostPolicy("10.1.2.3")
    assert hosts.allows("10.1.2.3", "10.1.2.3") and not hosts.allows("10.1.2.4", "10.1.2.3")


@pytest.mark.parametrize("bad", ["", " ", "http://mybox/", "my box", "a/b", None, 3])
def test_allow_hosts_are_validated(bad):
    with pytest.raises(ValueError, match="allow_hosts: expected host names"):
        check_allow_hosts([bad])


def test_start_up_says_who_can_reach_the_server():
    def lines(host, allow=()):
        server = types.SimpleNamespace(url=f"http://{host}:8000/", hosts=HostPolicy(host, allow))
        return start_up_lines(server)

    assert len(lines("127.0.0.1")) == 1
    shared = lines("0.0.0.0")
    assert len(shared) == 2 and "without authentication" in shared[1] and MACHINE in shared[1]
    assert "--allow-host" in shared[1]
    assert "checks are off" in lines("0.0.0.0", ["*"])[1]


def test_a_served_allow_host_is_answered_and_others_are_not():
    on.manual_seed(0)
    server = make_server(Predictor(on.mlp([784, 4, 10])), port=0, allow_hosts=["mybox.lan"])
    start_in_thread(server)
    try:
        for host, status in (("mybox.lan:8000", 200), ("evil.example", 400), (MACHINE, 200)):
            connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
            connection.request("GET", "/api/info", headers={"Host": host})
            response = connection.getresponse()
            body = json.loads(response.read())
            connection.close()
            assert response.status == status, (host, body)
            if status == 400:
                assert "mybox.lan" in body["error"] and "evil.example" in body["error"]
    finally:
        server.shutdown()
        server.server_close()


def test_the_cli_refuses_a_url_as_allow_host_with_one_line(tmp_path, capsys):
    path = on.save(on.mlp([784, 4, 10]), tmp_path / "model")
    assert main(["serve", str(path), "--allow-host", "http://mybox/"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--allow-host" in err and "Traceback" not in err
