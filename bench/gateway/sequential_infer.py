"""One keep-alive HTTPS connection sending the MLP batches of BATCH images (binary input,
JSON output, so the answer grows with the batch) one after another; prints the latency
percentiles and the answer's size.
usage: sequential_infer.py PORT KEY BATCH [REQUESTS]"""
import http.client
import json
import ssl
import struct
import sys
import time

port, key, batch = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
requests = int(sys.argv[4]) if len(sys.argv) > 4 else 200
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
data = struct.pack("<%df" % (batch * 784), *([0.5] * (batch * 784)))
header = json.dumps({
    "inputs": [{"name": "image", "datatype": "FP32", "shape": [batch, 28, 28],
                "parameters": {"binary_data_size": len(data)}}],
    "outputs": [{"name": "probabilities"}]}).encode()
headers = {"Authorization": "Bearer " + key, "Content-Type": "application/octet-stream",
           "Inference-Header-Content-Length": str(len(header))}
times = []
size = 0
for _ in range(requests):
    start = time.perf_counter()
    connection.request("POST", "/v2/models/fashion-mlp/infer", header + data, headers)
    response = connection.getresponse()
    answer = response.read()
    if response.status != 200:
        sys.exit("status %d: %s" % (response.status, answer[:200]))
    times.append((time.perf_counter() - start) * 1000)
    size = len(answer)
times.sort()
def at(q):
    return times[min(len(times) - 1, int(q * len(times)))]
print("batch %5d  answer %7d bytes  p50 %7.2f ms  p90 %7.2f  p99 %7.2f" %
      (batch, size, at(0.5), at(0.9), at(0.99)))
