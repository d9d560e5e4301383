// trunc-ratios.mjs - how many tokens other summarizers' tokenizers count for
// infty-summarize's prompts, relative to Qwen3's count (the one the client
// has).  The truncation check flags an answer whose usage.prompt_tokens is
// below MARGIN x our count; an honest server must never fall below it, so
// MARGIN has to sit under the smallest ratio any real tokenizer gives.
//
// usage: node tests/node/trunc-ratios.mjs INSTRUCTION.txt QWEN.json NAME=TOK.json... < segments.jsonl
//
// Reads segment records (infty-segment output).  For every cumulative
// request i of every trace (question + segments 0..i + the instruction, as
// sum_request.c builds it) the count of each tokenizer is the sum of the
// counts of the message contents, add_special_tokens=false and no chat
// template: the least an honest server can report (the template only adds).
// Prints, per tokenizer, the number of requests and min, p1, p10, median, max
// of count/bound, and the id of the trace with the smallest ratio, for two
// bounds: Qwen3's count as is, and the one infty-summarize uses, which takes
// off what digit runs cost Qwen beyond a tokenizer that groups digits by
// three (Qwen: one token a digit; Llama-3, DeepSeek-V3: up to three), as
// sum_engine.c's digit_discount does.
//
// usage: ... [--margin X]  exit 1 if a ratio to the bound is below X.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import readline from 'node:readline';
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@anush008/tokenizers');

const args = process.argv.slice(2);
let margin = 0;
const mi = args.indexOf('--margin');
if (mi >= 0) { margin = Number(args[mi + 1]); args.splice(mi, 2); }
const [instrPath, qwenPath, ...others] = args;
if (!instrPath || !qwenPath || !others.length) {
	console.error('usage: node trunc-ratios.mjs INSTRUCTION.txt QWEN.json NAME=TOK.json... < segments.jsonl');
	process.exit(2);
}
let instr = fs.readFileSync(instrPath, 'utf8');
if (instr.endsWith('\n')) instr = instr.slice(0, -1); // as sum_request.c loads it
const toks = [{ name: 'qwen3', tok: Tokenizer.fromFile(qwenPath) }];
for (const a of others) {
	const eq = a.indexOf('=');
	toks.push({ name: a.slice(0, eq), tok: Tokenizer.fromFile(a.slice(eq + 1)) });
}
const count = async (tok, texts) =>
	(await tok.encodeBatch(texts, { addSpecialTokens: false })).map((e) => e.getIds().length);
const instrCount = [];
for (const t of toks) instrCount.push((await count(t.tok, [instr]))[0]);
// Runs of ASCII digits: L tokens for Qwen, ceil(L/3) for a three-digit grouper.
const discount = (s) => {
	let d = 0;
	for (const m of s.matchAll(/[0-9]+/g)) d += m[0].length - Math.ceil(m[0].length / 3);
	return d;
};
const instrDisc = discount(instr);

const ratios = toks.map(() => []), adj = toks.map(() => []);
const worst = toks.map(() => ({ r: Infinity, id: '' })), worstAdj = toks.map(() => ({ r: Infinity, id: '' }));
let traces = 0, requests = 0, qwenMismatch = 0;

async function record(r) {
	const segs = r.segments.map((s) => s.text);
	if (segs.length < 2) return; // no request: the last segment is never summarized
	traces++;
	const texts = [r.question, ...segs];
	const counts = [];
	for (const t of toks) counts.push(await count(t.tok, texts));
	// The segment stage's own (exact Qwen) counts must agree with HF's.
	r.segments.forEach((s, k) => { if (s.tokens !== undefined && s.tokens !== counts[0][k + 1]) qwenMismatch++; });
	const acc = toks.map((_, j) => counts[j][0] + instrCount[j]);
	let bound = counts[0][0] - discount(r.question) + instrCount[0] - instrDisc;
	for (let i = 0; i < segs.length - 1; i++) {
		requests++;
		for (let j = 0; j < toks.length; j++) acc[j] += counts[j][i + 1];
		bound += counts[0][i + 1] - discount(segs[i]);
		for (let j = 1; j < toks.length; j++) {
			const q = acc[j] / acc[0], a = acc[j] / bound;
			ratios[j].push(q);
			adj[j].push(a);
			if (q < worst[j].r) worst[j] = { r: q, id: r.id, i };
			if (a < worstAdj[j].r) worstAdj[j] = { r: a, id: r.id, i };
		}
	}
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) if (line.trim()) await record(JSON.parse(line));

const pct = (a, p) => a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))];
console.log(`traces ${traces}, cumulative requests ${requests}, qwen count mismatches with the records ${qwenMismatch}`);
let below = 0;
for (const [title, rs, w] of [['count / Qwen3 count', ratios, worst],
	['count / our bound (Qwen3 count less the digit discount)', adj, worstAdj]]) {
	console.log(`\n${title}\ntokenizer\trequests\tmin\tp1\tp10\tmedian\tmax\tworst (id, i)`);
	for (let j = 1; j < toks.length; j++) {
		const a = Float64Array.from(rs[j]).sort();
		console.log([toks[j].name, a.length, a[0], pct(a, 0.01), pct(a, 0.1), pct(a, 0.5), a[a.length - 1]]
			.map((x) => (typeof x === 'number' && !Number.isInteger(x) ? x.toFixed(4) : x)).join('\t') +
			`\t${w[j].id} ${w[j].i}`);
		if (rs === adj && margin) below += a.filter((x) => x < margin).length;
	}
}
if (margin) {
	console.log(`\n${below} request(s) below the margin ${margin}`);
	process.exit(below ? 1 : 0);
}
