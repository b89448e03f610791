// The moxing server's page: a client of the same public API any program
// uses (/v1/...), with the API key the user types, kept in this tab's
// sessionStorage only. Text from the server is always set as text, never
// as HTML. No libraries: it works offline and under a strict
// Content-Security-Policy (no inline script or style).
'use strict';

const $ = (id) => document.getElementById(id);

const state = {
  key: sessionStorage.getItem('moxing.key') || '',
  models: [],
  card: null,
  chat: [], // the chat's messages so far
  abort: null, // the generation under way
};

// el makes an element with text content and classes.
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function setStatus(msg, isError) {
  $('status').textContent = msg || '';
  $('status').className = isError ? 'error' : '';
}

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  if (state.key) h.Authorization = 'Bearer ' + state.key;
  return h;
}

// api calls a JSON route and returns its answer, or throws the server's
// error message.
async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

// --- models and tabs ---------------------------------------------------

const tabsFor = {
  gpt: ['playground', 'card'],
  'rnn-lm': ['playground', 'card'],
  'gpt-classifier': ['classify', 'card'],
  'rnn-classifier': ['classify', 'card'],
  mlp: ['predict', 'card'],
  cnn: ['predict', 'card'],
};

function showTab(name) {
  for (const b of document.querySelectorAll('#tabs button')) {
    b.classList.toggle('active', b.dataset.tab === name);
  }
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== name;
  if (name === 'admin') loadAdmin();
}

function currentTab() {
  const b = document.querySelector('#tabs button.active');
  return b ? b.dataset.tab : '';
}

async function loadModels() {
  try {
    const list = await api('GET', '/v1/models');
    state.models = list.data;
  } catch (e) {
    state.models = [];
    $('model').replaceChildren();
    if (e.status === 401 || e.status === 403) {
      setStatus('This server needs an API key: enter one above.', true);
      $('key').focus();
    } else {
      setStatus('Could not list the models: ' + e.message, true);
    }
    return;
  }
  const select = $('model');
  const previous = select.value || sessionStorage.getItem('moxing.model');
  select.replaceChildren(...state.models.map((m) => {
    const o = el('option', `${m.id} — ${m.description}`);
    o.value = m.id;
    return o;
  }));
  if (state.models.some((m) => m.id === previous)) select.value = previous;
  setStatus(`${state.models.length} model${state.models.length === 1 ? '' : 's'} served.`);
  await selectModel();
}

async function selectModel() {
  const id = $('model').value;
  sessionStorage.setItem('moxing.model', id);
  const m = state.models.find((x) => x.id === id);
  const allowed = m ? tabsFor[m.kind] || ['card'] : [];
  for (const b of document.querySelectorAll('#tabs button')) {
    b.hidden = b.dataset.tab !== 'admin' && !allowed.includes(b.dataset.tab);
  }
  // A model opens on what it is for: the playground, classify or predict.
  if (currentTab() !== 'admin' || !m) showTab(allowed[0] || 'admin');
  state.card = null;
  if (!m) return;
  try {
    state.card = await api('GET', `/v1/models/${encodeURIComponent(id)}/card`);
  } catch (e) {
    setStatus('Could not read the model card: ' + e.message, true);
    return;
  }
  renderCard(state.card);
  renderPredictForm(state.card);
}

// --- playground ----------------------------------------------------------

function chatMode() {
  return document.querySelector('input[name=mode]:checked').value === 'chat';
}

function setMode() {
  const chat = chatMode();
  $('chat-log').hidden = !chat;
  $('chat-clear').hidden = !chat;
  $('output').hidden = chat;
  $('prompt').placeholder = chat ? 'Your message' : 'Type a prompt';
}

function number(id) {
  const v = $(id).value.trim();
  return v === '' ? null : Number(v);
}

// samplingFields reads the controls into request fields.
function samplingFields() {
  const f = { max_tokens: number('max_tokens') || 16, temperature: number('temperature') ?? 1 };
  const topP = number('top_p');
  if (topP !== null && topP < 1) f.top_p = topP;
  const topK = number('top_k');
  if (topK) f.top_k = topK;
  const seed = number('seed');
  if (seed !== null) f.seed = seed;
  const stop = $('stop').value;
  if (stop) f.stop = [stop.replace(/\\n/g, '\n')];
  return f;
}

function addMessage(role, text) {
  const m = el('div', null, 'msg ' + role);
  m.append(el('span', role, 'role'));
  const body = el('span', text, 'content');
  m.append(body);
  $('chat-log').append(m);
  return body;
}

// generate streams a completion or the chat's next message into the page
// as its tokens arrive.
async function generate() {
  const prompt = $('prompt').value;
  const chat = chatMode();
  const body = { model: $('model').value, stream: true, stream_options: { include_usage: true }, ...samplingFields() };
  let target;
  if (chat) {
    if (!prompt.trim()) return;
    state.chat.push({ role: 'user', content: prompt });
    addMessage('user', prompt);
    body.messages = state.chat.slice();
    target = addMessage('assistant', '');
    $('prompt').value = '';
  } else {
    body.prompt = prompt;
    const out = $('output');
    out.replaceChildren(el('span', prompt, 'prompt'));
    target = el('span');
    target.id = 'completion';
    out.append(target);
  }
  const ctrl = new AbortController();
  state.abort = ctrl;
  $('generate').disabled = true;
  $('cancel').disabled = false;
  $('gen-usage').textContent = 'generating…';
  const started = performance.now();
  let tokens = 0;
  let usage = null;
  try {
    const res = await fetch(chat ? '/v1/chat/completions' : '/v1/completions', {
      method: 'POST', headers: headers(true), body: JSON.stringify(body), signal: ctrl.signal,
    });
    if (!res.ok) {
      let msg = `${res.status} ${res.statusText}`;
      try { msg = (await res.json()).error.message; } catch (_) { /* keep the status */ }
      throw new Error(msg);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ')) continue;
          const payload = line.slice(6);
          if (payload === '[DONE]') continue;
          const chunk = JSON.parse(payload);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) usage = chunk.usage;
          const choice = chunk.choices && chunk.choices[0];
          const piece = choice && (chat ? choice.delta && choice.delta.content : choice.text);
          if (piece) {
            target.append(piece);
            tokens++;
          }
        }
      }
    }
    if (chat) state.chat.push({ role: 'assistant', content: target.textContent });
    const secs = (performance.now() - started) / 1000;
    const n = usage ? usage.completion_tokens : tokens;
    $('gen-usage').textContent = usage
      ? `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens, ${(n / secs).toFixed(1)} tokens/s`
      : '';
  } catch (e) {
    $('gen-usage').textContent = '';
    if (e.name === 'AbortError') {
      setStatus('Stopped.');
    } else {
      setStatus('Generation failed: ' + e.message, true);
    }
    if (chat) state.chat.pop();
  } finally {
    state.abort = null;
    $('generate').disabled = false;
    $('cancel').disabled = true;
  }
}

// --- classify ------------------------------------------------------------

function probabilityCell(probs) {
  const td = el('td');
  for (const [label, p] of Object.entries(probs).sort((a, b) => b[1] - a[1])) {
    const row = el('div', null, 'prob');
    row.append(el('span', label, 'label'));
    const bar = el('span', null, 'bar');
    bar.style.width = `${(p * 100).toFixed(1)}%`;
    const track = el('span', null, 'track');
    track.append(bar);
    row.append(track, el('span', p.toFixed(3), 'num'));
    td.append(row);
  }
  return td;
}

async function classify() {
  const texts = $('classify-input').value.split('\n').filter((t) => t.trim() !== '');
  if (texts.length === 0) return;
  try {
    const out = await api('POST', '/v1/classify', { model: $('model').value, input: texts });
    const table = el('table');
    table.append(headRow(['text', 'label', 'probabilities']));
    out.data.forEach((d, i) => {
      const tr = el('tr');
      tr.append(el('td', texts[i]), el('td', d.label, 'label'), probabilityCell(d.probabilities));
      table.append(tr);
    });
    $('classify-result').replaceChildren(table);
    setStatus('');
  } catch (e) {
    setStatus('Classification failed: ' + e.message, true);
  }
}

// --- predict -------------------------------------------------------------

function renderPredictForm(card) {
  const form = $('predict-form');
  form.replaceChildren();
  $('predict-result').replaceChildren();
  if (card.kind === 'mlp' && card.inputs) {
    for (const f of card.inputs.features || []) {
      const label = el('label', f.name + ' ');
      let input;
      if (f.kind === 'categorical') {
        input = el('select');
        for (const c of f.categories || []) {
          const o = el('option', c);
          o.value = c;
          input.append(o);
        }
      } else {
        input = el('input');
        input.type = 'number';
        input.step = 'any';
        input.value = f.mean !== undefined ? Number(f.mean.toPrecision(4)) : 0;
      }
      input.name = f.name;
      input.dataset.kind = f.kind;
      label.append(input);
      form.append(label);
    }
  } else if (card.kind === 'cnn') {
    const label = el('label', 'image ');
    const input = el('input');
    input.type = 'file';
    input.accept = 'image/png,image/jpeg,image/gif';
    input.name = 'image';
    label.append(input);
    const preview = el('img');
    preview.id = 'predict-preview';
    preview.alt = '';
    input.addEventListener('change', async () => {
      if (input.files[0]) preview.src = await dataURL(input.files[0]);
    });
    form.append(label, preview);
  }
}

function dataURL(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

async function predict() {
  const card = state.card;
  if (!card) return;
  const body = { model: card.id };
  if (card.kind === 'cnn') {
    const input = $('predict-form').querySelector('input[type=file]');
    if (!input.files[0]) {
      setStatus('Choose an image first.', true);
      return;
    }
    body.images = [(await dataURL(input.files[0])).split(',')[1]];
  } else {
    const row = {};
    for (const input of $('predict-form').querySelectorAll('[name]')) {
      row[input.name] = input.dataset.kind === 'numeric' ? Number(input.value) : input.value;
    }
    body.rows = [row];
  }
  try {
    const out = await api('POST', '/v1/predict', body);
    const d = out.data[0];
    const table = el('table');
    if (d.label !== undefined) {
      table.append(headRow(['label', 'probabilities']));
      const tr = el('tr');
      tr.append(el('td', d.label, 'label'), probabilityCell(d.probabilities));
      table.append(tr);
    } else {
      table.append(headRow(['value']));
      const tr = el('tr');
      tr.append(el('td', Number(d.value).toPrecision(6), 'num'));
      table.append(tr);
    }
    $('predict-result').replaceChildren(table);
    setStatus('');
  } catch (e) {
    setStatus('Prediction failed: ' + e.message, true);
  }
}

// --- model card ----------------------------------------------------------

function formatCount(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(2) + ' B';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + ' M';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + ' k';
  return String(n);
}

function renderCard(card) {
  const facts = [
    ['model', card.id],
    ['kind', card.kind],
    ['description', card.description],
    ['parameters', `${formatCount(card.parameters)} (${card.parameters.toLocaleString('en')})`],
  ];
  const arch = card.architecture || {};
  const shape = ['n_layer', 'n_head', 'n_embd', 'block_size', 'vocab_size']
    .filter((k) => arch[k] !== undefined).map((k) => `${k} ${arch[k]}`);
  if (shape.length) facts.push(['architecture', shape.join(', ')]);
  if (card.context_window) facts.push(['context window', `${card.context_window} tokens`]);
  if (card.tokenizer) facts.push(['tokenizer', `${card.tokenizer.type}, ${card.tokenizer.vocab_size} tokens`]);
  if (card.labels) facts.push(['labels', card.labels.join(', ')]);
  if (card.kind === 'mlp' && card.inputs) {
    facts.push(['inputs', card.inputs.features.map((f) => `${f.name} (${f.kind})`).join(', ')]);
    facts.push(['target', `${card.inputs.target} (${card.inputs.task})`]);
  }
  if (card.kind === 'cnn' && card.inputs) facts.push(['inputs', `${card.inputs.channels}×${card.inputs.height}×${card.inputs.width} images`]);
  const training = card.training;
  if (training && training.metrics.length) {
    const last = training.metrics[training.metrics.length - 1];
    const unit = 'step' in last ? 'step' : 'epoch';
    facts.push(['trained', `${last[unit]} ${unit}s, ${training.metrics.length} evaluations`]);
  } else {
    facts.push(['training', card.training_error || 'no run folder (no metrics.jsonl beside the model)']);
  }
  const dl = $('card-facts');
  dl.replaceChildren();
  for (const [k, v] of facts) dl.append(el('dt', k), el('dd', v));
  $('card-arch').textContent = JSON.stringify(card.architecture || {}, null, 2);
  $('card-config').textContent = training && training.config ? JSON.stringify(training.config, null, 2) : '(none)';
  renderCurves(training ? training.metrics : []);
}

const svgNS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ticks returns about n round values spanning [lo, hi].
function ticks(lo, hi, n) {
  if (hi === lo) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

// renderCurves draws the training curves: the losses in one chart, the
// other metrics (accuracy, …) in another, and the learning rate.
function renderCurves(records) {
  const box = $('curves');
  box.replaceChildren();
  if (records.length === 0) return;
  const unit = 'step' in records[0] ? 'step' : 'epoch';
  const keys = new Set();
  for (const r of records) {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === 'number' && !['step', 'epoch', 'seconds'].includes(k)) keys.add(k);
    }
  }
  const losses = [...keys].filter((k) => k.endsWith('loss'));
  const lr = [...keys].filter((k) => k === 'lr');
  const others = [...keys].filter((k) => !k.endsWith('loss') && k !== 'lr');
  const charts = [['loss', losses], ['metrics', others], ['learning rate', lr]];
  for (const [title, series] of charts) {
    if (series.length) box.append(chart(title, unit, records, series));
  }
}

const colours = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2'];

function chart(title, unit, records, series) {
  const W = 520, H = 240, L = 56, R = 132, T = 28, B = 36; // the legend is right of the plot
  const xs = records.map((r) => r[unit]);
  const ys = series.flatMap((k) => records.map((r) => r[k]).filter((v) => typeof v === 'number' && isFinite(v)));
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${title} by ${unit}` });
  g.append(svg('text', { x: L, y: 16, class: 'title' }, title));
  for (const v of ticks(y0, y1, 4)) {
    g.append(svg('line', { x1: L, x2: W - R, y1: py(v), y2: py(v), class: 'grid' }));
    g.append(svg('text', { x: L - 6, y: py(v) + 4, class: 'tick', 'text-anchor': 'end' }, String(Number(v.toPrecision(4)))));
  }
  for (const v of ticks(x0, x1, 5)) {
    g.append(svg('text', { x: px(v), y: H - B + 16, class: 'tick', 'text-anchor': 'middle' }, String(v)));
  }
  g.append(svg('text', { x: (L + W - R) / 2, y: H - 4, class: 'tick', 'text-anchor': 'middle' }, unit));
  g.append(svg('line', { x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'axis' }));
  g.append(svg('line', { x1: L, x2: L, y1: T, y2: H - B, class: 'axis' }));
  series.forEach((k, i) => {
    const pts = records.filter((r) => typeof r[k] === 'number' && isFinite(r[k])).map((r) => `${px(r[unit]).toFixed(1)},${py(r[k]).toFixed(1)}`);
    const colour = colours[i % colours.length];
    g.append(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: colour, 'stroke-width': 2, class: 'series', 'data-series': k }));
    if (k.startsWith('val_')) {
      for (const r of records.filter((r) => r.best && typeof r[k] === 'number')) {
        g.append(svg('circle', { cx: px(r[unit]), cy: py(r[k]), r: 3, fill: colour }));
      }
    }
    const lx = W - R + 12, ly = T + 4 + i * 16;
    g.append(svg('line', { x1: lx, x2: lx + 16, y1: ly, y2: ly, stroke: colour, 'stroke-width': 2 }));
    g.append(svg('text', { x: lx + 22, y: ly + 4, class: 'tick' }, k));
  });
  return g;
}

// --- admin ---------------------------------------------------------------

function headRow(names) {
  const tr = el('tr');
  for (const n of names) tr.append(el('th', n));
  return tr;
}

async function loadAdmin() {
  try {
    const [keys, usage] = await Promise.all([api('GET', '/v1/admin/keys'), api('GET', '/v1/admin/usage?by=day')]);
    const kt = $('keys-table');
    kt.replaceChildren(headRow(['name', 'id', 'spent / quota', 'rate/s', 'models', 'expires', 'status', '']));
    const now = Date.now();
    for (const k of keys.data) {
      const tr = el('tr');
      const expired = k.expires && Date.parse(k.expires) < now;
      const stateText = k.revoked ? 'revoked' : expired ? 'expired' : 'active';
      tr.append(
        el('td', k.name + (k.admin ? ' (admin)' : '')),
        el('td', k.id, 'mono'),
        el('td', `${k.spent_tokens.toLocaleString('en')} / ${k.quota_tokens ? k.quota_tokens.toLocaleString('en') : '∞'}`, 'num'),
        el('td', k.rate || '∞', 'num'),
        el('td', (k.models || []).join(', ') || 'all'),
        el('td', k.expires ? k.expires.slice(0, 10) : 'never'),
        el('td', stateText, stateText),
      );
      const td = el('td');
      if (!k.revoked) {
        const b = el('button', 'Revoke', 'quiet');
        b.addEventListener('click', async () => {
          if (!confirm(`Revoke the key ${k.name}?`)) return;
          try {
            await api('DELETE', `/v1/admin/keys/${encodeURIComponent(k.id)}`);
            loadAdmin();
          } catch (e) {
            setStatus('Revoking failed: ' + e.message, true);
          }
        });
        td.append(b);
      }
      tr.append(td);
      kt.append(tr);
    }
    const ut = $('usage-table');
    ut.replaceChildren(headRow(['day', 'requests', 'prompt tokens', 'completion tokens']));
    for (const t of usage.data) {
      const tr = el('tr');
      tr.append(el('td', t.group), el('td', t.requests, 'num'),
        el('td', t.prompt_tokens.toLocaleString('en'), 'num'), el('td', t.completion_tokens.toLocaleString('en'), 'num'));
      ut.append(tr);
    }
    setStatus('');
  } catch (e) {
    $('keys-table').replaceChildren();
    $('usage-table').replaceChildren();
    setStatus('Admin: ' + e.message, true);
  }
}

async function createKey(ev) {
  ev.preventDefault();
  const body = {
    name: $('nk-name').value.trim(),
    quota_tokens: number('nk-quota') || 0,
    rate: number('nk-rate') || 0,
    expires_in: Math.round((number('nk-days') || 0) * 86400),
    admin: $('nk-admin').checked,
  };
  const models = $('nk-models').value.split(',').map((s) => s.trim()).filter(Boolean);
  if (models.length) body.models = models;
  try {
    const out = await api('POST', '/v1/admin/keys', body);
    const p = $('new-key');
    p.replaceChildren(el('span', `New key for ${out.record.name} (shown once, copy it now): `), el('code', out.key, 'secret'));
    loadAdmin();
  } catch (e) {
    setStatus('Creating the key failed: ' + e.message, true);
  }
}

// --- wiring --------------------------------------------------------------

function init() {
  $('key').value = state.key;
  $('key-box').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.key = $('key').value.trim();
    if (state.key) sessionStorage.setItem('moxing.key', state.key);
    else sessionStorage.removeItem('moxing.key');
    loadModels();
    if (currentTab() === 'admin') loadAdmin();
  });
  for (const b of document.querySelectorAll('#tabs button')) b.addEventListener('click', () => showTab(b.dataset.tab));
  $('model').addEventListener('change', selectModel);
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', setMode);
  $('chat-clear').addEventListener('click', () => {
    state.chat = [];
    $('chat-log').replaceChildren();
  });
  $('generate').addEventListener('click', generate);
  $('prompt').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) generate();
  });
  $('cancel').addEventListener('click', () => state.abort && state.abort.abort());
  $('classify-go').addEventListener('click', classify);
  $('predict-go').addEventListener('click', predict);
  $('predict-form').addEventListener('submit', (ev) => ev.preventDefault());
  $('newkey-form').addEventListener('submit', createKey);
  setMode();
  showTab('playground');
  loadModels();
}

init();
