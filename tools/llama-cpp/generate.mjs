// Greedy generation with llama.cpp (node-llama-cpp's prebuilt library):
//
//	node generate.mjs MODEL.gguf '[prompt token ids]' N
//
// prints {"tokens": [...]}: the N token ids llama.cpp picks greedily
// after the prompt (fewer if it stops at the end of text), on one thread.
import {getLlama} from "node-llama-cpp";

const [modelPath, prompt, n] = [process.argv[2], JSON.parse(process.argv[3]), Number(process.argv[4])];
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: Math.min(model.trainContextSize, 1024), threads: 1});
const sequence = context.getSequence();
const tokens = [];
for await (const token of sequence.evaluate(prompt, {temperature: 0})) {
  tokens.push(token);
  if (tokens.length >= n) break;
}
console.log(JSON.stringify({tokens}));
await context.dispose();
await model.dispose();
await llama.dispose();
