// The CPU backend against ONNX Runtime (onnxruntime-node) on the model zoo, same inputs,
// same run: batch 1 and 8, 1 and 2 threads. Each side is measured ROUNDS times,
// alternating, and keeps its best mean (a shared VM has slow minutes). ORT's N-API call
// costs ~11 µs per run, which matters only beside the tiny text models.
//   usage: node bench/cpu_zoo_vs_ort.js ZOO_DIR BUILD_DIR   (run through cpu_zoo_vs_ort.sh)
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const ort = require('onnxruntime-node');

const zoo = path.resolve(process.argv[2]);
const build = path.resolve(process.argv[3]);
const MIN_SECONDS = Number(process.env.MIN_SECONDS || 1);
const ROUNDS = Number(process.env.ROUNDS || 2);
const cases = fs.readdirSync(zoo).filter((d) => fs.existsSync(path.join(zoo, d, 'model.onnx'))).sort();

function input(dir, batch) {
  const meta = JSON.parse(fs.readFileSync(path.join(zoo, dir, 'input.json')));
  const raw = fs.readFileSync(path.join(zoo, dir, 'input.bin'));
  const row = raw.length / meta.dims[0];
  const buf = Buffer.alloc(row * batch);
  for (let r = 0; r < batch; r++) raw.copy(buf, r * row, 0, row);
  const data = meta.dtype === 'int64' ? new BigInt64Array(buf.buffer, buf.byteOffset, buf.length / 8)
    : new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  return new ort.Tensor(meta.dtype, data, [batch, ...meta.dims.slice(1)]);
}

async function ortLatency(dir, batch, threads) {
  const session = await ort.InferenceSession.create(path.join(zoo, dir, 'model.onnx'), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = { input: input(dir, batch) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  let calls = 0, elapsed = 0;
  const start = process.hrtime.bigint();
  while (elapsed < MIN_SECONDS) {
    await session.run(feeds);
    calls += 1;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  await session.release();
  return (elapsed / calls) * 1e6;
}

function ours() {
  const out = execFileSync(path.join(build, 'bench/cpu_zoo_bench'),
    [zoo, '--benchmark_format=json', `--benchmark_min_time=${MIN_SECONDS}`], { maxBuffer: 1 << 26 });
  const result = {};
  for (const b of JSON.parse(out).benchmarks) result[b.name.replace(/\/real_time$/, '')] = b.real_time;
  return result;
}

(async () => {
  const mine = {}, theirs = {};
  const keep = (best, key, value) => { best[key] = Math.min(best[key] ?? Infinity, value); };
  for (let round = 0; round < ROUNDS; round++) {
    for (const [key, value] of Object.entries(ours())) keep(mine, key, value);
    for (const dir of cases) {
      for (const batch of [1, 8]) {
        for (const threads of [1, 2]) {
          keep(theirs, `${dir.slice(4)}/b${batch}/t${threads}`, await ortLatency(dir, batch, threads));
        }
      }
    }
  }
  console.log('| model | b1 t1: ours / ORT µs (ratio) | b1 t2 | b8 t1 | b8 t2 |');
  console.log('| --- | --- | --- | --- | --- |');
  const logs = { t1: [], t2: [] };
  for (const dir of cases) {
    const name = dir.slice(4);
    const cells = [];
    for (const [batch, threads] of [[1, 1], [1, 2], [8, 1], [8, 2]]) {
      const key = `${name}/b${batch}/t${threads}`;
      const ratio = mine[key] / theirs[key];
      logs[`t${threads}`].push(Math.log(ratio));
      cells.push(`${mine[key].toFixed(0)} / ${theirs[key].toFixed(0)} (${ratio.toFixed(2)})`);
    }
    console.log(`| ${name} | ${cells.join(' | ')} |`);
  }
  const geo = (l) => Math.exp(l.reduce((a, b) => a + b, 0) / l.length).toFixed(2);
  console.log(`\ngeometric mean ours/ORT: 1 thread ${geo(logs.t1)}, 2 threads ${geo(logs.t2)}`);
})();
