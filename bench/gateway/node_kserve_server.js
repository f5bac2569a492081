// The alternative a user would write instead of ModelGate, written as fast as we can make
// it (a weak reference flatters us): node:https with a cluster of workers, onnxruntime-node
// running ONNX models behind a bearer-key check, speaking KServe v2 — JSON tensors and the
// binary tensor extension (Inference-Header-Content-Length), both ways. Used by
// bench/gateway/run.sh with the same wrk settings as ModelGate.
//
// What makes it fast (each measured, bench/RESULTS.md "Speed"): one pre-created session per
// model per worker with 1 intra-op thread and sequential execution; the body read into one
// preallocated buffer when Content-Length is known; a flat `data` array copied straight into
// a Float32Array (no .flat() unless nested); the answer built as one string with its
// Content-Length (no chunked encoding) and Float32Array.join for the numbers; binary outputs
// written from the output tensor's own memory.
//
// usage: node node_kserve_server.js PORT CERT KEY API_KEY WORKERS NAME=MODEL.onnx...
'use strict';
const cluster = require('node:cluster');
const fs = require('node:fs');
const https = require('node:https');
const [port, certFile, keyFile, apiKey, workers, ...modelArgs] = process.argv.slice(2);

if (cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < Number(workers); ++i) {
    cluster.fork().on('message', () => {
      if (++ready === Number(workers)) console.log(`node listening on ${port}`);
    });
  }
} else {
  const ort = require('onnxruntime-node');
  const bearer = `Bearer ${apiKey}`;
  const models = new Map();

  const send = (res, status, body, headers) => {
    const h = headers || {'Content-Type': 'application/json'};
    h['Content-Length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    res.writeHead(status, h);
    res.end(body);
  };
  const fail = (res, status, code, error) => send(res, status, JSON.stringify({error, code}));

  // The request's FP32 input as a Float32Array: JSON data, or its bytes in the binary part.
  const inputOf = (input, binary) => {
    const count = input.shape.reduce((a, b) => a * b, 1);
    const size = input.parameters && input.parameters.binary_data_size;
    if (size !== undefined) {
      if (!binary || size !== count * 4 || binary.length < size) return null;
      const copy = new Float32Array(count);  // aligned: the body's offset may not be
      new Uint8Array(copy.buffer).set(binary.subarray(0, size));
      return copy;
    }
    let data = input.data;
    if (!Array.isArray(data)) return null;
    if (data.length > 0 && Array.isArray(data[0])) data = data.flat(Infinity);
    if (data.length !== count) return null;
    return Float32Array.from(data);
  };

  const answer = async (res, model, name, header, binary) => {
    const input = header.inputs && header.inputs[0];
    if (!input || input.name !== model.inputName || input.datatype !== 'FP32' ||
        !Array.isArray(input.shape)) {
      return fail(res, 400, 'bad_request', `expected FP32 input ${model.inputName}`);
    }
    const data = inputOf(input, binary);
    if (!data) return fail(res, 400, 'bad_request', 'shape or size mismatch');
    const results = await model.session.run(
        {[model.inputName]: new ort.Tensor('float32', data, input.shape)});
    const wantBinary = (header.parameters && header.parameters.binary_data_output) ||
        (header.outputs || []).some((o) => o.parameters && o.parameters.binary_data);
    const id = header.id !== undefined ? `"id":${JSON.stringify(header.id)},` : '';
    const names = Object.keys(results);
    if (!wantBinary) {
      const parts = names.map((n) => {
        const t = results[n];
        return `{"name":"${n}","datatype":"FP32","shape":[${t.dims.join(',')}],` +
            `"data":[${t.data.join(',')}]}`;
      });
      return send(res, 200,
          `{"model_name":"${name}","model_version":"1",${id}"outputs":[${parts.join(',')}]}`);
    }
    const parts = names.map((n) => {
      const t = results[n];
      return `{"name":"${n}","datatype":"FP32","shape":[${t.dims.join(',')}],` +
          `"parameters":{"binary_data_size":${t.data.byteLength}}}`;
    });
    const json = Buffer.from(
        `{"model_name":"${name}","model_version":"1",${id}"outputs":[${parts.join(',')}]}`);
    const body = Buffer.concat([json, ...names.map((n) => {
      const d = results[n].data;
      return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    })]);
    send(res, 200, body, {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': String(json.length),
    });
  };

  const handle = (req, res) => {
    if (req.headers.authorization !== bearer) return fail(res, 401, 'invalid_key', 'bad key');
    const match = /^\/v2\/models\/([^/]+)\/infer$/.exec(req.url);
    const model = match && models.get(match[1]);
    if (req.method !== 'POST' || !model) return fail(res, 404, 'not_found', 'no such endpoint');
    const length = Number(req.headers['content-length']);
    let body, got = 0;
    const chunks = [];
    if (Number.isInteger(length) && length > 0 && length <= 64 << 20) body = Buffer.allocUnsafe(length);
    req.on('data', (c) => {
      if (body && got + c.length <= body.length) {
        c.copy(body, got);
      } else {
        if (body) chunks.push(body.subarray(0, got));  // longer than announced
        body = null;
        chunks.push(c);
      }
      got += c.length;
    });
    req.on('end', () => {
      body = body ? body.subarray(0, got) : Buffer.concat(chunks);
      const headerLength = req.headers['inference-header-content-length'];
      const split = headerLength !== undefined ? Number(headerLength) : body.length;
      if (!Number.isInteger(split) || split < 0 || split > body.length) {
        return fail(res, 400, 'bad_request', 'bad Inference-Header-Content-Length');
      }
      let header;
      try {
        header = JSON.parse(body.toString('utf8', 0, split));
      } catch (e) {
        return fail(res, 400, 'bad_request', 'malformed JSON');
      }
      answer(res, model, match[1], header, split < body.length ? body.subarray(split) : null)
          .catch((e) => fail(res, 500, 'internal', String(e && e.message)));
    });
  };

  (async () => {
    for (const arg of modelArgs) {
      const [name, path] = arg.split('=');
      const session = await ort.InferenceSession.create(path, {
        intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
        graphOptimizationLevel: 'all'});
      models.set(name, {session, inputName: session.inputNames[0]});
    }
    https.createServer({cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile),
      noDelay: true, keepAliveTimeout: 60000}, handle)
        .listen(Number(port), '127.0.0.1', () => process.send('ready'));
  })();
}
