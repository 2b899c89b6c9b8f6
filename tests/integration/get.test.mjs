// Classic read path through the unmodified JS SDK v3 over HTTP/2 (h2c prior knowledge and TLS
// ALPN h2): PutRecord/PutRecords then GetShardIterator/GetRecords return the exact Uint8Array
// bytes, including every byte value 0..255, in order.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordCommand, PutRecordsCommand,
    GetShardIteratorCommand, GetRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { startServer, waitFor, stopServerAndClient } from './harness.mjs';

const SHARD = 'shardId-000000000000';

async function readAll(client, iterator, limit) {
    const out = [];
    let last;
    for (let i = 0; i < 100; i++) {
        last = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }));
        out.push(...last.Records);
        if (last.Records.length === 0 || !last.NextShardIterator) return { records: out, last };
        iterator = last.NextShardIterator;
    }
    throw new Error('no end after 100 calls');
}

function readSuite(tls) {
    const label = tls ? 'TLS h2' : 'h2c';
    describe(`JS SDK v3 GetRecords over ${label}`, () => {
        let srv, client, sessions;
        const name = `js-get-${tls ? 'tls' : 'h2c'}`;

        before(async () => {
            srv = await startServer({ tls, args: ['--limits', 'off'] });
            ({ client, sessions } = await srv.client({ tls }));
            await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
            await waitFor(async () => {
                const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
                return r.StreamDescriptionSummary.StreamStatus === 'ACTIVE';
            }, { what: `${name} ACTIVE` });
        });

        after(async () => {
            await stopServerAndClient(srv, client);
        });

        it('round-trips exact bytes from TRIM_HORIZON, paged', async () => {
            const all = new Uint8Array(256).map((_, i) => i);
            const payloads = [all, new Uint8Array(0), Uint8Array.from([0]),
                new TextEncoder().encode('héllo ✓'), all.slice().reverse()];
            const seqs = [];
            const one = await client.send(new PutRecordCommand({
                StreamName: name, PartitionKey: 'p0', Data: payloads[0] }));
            assert.equal(one.ShardId, SHARD);
            seqs.push(one.SequenceNumber);
            const many = await client.send(new PutRecordsCommand({
                StreamName: name,
                Records: payloads.slice(1).map((Data, i) => ({ Data, PartitionKey: `p${i + 1}` })),
            }));
            assert.equal(many.FailedRecordCount ?? 0, 0);
            seqs.push(...many.Records.map((r) => r.SequenceNumber));

            const { ShardIterator } = await client.send(new GetShardIteratorCommand({
                StreamName: name, ShardId: SHARD, ShardIteratorType: 'TRIM_HORIZON' }));
            assert.ok(ShardIterator.startsWith('AAAAAAAAAAE'));
            const { records, last } = await readAll(client, ShardIterator, 2);
            assert.deepEqual(records.map((r) => r.SequenceNumber), seqs);
            assert.equal(records.length, payloads.length);
            records.forEach((r, i) => {
                assert.ok(r.Data instanceof Uint8Array);
                assert.deepEqual(Array.from(r.Data), Array.from(payloads[i]), `record ${i}`);
                assert.equal(r.PartitionKey, `p${i}`);
                assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
            });
            assert.equal(last.MillisBehindLatest, 0);
            assert.ok(last.NextShardIterator);
        });

        it('AT_SEQUENCE_NUMBER and LATEST see exactly the new records', async () => {
            const { ShardIterator } = await client.send(new GetShardIteratorCommand({
                StreamName: name, ShardId: SHARD, ShardIteratorType: 'LATEST' }));
            const empty = await client.send(new GetRecordsCommand({ ShardIterator }));
            assert.deepEqual(empty.Records, []);
            assert.equal(empty.MillisBehindLatest, 0);
            const put = await client.send(new PutRecordCommand({
                StreamName: name, PartitionKey: 'late', Data: Uint8Array.from([255, 0, 128]) }));
            const { records } = await readAll(client, empty.NextShardIterator);
            assert.deepEqual(records.map((r) => Array.from(r.Data)), [[255, 0, 128]]);
            const at = await client.send(new GetShardIteratorCommand({
                StreamName: name, ShardId: SHARD, ShardIteratorType: 'AT_SEQUENCE_NUMBER',
                StartingSequenceNumber: put.SequenceNumber }));
            const again = await readAll(client, at.ShardIterator);
            assert.deepEqual(again.records.map((r) => r.SequenceNumber), [put.SequenceNumber]);
        });

        it('returns a multi-megabyte GetRecords body intact (flow control, references)', async () => {
            const big = `${name}-big`;
            await client.send(new CreateStreamCommand({ StreamName: big, ShardCount: 1 }));
            await waitFor(async () => {
                const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: big }));
                return r.StreamDescriptionSummary.StreamStatus === 'ACTIVE';
            }, { what: `${big} ACTIVE` });
            const payload = (i) => new Uint8Array(4000).map((_, j) => (i * 7 + j) & 0xff);
            const seqs = [];
            for (let b = 0; b < 3; b++) {
                const r = await client.send(new PutRecordsCommand({
                    StreamName: big,
                    Records: Array.from({ length: 250 }, (_, k) => ({
                        Data: payload(b * 250 + k), PartitionKey: `k${k}` })),
                }));
                assert.equal(r.FailedRecordCount ?? 0, 0);
                seqs.push(...r.Records.map((x) => x.SequenceNumber));
            }
            const { ShardIterator } = await client.send(new GetShardIteratorCommand({
                StreamName: big, ShardId: SHARD, ShardIteratorType: 'TRIM_HORIZON' }));
            const r = await client.send(new GetRecordsCommand({ ShardIterator }));
            assert.equal(r.Records.length, 750); // ~4 MB of base64 in one response
            assert.deepEqual(r.Records.map((x) => x.SequenceNumber), seqs);
            r.Records.forEach((x, i) => assert.deepEqual(x.Data, payload(i), `record ${i}`));
            assert.equal(r.MillisBehindLatest, 0);
        });

        it('rejects a forged iterator with InvalidArgumentException', async () => {
            const { ShardIterator } = await client.send(new GetShardIteratorCommand({
                StreamName: name, ShardId: SHARD, ShardIteratorType: 'TRIM_HORIZON' }));
            const raw = Buffer.from(ShardIterator, 'base64');
            raw[raw.length - 5] ^= 0x40;
            await assert.rejects(
                client.send(new GetRecordsCommand({ ShardIterator: raw.toString('base64') })),
                (err) => {
                    assert.equal(err.name, 'InvalidArgumentException');
                    assert.equal(err.message, 'Invalid ShardIterator.');
                    assert.equal(err.$metadata?.httpStatusCode, 400);
                    return true;
                });
        });

        it('spoke HTTP/2 only', () => {
            assert.ok(sessions.length > 0);
            for (const s of sessions) assert.equal(s.alpnProtocol, tls ? 'h2' : 'h2c');
        });
    });
}

readSuite(false);
readSuite(true);
