#!/usr/bin/env python3
"""Load that knows exactly which requests succeeded.

wrk stops at its deadline with one request in flight per connection: the server answers
(and meters) those, wrk never sees them. This client finishes every request it sends, so
its count of 200 responses can be compared with the usage ledger exactly.

usage: exact_load.py URL KEY BODY_FILE CACERT SECONDS CONNECTIONS [STOP_FILE]
(STOP_FILE: also stop, after the requests in flight, once this file exists)
prints: ok=N failed=M
"""
import http.client
import os
import ssl
import sys
import threading
import time
import urllib.parse


def main():
    url, key, body_file, cacert, seconds, connections = sys.argv[1:7]
    stop_file = sys.argv[7] if len(sys.argv) > 7 else None
    target = urllib.parse.urlsplit(url)
    body = open(body_file, "rb").read()
    context = ssl.create_default_context(cafile=cacert)
    deadline = time.monotonic() + float(seconds)
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}

    def worker():
        ok = failed = 0
        connection = None
        while time.monotonic() < deadline and not (stop_file and os.path.exists(stop_file)):
            if connection is None:
                connection = http.client.HTTPSConnection(
                    target.hostname, target.port, context=context, timeout=10)
            try:
                connection.request("POST", target.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    ok += 1
                else:
                    failed += 1
                if response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                # No answer (a replica died under it): not a success, whatever the server
                # did with it.
                failed += 1
                connection.close()
                connection = None
        with lock:
            counts["ok"] += ok
            counts["failed"] += failed

    threads = [threading.Thread(target=worker) for _ in range(int(connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("ok=%d failed=%d" % (counts["ok"], counts["failed"]))


if __name__ == "__main__":
    main()
