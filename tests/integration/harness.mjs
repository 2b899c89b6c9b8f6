// Node twin of harness.py: start the real shardcastd on 127.0.0.1:0 in a temp dir, and build
// @aws-sdk/client-kinesis clients pointed at it.
//
// The JS SDK v3 Kinesis client sends EVERY operation over HTTP/2 (its default requestHandler is
// NodeHttp2Handler with disableConcurrentStreams: true). With an http:// endpoint Node's
// http2.connect() speaks h2c with prior knowledge; with https:// it is TLS + ALPN h2. We build the
// handler ourselves (same options as the SDK default, plus the test CA for TLS) so that the tests
// can record every HTTP/2 session the client opens and assert its protocol.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const SHARDCASTD = process.env.SHARDCASTD ||
    join(process.env.SHARDCAST_BUILD_DIR || 'build', 'server', 'shardcastd');
const READY_RE = /^shardcastd listening on (https?):\/\/(\S+):(\d+)$/;
const FAST_ARGS = ['--stream-transition-ms', '50', '--consumer-transition-ms', '50'];
export const CREDENTIALS = {
    accessKeyId: 'AKIDSHARDCASTTEST',
    secretAccessKey: 'shardcast-test-secret',
};

/** Self-signed EC certificate for IP:127.0.0.1 / localhost, made by the openssl CLI. */
export function makeCert(dir) {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
        'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
    { stdio: 'ignore' });
    return { cert, key };
}

export class Server {
    constructor({ tls = false, args = [], dataDir = null, fast = true, readyTimeoutMs = 30000 } = {}) {
        this.ownsDir = dataDir === null;
        this.dir = dataDir || mkdtempSync(join(tmpdir(), 'shardcast-jstest-'));
        this.tls = tls;
        this.args = args;
        this.fast = fast;
        this.readyTimeoutMs = readyTimeoutMs;
        this.proc = null;
        if (tls) Object.assign(this, makeCert(this.dir));
    }

    /** Spawns shardcastd and resolves once every expected ready line was printed. */
    async start() {
        const argv = ['--listen', '127.0.0.1:0', '--data-dir', join(this.dir, 'data')];
        if (this.tls) {
            argv.push('--tls-listen', '127.0.0.1:0', '--tls-cert', this.cert, '--tls-key', this.key);
        }
        if (this.fast) argv.push(...FAST_ARGS);
        argv.push(...this.args);
        mkdirSync(this.dir, { recursive: true });
        this.logPath = join(this.dir, `shardcastd.${Date.now()}.log`);
        const logFd = openSync(this.logPath, 'w');
        const env = { ...process.env };
        env.ASAN_OPTIONS ??= 'detect_leaks=1:abort_on_error=0';
        const proc = spawn(SHARDCASTD, argv, { stdio: ['ignore', 'pipe', logFd], env });
        closeSync(logFd);
        this.proc = proc;
        this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
        this.endpoint = this.tlsEndpoint = null;
        const want = this.tls ? 2 : 1;
        let got = 0;
        const lines = createInterface({ input: proc.stdout });
        await new Promise((resolve, reject) => {
            const fail = (why) => {
                clearTimeout(timer);
                if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
                reject(new Error(`shardcastd did not start: ${why}\n${this.readLog()}`));
            };
            const timer = setTimeout(() => fail('no ready line in time'), this.readyTimeoutMs);
            const onExit = (code, sig) => fail(`exited with ${code} (signal ${sig}) before ready`);
            const onError = (e) => fail(String(e));
            proc.on('error', onError);
            proc.on('exit', onExit);
            lines.on('line', (line) => {
                const m = READY_RE.exec(line.trim());
                if (!m) return;
                const url = `${m[1]}://${m[2]}:${m[3]}`;
                if (m[1] === 'http') this.endpoint = url;
                else this.tlsEndpoint = url;
                if (++got === want) {
                    clearTimeout(timer);
                    proc.off('exit', onExit);
                    proc.off('error', onError);
                    resolve();
                }
            });
        });
        // Keep draining stdout so the server never blocks on a full pipe.
        lines.on('line', () => {});
        return this;
    }

    readLog() {
        try {
            return readFileSync(this.logPath, 'utf8').slice(-20000);
        } catch {
            return '';
        }
    }

    /** SIGTERM (by PID) and expect exit 0; an ASan leak report or crash makes it fail. */
    async stop({ signal = 'SIGTERM', timeoutMs = 30000, expectCode = 0 } = {}) {
        const proc = this.proc;
        if (!proc) return null;
        this.proc = null;
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        let timer;
        const res = await Promise.race([
            this.exited,
            new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); }),
        ]);
        clearTimeout(timer);
        if (res === null) {
            proc.kill('SIGKILL');
            await this.exited;
            throw new Error(`shardcastd did not exit within ${timeoutMs} ms of ${signal}\n${this.readLog()}`);
        }
        if (expectCode !== null && res.code !== expectCode) {
            throw new Error(`shardcastd exited ${res.code} (signal ${res.signal}), expected ${expectCode}\n` +
                this.readLog());
        }
        return res;
    }

    kill() {
        return this.stop({ signal: 'SIGKILL', expectCode: null });
    }

    async restart() {
        if (this.proc) await this.stop();
        return this.start();
    }

    /** Kills a still-running server and removes the temp dir. Safe to call twice. */
    async cleanup() {
        if (this.proc) await this.kill();
        if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
    }

    /**
     * A KinesisClient for this server. tls: use the https endpoint, trusting only our test cert;
     * credentials, region and config (more KinesisClient options) default to the test's own.
     * Returns { client, sessions }: sessions lists every HTTP/2 session the client opened, as
     * { authority, alpnProtocol } ('h2c' for cleartext prior knowledge, 'h2' for TLS ALPN).
     */
    async client({ tls = false, maxAttempts = 1, credentials = CREDENTIALS, region = 'us-east-1',
        config = {} } = {}) {
        const { KinesisClient } = await import('@aws-sdk/client-kinesis');
        const { NodeHttp2Handler } = await import('@smithy/node-http-handler');
        const endpoint = tls ? this.tlsEndpoint : this.endpoint;
        if (!endpoint) throw new Error(`server has no ${tls ? 'TLS' : 'plaintext'} endpoint`);
        const opts = { disableConcurrentStreams: true, requestTimeout: 30000 };
        if (tls) opts.nodeHttp2ConnectOptions = { ca: readFileSync(this.cert) };
        const handler = new NodeHttp2Handler(opts);
        const sessions = [];
        // Record each session NodeHttp2Handler opens (connectionManager.connect is where the
        // handler calls http2.connect); alpnProtocol is only known once the session connected.
        const recordSessions = () => {
            const cm = handler.connectionManager;
            if (!cm || cm.__shardcastWrapped) return;
            const orig = cm.connect.bind(cm);
            cm.connect = (url) => {
                const s = orig(url);
                const entry = { authority: String(url), alpnProtocol: undefined };
                sessions.push(entry);
                s.once('connect', () => { entry.alpnProtocol = s.alpnProtocol; });
                return s;
            };
            cm.__shardcastWrapped = true;
        };
        recordSessions();
        const client = new KinesisClient({
            endpoint,
            region,
            credentials,
            maxAttempts,
            requestHandler: handler,
            ...config,
        });
        return { client, sessions, handler };
    }
}

/** Start a server; the caller must await srv.stop() and srv.cleanup(). */
export async function startServer(opts = {}) {
    const srv = new Server(opts);
    await srv.start();
    return srv;
}

/** The usual `after` hook: destroy the client, stop the server (asserting a clean exit, as
 * srv.stop() does) and always remove its temp dir. Either may be undefined (setup failed). */
export async function stopServerAndClient(srv, client) {
    client?.destroy();
    try {
        if (srv) await srv.stop();
    } finally {
        await srv?.cleanup();
    }
}

/** Poll fn() until it returns a truthy value; bounded by timeoutMs. */
export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 20, what = 'condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

/** Expects `promise` to reject with the AWS error `name` and status 400. `message`: a string
 * (exact), a RegExp, or undefined (any non-empty message). */
export async function expectError(promise, name, message) {
    await assert.rejects(promise, (err) => {
        assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
        assert.equal(err.$metadata?.httpStatusCode, 400);
        if (typeof message === 'string') assert.equal(err.message, message);
        else if (message) assert.match(err.message, message);
        else assert.ok(err.message && err.message.length > 0, 'error carries a message');
        return true;
    });
}
