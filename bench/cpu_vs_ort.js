// Runs the seed models on ONNX Runtime (onnxruntime-node) and on ModelGate's CPU backend
// (bench/cpu_backend_bench, Google Benchmark) in one run, with the same inputs, batch sizes
// and thread counts, and prints a table of latency per call and the ratio. Each side is
// measured ROUNDS times, alternating, and keeps its best mean: on a shared VM a single
// pass can land in a slow minute for one side only. A variant of ours ("fashion-cnn+direct",
// another model config) is compared with the same ONNX Runtime figure as its model.
//   usage: node bench/cpu_vs_ort.js BUILD_DIR        (run through bench/cpu_vs_ort.sh)
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const ort = require('onnxruntime-node');

const root = path.resolve(__dirname, '..');
const build = path.resolve(process.argv[2] || path.join(root, 'build'));
const models = [
  { name: 'fashion-mlp', input: 'image', type: 'float32', row: [28, 28], rowBytes: 784 * 4 },
  { name: 'fashion-cnn', input: 'image', type: 'float32', row: [1, 28, 28], rowBytes: 784 * 4 },
  { name: 'text-classifier', input: 'tokens', type: 'int64', row: [32], rowBytes: 32 * 8 },
];
const MIN_SECONDS = 0.5;
const ROUNDS = 3;

function batchInput(model, batch) {
  const ref = fs.readFileSync(path.join(root, 'examples/models', model.name + '.input.bin'));
  const rows = ref.length / model.rowBytes;
  const buf = Buffer.alloc(batch * model.rowBytes);
  for (let r = 0; r < batch; r++) ref.copy(buf, r * model.rowBytes, (r % rows) * model.rowBytes, (r % rows + 1) * model.rowBytes);
  const data = model.type === 'int64'
    ? new BigInt64Array(buf.buffer, buf.byteOffset, buf.length / 8)
    : new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  return new ort.Tensor(model.type, data, [batch, ...model.row]);
}

async function ortLatency(model, batch, threads) {
  const session = await ort.InferenceSession.create(path.join(root, 'examples/models', model.name + '.onnx'), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = { [model.input]: batchInput(model, batch) };
  for (let i = 0; i < 20; i++) await session.run(feeds);  // warm up
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < MIN_SECONDS) {
    for (let i = 0; i < 50; i++) await session.run(feeds);
    calls += 50;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  await session.release();
  return (elapsed / calls) * 1e6;  // µs per call
}

function modelgateLatencies() {
  const out = execFileSync(path.join(build, 'bench/cpu_backend_bench'),
    ['--benchmark_format=json', `--benchmark_min_time=${MIN_SECONDS}`], { maxBuffer: 1 << 26 });
  const result = {};
  for (const b of JSON.parse(out).benchmarks) result[b.name.replace(/\/real_time$/, '')] = b.real_time;
  return result;
}

(async () => {
  const ours = {}, theirs = {};
  const keep = (best, key, value) => { best[key] = Math.min(best[key] ?? Infinity, value); };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [key, value] of Object.entries(modelgateLatencies())) keep(ours, key, value);
    for (const model of models) {
      for (const batch of [1, 64]) {
        for (const threads of [1, 2]) {
          const key = `${model.name}/b${batch}/t${threads}`;
          keep(theirs, key, await ortLatency(model, batch, threads));
        }
      }
    }
  }
  const rows = [];
  for (const model of models) {
    const variants = new Set(Object.keys(ours).map((key) => key.split('/')[0])
      .filter((name) => name === model.name || name.startsWith(model.name + '+')));
    for (const name of [...variants].sort()) {
      for (const batch of [1, 64]) {
        for (const threads of [1, 2]) {
          const key = `/b${batch}/t${threads}`;
          const mine = ours[name + key], ort = theirs[model.name + key];
          rows.push([name, batch, threads, mine, ort, mine / ort]);
        }
      }
    }
  }
  console.log('| model | batch | threads | ModelGate cpu (µs) | ONNX Runtime (µs) | ratio |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [name, batch, threads, a, b, ratio] of rows) {
    console.log(`| ${name} | ${batch} | ${threads} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${ratio.toFixed(2)} |`);
  }
})();
