// SigV4 verification (--credentials FILE) with the unmodified JS SDK v3 over HTTP/2: h2c with
// prior knowledge and TLS + ALPN h2. The SDK signs ":authority" (not host) and always sends
// x-amz-content-sha256. Right keys work for unary calls and SubscribeToShard; a wrong secret, an
// unknown key, a wrong session token, a body changed after signing and a client clock 10 minutes
// behind are refused with AWS's error types. Raw HTTP/2 requests signed by @smithy/signature-v4
// check what the h2 transport must hand over: a Host header next to :authority, repeated header
// fields. Without --credentials any secret works.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
    CreateStreamCommand, DescribeStreamSummaryCommand, ListStreamsCommand, PutRecordsCommand,
    GetShardIteratorCommand, GetRecordsCommand, RegisterStreamConsumerCommand,
    DescribeStreamConsumerCommand, SubscribeToShardCommand, PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
    startServer, waitFor, stopServerAndClient, expectError, CREDENTIALS,
} from './harness.mjs';

const SESSION = { accessKeyId: 'ASIASHARDCASTJS', secretAccessKey: 'js-session-secret',
    sessionToken: 'IQoJb3JpZ2luX2VjE+js/token==' };
const MISMATCH = 'The request signature we calculated does not match the signature you '
    + 'provided. Check your AWS Secret Access Key and signing method. Consult the service '
    + 'documentation for details.';
const INVALID_TOKEN = 'The security token included in the request is invalid.';
const SHARD0 = 'shardId-000000000000';

async function waitActive(client, name) {
    return waitFor(async () => {
        const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
        return r.StreamDescriptionSummary.StreamStatus === 'ACTIVE' && r.StreamDescriptionSummary;
    }, { timeoutMs: 10000, intervalMs: 50, what: `${name} ACTIVE` });
}

/** One raw HTTP/2 request (Node's client sends :authority from the URL); resolves status and
 * parsed body. `headers` values may be arrays: each element becomes its own header field. */
function h2request(endpoint, headers, body) {
    return new Promise((resolve, reject) => {
        const sess = http2.connect(endpoint);
        sess.on('error', reject);
        const req = sess.request({ ':method': 'POST', ':path': '/', ...headers });
        let status;
        const chunks = [];
        req.on('response', (h) => { status = h[':status']; });
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            sess.close();
            const text = Buffer.concat(chunks).toString();
            resolve({ status, body: text ? JSON.parse(text) : null });
        });
        req.on('error', reject);
        req.end(body);
    });
}

async function sign(headers, body) {
    const signer = new SignatureV4({ service: 'kinesis', region: 'us-east-1', sha256: Sha256,
        credentials: CREDENTIALS });
    const req = new HttpRequest({ method: 'POST', protocol: 'http:', hostname: 'localhost',
        path: '/', headers, body });
    return (await signer.sign(req)).headers;
}

describe('SigV4 verification with the JS SDK v3', () => {
    let srv, client, sessions, dir;
    const S = 'js-sig';

    before(async () => {
        dir = mkdtempSync(join(tmpdir(), 'shardcast-jskeys-'));
        const file = join(dir, 'credentials');
        writeFileSync(file, `# test keys\n${CREDENTIALS.accessKeyId} ${CREDENTIALS.secretAccessKey}\n`
            + `${SESSION.accessKeyId} ${SESSION.secretAccessKey} ${SESSION.sessionToken}\n`);
        srv = await startServer({ tls: true,
            args: ['--credentials', file, '--limits', 'off', '--heartbeat-ms', '300'] });
        ({ client, sessions } = await srv.client());
        await client.send(new CreateStreamCommand({ StreamName: S, ShardCount: 1 }));
        await waitActive(client, S);
    });

    after(async () => {
        await stopServerAndClient(srv, client);
        rmSync(dir, { recursive: true, force: true });
    });

    it('h2c: the right keys work for data calls (signed :authority + x-amz-content-sha256)',
        async () => {
            const r = await client.send(new PutRecordsCommand({ StreamName: S,
                Records: Array.from({ length: 20 }, (_, i) => ({
                    Data: Buffer.from(`rec${i}`), PartitionKey: `pk${i}` })) }));
            assert.equal(r.FailedRecordCount, 0);
            const it = await client.send(new GetShardIteratorCommand({ StreamName: S,
                ShardId: SHARD0, ShardIteratorType: 'TRIM_HORIZON' }));
            const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
            assert.ok(got.Records.length >= 20);
            assert.ok(sessions.length > 0 && sessions.every((s) => s.alpnProtocol === 'h2c'),
                JSON.stringify(sessions));
        });

    it('TLS h2: the right keys work', async () => {
        const { client: c, sessions: ss } = await srv.client({ tls: true });
        try {
            assert.ok((await c.send(new ListStreamsCommand({}))).StreamNames.includes(S));
            assert.ok(ss.length > 0 && ss.every((s) => s.alpnProtocol === 'h2'));
        } finally {
            c.destroy();
        }
    });

    it('wrong secret, unknown key, foreign region are refused', async () => {
        for (const [opts, name, message] of [
            [{ credentials: { ...CREDENTIALS, secretAccessKey: 'wrong' } },
                'InvalidSignatureException', MISMATCH],
            [{ credentials: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' } },
                'UnrecognizedClientException', INVALID_TOKEN],
            [{ region: 'eu-west-1' }, 'InvalidSignatureException',
                "Credential should be scoped to a valid region, not 'eu-west-1'. "],
        ]) {
            for (const tls of [false, true]) {
                const { client: c } = await srv.client({ tls, ...opts });
                try {
                    await expectError(c.send(new ListStreamsCommand({})), name, message);
                } finally {
                    c.destroy();
                }
            }
        }
    });

    it('session token: right works, wrong or missing is refused', async () => {
        const cases = [
            [SESSION, null],
            [{ ...SESSION, sessionToken: `${SESSION.sessionToken}x` }, 'UnrecognizedClientException'],
            [{ accessKeyId: SESSION.accessKeyId, secretAccessKey: SESSION.secretAccessKey },
                'UnrecognizedClientException'],
        ];
        for (const [credentials, name] of cases) {
            const { client: c } = await srv.client({ credentials });
            try {
                const p = c.send(new ListStreamsCommand({}));
                if (name) await expectError(p, name, INVALID_TOKEN);
                else assert.ok((await p).StreamNames.includes(S));
            } finally {
                c.destroy();
            }
        }
    });

    it('a body changed after signing is refused (x-amz-content-sha256 no longer matches)',
        async () => {
            const { client: c, handler } = await srv.client();
            const handle = handler.handle.bind(handler);
            // The request handler runs after the signer: change one byte, keep the length.
            handler.handle = (request, options) => {
                request.body = request.body.replace(`"StreamName":"${S}"`, `"StreamName":"${S.slice(0, -1)}X"`);
                return handle(request, options);
            };
            try {
                await expectError(c.send(new DescribeStreamSummaryCommand({ StreamName: S })),
                    'InvalidSignatureException',
                    "The provided 'x-amz-content-sha256' header does not match what was computed.");
            } finally {
                c.destroy();
            }
        });

    it('a client clock 10 minutes behind gets the skew message', async () => {
        const { client: c } = await srv.client({ config: { systemClockOffset: -600000 } });
        try {
            await expectError(c.send(new ListStreamsCommand({})), 'InvalidSignatureException',
                /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
        } finally {
            c.destroy();
        }
    });

    it('SubscribeToShard over h2c with verification', async () => {
        const sarn = (await waitActive(client, S)).StreamARN;
        const arn = (await client.send(new RegisterStreamConsumerCommand({ StreamARN: sarn,
            ConsumerName: 'sig' }))).Consumer.ConsumerARN;
        await waitFor(async () => (await client.send(new DescribeStreamConsumerCommand({
            ConsumerARN: arn }))).ConsumerDescription.ConsumerStatus === 'ACTIVE',
        { what: 'consumer ACTIVE' });
        const { client: sc } = await srv.client();
        try {
            const res = await sc.send(new SubscribeToShardCommand({ ConsumerARN: arn,
                ShardId: SHARD0, StartingPosition: { Type: 'LATEST' } }));
            await client.send(new PutRecordCommand({ StreamName: S, Data: Buffer.from('pushed'),
                PartitionKey: 'pk' }));
            let data = null;
            for await (const ev of res.EventStream) {
                const recs = ev.SubscribeToShardEvent?.Records ?? [];
                if (recs.length > 0) {
                    data = Buffer.from(recs[0].Data).toString();
                    break;
                }
            }
            assert.equal(data, 'pushed');
        } finally {
            sc.destroy();
        }
        const { client: bad } = await srv.client({
            credentials: { ...CREDENTIALS, secretAccessKey: 'wrong' } });
        try {
            await expectError(bad.send(new SubscribeToShardCommand({ ConsumerARN: arn,
                ShardId: SHARD0, StartingPosition: { Type: 'LATEST' } })),
            'InvalidSignatureException', MISMATCH);
        } finally {
            bad.destroy();
        }
    });

    it('raw h2: a signed Host header next to a different :authority', async () => {
        const port = new URL(srv.endpoint).port;
        const body = '{}';
        const headers = await sign({ host: `localhost:${port}`,
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'Kinesis_20131202.ListStreams' }, body);
        assert.match(headers.authorization, /SignedHeaders=content-type;host;/);
        // Node sends :authority 127.0.0.1:port; the signed host is the Host header's value.
        const ok = await h2request(srv.endpoint, headers, body);
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        const bad = await h2request(srv.endpoint, { ...headers, host: `127.0.0.1:${port}` }, body);
        assert.equal(bad.status, 400);
        assert.equal(bad.body.__type, 'InvalidSignatureException');
    });

    it('raw h2: a signed "host" without a Host header is the :authority (as Netty sends it)',
        async () => {
            const body = '{}';
            const headers = await sign({ host: new URL(srv.endpoint).host,
                'content-type': 'application/x-amz-json-1.1',
                'x-amz-target': 'Kinesis_20131202.ListStreams' }, body);
            delete headers.host;
            const ok = await h2request(srv.endpoint, headers, body);
            assert.equal(ok.status, 200, JSON.stringify(ok.body));
        });

    it('raw h2: repeated header fields are joined with "," in arrival order', async () => {
        const body = '{}';
        const headers = await sign({ ':authority': new URL(srv.endpoint).host,
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'Kinesis_20131202.ListStreams', 'x-repeated': 'one,two' }, body);
        const ok = await h2request(srv.endpoint, { ...headers, 'x-repeated': ['one', 'two'] }, body);
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        const swapped = await h2request(srv.endpoint,
            { ...headers, 'x-repeated': ['two', 'one'] }, body);
        assert.equal(swapped.body.__type, 'InvalidSignatureException');
    });
});

describe('JS SDK v3 without --credentials', () => {
    let srv, client;
    before(async () => {
        srv = await startServer();
        ({ client } = await srv.client({ credentials: { accessKeyId: 'local',
            secretAccessKey: 'any-secret-works' } }));
    });
    after(async () => {
        await stopServerAndClient(srv, client);
    });

    it('accepts any key and secret (the quick start)', async () => {
        assert.deepEqual((await client.send(new ListStreamsCommand({}))).StreamNames, []);
    });
});
