// The official OpenAI Node client against a moxing server: node check.mjs
// BASE_URL MODEL. It exercises what a client of OpenAI's API does (models,
// completions and chat completions, streamed and not, the stream helper,
// embeddings, errors) and exits non-zero, naming the check, when the server
// answers anything the client does not accept or a check fails.
import OpenAI from 'openai';

const [, , baseURL, model] = process.argv;
const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const checks = [];

function check(ok, what) {
  if (!ok) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
  checks.push(what);
}

const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
check(ids.includes(model), `models.list names ${model} (got ${ids})`);

const c = await client.completions.create({ model, prompt: 'a stitch', max_tokens: 8, temperature: 0 });
check(c.object === 'text_completion' && c.choices.length === 1 && c.usage.completion_tokens === 8 && c.choices[0].finish_reason === 'length',
  `completions.create: ${JSON.stringify(c)}`);

let text = '';
let finish = null;
for await (const chunk of await client.completions.create({ model, prompt: 'a stitch', max_tokens: 8, temperature: 0, stream: true })) {
  for (const ch of chunk.choices) {
    text += ch.text;
    finish = ch.finish_reason ?? finish;
  }
}
check(text === c.choices[0].text && finish === 'length', `a streamed completion is the same text: ${JSON.stringify(text)} vs ${JSON.stringify(c.choices[0].text)}`);

const messages = [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'a stitch in time?' }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 6, temperature: 0 });
check(chat.object === 'chat.completion' && chat.choices[0].message.role === 'assistant' && typeof chat.choices[0].message.content === 'string',
  `chat.completions.create: ${JSON.stringify(chat)}`);

let content = '';
let usage = null;
for await (const chunk of await client.chat.completions.create({ model, messages, max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true } })) {
  for (const ch of chunk.choices) content += ch.delta?.content ?? '';
  usage = chunk.usage ?? usage;
}
check(content === chat.choices[0].message.content && usage?.completion_tokens === chat.usage.completion_tokens,
  `a streamed chat completion is the same message with its usage: ${JSON.stringify(content)}, ${JSON.stringify(usage)}`);

const final = await client.chat.completions.stream({ model, messages, max_tokens: 6, temperature: 0 }).finalChatCompletion();
check(final.choices[0].message.content === chat.choices[0].message.content, 'the stream helper assembles the same message');

const e = await client.embeddings.create({ model, input: ['a stitch', 'in time saves nine'] });
const norm = Math.hypot(...e.data[0].embedding);
check(e.data.length === 2 && e.data[1].index === 1 && e.data[0].embedding.length > 0 && Math.abs(norm - 1) < 1e-4,
  `embeddings.create (the client asks for base64 and decodes it): norm ${norm}`);

try {
  await client.completions.create({ model, prompt: 'a', max_tokens: 1_000_000 });
  check(false, 'a completion beyond the context window is refused');
} catch (err) {
  check(err instanceof OpenAI.BadRequestError && err.status === 400 && err.param === 'max_tokens' && err.code === 'context_length_exceeded',
    `a completion beyond the context window is a BadRequestError naming max_tokens: ${err}`);
}
try {
  await client.chat.completions.create({ model: 'no-such-model', messages });
  check(false, 'an unknown model is refused');
} catch (err) {
  check(err instanceof OpenAI.NotFoundError && err.status === 404, `an unknown model is a NotFoundError: ${err}`);
}
console.log(JSON.stringify({ ok: true, checks: checks.length }));
