// hf-ids.mjs - the reference: Hugging Face tokenizers (Rust, Node binding)
// ids for field FIELD of each JSONL line on stdin, one line of
// space-separated ids per record, add_special_tokens=false.
// usage: node tests/node/hf-ids.mjs TOKENIZER.json FIELD < in.jsonl > ids.txt
import { createRequire } from 'node:module';
import readline from 'node:readline';
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@anush008/tokenizers');

const [tokPath, field] = process.argv.slice(2);
if (!tokPath || !field) {
	console.error('usage: node hf-ids.mjs TOKENIZER.json FIELD < in.jsonl');
	process.exit(2);
}
const tok = Tokenizer.fromFile(tokPath);
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let batch = [];
const out = [];
const flush = async () => {
	if (!batch.length) return;
	const encs = await tok.encodeBatch(batch, { addSpecialTokens: false });
	for (const e of encs) process.stdout.write(e.getIds().join(' ') + '\n');
	batch = [];
};
for await (const line of rl) {
	if (!line) continue;
	batch.push(JSON.parse(line)[field]);
	if (batch.length >= 64) await flush();
}
await flush();
