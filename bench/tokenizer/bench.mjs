// bench.mjs - the reference tokenizers' speed on the same texts as bench_tok:
// Hugging Face tokenizers (Rust, Node binding @anush008/tokenizers, batch
// encode, parallelism off) or tiktoken (npm, WASM build of its Rust core,
// loaded with the Qwen vocabulary as ranks, its added tokens as specials and
// the Qwen split pattern).  Prints one JSON object.
//
// usage: node bench.mjs hf|tiktoken TOKENIZER.json SAMPLE.jsonl FIELD
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import url from 'node:url';

const here = path.dirname(url.fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'tests', 'node', 'package.json'));
const [impl, tokPath, sample, field] = process.argv.slice(2);
const docs = fs.readFileSync(sample, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)[field]);
const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d), 0);
const now = () => Number(process.hrtime.bigint()) / 1e9;

let load, encode;
if (impl === 'hf') {
	const { Tokenizer } = require('@anush008/tokenizers');
	const t0 = now();
	const tok = Tokenizer.fromFile(tokPath);
	load = now() - t0;
	encode = async () => {
		let n = 0;
		for (let i = 0; i < docs.length; i += 64) {
			const encs = await tok.encodeBatch(docs.slice(i, i + 64), { addSpecialTokens: false });
			for (const e of encs) n += e.getIds().length;
		}
		return n;
	};
} else if (impl === 'tiktoken') {
	const { Tiktoken } = require('tiktoken');
	// tiktoken's file format: base64(token bytes) rank, one per line.  GPT-2
	// byte-level strings are mapped back to bytes; rank = id.
	const j = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
	const byteOf = new Map();
	let extra = 0;
	for (let b = 0; b < 256; b++) {
		const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
		byteOf.set(printable ? b : 256 + extra++, b);
	}
	const lines = [];
	for (const [s, id] of Object.entries(j.model.vocab)) {
		const bs = Buffer.from([...s].map((c) => byteOf.get(c.codePointAt(0))));
		lines.push(bs.toString('base64') + ' ' + id);
	}
	const specials = Object.fromEntries(j.added_tokens.map((t) => [t.content, t.id]));
	const pat = j.pre_tokenizer.pretokenizers[0].pattern.Regex;
	const bfe = lines.join('\n');
	const t0 = now();
	const tok = new Tiktoken(bfe, specials, pat);
	load = now() - t0;
	encode = async () => {
		let n = 0;
		for (const d of docs) n += tok.encode(d, 'all').length;
		return n;
	};
} else {
	console.error('usage: node bench.mjs hf|tiktoken TOKENIZER.json SAMPLE.jsonl FIELD');
	process.exit(2);
}
// Best of two runs, like bench_tok.
let best = Infinity, tokens = 0;
for (let r = 0; r < 2; r++) {
	const t0 = now();
	tokens = await encode();
	best = Math.min(best, now() - t0);
}
console.log(JSON.stringify({ impl, docs: docs.length, bytes, tokens, load_s: +load.toFixed(3),
	encode_1t_s: +best.toFixed(3), peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1) }));
