#!/usr/bin/env node
// fake-endpoint.mjs - a loopback OpenAI-compatible server that plays one
// scripted scenario, for infty-summarize's tests and benchmark.
//
//   node tests/fake-endpoint.mjs [--scenario NAME] [--times K] [--match TEXT]
//        [--latency MS] [--lifetime S] [--retry-after S] [--retry-after-ms MS]
//        [--ignore-n] [--jitter MS] [--count-tokenizer FILE] [--truncate-to N]
//        [--tokenize vllm|llamacpp] [--prefix-cache TOKENS] [--api-key KEY]
//        [--models NAME,NAME...]
//
// Listens on 127.0.0.1 at a random free port and prints the port on stdout.
// The scenario applies to chat requests whose messages contain TEXT (default:
// all) and, with --times K, only to the first K of them; every other request
// gets a normal 200.  GET /_stats returns the request counters; GET
// /v1/models answers readiness.  The process exits after --lifetime seconds
// (default 300) whatever happens, so a failed test never leaves it behind.
//
// usage.prompt_tokens is an honest server's: the UTF-8 bytes of the message
// contents plus 8 (no tokenizer counts more tokens than bytes), or, with
// --count-tokenizer, exactly the sum of that tokenizer.json's counts of the
// contents (the least a server with that tokenizer can report: no template).
// --truncate-to N plays Ollama's num_ctx: a longer prompt is reported as N
// tokens.  --tokenize serves POST /tokenize (at the root, beside /v1) in
// vLLM's shape ({"model","messages"} -> {"count"}) or llama.cpp's
// ({"content"} -> {"tokens": [...]}), counting the untruncated prompt.
// --prefix-cache TOKENS models a server's prefix cache of that capacity
// (fake-prefix-cache.mjs): usage.prompt_tokens_details.cached_tokens is
// reported as vLLM does, and /_stats sums cached and ideal tokens (and,
// always, the prompt tokens of every chat request).  --api-key KEY answers
// 401 (as OpenAI words it) to every request without "Authorization: Bearer
// KEY".  GET /v1/models lists --models (default fake-model).  A chat
// request with the header X-Infty-Preflight (infty-summarize --preflight's
// test request) is answered normally but counted apart, as "preflight":
// the other counters are the run's requests only.
//
// Scenarios: ok, 429, quota, 500, 503, overflow-openai, overflow-vllm,
// overflow-llamacpp, overflow-tgi, overflow-sglang, 400, 401, 404-model, hang,
// trickle, malformed, html, length, length-first, reasoning,
// reasoning-content, think, truncate, tag, empty, error-in-200; with
// "stream": true in the request also slow-stream, stream-stall,
// error-in-stream.  Summary quality: leak (every choice opens the way a
// trace does), leak-first (choice 0 only), weak and stubborn (the summary
// carries a [weak] / [stubborn] marker for the judge below), answer (the
// summary ends "So the answer is 1729."), judge-garbage
// (the judge answers prose), judge-fenced (the judge's JSON in a code fence).
//
// The fake plays judge too: a request whose last turn holds "SUMMARY TO
// GRADE ... END OF SUMMARY" (prompts/judge.txt) gets the rubric's JSON, grade
// 2 on "grounded" for a summary with a [weak] or [stubborn] marker and 5
// everywhere otherwise; a refine request ("A reviewer graded this summary",
// prompts/refine.txt) gets the summary it refines, the [weak] marker dropped
// ([stubborn] stays) and a line added.
import http from 'node:http';
import crypto from 'node:crypto';
import { PrefixCache } from './fake-prefix-cache.mjs';

const opt = { scenario: 'ok', times: Infinity, match: '', latency: 0, jitter: 0, lifetime: 300,
	retryAfter: null, retryAfterMs: null, ignoreN: false, countTokenizer: null, truncateTo: 0,
	tokenize: null, prefixCache: 0, apiKey: null, models: ['fake-model'] };
const argv = process.argv.slice(2);
for (let k = 0; k < argv.length; k++) {
	const a = argv[k], v = () => argv[++k];
	if (a === '--scenario') opt.scenario = v();
	else if (a === '--times') opt.times = Number(v());
	else if (a === '--match') opt.match = v();
	else if (a === '--latency') opt.latency = Number(v());
	else if (a === '--jitter') opt.jitter = Number(v());
	else if (a === '--lifetime') opt.lifetime = Number(v());
	else if (a === '--retry-after') opt.retryAfter = v();
	else if (a === '--retry-after-ms') opt.retryAfterMs = v();
	else if (a === '--ignore-n') opt.ignoreN = true;
	else if (a === '--count-tokenizer') opt.countTokenizer = v();
	else if (a === '--truncate-to') opt.truncateTo = Number(v());
	else if (a === '--tokenize') opt.tokenize = v();
	else if (a === '--prefix-cache') opt.prefixCache = Number(v());
	else if (a === '--api-key') opt.apiKey = v();
	else if (a === '--models') opt.models = v().split(',');
	else { console.error(`fake-endpoint: unknown option ${a}`); process.exit(2); }
}

const stats = { requests: 0, chat: 0, scripted: 0, ok: 0, inflight: 0, max_inflight: 0,
	distinct: 0, repeated_after_ok: 0, models: 0, by_status: {}, streamed: 0, tokenize: 0,
	truncated: 0, counts: [], prompt_tokens: 0, cached_tokens: 0, ideal_cached_tokens: 0,
	judge: 0, refine: 0, preflight: 0 };
const prefixCache = opt.prefixCache > 0 ? new PrefixCache(opt.prefixCache) : null;
// The tokenizer of --count-tokenizer, from tests/node's pinned HF binding.
let tokenizer = null;
if (opt.countTokenizer) {
	const { createRequire } = await import('node:module');
	const require = createRequire(new URL('./node/package.json', import.meta.url));
	const { Tokenizer } = require('@anush008/tokenizers');
	tokenizer = Tokenizer.fromFile(opt.countTokenizer);
}
// The honest count of a prompt (see the top of the file).
async function promptCount(messages) {
	const texts = messages.map((m) => m.content || '');
	if (!tokenizer) return texts.reduce((n, t) => n + Buffer.byteLength(t), 0) + 8;
	const enc = await tokenizer.encodeBatch(texts, { addSpecialTokens: false });
	return enc.reduce((n, e) => n + e.getIds().length, 0);
}
const answered = new Set(); // message hashes that got a 200 with a stop choice
const seen = new Set();
const hangs = [];

function send(res, status, body, headers = {}) {
	stats.by_status[status] = (stats.by_status[status] || 0) + 1;
	const text = typeof body === 'string' ? body : JSON.stringify(body);
	res.writeHead(status, { 'content-type': typeof body === 'string' && body.startsWith('<') ?
		'text/html' : 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
	res.end(text);
}

// What digit runs cost Qwen beyond ceil(L/3) a run (infty-summarize takes it
// off its bound), so a test can tell which cuts the margin must catch.
function digitDiscount(messages) {
	let d = 0;
	for (const m of messages)
		for (const r of (m.content || '').matchAll(/[0-9]+/g)) d += r[0].length - Math.ceil(r[0].length / 3);
	return d;
}

// The judge's answer to a summary: low for a marked summary, high otherwise.
function judgeAnswer(summary, scenario) {
	if (scenario === 'judge-garbage') return 'The summary looks fine to me.';
	const marked = /\[(weak|stubborn)\]/.test(summary);
	const grade = { progress: 5, grounded: marked ? 2 : 5, no_answer: 5, self_contained: 5,
		feedback: marked ? 'It states a [weak] marker the reasoning never wrote; drop it.' : '' };
	const text = JSON.stringify(grade);
	return scenario === 'judge-fenced' ? 'Here is my grade:\n```json\n' + text + '\n```' : text;
}

function completion(req, hash, scenario, count) {
	const n = opt.ignoreN ? 1 : (req.n || 1);
	let promptTokens = scenario === 'truncate' ? 10 : count;
	if (opt.truncateTo && promptTokens > opt.truncateTo) {
		promptTokens = opt.truncateTo;
		stats.truncated++;
	}
	// [true count, reported, digit discount] per answer, for the truncation tests.
	if (opt.truncateTo || tokenizer) stats.counts.push([count, promptTokens, digitDiscount(req.messages)]);
	const choices = [];
	const msgs = req.messages || [];
	const last = msgs.length ? msgs[msgs.length - 1].content || '' : '';
	const graded = last.match(/SUMMARY TO GRADE\n([\s\S]*?)\nEND OF SUMMARY/);
	const refine = last.includes('A reviewer graded this summary') && msgs.length >= 2;
	if (graded) stats.judge++;
	if (refine) stats.refine++;
	for (let k = 0; k < n; k++) {
		let content = `* Progress so far, request ${hash.slice(0, 12)}, choice ${k}.\n* Key result: x = ${parseInt(hash.slice(0, 6), 16) % 1000}.`;
		if (scenario === 'weak') content += ' [weak]';
		if (scenario === 'stubborn') content += ' [stubborn]';
		if (scenario === 'answer') content += '\n* So the answer is 1729.';
		if (scenario === 'leak' || (scenario === 'leak-first' && k === 0))
			content = 'Okay, so I need to find the speed. ' + content;
		if (graded) content = judgeAnswer(graded[1], scenario);
		if (refine) content = msgs[msgs.length - 2].content.replace(' [weak]', '') + `\n* Revised after review, choice ${k}.`;
		let finish = 'stop';
		const message = { role: 'assistant', content };
		if (scenario === 'length' || (scenario === 'length-first' && k === 0)) finish = 'length';
		if (scenario === 'reasoning') message.reasoning = 'I should list the steps. '.repeat(20);
		if (scenario === 'reasoning-content') message.reasoning_content = 'Thinking hard. '.repeat(20);
		if (scenario === 'think') message.content = '<think>\nLet me recall the steps.\n</think>\n\n' + content;
		if (scenario === 'tag') message.content = '<summary>\n' + content + '\n</summary>';
		if (scenario === 'empty') message.content = '   ';
		choices.push({ index: k, message, finish_reason: finish });
	}
	const ct = choices.reduce((s, c) => s + Math.ceil(c.message.content.length / 3), 0);
	return { id: 'chatcmpl-' + hash.slice(0, 16), object: 'chat.completion', created: 0,
		model: req.model, choices,
		usage: { prompt_tokens: promptTokens, completion_tokens: ct, total_tokens: promptTokens + ct } };
}

function errorReply(res, scenario) {
	const ra = {};
	if (opt.retryAfter !== null) ra['retry-after'] = opt.retryAfter;
	if (opt.retryAfterMs !== null) ra['retry-after-ms'] = opt.retryAfterMs;
	switch (scenario) {
	case '429': return send(res, 429, { error: { message: 'Rate limit reached for requests per min. Please try again in 1s.', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, ra), true;
	case 'quota': return send(res, 429, { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } }), true;
	case '500': return send(res, 500, { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: 500 } }), true;
	case '503': return send(res, 503, { error: { message: 'server busy, please try again.  maximum pending requests exceeded' } }, ra), true;
	case 'overflow-openai': return send(res, 400, { error: { message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9412 tokens. Please reduce the length of the messages.", type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } }), true;
	case 'overflow-vllm': return send(res, 400, { error: { message: "This model's maximum context length is 8192 tokens. However, your request has 9412 input tokens. Please reduce the length of the input messages.", type: 'BadRequestError', param: null, code: 400 } }), true;
	case 'overflow-llamacpp': return send(res, 400, { error: { code: 400, type: 'exceed_context_size_error', message: 'request (9412 tokens) exceeds the available context size (8192 tokens), try increasing it', n_prompt_tokens: 9412, n_ctx: 8192 } }), true;
	case 'overflow-tgi': return send(res, 422, { error: 'Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192. Given: 9412 `inputs` tokens and 2048 `max_new_tokens`', error_type: 'validation' }), true;
	case 'overflow-sglang': return send(res, 400, { object: 'error', message: 'The input (9412 tokens) is longer than the model\'s context length (8192 tokens).', type: 'BadRequestError', param: null, code: 400 }), true;
	case '400': return send(res, 400, { error: { message: "'temperature' must be a number", type: 'invalid_request_error', param: 'temperature', code: null } }), true;
	case '401': return send(res, 401, { error: { message: 'Incorrect API key provided: sk-te***st. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }), true;
	case '404-model': return send(res, 404, { error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: null, code: 404 } }), true;
	case 'malformed': return send(res, 200, '{"id": "x", "choices": [{"message": {"content": "* cut'), true;
	case 'html': return send(res, 502, '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>'), true;
	case 'error-in-200': return send(res, 200, { error: { message: 'EngineCore encountered an issue', type: 'InternalServerError', code: 500 } }), true;
	case 'hang': hangs.push(res); stats.by_status.hang = (stats.by_status.hang || 0) + 1; return true;
	case 'trickle': {
		// Headers, then one byte every 2 s: alive on the wire, useless in practice.
		res.writeHead(200, { 'content-type': 'application/json' });
		stats.by_status.trickle = (stats.by_status.trickle || 0) + 1;
		const t = setInterval(() => { if (!res.destroyed) res.write(' '); else clearInterval(t); }, 2000);
		res.on('close', () => clearInterval(t));
		hangs.push(res);
		return true;
	}
	}
	return false;
}

// A streamed answer: server-sent events of deltas (reasoning first, content
// in 8-character pieces), then each choice's finish_reason, then usage.
// slow-stream spaces the events by 300 ms (slow but alive); stream-stall stops
// half way and never ends; error-in-stream sends an error event.
function stream(res, out, scenario) {
	stats.by_status.stream = (stats.by_status.stream || 0) + 1;
	res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
	const ev = [];
	const chunk = (choices, extra = {}) => ev.push(`data: ${JSON.stringify({ id: out.id,
		object: 'chat.completion.chunk', model: out.model, choices, ...extra })}\n\n`);
	for (const c of out.choices) {
		chunk([{ index: c.index, delta: { role: 'assistant' } }]);
		const r = c.message.reasoning || c.message.reasoning_content;
		if (r) chunk([{ index: c.index, delta: { reasoning: r } }]);
		for (let k = 0; k < c.message.content.length; k += 8)
			chunk([{ index: c.index, delta: { content: c.message.content.slice(k, k + 8) } }]);
	}
	if (scenario === 'error-in-stream') ev.push('data: {"error":{"message":"EngineDeadError","type":"InternalServerError","code":500}}\n\n');
	chunk(out.choices.map((c) => ({ index: c.index, delta: {}, finish_reason: c.finish_reason })));
	chunk([], { usage: out.usage });
	ev.push('data: [DONE]\n\n');
	if (scenario === 'stream-stall') { ev.length = Math.floor(ev.length / 2); hangs.push(res); }
	const gap = scenario === 'slow-stream' ? 300 : 0;
	if (!gap) { res.write(ev.join('')); if (scenario !== 'stream-stall') res.end(); return; }
	let k = 0;
	const t = setInterval(() => {
		if (res.destroyed) return clearInterval(t);
		// Several events per tick so the whole answer takes about 2 s.
		for (let j = 0; j < Math.ceil(ev.length / 7) && k < ev.length; j++) res.write(ev[k++]);
		if (k >= ev.length) { clearInterval(t); res.end(); }
	}, gap);
}

const server = http.createServer((req, res) => {
	stats.requests++;
	if (req.method === 'GET' && req.url === '/_stats') return send(res, 200, stats);
	if (opt.apiKey !== null && req.headers.authorization !== `Bearer ${opt.apiKey}`)
		return errorReply(res, '401');
	if (req.method === 'GET' && req.url.endsWith('/models')) {
		stats.models++;
		if (opt.scenario === '401') return errorReply(res, '401');
		return send(res, 200, { object: 'list', data: opt.models.map((id) => ({ id, object: 'model' })) });
	}
	if (req.method === 'POST' && req.url === '/tokenize' && opt.tokenize) {
		const parts = [];
		req.on('data', (d) => parts.push(d));
		req.on('end', async () => {
			stats.tokenize++;
			let body;
			try { body = JSON.parse(Buffer.concat(parts).toString('utf8')); } catch {
				return send(res, 400, { error: 'bad json' });
			}
			if (opt.tokenize === 'vllm' && Array.isArray(body.messages)) {
				const n = await promptCount(body.messages);
				return send(res, 200, { count: n, max_model_len: 131072, tokens: [] });
			}
			if (opt.tokenize === 'llamacpp' && typeof body.content === 'string') {
				const n = await promptCount([{ content: body.content }]);
				return send(res, 200, { tokens: Array(n).fill(1) });
			}
			return send(res, 400, { error: { message: 'unsupported tokenize body', type: 'invalid_request_error' } });
		});
		return;
	}
	if (req.method !== 'POST' || !req.url.endsWith('/chat/completions'))
		return send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'not_found' } });
	const parts = [];
	req.on('data', (d) => parts.push(d));
	req.on('end', async () => {
		let body;
		const raw = Buffer.concat(parts);
		if (req.headers['x-infty-preflight']) {
			stats.preflight++;
			try { body = JSON.parse(raw.toString('utf8')); } catch { body = {}; }
			// A scenario for every request (no --match) fails the test request
			// too, and with --times K it is one of the first K.
			if (opt.scenario !== 'ok' && !opt.match && stats.scripted < opt.times &&
			    errorReply(res, opt.scenario)) { stats.scripted++; return; }
			return send(res, 200, completion(body, '0000000000000000', 'ok', 8));
		}
		stats.chat++;
		try { body = JSON.parse(raw.toString('utf8')); } catch {
			return send(res, 400, { error: { message: 'request body is not JSON', type: 'invalid_request_error' } });
		}
		// The raw body names the request (a client sends the same bytes for the
		// same request); hashing it avoids re-serializing the messages.
		const hash = crypto.createHash('sha1').update(raw).digest('hex');
		if (seen.has(hash)) { if (answered.has(hash)) stats.repeated_after_ok++; }
		else { seen.add(hash); stats.distinct++; }
		let scenario = 'ok';
		if (opt.scenario !== 'ok' && (!opt.match || JSON.stringify(body.messages).includes(opt.match)) &&
		    stats.scripted < opt.times) {
			scenario = opt.scenario;
			stats.scripted++;
		}
		if (body.stream) stats.streamed++;
		const count = await promptCount(body.messages || []);
		const pc = prefixCache ? prefixCache.admit(body.messages || []) : null;
		stats.prompt_tokens += count;
		// The model counts role markers too: a prompt repeated whole would
		// show more cached tokens than it has, which no server reports.
		if (pc) {
			pc.cached = Math.min(pc.cached, count);
			pc.ideal = Math.min(pc.ideal, count);
			stats.cached_tokens += pc.cached;
			stats.ideal_cached_tokens += pc.ideal;
		}
		stats.inflight++;
		if (stats.inflight > stats.max_inflight) stats.max_inflight = stats.inflight;
		res.on('close', () => stats.inflight--);
		const reply = () => {
			// A client that went away (killed) gets no answer, so it is
			// never counted as answered.
			if (res.destroyed || req.socket.destroyed) return;
			if (errorReply(res, scenario)) return;
			const out = completion(body, hash, scenario, count);
			if (pc) out.usage.prompt_tokens_details = { cached_tokens: pc.cached };
			if (out.choices.some((c) => c.finish_reason === 'stop')) answered.add(hash);
			stats.ok++;
			if (body.stream) stream(res, out, scenario);
			else send(res, 200, out);
		};
		// --jitter: answers come back in a scrambled order, to test reordering.
		const delay = opt.latency + (opt.jitter ? Math.floor(Math.random() * opt.jitter) : 0);
		if (delay > 0) setTimeout(reply, delay); else reply();
	});
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => {
	process.stdout.write(`${server.address().port}\n`);
});
setTimeout(() => { for (const r of hangs) r.destroy(); process.exit(0); }, opt.lifetime * 1000).unref();
// The timer above is unref'd so it cannot keep us alive; this one keeps the
// process up until the lifetime is over.
setTimeout(() => {}, opt.lifetime * 1000);
process.on('SIGTERM', () => process.exit(0));
