// SubscribeToShard (Enhanced Fan-Out) through the unmodified JS SDK v3 over HTTP/2: h2c with prior
// knowledge, and TLS + ALPN h2. Real server, real records (PutRecords), real event streams.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import {
    CreateStreamCommand, DescribeStreamSummaryCommand, RegisterStreamConsumerCommand,
    DescribeStreamConsumerCommand, SubscribeToShardCommand, PutRecordsCommand, PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { startServer, waitFor, stopServerAndClient } from './harness.mjs';

const SHARD = (i) => `shardId-${String(i).padStart(12, '0')}`;
const MAX = (1n << 128n) - 1n;
// An ExplicitHashKey inside shard i of n (fresh CreateStream ranges, kinesis-protocol.md §5).
const hashIn = (i, n) => String((MAX / BigInt(n)) * BigInt(i) + 7n);

async function expectError(promise, name) {
    await assert.rejects(promise, (err) => {
        assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
        assert.equal(err.$metadata?.httpStatusCode, 400);
        return true;
    });
}

async function setupStream(client, name, shards, consumers, maxRecordKiB = undefined) {
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards,
        MaxRecordSizeInKiB: maxRecordKiB }));
    const sum = await waitFor(async () => {
        const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        return r.StreamDescriptionSummary.StreamStatus === 'ACTIVE' && r.StreamDescriptionSummary;
    }, { timeoutMs: 10000, intervalMs: 50, what: `${name} ACTIVE` });
    const arns = [];
    for (let i = 0; i < consumers; i++) {
        const r = await client.send(new RegisterStreamConsumerCommand({
            StreamARN: sum.StreamARN, ConsumerName: `c${i}` }));
        arns.push(r.Consumer.ConsumerARN);
    }
    for (const arn of arns) {
        await waitFor(async () => {
            const r = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: arn }));
            return r.ConsumerDescription.ConsumerStatus === 'ACTIVE';
        }, { timeoutMs: 10000, intervalMs: 50, what: 'consumer ACTIVE' });
    }
    return { streamArn: sum.StreamARN, arns };
}

// Puts `n` records (keys `${tag}-${i}`) into shard `shard` of `nshards`; returns their numbers.
async function put(client, stream, shard, nshards, tag, n, size = 16) {
    const seqs = [];
    for (let i = 0; i < n; i += 500) {
        const batch = [];
        for (let j = i; j < Math.min(n, i + 500); j++) {
            const data = Buffer.alloc(size, 97 + (j % 26));
            data.write(`${tag}-${j}|`);
            batch.push({ Data: data, PartitionKey: `${tag}-${j}`, ExplicitHashKey: hashIn(shard, nshards) });
        }
        const r = await client.send(new PutRecordsCommand({ StreamName: stream, Records: batch }));
        assert.equal(r.FailedRecordCount ?? 0, 0);
        for (const rec of r.Records) seqs.push(rec.SequenceNumber);
    }
    return seqs;
}

// One live subscription: collects records, continuation numbers and heartbeats in the background.
class Sub {
    constructor(client, arn, shard, pos) {
        this.records = [];
        this.events = 0;
        this.heartbeats = 0;
        this.cont = null;
        this.ended = false;
        this.error = null;
        this.arrivals = [];
        this.abort = new AbortController();
        this.ready = client.send(new SubscribeToShardCommand({
            ConsumerARN: arn, ShardId: shard, StartingPosition: pos,
        }), { abortSignal: this.abort.signal });
        this.done = this.ready.then(async (r) => {
            try {
                for await (const ev of r.EventStream) {
                    const e = ev.SubscribeToShardEvent;
                    if (!e) continue;
                    this.events++;
                    if (e.Records.length === 0) this.heartbeats++;
                    for (const rec of e.Records) {
                        this.records.push(rec);
                        this.arrivals.push(Date.now());
                    }
                    if (e.ContinuationSequenceNumber) this.cont = e.ContinuationSequenceNumber;
                    this.last = e;
                }
                this.ended = true;
            } catch (err) {
                if (!this.abort.signal.aborted) this.error = err;
            }
        });
    }
    keys() { return this.records.map((r) => r.PartitionKey); }
    async until(pred, what, timeoutMs = 10000) {
        await waitFor(() => { if (this.error) throw this.error; return pred(this); },
            { timeoutMs, intervalMs: 10, what });
    }
    async close() { this.abort.abort(); await this.done; }
}

function suite(tls) {
    const label = tls ? 'TLS h2' : 'h2c';
    describe(`SubscribeToShard over ${label}`, () => {
        let srv, client;
        const S = `fan-${tls ? 'tls' : 'h2c'}`;
        let arns;
        const subs = [];
        const sub = (...a) => { const s = new Sub(client, ...a); subs.push(s); return s; };

        before(async () => {
            // h2c: one worker, so one hub per shard and the sharing is exact; TLS: two workers
            // (a hub per worker and shard).
            srv = await startServer({ tls, args: ['--limits', 'off', '--heartbeat-ms', '300',
                '--workers', tls ? '2' : '1'] });
            ({ client } = await srv.client({ tls }));
            ({ arns } = await setupStream(client, S, 3, 5));
        });

        after(async () => {
            for (const s of subs) await s.close().catch(() => {});
            await stopServerAndClient(srv, client);
        });

        it('refuses a 6th consumer (LimitExceededException, --max-consumers 5)', async () => {
            const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: S }));
            await expectError(client.send(new RegisterStreamConsumerCommand({
                StreamARN: r.StreamDescriptionSummary.StreamARN, ConsumerName: 'sixth' })),
            'LimitExceededException');
        });

        it('TRIM_HORIZON, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER of a continuation', async () => {
            const seqs = await put(client, S, 0, 3, 'th', 10);
            const a = sub(arns[0], SHARD(0), { Type: 'TRIM_HORIZON' });
            await a.until((s) => s.records.length >= 10, '10 records from TRIM_HORIZON');
            assert.deepEqual(a.keys(), seqs.map((_, i) => `th-${i}`));
            assert.deepEqual(a.records.map((r) => r.SequenceNumber), seqs);
            assert.ok(a.records[3].Data instanceof Uint8Array);
            assert.equal(Buffer.from(a.records[3].Data).toString().slice(0, 5), 'th-3|');
            await a.until((s) => s.cont === seqs[9], 'continuation = last record');

            const at = sub(arns[1], SHARD(0), { Type: 'AT_SEQUENCE_NUMBER', SequenceNumber: seqs[5] });
            await at.until((s) => s.records.length >= 5, 'records from AT_SEQUENCE_NUMBER');

            // Resume after the continuation: nothing replayed, the next records arrive once.
            const after = sub(arns[2], SHARD(0), { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: a.cont });
            await after.until((s) => s.heartbeats >= 1, 'a heartbeat on the resumed pipe');
            assert.equal(after.records.length, 0, 'nothing replayed');
            const more = await put(client, S, 0, 3, 'th2', 2);
            await after.until((s) => s.records.length >= 2, 'new records after resume');
            await a.until((s) => s.records.length >= 12, 'tail records');
            await at.until((s) => s.records.length >= 7, 'tail records (AT)');
            assert.deepEqual(after.records.map((r) => r.SequenceNumber), more);
            assert.deepEqual(at.keys(), ['th-5', 'th-6', 'th-7', 'th-8', 'th-9', 'th2-0', 'th2-1']);
            assert.deepEqual(a.keys().slice(10), ['th2-0', 'th2-1']);
        });

        it('a second concurrent subscription is refused (ResourceInUseException)', async () => {
            const first = sub(arns[3], SHARD(2), { Type: 'LATEST' });
            await first.ready;
            await expectError(client.send(new SubscribeToShardCommand({
                ConsumerARN: arns[3], ShardId: SHARD(2), StartingPosition: { Type: 'LATEST' } })),
            'ResourceInUseException');
            await expectError(client.send(new SubscribeToShardCommand({
                ConsumerARN: arns[3], ShardId: 'shardId-000000000099',
                StartingPosition: { Type: 'LATEST' } })), 'ResourceNotFoundException');
            await expectError(client.send(new SubscribeToShardCommand({
                ConsumerARN: arns[3], ShardId: SHARD(1),
                StartingPosition: { Type: 'AT_SEQUENCE_NUMBER' } })), 'ValidationException');
        });

        it('LATEST and AT_TIMESTAMP; records put while subscribed arrive fast', async () => {
            await put(client, S, 1, 3, 'old', 3);
            await new Promise((r) => setTimeout(r, 30));
            const t = new Date();
            await new Promise((r) => setTimeout(r, 30));
            const latest = sub(arns[4], SHARD(1), { Type: 'LATEST' });
            const ts = sub(arns[0], SHARD(1), { Type: 'AT_TIMESTAMP', Timestamp: t });
            await latest.ready;
            await ts.ready;
            await latest.until((s) => s.events >= 1 || s.heartbeats >= 1, 'LATEST pipe live');
            const t0 = Date.now();
            await put(client, S, 1, 3, 'new', 5);
            await latest.until((s) => s.records.length >= 5, 'LATEST records', 5000);
            const took = latest.arrivals[4] - t0;
            assert.ok(took < 1000, `put -> push took ${took} ms`);
            assert.deepEqual(latest.keys(), ['new-0', 'new-1', 'new-2', 'new-3', 'new-4']);
            await ts.until((s) => s.records.length >= 5, 'AT_TIMESTAMP records');
            assert.deepEqual(ts.keys(), ['new-0', 'new-1', 'new-2', 'new-3', 'new-4']);
        });

        it('a 10 MiB record arrives whole, on the tail and in catch-up', async () => {
            const SL = `${S}-large`;
            const { arns: al } = await setupStream(client, SL, 1, 2, 10240);
            const tail = sub(al[0], SHARD(0), { Type: 'LATEST' });
            await tail.ready;
            await tail.until((s) => s.events >= 1, 'tail pipe live');
            const big = new Uint8Array(10 * 1024 * 1024 - 1).map((_, i) => (i * 131 + (i >> 10)) & 255);
            const r = await client.send(new PutRecordCommand({ StreamName: SL, PartitionKey: 'k',
                Data: big }));
            await tail.until((s) => s.records.length >= 1, 'the record on the tail', 30000);
            const catchup = sub(al[1], SHARD(0), { Type: 'TRIM_HORIZON' });
            await catchup.until((s) => s.records.length >= 1, 'the record in catch-up', 30000);
            for (const s of [tail, catchup]) {
                assert.equal(s.records.length, 1);
                assert.equal(s.records[0].SequenceNumber, r.SequenceNumber);
                assert.equal(Buffer.compare(Buffer.from(s.records[0].Data), Buffer.from(big)), 0);
            }
        });

        it('5 consumers x 3 shards each get every record exactly once, in order', async () => {
            const S5 = `${S}-5x3`;
            const { arns: a5 } = await setupStream(client, S5, 3, 5);
            const grid = [];
            for (let c = 0; c < 5; c++) {
                for (let sh = 0; sh < 3; sh++) grid.push({ c, sh, s: sub(a5[c], SHARD(sh), { Type: 'LATEST' }) });
            }
            for (const g of grid) await g.s.ready;
            await waitFor(() => grid.every((g) => g.s.events >= 1), { what: 'all 15 pipes live' });
            const before = await (await fetch(`${srv.endpoint}/stats`)).json();
            const want = [];
            for (let sh = 0; sh < 3; sh++) want.push((await put(client, S5, sh, 3, `g${sh}`, 100)));
            for (const g of grid) {
                await g.s.until((s) => s.records.length >= 100, `consumer ${g.c} shard ${g.sh}`);
                assert.deepEqual(g.s.records.map((r) => r.SequenceNumber), want[g.sh]);
            }
            const st = await (await fetch(`${srv.endpoint}/stats`)).json();
            const built = st.tail_frames_built - before.tail_frames_built;
            const handed = st.tail_frames_handed - before.tail_frames_handed;
            // Each pipe appends a shared frame as ONE chain per DATA frame, not one per record
            // part (a 100-record frame would be 201 parts): heartbeats add a few more.
            const chains = st.pulled_chains - before.pulled_chains;
            assert.ok(chains <= handed * 3 + 200, `${chains} chains for ${handed} frames handed`);
            // One frame per append batch per worker, handed to the 5 pipes of that shard.
            if (tls) assert.ok(built >= 1 && handed >= built && handed <= built * 5, `built ${built}, handed ${handed}`);
            else assert.ok(built >= 1 && handed === built * 5, `built ${built}, handed ${handed}`);
            // A 512 KiB record to 5 caught-up pipes: built once, sent by reference in 16 KiB
            // DATA frames (nothing split-copied by the h2 transport).
            const big = await put(client, S5, 0, 3, 'big', 1, 512 * 1024);
            for (let c = 0; c < 5; c++) {
                const g = grid[c * 3];
                await g.s.until((s) => s.records.length >= 101, 'big record');
                assert.equal(g.s.records[100].SequenceNumber, big[0]);
                assert.equal(g.s.records[100].Data.length, 512 * 1024);
            }
            const st2 = await (await fetch(`${srv.endpoint}/stats`)).json();
            assert.equal(st2.h2_data_copied_bytes, 0, 'h2 copied no DATA bytes');
            assert.ok(st2.h2_data_ref_bytes - st.h2_data_ref_bytes >= 5 * 512 * 1024);
            assert.ok(st2.tail_bytes_flattened - st.tail_bytes_flattened < 2 * 700 * 1024,
                'the big frame was flattened once per batch, not per consumer');
        });

        if (!tls) {
            it('a stalled client (never reads) does not slow the others', async () => {
                const S2 = `${S}-stall`;
                const { arns: a2 } = await setupStream(client, S2, 1, 2);
                const fast = sub(a2[0], SHARD(0), { Type: 'LATEST' });
                await fast.ready;
                // Raw h2 client with a small window that never reads its response body.
                const sess = http2.connect(srv.endpoint, { settings: { initialWindowSize: 16384 } });
                const body = JSON.stringify({ ConsumerARN: a2[1], ShardId: SHARD(0),
                    StartingPosition: { Type: 'LATEST' } });
                const req = sess.request({
                    ':method': 'POST', ':path': '/',
                    'content-type': 'application/x-amz-json-1.1',
                    'x-amz-target': 'Kinesis_20131202.SubscribeToShard',
                    'x-amz-date': '20260101T000000Z',
                    authorization: 'AWS4-HMAC-SHA256 Credential=AKIDSHARDCASTTEST/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00',
                });
                req.end(body);
                const status = await new Promise((res) => req.on('response', (h) => res(h[':status'])));
                assert.equal(status, 200);
                req.pause();
                const t0 = Date.now();
                let n = 0;
                for (let i = 0; i < 100; i++) n += (await put(client, S2, 0, 1, `st${i}`, 10, 1024)).length;
                await fast.until((s) => s.records.length >= n, 'fast consumer got everything', 10000);
                const took = Date.now() - t0;
                assert.ok(took < 8000, `fast consumer took ${took} ms`);
                const st = await (await fetch(`${srv.endpoint}/stats`)).json();
                assert.ok(st.tail_drops >= 1, 'the stalled pipe fell back to catch-up');
                // Once it reads, the stalled client gets every record exactly once, in order.
                const keys = [];
                let buf = Buffer.alloc(0);
                req.on('data', (chunk) => {
                    buf = Buffer.concat([buf, chunk]);
                    while (buf.length >= 12 && buf.length >= buf.readUInt32BE(0)) {
                        const total = buf.readUInt32BE(0);
                        const hlen = buf.readUInt32BE(4);
                        const payload = buf.subarray(12 + hlen, total - 4).toString();
                        if (buf.subarray(12, 12 + hlen).includes('SubscribeToShardEvent')) {
                            for (const r of JSON.parse(payload).Records) keys.push(r.PartitionKey);
                        }
                        buf = buf.subarray(total);
                    }
                });
                req.resume();
                await waitFor(() => keys.length >= n, { timeoutMs: 10000, what: 'stalled client catches up' });
                const want = [];
                for (let i = 0; i < 100; i++) for (let j = 0; j < 10; j++) want.push(`st${i}-${j}`);
                assert.deepEqual(keys, want);
                req.close();
                sess.close();
            });

            it('a pipe ends cleanly at its lifetime, with heartbeats before', async () => {
                const s2 = await startServer({ args: ['--limits', 'off', '--heartbeat-ms', '200',
                    '--subscription-lifetime-ms', '2000'] });
                try {
                    const { client: c2 } = await s2.client();
                    const { arns: a } = await setupStream(c2, 'life', 1, 1);
                    const t0 = Date.now();
                    const s = new Sub(c2, a[0], SHARD(0), { Type: 'TRIM_HORIZON' });
                    await s.done;
                    const took = Date.now() - t0;
                    assert.equal(s.error, null, `stream error: ${s.error}`);
                    assert.ok(s.ended, 'iteration ended');
                    assert.ok(took >= 1900 && took < 6000, `lifetime ${took} ms`);
                    assert.ok(s.heartbeats >= 5, `heartbeats ${s.heartbeats}`);
                    // Resubmitting at once is allowed: the previous lease ended with its pipe.
                    const again = new Sub(c2, a[0], SHARD(0), { Type: 'AFTER_SEQUENCE_NUMBER',
                        SequenceNumber: s.cont });
                    await again.ready;
                    await again.close();
                    c2.destroy();
                } finally {
                    await s2.stop();
                    await s2.cleanup();
                }
            });
        }
    });
}

suite(false);
suite(true);
