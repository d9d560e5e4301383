// sdk-client.mjs - the comparison client of `make bench-summarize`: the
// official OpenAI Node SDK sending the same requests as infty-summarize
// (same messages, sampling and n) at the same concurrency, then printing its
// wall time and its own CPU time as JSON.
//
//   node sdk-client.mjs INPUT.jsonl BASE_URL CONCURRENCY PROMPT_FILE
import fs from 'node:fs';
import readline from 'node:readline';
import OpenAI from 'openai';

const [input, baseURL, conc, promptFile] = process.argv.slice(2);
const instruction = fs.readFileSync(promptFile, 'utf8').replace(/\n$/, '');
const reqs = [];
const rl = readline.createInterface({ input: fs.createReadStream(input) });
for await (const line of rl) {
	if (!line.trim()) continue;
	const r = JSON.parse(line);
	for (let i = 0; i + 1 < r.segments.length; i++)
		reqs.push([{ role: 'user', content: r.question },
			{ role: 'assistant', content: r.segments.slice(0, i + 1).map((s) => s.text).join('\n\n') },
			{ role: 'user', content: instruction }]);
}
const client = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0, timeout: 600000 });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let next = 0, ok = 0, failed = 0;
async function worker() {
	while (next < reqs.length) {
		const messages = reqs[next++];
		try {
			const res = await client.chat.completions.create({ model: 'fake-model', messages,
				temperature: 0.5, max_tokens: 2048, n: 4 });
			if (res.choices.some((c) => c.finish_reason === 'stop')) ok++; else failed++;
		} catch { failed++; }
	}
}
await Promise.all(Array.from({ length: Number(conc) }, worker));
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ requests: reqs.length, ok, failed, wall_s: wall,
	cpu_s: (cpu.user + cpu.system) / 1e6, max_rss_kb: Math.round(process.resourceUsage().maxRSS) }));
