// The alternative a user would write instead of ModelGate: node:https with a cluster of
// workers, onnxruntime-node running one ONNX model behind a bearer-key check, speaking
// KServe v2 JSON. Used by bench/gateway/run.sh as a reference, with the same wrk settings.
// usage: node node_kserve_server.js PORT MODEL.onnx CERT KEY API_KEY WORKERS
'use strict';
const cluster = require('node:cluster');
const fs = require('node:fs');
const https = require('node:https');
const [port, modelPath, certFile, keyFile, apiKey, workers] = process.argv.slice(2);

if (cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < Number(workers); ++i) {
    cluster.fork().on('message', () => {
      if (++ready === Number(workers)) console.log(`node listening on ${port}`);
    });
  }
} else {
  const ort = require('onnxruntime-node');
  (async () => {
    const session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential'});
    const inputName = session.inputNames[0];
    const fail = (res, status, code, error) => {
      res.writeHead(status, {'Content-Type': 'application/json'});
      res.end(JSON.stringify({error, code}));
    };
    https.createServer({cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile)},
      (req, res) => {
        if (req.headers.authorization !== `Bearer ${apiKey}`) {
          return fail(res, 401, 'invalid_key', 'bad key');
        }
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', async () => {
          let body;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString());
          } catch (e) {
            return fail(res, 400, 'bad_request', 'malformed JSON');
          }
          const input = body.inputs && body.inputs[0];
          if (!input || input.name !== inputName || input.datatype !== 'FP32') {
            return fail(res, 400, 'bad_request', `expected FP32 input ${inputName}`);
          }
          const count = input.shape.reduce((a, b) => a * b, 1);
          const data = Float32Array.from(input.data.flat(Infinity));
          if (data.length !== count) return fail(res, 400, 'bad_request', 'shape mismatch');
          const results = await session.run({[inputName]: new ort.Tensor('float32', data, input.shape)});
          const outputs = Object.entries(results).map(([name, t]) => ({
            name, datatype: 'FP32', shape: t.dims, data: Array.from(t.data)}));
          res.writeHead(200, {'Content-Type': 'application/json'});
          res.end(JSON.stringify({model_name: 'fashion-mlp', model_version: '1', id: body.id, outputs}));
        });
      }).listen(Number(port), '127.0.0.1', () => process.send('ready'));
  })();
}
