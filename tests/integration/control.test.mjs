// Control plane through the unmodified JS SDK v3 (@aws-sdk/client-kinesis) over HTTP/2:
// h2c with prior knowledge on the plaintext port, and TLS + ALPN h2 on the TLS port.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    CreateStreamCommand, DescribeStreamSummaryCommand, DescribeStreamCommand, ListShardsCommand,
    ListStreamsCommand, AddTagsToStreamCommand, ListTagsForStreamCommand,
    RemoveTagsFromStreamCommand, IncreaseStreamRetentionPeriodCommand,
    DecreaseStreamRetentionPeriodCommand, DescribeLimitsCommand, DeleteStreamCommand,
    PutResourcePolicyCommand, GetResourcePolicyCommand, DeleteResourcePolicyCommand,
    RegisterStreamConsumerCommand, DeregisterStreamConsumerCommand,
    UpdateMaxRecordSizeCommand, DescribeAccountSettingsCommand, UpdateAccountSettingsCommand,
    UpdateStreamWarmThroughputCommand, PutRecordCommand, GetShardIteratorCommand, GetRecordsCommand,
    waitUntilStreamExists, waitUntilStreamNotExists,
} from '@aws-sdk/client-kinesis';
import { startServer, waitFor, stopServerAndClient, expectError } from './harness.mjs';

const MAX = (1n << 128n) - 1n;

// kinesis-protocol.md §5: step = floor(2^128 / N), the last shard ends at 2^128-1.
function expectedRanges(n) {
    const step = (1n << 128n) / BigInt(n);
    const out = [];
    for (let i = 0n; i < BigInt(n); i++) {
        const end = i === BigInt(n) - 1n ? MAX : (i + 1n) * step - 1n;
        out.push({ StartingHashKey: String(i * step), EndingHashKey: String(end) });
    }
    return out;
}

async function waitActive(client, name) {
    return waitFor(async () => {
        const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        return r.StreamDescriptionSummary.StreamStatus === 'ACTIVE' && r.StreamDescriptionSummary;
    }, { timeoutMs: 10000, intervalMs: 50, what: `${name} ACTIVE` });
}

function controlSuite(tls) {
    const label = tls ? 'TLS h2' : 'h2c';
    describe(`JS SDK v3 control plane over ${label}`, () => {
        let srv, client, sessions;
        const s1 = `js-one-${tls ? 'tls' : 'h2c'}`;
        const s3 = `js-three-${tls ? 'tls' : 'h2c'}`;

        before(async () => {
            // Rate quotas (DescribeStreamSummary 20 TPS...) are not what this suite checks.
            srv = await startServer({ tls, args: ['--limits', 'off'] });
            ({ client, sessions } = await srv.client({ tls }));
        });

        after(async () => {
            await stopServerAndClient(srv, client);
        });

        it('creates streams that become ACTIVE, summary has no StreamId', async () => {
            await client.send(new CreateStreamCommand({ StreamName: s1, ShardCount: 1 }));
            await client.send(new CreateStreamCommand({ StreamName: s3, ShardCount: 3 }));
            const sum = await waitActive(client, s3);
            assert.equal(sum.StreamName, s3);
            assert.equal(sum.OpenShardCount, 3);
            assert.equal(sum.RetentionPeriodHours, 24);
            assert.match(sum.StreamARN, new RegExp(`^arn:aws:kinesis:us-east-1:\\d{12}:stream/${s3}$`));
            assert.ok(sum.StreamCreationTimestamp instanceof Date);
            assert.ok(Math.abs(sum.StreamCreationTimestamp.getTime() - Date.now()) < 120000);
            assert.equal(sum.StreamId, undefined, 'StreamId must never be returned');
            assert.ok(Array.isArray(sum.EnhancedMonitoring));
            // The SDK's own waiter (DescribeStream until ACTIVE) must agree.
            const w = await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1 },
                { StreamName: s1 });
            assert.equal(w.state, 'SUCCESS');
            const one = await waitActive(client, s1);
            assert.equal(one.OpenShardCount, 1);
        });

        it('DescribeStream lists the shards with exact hash ranges', async () => {
            const r = await client.send(new DescribeStreamCommand({ StreamName: s3 }));
            const d = r.StreamDescription;
            assert.equal(d.StreamStatus, 'ACTIVE');
            assert.equal(d.HasMoreShards, false);
            assert.equal(d.Shards.length, 3);
            assert.deepEqual(d.Shards.map((s) => s.ShardId),
                ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002']);
            assert.deepEqual(d.Shards.map((s) => s.HashKeyRange), expectedRanges(3));
            for (const s of d.Shards) {
                assert.match(s.SequenceNumberRange.StartingSequenceNumber, /^(0|[1-9]\d{0,128})$/);
                assert.equal(s.SequenceNumberRange.EndingSequenceNumber, undefined);
            }
        });

        it('ListShards paginates with NextToken alone', async () => {
            const first = await client.send(new ListShardsCommand({ StreamName: s3, MaxResults: 1 }));
            const got = [...first.Shards];
            let token = first.NextToken;
            for (let i = 0; i < 5 && token; i++) {
                const page = await client.send(new ListShardsCommand({ NextToken: token, MaxResults: 1 }));
                assert.ok(page.Shards.length <= 1);
                got.push(...page.Shards);
                token = page.NextToken;
            }
            assert.equal(token, undefined, 'last page has no NextToken');
            assert.deepEqual(got.map((s) => s.HashKeyRange), expectedRanges(3));
            const all = await client.send(new ListShardsCommand({ StreamName: s3 }));
            assert.equal(all.Shards.length, 3);
            assert.equal(all.NextToken, undefined);
            await expectError(client.send(new ListShardsCommand({ NextToken: first.NextToken,
                ExclusiveStartShardId: 'shardId-000000000000' })), 'InvalidArgumentException');
        });

        it('ListStreams returns names in order', async () => {
            const r = await client.send(new ListStreamsCommand({}));
            assert.deepEqual(r.StreamNames, [s1, s3].sort());
            assert.equal(r.HasMoreStreams, false);
            const p1 = await client.send(new ListStreamsCommand({ Limit: 1 }));
            assert.deepEqual(p1.StreamNames, [[s1, s3].sort()[0]]);
            assert.equal(p1.HasMoreStreams, true);
            assert.ok(p1.NextToken, 'HasMoreStreams comes with a NextToken');
            const p2 = await client.send(new ListStreamsCommand({ NextToken: p1.NextToken }));
            assert.deepEqual(p2.StreamNames, [[s1, s3].sort()[1]]);
        });

        it('tags: add, list (sorted), remove', async () => {
            await client.send(new AddTagsToStreamCommand({ StreamName: s1, Tags: { b: '2', a: '1', c: '' } }));
            let r = await client.send(new ListTagsForStreamCommand({ StreamName: s1 }));
            assert.deepEqual(r.Tags, [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }, { Key: 'c', Value: '' }]);
            assert.equal(r.HasMoreTags, false);
            await client.send(new AddTagsToStreamCommand({ StreamName: s1, Tags: { a: 'x' } }));
            await client.send(new RemoveTagsFromStreamCommand({ StreamName: s1, TagKeys: ['b'] }));
            r = await client.send(new ListTagsForStreamCommand({ StreamName: s1 }));
            assert.deepEqual(r.Tags, [{ Key: 'a', Value: 'x' }, { Key: 'c', Value: '' }]);
        });

        it('retention: increase, decrease and their errors', async () => {
            await client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: s1, RetentionPeriodHours: 48 }));
            let sum = await waitActive(client, s1);
            assert.equal(sum.RetentionPeriodHours, 48);
            await expectError(client.send(new IncreaseStreamRetentionPeriodCommand(
                { StreamName: s1, RetentionPeriodHours: 30 })), 'InvalidArgumentException');
            await expectError(client.send(new DecreaseStreamRetentionPeriodCommand(
                { StreamName: s1, RetentionPeriodHours: 12 })), 'InvalidArgumentException');
            await client.send(new DecreaseStreamRetentionPeriodCommand({ StreamName: s1, RetentionPeriodHours: 24 }));
            sum = await waitActive(client, s1);
            assert.equal(sum.RetentionPeriodHours, 24);
        });

        it('DescribeLimits counts open shards', async () => {
            const r = await client.send(new DescribeLimitsCommand({}));
            assert.equal(r.OpenShardCount, 4);
            assert.ok(Number.isInteger(r.ShardLimit) && r.ShardLimit >= 4);
            assert.ok(Number.isInteger(r.OnDemandStreamCount));
            assert.ok(Number.isInteger(r.OnDemandStreamCountLimit));
        });

        it('keeps resource policies of a stream and of a consumer', async () => {
            const sarn = (await client.send(new DescribeStreamSummaryCommand({ StreamName: s3 })))
                .StreamDescriptionSummary.StreamARN;
            const carn = (await client.send(new RegisterStreamConsumerCommand({
                StreamARN: sarn, ConsumerName: 'pol' }))).Consumer.ConsumerARN;
            const doc = (action, arn) => JSON.stringify({ Version: '2012-10-17', Statement: [{
                Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' },
                Action: [action], Resource: arn }] });
            assert.equal((await client.send(new GetResourcePolicyCommand({ ResourceARN: sarn }))).Policy,
                '{}');
            await client.send(new PutResourcePolicyCommand({ ResourceARN: sarn,
                Policy: doc('kinesis:GetRecords', sarn) }));
            await client.send(new PutResourcePolicyCommand({ ResourceARN: carn,
                Policy: doc('kinesis:SubscribeToShard', carn) }));
            assert.equal((await client.send(new GetResourcePolicyCommand({ ResourceARN: sarn }))).Policy,
                doc('kinesis:GetRecords', sarn));
            assert.equal((await client.send(new GetResourcePolicyCommand({ ResourceARN: carn }))).Policy,
                doc('kinesis:SubscribeToShard', carn));
            await expectError(client.send(new PutResourcePolicyCommand({ ResourceARN: sarn,
                Policy: 'not json' })), 'InvalidArgumentException');
            await client.send(new DeleteResourcePolicyCommand({ ResourceARN: sarn }));
            await expectError(client.send(new DeleteResourcePolicyCommand({ ResourceARN: sarn })),
                'ResourceNotFoundException', `No resource policy found for resource ARN ${sarn}.`);
            await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: carn }));
            await expectError(client.send(new GetResourcePolicyCommand({ ResourceARN: carn })),
                'ResourceNotFoundException', `Consumer ${carn} not found.`);
        });

        it('large records: MaxRecordSizeInKiB at creation and by UpdateMaxRecordSize', async () => {
            const name = `js-large-${tls ? 'tls' : 'h2c'}`;
            await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1,
                MaxRecordSizeInKiB: 2048 }));
            const sum = await waitActive(client, name);
            assert.equal(sum.MaxRecordSizeInKiB, 2048);
            assert.equal((await waitActive(client, s1)).MaxRecordSizeInKiB, 1024);
            const data = new Uint8Array(2 * 1024 * 1024 - 1).map((_, i) => (i * 7 + (i >> 9)) & 255);
            const put = await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'k',
                Data: data }));
            await expectError(client.send(new PutRecordCommand({ StreamName: name,
                PartitionKey: 'kk', Data: data })), 'InvalidArgumentException',
                'Record size of 2097153 bytes (data + partition key) exceeds the maximum record ' +
                'size of 2097152 bytes.');
            await client.send(new UpdateMaxRecordSizeCommand({ StreamARN: sum.StreamARN,
                MaxRecordSizeInKiB: 10240 }));
            assert.equal((await waitActive(client, name)).MaxRecordSizeInKiB, 10240);
            await client.send(new PutRecordCommand({ StreamName: name, PartitionKey: 'kk',
                Data: data }));
            await expectError(client.send(new UpdateMaxRecordSizeCommand({ StreamARN: sum.StreamARN,
                MaxRecordSizeInKiB: 10241 })), 'ValidationException');
            const it = (await client.send(new GetShardIteratorCommand({ StreamName: name,
                ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
            const got = (await client.send(new GetRecordsCommand({ ShardIterator: it }))).Records;
            assert.equal(got.length, 2);
            assert.equal(got[0].SequenceNumber, put.SequenceNumber);
            assert.deepEqual(Buffer.from(got[0].Data), Buffer.from(data));
            assert.deepEqual(Buffer.from(got[1].Data), Buffer.from(data));
            await client.send(new DeleteStreamCommand({ StreamName: name }));
            const w = await waitUntilStreamNotExists({ client, maxWaitTime: 30, minDelay: 1 },
                { StreamName: name });
            assert.equal(w.state, 'SUCCESS');
        });

        it('On-demand Advantage: the account commitment and warm throughput', async () => {
            const name = `js-warm-${tls ? 'tls' : 'h2c'}`;
            assert.equal((await client.send(new DescribeAccountSettingsCommand({})))
                .MinimumThroughputBillingCommitment.Status, 'DISABLED');
            const on = (await client.send(new UpdateAccountSettingsCommand({
                MinimumThroughputBillingCommitment: { Status: 'ENABLED' } })))
                .MinimumThroughputBillingCommitment;
            assert.equal(on.Status, 'ENABLED');
            assert.ok(on.StartedAt instanceof Date);
            assert.ok(Math.abs(on.StartedAt.getTime() - Date.now()) < 120000);
            assert.equal(on.EarliestAllowedEndAt.getTime() - on.StartedAt.getTime(), 86400000);
            await client.send(new CreateStreamCommand({ StreamName: name,
                StreamModeDetails: { StreamMode: 'ON_DEMAND' }, WarmThroughputMiBps: 32 }));
            const sum = await waitActive(client, name);
            assert.deepEqual(sum.WarmThroughput, { TargetMiBps: 32, CurrentMiBps: 32 });
            const up = await client.send(new UpdateStreamWarmThroughputCommand({
                StreamARN: sum.StreamARN, WarmThroughputMiBps: 128 }));
            assert.equal(up.StreamName, name);
            assert.deepEqual(up.WarmThroughput, { TargetMiBps: 128, CurrentMiBps: 32 });
            assert.equal((await waitActive(client, name)).WarmThroughput.CurrentMiBps, 128);
            await expectError(client.send(new UpdateStreamWarmThroughputCommand({
                StreamName: s1, WarmThroughputMiBps: 1 })), 'InvalidArgumentException');
            const off = (await client.send(new UpdateAccountSettingsCommand({
                MinimumThroughputBillingCommitment: { Status: 'DISABLED' } })))
                .MinimumThroughputBillingCommitment;
            assert.equal(off.Status, 'ENABLED_UNTIL_EARLIEST_ALLOWED_END');
            assert.deepEqual(off.EarliestAllowedEndAt, on.EarliestAllowedEndAt);
            await client.send(new DeleteStreamCommand({ StreamName: name }));
            const w = await waitUntilStreamNotExists({ client, maxWaitTime: 30, minDelay: 1 },
                { StreamName: name });
            assert.equal(w.state, 'SUCCESS');
        });

        it('errors surface as modelled exceptions', async () => {
            await expectError(client.send(new DescribeStreamSummaryCommand({ StreamName: 'no-such-stream' })),
                'ResourceNotFoundException');
            await expectError(client.send(new CreateStreamCommand({ StreamName: s1, ShardCount: 1 })),
                'ResourceInUseException');
            await expectError(client.send(new CreateStreamCommand({ StreamName: 'bad name!', ShardCount: 1 })),
                'ValidationException');
        });

        it('DeleteStream removes the stream', async () => {
            await client.send(new DeleteStreamCommand({ StreamName: s1 }));
            const w = await waitUntilStreamNotExists({ client, maxWaitTime: 30, minDelay: 1 },
                { StreamName: s1 });
            assert.equal(w.state, 'SUCCESS');
            await waitFor(async () => {
                try {
                    await client.send(new DescribeStreamSummaryCommand({ StreamName: s1 }));
                    return false;
                } catch (err) {
                    if (err.name !== 'ResourceNotFoundException') throw err;
                    return true;
                }
            }, { timeoutMs: 10000, intervalMs: 50, what: `${s1} gone` });
            const r = await client.send(new ListStreamsCommand({}));
            assert.deepEqual(r.StreamNames, [s3]);
        });

        it(`every request went over ${label}`, () => {
            assert.ok(sessions.length > 0, 'the client opened HTTP/2 sessions');
            for (const s of sessions) {
                assert.equal(s.alpnProtocol, tls ? 'h2' : 'h2c', JSON.stringify(s));
            }
        });
    });
}

controlSuite(false);
controlSuite(true);

// --limits aws (the server's default) enforces the control-plane call rates: the SDK must read
// our LimitExceededException as a throttle, retry it, and surface it when out of attempts.
describe('JS SDK v3 and the control-plane call rates (--limits aws)', () => {
    let srv, retrying, single;
    const name = 'js-rates';

    before(async () => {
        srv = await startServer({ tls: false });
        ({ client: retrying } = await srv.client({ maxAttempts: 10 }));
        ({ client: single } = await srv.client({ maxAttempts: 1 }));
        await retrying.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
        await waitFor(async () => {
            const r = await retrying.send(new DescribeStreamSummaryCommand({ StreamName: name }));
            return r.StreamDescriptionSummary.StreamStatus === 'ACTIVE';
        }, { timeoutMs: 10000, intervalMs: 110, what: `${name} ACTIVE` });
    });

    after(async () => {
        single.destroy();
        await stopServerAndClient(srv, retrying);
    });

    it('a burst past DescribeStream 10/s is refused in AWS words without retries', async () => {
        await new Promise((r) => setTimeout(r, 1100));
        let refused = null;
        for (let i = 0; i < 14 && refused === null; i++) {
            try {
                await single.send(new DescribeStreamCommand({ StreamName: name }));
            } catch (err) {
                refused = err;
            }
        }
        assert.ok(refused, 'one of 14 back-to-back calls refused');
        assert.equal(refused.name, 'LimitExceededException');
        assert.equal(refused.message, `Rate exceeded for stream ${name} under account 000000000000.`);
        assert.equal(refused.$metadata.httpStatusCode, 400);
    });

    it('the SDK retries the refusals: 25 calls in a row all answer, over a second', async () => {
        await new Promise((r) => setTimeout(r, 1100));
        const t0 = Date.now();
        let attempts = 0;
        for (let i = 0; i < 25; i++) {
            const r = await retrying.send(new DescribeStreamCommand({ StreamName: name }));
            assert.equal(r.StreamDescription.StreamName, name);
            attempts += r.$metadata.attempts;
        }
        assert.ok(Date.now() - t0 > 1000, 'took the rate into account');
        assert.ok(attempts > 25, `some calls were retried (${attempts} attempts)`);
    });
});
