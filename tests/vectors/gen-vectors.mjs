// gen-vectors.mjs - regenerate the tokenizer test vectors with the reference,
// Hugging Face tokenizers (Rust) through its Node binding @anush008/tokenizers.
//
//   (cd tests/node && npm ci)
//   node tests/vectors/gen-vectors.mjs [QWEN3_TOKENIZER.json]
//
// Writes tests/vectors/<variant>.jsonl, one {"text": ..., "ids": [...]} per
// line, add_special_tokens=false.  The strings are deterministic (seeded PRNG)
// and cover the pitfalls in docs/tokenizer.md.  Variants run the same Qwen3
// vocabulary under the other pre-tokenizers we implement, so each scanner mode
// is checked against HF: "qwen3" (the file as is), "llama3" (\p{N}{1,3}),
// "gpt2" (ByteLevel use_regex:true), "legacy" (merges as "a b" strings,
// Qwen2/2.5 style, no NFC), "strip" (lstrip on <think> and <|im_start|>,
// rstrip on </think> and <|im_end|>, on the strings that contain them),
// "added" (added tokens whose id HF chooses: see the variant).  The tests
// rebuild those variants the same way (tests/unit/test_tokenizer_variants.c).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import url from 'node:url';

const here = path.dirname(url.fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'node', 'package.json'));
const { Tokenizer } = require('@anush008/tokenizers');
const tokPath = process.argv[2] ||
	path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'),
		'infty/tokenizers/qwen3-3.7.2/tokenizer.json');

// Deterministic PRNG (mulberry32).
let seed = 0x1f2e3d4c;
const rnd = () => {
	seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
	let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
	t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rnd() * a.length)];
const cp = (c) => String.fromCodePoint(c);

const added = JSON.parse(fs.readFileSync(tokPath, 'utf8')).added_tokens.map((t) => t.content);

// Hand-written cases: each one a known pitfall.
const fixed = [
	'', ' ', '  ', '\n', '\r\n', '\t', 'a', 'Hello world', 'Hello  world', 'a   b', 'a  1',
	'   \n  y', 'x \n\n y', 'end   ', 'end \n', 'tab\tsep', 'a\t\tb', '\u00a0word', '«Привет»',
	'\u3000全角', "'s", " 's", "'sound", "it's", "IT'S", "we'RE", "they've", "I'LL", "I'd", "'ſx",
	"'Sx", "don't", "DON'T", "'m", "'M", "'re'", "''s", "'", "'\n", 'x.<|im_end|>', 'X.<|im_end|>',
	'<think>', '<think>\u0338', '</think>\n\n', '<think>\nOkay, let me see.\n</think>', '<|im_start|>user\nhi<|im_end|>',
	'<|endoftext|><|endoftext|>', '<<think>>', '<|im_end', '<|im_end|', 'e\u0301', 'e\u0301\u0301', 'Å', 'A\u030a',
	'\u212b', '\u1100\u1161\u11a8', 'ﬁ', '1١½Ⅷ', '12345678901', '3.14159', '-0.5e-10', '1,000,000',
	'$x^2 + y^2 = z^2$', '\\frac{a}{b}', '\\[\\int_0^1 f(x)\\,dx\\]', '\\(\\sqrt{2}\\)', 'a_{i,j}',
	'∑_{k=1}^{n} k = n(n+1)/2', '≤≥≠≈∞', 'x≥0', '→', '👍', '👨‍👩‍👧‍👦', '🇫🇷', '👍🏽', '❤️', 'e\u0301cole',
	'中文字符测试', '日本語のテキスト', '한국어 텍스트', 'ภาษาไทย', 'العربية', 'עברית', 'हिन्दी', 'Ελληνικά',
	'\ud800', 'a\udc00b', '\ufffd', '\u0085', '\u2028x', '\u2029', '\u200b', '\u00ad', '\ufeffBOM',
	'\u0000', '\u0001\u0002', '\u007f', 'a\r\rb', '\r', '\r\n\r\n', ' \r\n ', 'x\n \n', '.\n\n',
	'!!!\n', '...\r\n\r\n', '  .  ', ' .', '. ', '\t.', '\u00a0.', '(a)', '[1]', '{x}', '"quoted"',
	'#include <stdio.h>', 'int main(void) {\n    return 0;\n}\n', '    indented\n        more',
	'http://example.com/a?b=c&d=e', 'user@example.com', 'C++ and C#', 'snake_case_name', 'CamelCase',
	'='.repeat(300), 'a'.repeat(200), ' '.repeat(50) + 'x', '\n'.repeat(20), 'ab'.repeat(150),
	'😀'.repeat(40), '1'.repeat(100), 'x' + ' '.repeat(7), '\u{10D50}\u{10D51}', '\u{16D40}\u{16D41}x',
	'\u{11380}', '\u{1CCF0}', '\u{13460}', 'Garay \u{10D4A}', 'ſ', 'ß', 'İstanbul', 'ǅ', 'ᾼ',
];

const words = ['the', 'The', 'of', 'and', 'x', 'y', 'n', 'prime', 'Let', 'So', 'we', 'get', 'therefore',
	'equation', 'Wait', 'Hmm', 'answer', 'boxed', 'function', 'integer', 'solution', 'π', 'θ', 'α',
	'Δ', 'über', 'naïve', 'café', 'résumé', 'Straße', 'ПРИВЕТ', 'мир', '数学', '問題', 'λx', 'ℝ',
	'ℕ', 'ﬁnal', 'Ω', 'µ', 'Ⅻ'];
const puncts = ['.', ',', ';', ':', '!', '?', '(', ')', '[', ']', '{', '}', '$', '$$', '\\', '^', '_',
	'+', '-', '=', '*', '/', '<', '>', '|', '&', '%', '#', '@', '~', '`', '"', "'", '…', '—', '–',
	'·', '×', '÷', '±', '°', '′', '≤', '≥', '≠', '∈', '∀', '∃', '∫', '√', '∞', '«', '»', '“', '”'];
const spaces = [' ', ' ', ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n', '\n ', '\u00a0',
	'\u3000', '\u2009', '\u202f', '\u2028', '\u0085', '\v', '\f', '    ', ' \t '];
const digits = () => {
	let s = '';
	const n = 1 + Math.floor(rnd() * 8);
	for (let i = 0; i < n; i++) s += pick(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '٣', '½', 'Ⅷ', '²', '𝟙']);
	return s;
};
const latex = ['\\frac', '\\sqrt', '\\sum', '\\int', '\\cdot', '\\left(', '\\right)', '\\times',
	'\\alpha', '\\beta', '\\leq', '\\geq', '\\boxed{', '\\text{', '\\mathbb{R}', '\\binom', '^{2}',
	'_{n}', '\\quad', '\\\\', '\\begin{align}', '\\end{align}', '&=', '\\,', '\\;'];
const emoji = ['😀', '👍', '👍🏽', '🤔', '❤️', '👨‍💻', '👩‍👩‍👧', '🏳️‍🌈', '🇯🇵', '✔', '✅', '🙂', '🧮', '1️⃣'];
const marks = ['\u0300', '\u0301', '\u0302', '\u0303', '\u0308', '\u030a', '\u0327', '\u0338',
	'\u0323', '\u0331', '\u20d7', '\u0345', '\u05b4', '\u093c', '\u3099', '\u309a'];
const bases = ['a', 'e', 'o', 'u', 'n', 'A', 'E', 'c', 'C', 'i', '=', '<', '>', 'ω', 'α', 'か', 'は',
	'ᄀ', '가', ' ', '1', "'", 's'];
const contractions = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll",
	"'LL", "'lL", "'d", "'D", "'ſ", "'x", "'", "''"];
const weird = ['\ud800', '\udfff', '\ud83d', '\ufffd', '\u0000', '\u0007', '\u001b', '\u001f',
	'\u200d', '\u200c', '\u2060', '\ufe0f', '\u{e0041}', '\u{10ffff}', '\u{f0000}', '\uffff', '\ufdd0'];
const u16 = [0x10d40, 0x10d4a, 0x10d50, 0x10d6e, 0x16d40, 0x16d50, 0x16d70, 0x11380, 0x113b8, 0x1ccf0,
	0x1ccf5, 0x13460, 0x105c0, 0x11bc0, 0x16100, 0x1e5d0, 0x1e5f1].map(cp);

const gens = {
	math: () => {
		let s = '';
		const n = 3 + Math.floor(rnd() * 12);
		for (let i = 0; i < n; i++) {
			const r = rnd();
			s += r < 0.3 ? pick(latex) : r < 0.5 ? pick(words) : r < 0.65 ? digits() : r < 0.85 ? pick(puncts) : pick(spaces);
		}
		return s;
	},
	prose: () => {
		let s = '';
		const n = 3 + Math.floor(rnd() * 15);
		for (let i = 0; i < n; i++) {
			s += pick(words);
			if (rnd() < 0.2) s += pick(contractions);
			if (rnd() < 0.25) s += pick(puncts);
			s += rnd() < 0.8 ? ' ' : pick(spaces);
		}
		return rnd() < 0.5 ? s : s.trimEnd();
	},
	cjk: () => {
		let s = '';
		const n = 2 + Math.floor(rnd() * 20);
		for (let i = 0; i < n; i++) {
			const r = rnd();
			s += r < 0.4 ? cp(0x4e00 + Math.floor(rnd() * 0x5000)) : r < 0.55 ? cp(0x3041 + Math.floor(rnd() * 0x55))
				: r < 0.65 ? cp(0xac00 + Math.floor(rnd() * 0x2ba4)) : r < 0.8 ? pick(['，', '。', '、', '：', '（', '）', '「', '」'])
				: r < 0.9 ? pick(words) : pick(spaces);
		}
		return s;
	},
	emoji: () => {
		let s = '';
		const n = 1 + Math.floor(rnd() * 10);
		for (let i = 0; i < n; i++) s += rnd() < 0.6 ? pick(emoji) : rnd() < 0.5 ? pick(words) : pick(spaces);
		return s;
	},
	marks: () => {
		let s = '';
		const n = 1 + Math.floor(rnd() * 8);
		for (let i = 0; i < n; i++) {
			s += pick(bases);
			const m = Math.floor(rnd() * 4);
			for (let j = 0; j < m; j++) s += pick(marks);
			if (rnd() < 0.3) s += pick(spaces);
		}
		return s;
	},
	whitespace: () => {
		let s = '';
		const n = 2 + Math.floor(rnd() * 8);
		for (let i = 0; i < n; i++) {
			s += pick(spaces) + (rnd() < 0.3 ? pick(spaces) : '');
			s += rnd() < 0.5 ? pick(words) : rnd() < 0.5 ? digits() : pick(puncts);
		}
		if (rnd() < 0.5) s += pick(spaces);
		return s;
	},
	digits: () => {
		let s = '';
		const n = 1 + Math.floor(rnd() * 6);
		for (let i = 0; i < n; i++) s += digits() + pick(['', ' ', '.', ',', 'x', ' ' + digits(), '-', '/']);
		return s;
	},
	contractions: () => {
		let s = '';
		const n = 1 + Math.floor(rnd() * 6);
		for (let i = 0; i < n; i++) s += pick(['', ' ', '  ', '\n']) + pick(words) + pick(contractions) + pick(['', 'x', 'ound', ' ', '.', 'S']);
		return s;
	},
	special: () => {
		let s = '';
		const n = 1 + Math.floor(rnd() * 6);
		for (let i = 0; i < n; i++) {
			const r = rnd();
			s += r < 0.35 ? pick(added) : r < 0.55 ? pick(words) : r < 0.7 ? pick(puncts) : r < 0.8 ? pick(marks) : pick(spaces);
		}
		return s;
	},
	weird: () => {
		let s = '';
		const n = 1 + Math.floor(rnd() * 8);
		for (let i = 0; i < n; i++) {
			const r = rnd();
			s += r < 0.3 ? pick(weird) : r < 0.5 ? pick(u16) : r < 0.7 ? pick(words) : r < 0.85 ? pick(marks) : pick(spaces);
		}
		return s;
	},
	random: () => {
		let s = '';
		const n = 1 + Math.floor(rnd() * 30);
		const pools = [words, puncts, spaces, latex, emoji, marks, bases, contractions, weird, u16, added];
		for (let i = 0; i < n; i++) s += pick(pick(pools));
		return s;
	},
	code: () => {
		const lines = ['def f(x):', '    return x * 2', 'for (int i = 0; i < n; ++i) {', '\tsum += a[i];',
			'}', '# comment', '// TODO: fix', 'x = [1, 2, 3]', 'print("hi")', '  if x:', '', '    '];
		let s = '';
		const n = 1 + Math.floor(rnd() * 8);
		for (let i = 0; i < n; i++) s += pick(lines) + pick(['\n', '\r\n', '\n\n', '  \n']);
		return s;
	},
};

const texts = [...fixed];
const perGen = 190;
for (const g of Object.values(gens)) for (let i = 0; i < perGen; i++) texts.push(g());
// As HF receives them: JS strings with lone surrogates reach Rust as U+FFFD.
const wellFormed = [...new Set(texts.map((t) => t.toWellFormed()))];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'infty-vec-'));
const base = JSON.parse(fs.readFileSync(tokPath, 'utf8'));
const variants = {
	qwen3: (j) => j,
	llama3: (j) => {
		j.pre_tokenizer.pretokenizers[0].pattern.Regex = j.pre_tokenizer.pretokenizers[0].pattern.Regex.replace('\\p{N}|', '\\p{N}{1,3}|');
		// Qwen's vocabulary has no multi-digit token, so give it some, or
		// the digit grouping would not show in the ids.
		// They take the ids right after the vocabulary; added tokens move up.
		const n = Object.keys(j.model.vocab).length;
		Object.assign(j.model.vocab, { '12': n, '123': n + 1, '45': n + 2 });
		for (const t of j.added_tokens) t.id += 3;
		j.model.merges.push(['1', '2'], ['12', '3'], ['4', '5']);
		return j;
	},
	gpt2: (j) => {
		j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
		return j;
	},
	strip: (j) => {
		for (const t of j.added_tokens) {
			if (t.content === '<think>' || t.content === '<|im_start|>') t.lstrip = true;
			if (t.content === '</think>' || t.content === '<|im_end|>') t.rstrip = true;
		}
		return j;
	},
	legacy: (j) => {
		j.normalizer = null;
		j.model.merges = j.model.merges.map((m) => m.join(' '));
		return j;
	},
	// Added tokens whose id HF chooses, not the file: "Hello" at its vocab
	// id (a token merges reach), "think" with a wrong id (HF gives the
	// vocab's), "<gap>" at an id past a gap (HF gives the next one).
	added: (j) => {
		const t = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
		j.added_tokens.push(t(j.model.vocab.Hello, 'Hello'), t(5, 'think'), t(200000, '<gap>'));
		return j;
	},
};
for (const [name, fn] of Object.entries(variants)) {
	const j = fn(structuredClone(base));
	const p = path.join(tmp, name + '.json');
	fs.writeFileSync(p, JSON.stringify(j));
	const tok = Tokenizer.fromFile(p);
	const list = name === 'qwen3' ? wellFormed
		: name === 'strip' ? wellFormed.filter((t) => /<think>|<\/think>|<\|im_(start|end)\|>/.test(t))
		: name === 'added' ? [...wellFormed.filter((t, i) => i % 8 === 0 || /Hello|think|<gap>/.test(t)),
			'Hello', 'HelloHello', ' Hello', 'Hello world', 'sayHello', 'thinking', '<think>think</think>',
			'<gap>', 'a<gap>b<gap>', '<gap', 'Hello<gap>think']
		: wellFormed.filter((_, i) => i % 4 === 0);
	const encs = await tok.encodeBatch(list, { addSpecialTokens: false });
	const lines = list.map((t, i) => JSON.stringify({ text: t, ids: encs[i].getIds() }));
	fs.writeFileSync(path.join(here, name + '.jsonl'), lines.join('\n') + '\n');
	console.error(`${name}: ${list.length} vectors`);
}
fs.rmSync(tmp, { recursive: true });

// NFC as HF does it (Unicode 9.0.0, not the newer Unicode of utf8proc or
// ICU): every code point that NFC could touch in any Unicode version this
// Node's ICU knows (a non-zero combining class, a decomposition), after "a"
// and before U+0334 (class 1), after "a" + U+0345 (class 240), alone, and
// decomposed (the compositions); Hangul syllables by sample.  40 code points
// a line, space-separated, tokenized by the Qwen3 file (NFC normalizer).
{
	const cand = [];
	for (let c = 0xa0; c < 0x110000; c++) {
		if (c >= 0xd800 && c < 0xe000) continue;
		if (c >= 0xac00 && c < 0xd7a4 && (c - 0xac00) % 97 !== 0) continue;
		const x = cp(c), t1 = 'a' + x + '\u0334', t2 = 'a\u0345' + x;
		if (t1.normalize('NFD') !== t1 || t2.normalize('NFD') !== t2 || x.normalize('NFD') !== x)
			cand.push([t1, t2, x, x.normalize('NFD')].join(' '));
	}
	for (let l = 0x1100; l < 0x1113; l += 3)
		for (let v = 0x1161; v < 0x1176; v += 4)
			cand.push(cp(l) + cp(v) + ' ' + cp(l) + cp(v) + cp(0x11a8 + (v % 27)) + ' ' + cp(l) + cp(v) + cp(0x11a7));
	cand.push('\u0898\u0323', '\u0323\u0898', 'e\u0301\u0898\u0323', '\u{11382}\u{113c9}', '\u{16121}\u{1611e}');
	const lines = [];
	for (let i = 0; i < cand.length; i += 40) lines.push(cand.slice(i, i + 40).join(' '));
	const tok = Tokenizer.fromFile(tokPath);
	const encs = await tok.encodeBatch(lines, { addSpecialTokens: false });
	fs.writeFileSync(path.join(here, 'nfc.jsonl'),
		lines.map((t, i) => JSON.stringify({ text: t, ids: encs[i].getIds() })).join('\n') + '\n');
	console.error(`nfc: ${lines.length} vectors, ${cand.length} code points`);
}

// The real files of other models (make tokenizer-llama3 tokenizer-deepseek),
// all strings each.
const cacheDir = path.dirname(path.dirname(tokPath));
for (const [name, dirName] of [['llama3-real', 'llama3-3.7.2'], ['deepseek-real', 'deepseek_v3-3.7.2']]) {
	const p = path.join(cacheDir, dirName, 'tokenizer.json');
	if (!fs.existsSync(p)) {
		console.error(`${name}: SKIP, no ${p}`);
		continue;
	}
	const tok = Tokenizer.fromFile(p);
	const encs = await tok.encodeBatch(wellFormed, { addSpecialTokens: false });
	const lines = wellFormed.map((t, i) => JSON.stringify({ text: t, ids: encs[i].getIds() }));
	fs.writeFileSync(path.join(here, name + '.jsonl'), lines.join('\n') + '\n');
	console.error(`${name}: ${wellFormed.length} vectors`);
}
