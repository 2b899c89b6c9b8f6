// Quick put -> push latency probe (not a benchmark; loadtest/ does those). Starts shardcastd,
// subscribes C consumers to one shard from LATEST over h2c, puts N records of SIZE bytes at RATE
// records/s with PutRecords (one record per call), and prints p50/p99/max of the time from the
// PutRecords send to each consumer's receipt.
//   node tests/integration/subscribe_latency.mjs [N=1000] [RATE=100] [C=5] [SIZE=1024]
// Env as for the integration tests (SHARDCASTD, NODE_PATH); server args: --fsync interval.
import {
    CreateStreamCommand, DescribeStreamSummaryCommand, RegisterStreamConsumerCommand,
    DescribeStreamConsumerCommand, SubscribeToShardCommand, PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { startServer, waitFor } from './harness.mjs';

const [N = 1000, RATE = 100, C = 5, SIZE = 1024] = process.argv.slice(2).map(Number);
let result = 'no result';
const srv = await startServer({ args: ['--fsync', 'interval', '--limits', 'off'] });
try {
    const { client } = await srv.client();
    const put = (await srv.client()).client;
    await client.send(new CreateStreamCommand({ StreamName: 'lat', ShardCount: 1 }));
    const sum = await waitFor(async () => {
        const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'lat' }));
        return r.StreamDescriptionSummary.StreamStatus === 'ACTIVE' && r.StreamDescriptionSummary;
    });
    const sent = new Map();
    const lat = [];
    const subs = [];
    for (let i = 0; i < C; i++) {
        const c = await client.send(new RegisterStreamConsumerCommand({ StreamARN: sum.StreamARN, ConsumerName: `c${i}` }));
        const arn = c.Consumer.ConsumerARN;
        await waitFor(async () => (await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: arn })))
            .ConsumerDescription.ConsumerStatus === 'ACTIVE');
        const { client: sc } = await srv.client();
        const r = await sc.send(new SubscribeToShardCommand({ ConsumerARN: arn, ShardId: 'shardId-000000000000',
            StartingPosition: { Type: 'LATEST' } }));
        subs.push((async () => {
            let got = 0;
            for await (const ev of r.EventStream) {
                const now = performance.now();
                for (const rec of ev.SubscribeToShardEvent?.Records ?? []) {
                    lat.push(now - sent.get(rec.PartitionKey));
                    if (++got === N) return;
                }
            }
        })());
    }
    await new Promise((r) => setTimeout(r, 300));
    const data = Buffer.alloc(SIZE, 120);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
        const due = t0 + (i * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const key = `k${i}`;
        sent.set(key, performance.now());
        put.send(new PutRecordsCommand({ StreamName: 'lat', Records: [{ Data: data, PartitionKey: key }] }));
    }
    await Promise.race([Promise.all(subs), new Promise((r) => setTimeout(r, 15000))]);
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))].toFixed(2);
    result = (`records ${N} x ${C} consumers, ${SIZE} B, ${RATE}/s, h2c: received ${lat.length}; ` +
        `put->push ms p50 ${q(0.5)} p99 ${q(0.99)} max ${lat[lat.length - 1].toFixed(2)}`);
} finally {
    await srv.stop({ timeoutMs: 10000 }).catch((e) => console.error(String(e)));
    await srv.cleanup();
}
console.log(result);
process.exit(0);
