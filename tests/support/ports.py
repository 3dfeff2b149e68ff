"""Free TCP ports for the processes tests start; no Django here, so the soak can use it too."""

import contextlib
import random
import socket
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on, below the kernel's ephemeral range.

    Outside that range on purpose: while a node is down, a client reconnecting to a
    port inside it can be handed that very port as its source and connect to itself
    (TCP simultaneous open), which would then keep the restarted node from binding.
    """
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(100):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port below the ephemeral range")
