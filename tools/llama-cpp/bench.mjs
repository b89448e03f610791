// Times llama.cpp (node-llama-cpp's prebuilt library) on a GGUF file:
//
//	UV_THREADPOOL_SIZE=1 node bench.mjs MODEL.gguf THREADS PROMPT GENERATE
//
// prints {"prompt_tps", "decode_tps"}: a PROMPT-token prompt processed at
// once (after one untimed run), then GENERATE tokens decoded greedily after a 16-token prompt, one
// at a time (the time from the first token to the last, so the prompt is
// not counted). Token ids are fixed, not random, so runs compare.
import {getLlama} from "node-llama-cpp";

const [modelPath, threads, promptLen, gen] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const llama = await getLlama({gpu: false, build: "never", logLevel: "error", maxThreads: 0});
const model = await llama.loadModel({modelPath});
const ids = (n) => Array.from({length: n}, (_, i) => 100 + (i * 37) % 1000);

const ctx1 = await model.createContext({contextSize: promptLen + 8, threads, batchSize: promptLen});
const seq1 = ctx1.getSequence();
await seq1.evaluateWithoutGeneratingNewTokens(ids(promptLen)); // warm-up, as moxing's bench does
await seq1.clearHistory();
let t = performance.now();
await seq1.evaluateWithoutGeneratingNewTokens(ids(promptLen));
const promptTps = promptLen / ((performance.now() - t) / 1000);
await ctx1.dispose();

const ctx2 = await model.createContext({contextSize: 16 + gen + 8, threads});
let first = 0, n = 0;
for await (const token of ctx2.getSequence().evaluate(ids(16), {temperature: 0})) {
  if (++n === 1) first = performance.now();
  if (n >= gen) break;
}
const decodeTps = (n - 1) / ((performance.now() - first) / 1000);
console.log(JSON.stringify({prompt_tps: promptTps, decode_tps: decodeTps}));
await ctx2.dispose();
await model.dispose();
await llama.dispose();
