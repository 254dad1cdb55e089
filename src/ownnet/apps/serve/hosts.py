"""Which ``Host`` (and ``Origin``) names the server answers to: its defence against DNS rebinding.

A web page on evil.example can make its own name resolve to 127.0.0.1, or to this machine's address
on the local network, and then read the server's answers as if they were its own ("DNS rebinding").
The browser still sends ``Host: evil.example``, so the server answers only requests whose ``Host``
is one of:

- a loopback name or address: ``localhost``, ``127.0.0.1``, ``::1`` (with or without a port);
- the IP address the connection arrived on, written as a number (``192.168.1.5:8000``): a page cannot
  rebind a literal address, and a client that reached the server by it may name it;
- this machine's name (``socket.gethostname()``) and the address given to ``--host`` (when it is not
  a wildcard such as ``0.0.0.0``);
- the names given with ``--allow-host`` (``allow_hosts=``), e.g. a name your network's DNS gives it.

A ``POST`` whose ``Origin`` names another host is refused in the same way. ``allow_hosts=["*"]``
turns both checks off (and ``ownnet serve`` says so when it starts).
"""

import socket
from ipaddress import ip_address
from urllib.parse import urlsplit

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")


def host_name(header):
    """``'127.0.0.1:8000'`` -> ``'127.0.0.1'``; ``'[::1]:8000'`` -> ``'::1'``; lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _as_address(name):
    """``name`` as an ``ip_address`` (IPv4-mapped IPv6 addresses as IPv4), or None for a name."""
    try:
        address = ip_address(name.strip("[]"))
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def is_loopback(name):
    address = _as_address(name)
    return name in _LOOPBACK_NAMES or (address is not None and address.is_loopback)


def check_allow_hosts(allow_hosts, name="allow_hosts"):
    """``allow_hosts`` (an iterable of host names, or ``"*"``) as a tuple of lower-case names.

    Raises ``ValueError`` for an entry that is not a host name (empty, with a space, a slash or a
    scheme): ``--allow-host`` takes names like ``mybox.lan`` or ``192.168.1.5``, not URLs.
    """
    if isinstance(allow_hosts, str):
        allow_hosts = [allow_hosts]
    names = []
    for entry in allow_hosts:
        if not isinstance(entry, str) or not entry.strip() or any(c in entry for c in " /\t@?#"):
            raise ValueError(f"{name}: expected host names such as 'mybox.lan' or '192.168.1.5' "
                             f"(or '*' for any), got {entry!r}")
        names.append(host_name(entry))
    return tuple(names)


class HostPolicy:
    """The names a server bound to ``bound_host`` answers to (see the module docstring).

    ``allows(host_header, local_address)``: may a request with this ``Host`` header, which arrived on
    ``local_address`` (the accepted socket's ``getsockname()[0]``), be answered?
    """

    def __init__(self, bound_host, allow_hosts=()):
        allowed = check_allow_hosts(allow_hosts)
        self.any_host = "*" in allowed
        self.machine_name = socket.gethostname().lower()
        self.extra_names = tuple(name for name in allowed if name != "*")
        names = set(_LOOPBACK_NAMES) | {self.machine_name} | set(self.extra_names)
        if bound_host.lower() not in WILDCARD_ADDRESSES:
            names.add(host_name(bound_host))
        self.names = frozenset(names)
        self.loopback_only = is_loopback(bound_host)

    def allows(self, name, local_address):
        """``name``: the host part of a ``Host`` header or of an ``Origin`` (see ``host_name``)."""
        if self.any_host or name in self.names or is_loopback(name):
            return True
        address = _as_address(name)
        return address is not None and address == _as_address(local_address)

    def describe(self):
        """The accepted names, for error messages and the start-up line."""
        if self.any_host:
            return "any host name (--allow-host '*': the Host and Origin checks are off)"
        shown = sorted(self.names - set(_LOOPBACK_NAMES))
        if self.loopback_only:
            return ", ".join(["localhost", "127.0.0.1", "::1", *shown])
        return ", ".join(["localhost", *shown]) + " or the IP address it was reached at"

    def check_origin(self, origin, local_address):
        """May a ``POST`` with this ``Origin`` header be answered? (None and "null": no page sent it.)"""
        if origin in (None, "null"):
            return True
        return self.allows(host_name(urlsplit(origin).netloc or "?"), local_address)
