// gen-loader.mjs - what Hugging Face tokenizers (the pinned Node binding,
// tokenizers 0.22.2) does with small tokenizer.json files at the loader's
// edges: refuses them, or loads them and gives these ids.
//
//   (cd tests/node && npm ci)
//   node tests/vectors/gen-loader.mjs
//
// Writes tests/vectors/loader.jsonl, one case a line:
//   {"name", "doc": the file's text, "hf_error": HF's message or null,
//    "texts": [...], "ids": [[...], ...] (HF's, when it loads),
//    "refuse": what our message must contain when we refuse a file HF loads
//              (something we do not implement), else absent}
// tests/unit/test_tokenizer.c (test_loader_vs_hf) loads every doc: where HF
// refuses, we refuse; where HF loads, we load and give its ids, unless the
// case says we refuse it and why.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import url from 'node:url';

const here = path.dirname(url.fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'node', 'package.json'));
const { Tokenizer } = require('@anush008/tokenizers');

// The 256 byte tokens (GPT-2's byte-to-unicode alphabet), "ab" and "abab".
const vocab = () => {
	const v = {};
	let extra = 0;
	for (let b = 0; b < 256; b++) {
		const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
		v[String.fromCodePoint(printable ? b : 256 + extra++)] = b;
	}
	return Object.assign(v, { ab: 256, abab: 257 });
};
const QWEN_RE = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const tok = (id, content, o = {}) => ({
	id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...o,
});
const base = () => ({
	version: '1.0', truncation: null, padding: null,
	added_tokens: [tok(258, '<x>')],
	normalizer: { type: 'NFC' },
	pre_tokenizer: {
		type: 'Sequence', pretokenizers: [
			{ type: 'Split', pattern: { Regex: QWEN_RE }, behavior: 'Isolated', invert: false },
			{ type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }],
	},
	post_processor: null, decoder: null,
	model: {
		type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
		fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: vocab(), merges: [['a', 'b'], ['ab', 'ab']],
	},
});
// A case: a name, an edit of the base document (or a raw text), and what we
// refuse although HF loads it.
const edit = (fn) => { const d = base(); fn(d); return d; };
const T = ['ababa<x>', 'ab <x> abab', 'xab', 'a <x><y> b', '<x>ab<y>', '\u0120ab x\u0120ab', 'Hello ab'];
const cases = [
	['base', base()],
	['empty object', '{}'],
	['no model', edit((d) => delete d.model)],
	['added_tokens an object', edit((d) => (d.added_tokens = { id: 258, content: '<x>' }))],
	['added_tokens a string', edit((d) => (d.added_tokens = '<x>'))],
	['added_tokens null', edit((d) => (d.added_tokens = null))],
	['added token not an object', edit((d) => (d.added_tokens = ['<x>']))],
	['added token without special', edit((d) => delete d.added_tokens[0].special)],
	['added token without lstrip', edit((d) => delete d.added_tokens[0].lstrip)],
	['added token without content', edit((d) => delete d.added_tokens[0].content)],
	['added token without id', edit((d) => delete d.added_tokens[0].id)],
	['special "yes"', edit((d) => (d.added_tokens[0].special = 'yes'))],
	['lstrip 1', edit((d) => (d.added_tokens[0].lstrip = 1))],
	['normalized "false"', edit((d) => (d.added_tokens[0].normalized = 'false'))],
	['single_word null', edit((d) => (d.added_tokens[0].single_word = null))],
	['id a string', edit((d) => (d.added_tokens[0].id = '258'))],
	['id negative', edit((d) => (d.added_tokens[0].id = -1))],
	['id fractional', edit((d) => (d.added_tokens[0].id = 258.5))],
	['id past u32', edit((d) => (d.added_tokens[0].id = 4294967296))],
	['content a number', edit((d) => (d.added_tokens[0].content = 5))],
	['no added_tokens', edit((d) => delete d.added_tokens)],
	['id leaves a gap', edit((d) => (d.added_tokens[0].id = 300))],
	['ids out of order with gaps', edit((d) => d.added_tokens.splice(0, 1, tok(300, '<x>'), tok(290, '<y>', { special: false })))],
	['content in vocab, another id', edit((d) => d.added_tokens.push(tok(259, 'ab')))],
	['content in vocab at its id, reachable by merges', edit((d) => d.added_tokens.push(tok(256, 'ab', { special: false })))],
	['content a vocab key, not its bytes', edit((d) => {
		d.model.vocab['\u0120ab'] = 258;
		d.added_tokens = [tok(259, '<x>'), tok(260, '\u0120ab', { special: false })];
	})],
	['empty content skipped', edit((d) => d.added_tokens.unshift(tok(258, '')))],
	['same token twice', edit((d) => d.added_tokens.push(tok(259, '<x>'), tok(260, '<y>')))],
	['same content, other flags: the last wins', edit((d) => d.added_tokens.push(tok(259, '<x>', { lstrip: true, special: false }), tok(260, '<y>')))],
	// HF matches normalized:false tokens on the raw text first, then the
	// normalized:true ones inside each piece left.
	['normalized and not: the raw ones first', edit((d) => {
		d.normalizer = null;
		d.added_tokens = [tok(258, 'ab', { normalized: true, special: false }), tok(259, 'bc', { special: false }),
			tok(260, '<y>', { normalized: true, lstrip: true }), tok(261, '<x>', { rstrip: true })];
	}), null, ['abc', 'xabcx', 'ab bc', 'abab', 'a <y>b', 'c <x> <y> ab', '<x>  <y>', 'bc<y>', ' <y>bc <y>']],
	['vocab with a gap', edit((d) => Object.assign(d.model.vocab, { ab: 300, abab: 301 }))],
	['version 2.0', edit((d) => (d.version = '2.0'))],
	['no version', edit((d) => delete d.version)],
	['byte_fallback "no"', edit((d) => (d.model.byte_fallback = 'no'))],
	['ignore_merges "yes"', edit((d) => (d.model.ignore_merges = 'yes'))],
	['dropout a string', edit((d) => (d.model.dropout = '0.5'))],
	['dropout 0', edit((d) => (d.model.dropout = 0))],
	['Split invert "no"', edit((d) => (d.pre_tokenizer.pretokenizers[0].invert = 'no'))],
	['ByteLevel use_regex "no"', edit((d) => (d.pre_tokenizer.pretokenizers[1].use_regex = 'no'))],
	// HF loads these; we refuse them, saying why.
	['byte_fallback true', edit((d) => (d.model.byte_fallback = true)), 'byte_fallback'],
	['dropout 0.5', edit((d) => (d.model.dropout = 0.5)), 'dropout'],
	['Split invert true', edit((d) => (d.pre_tokenizer.pretokenizers[0].invert = true)), 'invert'],
	['single_word true', edit((d) => (d.added_tokens[0].single_word = true)), 'single_word'],
	['normalized added token with NFC', edit((d) => (d.added_tokens[0].normalized = true)), 'normalized'],
	['truncation', edit((d) => (d.truncation = { direction: 'Right', max_length: 2, strategy: 'LongestFirst', stride: 0 })), 'truncation'],
	['padding', edit((d) => (d.padding = { strategy: { Fixed: 8 }, direction: 'Right', pad_to_multiple_of: null, pad_id: 0, pad_type_id: 0, pad_token: '\u0100' })), 'padding'],
	['added id given to a vocab token', edit((d) => {
		Object.assign(d.model.vocab, { ab: 258, abab: 301 });
		d.added_tokens[0].id = 999;
	}), 'already'],
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infty-loader-'));
const lines = [];
for (const [name, doc, refuse, texts = T] of cases) {
	const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
	const p = path.join(tmp, 'tokenizer.json');
	fs.writeFileSync(p, text);
	const c = { name, doc: text, hf_error: null };
	try {
		const t = Tokenizer.fromFile(p);
		const encs = await t.encodeBatch(texts, { addSpecialTokens: false });
		c.texts = texts;
		c.ids = encs.map((e) => e.getIds());
	} catch (e) {
		c.hf_error = String(e.message || e).replace(/^Error loading from file/, '');
	}
	if (refuse) {
		if (c.hf_error) throw new Error(`${name}: HF refuses it too (${c.hf_error})`);
		c.refuse = refuse;
		// Dropout is random: its ids would change at every regeneration.
		if (doc.model && doc.model.dropout) delete c.texts, delete c.ids;
	}
	lines.push(JSON.stringify(c));
}
fs.rmSync(tmp, { recursive: true });
fs.writeFileSync(path.join(here, 'loader.jsonl'), lines.join('\n') + '\n');
console.error(`loader: ${cases.length} cases, ${lines.filter((l) => JSON.parse(l).hf_error).length} refused by HF`);
