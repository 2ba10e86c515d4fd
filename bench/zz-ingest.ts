import { benchIngest } from './ingest-freshness';
const env = JSON.parse(process.env.ENVJSON ?? '{}');
const r = await benchIngest(Number(process.env.EVENTS ?? 50000), Number(process.env.RATE ?? 10000), Number(process.env.SECONDS ?? 10), undefined, env);
for (const x of r) console.log(JSON.stringify(x).slice(0, 520));
process.exit(0);
