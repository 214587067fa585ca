// node-stream.cjs: the official openai Node SDK as a baseline for
// bench/bench.sh: one streamed chat answer, `for await` over its chunks
// and one write per delta, as a JSON line like vmanjl's delta record.
//
// usage: node node-stream.cjs base_url body_json
//
// Skipped by bench.sh unless `require('openai')` works (NODE_PATH may
// name the node_modules that has it).
'use strict';
const OpenAI = require('openai');

async function main() {
	const [base, body] = process.argv.slice(2);
	const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'sk-bench',
	    maxRetries: 0 });
	const stream = await client.chat.completions.create(JSON.parse(body));
	for await (const chunk of stream) {
		const ch = chunk.choices[0];
		if (!ch || !ch.delta.content)
			continue;
		process.stdout.write(JSON.stringify({ type: 'delta',
		    index: ch.index, content: ch.delta.content }) + '\n');
	}
}

main().catch((e) => {
	console.error('node-stream: ' + e.message);
	process.exit(1);
});
