// Write path through the unmodified JS SDK v3 over HTTP/2 (h2c prior knowledge and TLS ALPN h2):
// PutRecord / PutRecords route by MD5 and ExplicitHashKey, numbers are 56 digits and strictly
// increasing per shard, modelled errors arrive as typed exceptions, and throttled entries carry
// the exact ProvisionedThroughputExceededException message under --limits aws.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
    CreateStreamCommand, DescribeStreamSummaryCommand, ListShardsCommand, PutRecordCommand,
    PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { startServer, waitFor, stopServerAndClient } from './harness.mjs';

const ACCOUNT = '000000000000';

function md5Hash(key) {
    return BigInt('0x' + createHash('md5').update(key, 'utf8').digest('hex'));
}

function shardFor(shards, h) {
    const s = shards.find((x) => BigInt(x.HashKeyRange.StartingHashKey) <= h &&
        h <= BigInt(x.HashKeyRange.EndingHashKey));
    assert.ok(s, `no shard for ${h}`);
    return s.ShardId;
}

async function createActive(client, name, count) {
    await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: count }));
    await waitFor(async () => {
        const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        return r.StreamDescriptionSummary.StreamStatus === 'ACTIVE';
    }, { what: `${name} ACTIVE` });
    return (await client.send(new ListShardsCommand({ StreamName: name }))).Shards;
}

function putSuite(tls) {
    const label = tls ? 'TLS h2' : 'h2c';
    describe(`JS SDK v3 PutRecord(s) over ${label}`, () => {
        let srv, client, sessions, shards;
        const name = `js-put-${tls ? 'tls' : 'h2c'}`;

        before(async () => {
            srv = await startServer({ tls, args: ['--limits', 'aws'] });
            ({ client, sessions } = await srv.client({ tls }));
            shards = await createActive(client, name, 4);
        });

        after(async () => {
            await stopServerAndClient(srv, client);
        });

        it('routes by MD5 and ExplicitHashKey with increasing 56-digit numbers', async () => {
            const last = new Map();
            for (let i = 0; i < 24; i++) {
                const key = `key-${i}`;
                const r = await client.send(new PutRecordCommand({
                    StreamName: name, PartitionKey: key, Data: new TextEncoder().encode(`v${i}`) }));
                assert.equal(r.ShardId, shardFor(shards, md5Hash(key)));
                assert.match(r.SequenceNumber, /^\d{56}$/);
                if (last.has(r.ShardId)) assert.ok(BigInt(r.SequenceNumber) > BigInt(last.get(r.ShardId)));
                last.set(r.ShardId, r.SequenceNumber);
            }
            const recs = [];
            for (let i = 0; i < 200; i++) {
                recs.push({ PartitionKey: `k${i % 9}`, Data: Uint8Array.from([i & 255, 0, 255]) });
            }
            for (const s of shards) {
                recs.push({ PartitionKey: 'same', Data: new Uint8Array(1),
                    ExplicitHashKey: s.HashKeyRange.EndingHashKey });
            }
            const r = await client.send(new PutRecordsCommand({ StreamName: name, Records: recs }));
            assert.equal(r.FailedRecordCount, 0);
            assert.equal(r.Records.length, recs.length);
            r.Records.forEach((res, i) => {
                const want = recs[i].ExplicitHashKey !== undefined
                    ? shardFor(shards, BigInt(recs[i].ExplicitHashKey))
                    : shardFor(shards, md5Hash(recs[i].PartitionKey));
                assert.equal(res.ShardId, want);
                assert.ok(BigInt(res.SequenceNumber) > BigInt(last.get(res.ShardId) ?? 0));
                last.set(res.ShardId, res.SequenceNumber);
            });
            assert.ok(sessions.length >= 1);
            for (const s of sessions) assert.equal(s.alpnProtocol, tls ? 'h2' : 'h2c');
        });

        it('answers bad input with typed errors', async () => {
            await assert.rejects(client.send(new PutRecordCommand({
                StreamName: 'nope', PartitionKey: 'a', Data: new Uint8Array(1) })), (e) => {
                assert.equal(e.name, 'ResourceNotFoundException');
                assert.equal(e.message, `Stream nope under account ${ACCOUNT} not found.`);
                return true;
            });
            const tooBig = (1n << 128n).toString();
            await assert.rejects(client.send(new PutRecordsCommand({ StreamName: name, Records: [
                { PartitionKey: 'a', Data: new Uint8Array(1), ExplicitHashKey: tooBig }] })), (e) => {
                assert.equal(e.name, 'InvalidArgumentException');
                assert.equal(e.message, 'Invalid ExplicitHashKey. ExplicitHashKey must be in the ' +
                    `range: [0, 2^128-1]. Specified value was ${tooBig}`);
                return true;
            });
            await assert.rejects(client.send(new PutRecordCommand({
                StreamName: name, PartitionKey: 'a', Data: new Uint8Array(1 << 20) })), (e) => {
                assert.equal(e.name, 'InvalidArgumentException');
                assert.equal(e.message, 'Record size of 1048577 bytes (data + partition key) ' +
                    'exceeds the maximum record size of 1048576 bytes.');
                return true;
            });
        });

        it('throttles one shard past 1000 records/s, per entry', async () => {
            let failed = [];
            for (let i = 0; i < 4; i++) {
                const r = await client.send(new PutRecordsCommand({ StreamName: name,
                    Records: Array.from({ length: 500 }, () => ({ PartitionKey: 'a',
                        Data: new Uint8Array(1), ExplicitHashKey: '0' })) }));
                failed = failed.concat(r.Records.filter((x) => x.ErrorCode));
            }
            assert.ok(failed.length > 500 && failed.length < 1500, `failed ${failed.length}`);
            for (const x of failed) {
                assert.equal(x.ErrorCode, 'ProvisionedThroughputExceededException');
                assert.equal(x.ErrorMessage, 'Rate exceeded for shard shardId-000000000000 in ' +
                    `stream ${name} under account ${ACCOUNT}.`);
                assert.equal(x.SequenceNumber, undefined);
            }
        });
    });
}

putSuite(false);
putSuite(true);
