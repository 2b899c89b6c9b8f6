// Package sctest is the scaffolding the Go SDK tests (v1/, v2/) share: the flags
// go_sdk_v*_test.py passes, the test key pair, the endpoint and CA a client is pointed at, a
// per-operation protocol record, polling, payloads, and the goroutine that reads a
// SubscribeToShard event stream. It never calls an SDK: each test configures and calls its SDK
// itself, as a user would; only what is not the SDK's business lives here. build.sh puts
// tests/integration/go on GOPATH, so the tests import it as "sctest".
package sctest

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

var (
	flagEndpoint    = flag.String("endpoint", "", "shardcastd http:// endpoint")
	flagTLSEndpoint = flag.String("tls-endpoint", "", "shardcastd https:// endpoint")
	flagCA          = flag.String("ca", "", "PEM certificate the TLS endpoint presents")
)

// Shard0 is the first shard of every stream.
const Shard0 = "shardId-000000000000"

// Key and Secret: the pair harness.write_test_keys gives a --credentials server.
const (
	Key    = "AKIDSHARDCASTTEST"
	Secret = "shardcast-test-secret"
)

// BadKeys are the key pairs a --credentials server refuses, with the error code it answers.
var BadKeys = []struct{ Key, Secret, Code string }{
	{Key, "wrong-secret", "InvalidSignatureException"},
	{"AKIDUNKNOWN", Secret, "UnrecognizedClientException"},
}

// Target returns the http:// or https:// endpoint; for https:// also a pool holding the test
// CA (nil for http://), which the caller puts into its SDK's HTTP client.
func Target(t *testing.T, useTLS bool) (endpoint string, roots *x509.CertPool) {
	t.Helper()
	endpoint = *flagEndpoint
	if useTLS {
		endpoint = *flagTLSEndpoint
		pem, err := os.ReadFile(*flagCA)
		if err != nil {
			t.Fatalf("read CA: %v", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			t.Fatalf("no certificate in %s", *flagCA)
		}
	}
	if endpoint == "" {
		t.Fatal("-endpoint / -tls-endpoint not given (run through go_sdk_v1_test.py / go_sdk_v2_test.py)")
	}
	return endpoint, roots
}

// Protos remembers each operation's response protocol and content type; the SDK-specific hook
// (a v1 Complete handler, a v2 HTTPClient wrapper) calls Record.
type Protos struct {
	mu    sync.Mutex
	proto map[string]string
	ctype map[string]string
}

// Record notes the latest response of op.
func (r *Protos) Record(op, proto, ctype string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proto == nil {
		r.proto, r.ctype = map[string]string{}, map[string]string{}
	}
	r.proto[op] = proto
	r.ctype[op] = ctype
}

// Seen is op's last response protocol and content type.
func (r *Protos) Seen(op string) (proto, ctype string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proto[op], r.ctype[op]
}

// All is a copy of every operation's last response protocol.
func (r *Protos) All() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.proto))
	for k, v := range r.proto {
		out[k] = v
	}
	return out
}

// Expect fails t unless every recorded operation answered over proto.
func (r *Protos) Expect(t *testing.T, proto string) {
	t.Helper()
	for op, p := range r.All() {
		if p != proto {
			t.Fatalf("%s answered over %s, want %s", op, p, proto)
		}
	}
}

// EachTLS runs f as subtest tls=false (http://, HTTP/1.1) and tls=true (https://, h2).
func EachTLS(t *testing.T, f func(t *testing.T, useTLS bool)) {
	for _, useTLS := range []bool{false, true} {
		useTLS := useTLS
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) { f(t, useTLS) })
	}
}

// Context is a test's context: 90 s, cancelled at the test's end.
func Context(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// WaitFor polls cond every 20 ms until it holds; bounded by timeout.
func WaitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Payload i: binary bytes (NUL, 0xff, everything between), 1 .. ~2 KiB long.
func Payload(i int) []byte {
	b := make([]byte, i*97+1)
	for j := range b {
		b[j] = byte(i*31 + j*7)
	}
	return b
}

// RegisterActive registers consumers c0..c{n-1} with register (which returns the consumer ARN)
// and waits until active says each is ACTIVE; returns the ARNs.
func RegisterActive(t *testing.T, n int, register func(name string) (string, error),
	active func(arn string) (bool, error)) []string {
	t.Helper()
	var arns []string
	for i := 0; i < n; i++ {
		arn, err := register(fmt.Sprintf("c%d", i))
		if err != nil {
			t.Fatalf("RegisterStreamConsumer: %v", err)
		}
		arns = append(arns, arn)
	}
	for _, arn := range arns {
		arn := arn
		WaitFor(t, "consumer ACTIVE", 10*time.Second, func() bool {
			ok, err := active(arn)
			if err != nil {
				t.Fatalf("DescribeStreamConsumer: %v", err)
			}
			return ok
		})
	}
	return arns
}

// Page is one GetRecords answer as ReadAll needs it.
type Page[R any] struct {
	Records []R
	Next    *string
	Behind  int64
}

// ReadAll drains a shard from the iterator it with get (one GetRecords call, small pages)
// until it has at least want records and is caught up.
func ReadAll[R any](t *testing.T, it *string, want int, get func(it *string) (Page[R], error)) []R {
	t.Helper()
	var out []R
	for i := 0; i < 200 && it != nil; i++ {
		r, err := get(it)
		if err != nil {
			t.Fatalf("GetRecords (call %d, %d records so far): %v", i, len(out), err)
		}
		out = append(out, r.Records...)
		if r.Next == nil {
			t.Fatal("GetRecords on an open shard returned no NextShardIterator")
		}
		it = r.Next
		if len(out) >= want && len(r.Records) == 0 && r.Behind == 0 {
			break
		}
	}
	return out
}

// EventStream is what both SDKs' SubscribeToShardEventStream offer; Ev is the SDK's event type.
type EventStream[Ev any] interface {
	Events() <-chan Ev
	Err() error
	Close() error
}

// State is what a subscription has read so far: E is the SDK's SubscribeToShardEvent, R its
// record type.
type State[E, R any] struct {
	Records    []R
	Events     int
	Heartbeats int
	Cont       string // the last ContinuationSequenceNumber
	Last       E      // the last SubscribeToShardEvent
	Done       bool   // the Events channel closed
	Err        error  // the stream's Err() at the end, or an unexpected event
}

// Sub is one subscription read in a goroutine. Lock it (or use Check, Snapshot) to read State.
type Sub[E, R any] struct {
	sync.Mutex
	State[E, R]
}

// Read starts reading st. decode turns an event into the SubscribeToShardEvent, its records and
// continuation; ok false is an event of another type. The stream is closed at the test's end.
func Read[Ev, E, R any](t *testing.T, st EventStream[Ev], decode func(Ev) (e E, recs []R, cont *string, ok bool)) *Sub[E, R] {
	s := &Sub[E, R]{}
	go func() {
		for ev := range st.Events() {
			e, recs, cont, ok := decode(ev)
			s.Lock()
			if !ok {
				s.Err = fmt.Errorf("unexpected event %T", ev)
			} else {
				s.Events++
				if len(recs) == 0 {
					s.Heartbeats++
				}
				s.Records = append(s.Records, recs...)
				s.Last = e
				if cont != nil {
					s.Cont = *cont
				}
			}
			s.Unlock()
		}
		err := st.Err()
		s.Lock()
		s.Done, s.Err = true, err
		s.Unlock()
	}()
	t.Cleanup(func() { st.Close() })
	return s
}

// Check runs f under the subscription's lock.
func (s *Sub[E, R]) Check(f func(s *Sub[E, R]) bool) func() bool {
	return func() bool {
		s.Lock()
		defer s.Unlock()
		return f(s)
	}
}

// Snapshot is a copy of the state (records read later are not in it).
func (s *Sub[E, R]) Snapshot() State[E, R] {
	s.Lock()
	defer s.Unlock()
	return s.State
}

// WaitLive waits for the first event (or the end).
func (s *Sub[E, R]) WaitLive(t *testing.T) {
	t.Helper()
	WaitFor(t, "pipe live", 10*time.Second, s.Check(func(s *Sub[E, R]) bool { return s.Events >= 1 || s.Done }))
}

// WaitRecords waits until n records are in (or the end).
func (s *Sub[E, R]) WaitRecords(t *testing.T, what string, n int) {
	t.Helper()
	WaitFor(t, what, 10*time.Second, s.Check(func(s *Sub[E, R]) bool { return len(s.Records) >= n || s.Done }))
}

// WaitDone waits for the end of the event stream.
func (s *Sub[E, R]) WaitDone(t *testing.T, what string) {
	t.Helper()
	WaitFor(t, what, 10*time.Second, s.Check(func(s *Sub[E, R]) bool { return s.Done }))
}
