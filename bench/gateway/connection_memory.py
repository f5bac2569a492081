"""The server's resident memory per open connection: opens N TLS connections (from 20
loopback source addresses, under the per-address cap), each sends one health request and
stays open; prints the growth of the server's RSS divided by N. 50 connections are opened
first so that allocator warm-up is not counted.
usage: connection_memory.py PORT SERVER_PID N"""
import socket
import ssl
import sys
import time

port, pid, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE  # the bench server's throwaway self-signed certificate


def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


opened = 0


def connect():
    global opened
    opened += 1
    source = (f"127.0.1.{opened % 20 + 1}", 0)
    conn = context.wrap_socket(socket.create_connection(("127.0.0.1", port), source_address=source))
    conn.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: bench\r\n\r\n")
    if not conn.recv(4096).startswith(b"HTTP/1.1 200"):
        raise RuntimeError("health request failed")
    return conn


warm = [connect() for _ in range(50)]
time.sleep(0.5)
before = rss_kib()
held = [connect() for _ in range(count)]
time.sleep(1)
print(f"{(rss_kib() - before) / count:.1f} KiB per connection ({count} connections)")
