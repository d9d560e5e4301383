// fake-prefix-cache.mjs - the fake endpoint's model of a server's automatic
// prefix cache (vLLM's APC, SGLang's RadixAttention), so a test or a
// benchmark can see how well a client's dispatch order lets one trace's
// requests reuse each other's prompts.
//
// The prompt is the messages' roles and contents, one token a byte (as the
// fake's prompt_tokens).  It is cut into blocks of B tokens; a block's key
// chains every byte before it, so two prompts share exactly their common
// leading blocks, as in vLLM.  On arrival a request is prefilled at once:
// its leading blocks found in the cache are its cached tokens, then all its
// blocks enter the cache (least recently used blocks are evicted beyond the
// capacity).  Running requests do not pin blocks: a simplification.
//
// ideal: the leading blocks found among every block ever seen, i.e. every
// repeat served from the cache whatever the order and capacity.

function promptText(messages) {
	let s = '';
	for (const m of messages) s += `<|${m.role}|>\n${m.content || ''}\n`;
	return Buffer.from(s, 'utf8');
}

export class PrefixCache {
	constructor(capacityTokens, blockTokens = 16) {
		this.block = blockTokens;
		this.capacity = Math.max(1, Math.floor(capacityTokens / blockTokens));
		this.lru = new Map(); // key -> true, in recency order
		this.seen = new Set();
	}

	// Keys of the prompt's full blocks: two 32-bit FNV-1a lanes over every
	// byte so far, read at each block boundary.
	keys(buf) {
		const out = [];
		let a = 0x811c9dc5, b = 0x01000193 ^ 0x5bd1e995;
		for (let i = 0; i < buf.length; i++) {
			a = Math.imul(a ^ buf[i], 0x01000193);
			b = Math.imul(b ^ buf[i], 0x5bd1e995) ^ (b >>> 15);
			if ((i + 1) % this.block === 0) out.push(`${a >>> 0}:${b >>> 0}`);
		}
		return out;
	}

	// A request arrives: its cached and ideal cached tokens.
	admit(messages) {
		const keys = this.keys(promptText(messages));
		let hit = 0, ideal = 0;
		while (hit < keys.length && this.lru.has(keys[hit])) hit++;
		while (ideal < keys.length && this.seen.has(keys[ideal])) ideal++;
		for (const k of keys) {
			this.lru.delete(k);
			this.lru.set(k, true);
			this.seen.add(k);
		}
		while (this.lru.size > this.capacity) this.lru.delete(this.lru.keys().next().value);
		return { cached: hit * this.block, ideal: ideal * this.block };
	}
}
