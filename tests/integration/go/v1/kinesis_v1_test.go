// The AWS SDK for Go v1 (Debian's golang-github-aws-aws-sdk-go-dev, 1.44.133) against a real
// shardcastd started by go_sdk_v1_test.py (harness.py). Clients as a user configures them: a
// session with endpoint, region and static credentials; for TLS an http.Client that trusts the
// test certificate (ForceAttemptHTTP2, as http.DefaultTransport has, so ALPN picks h2). The
// driver clears AWS_CA_BUNDLE and friends: a session would otherwise load the host's bundle
// over our RootCAs.
//
// v1 reads SubscribeToShard with its own event-stream reader and, like v2, waits for the
// initial-response event before SubscribeToShard returns.
package gosdkv1

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/request"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/kinesis"

	"sctest"
)

// newClient: a session as a user configures it, recording each response's protocol.
func newClient(t *testing.T, useTLS bool) (*kinesis.Kinesis, *sctest.Protos) {
	t.Helper()
	return newClientKeys(t, useTLS, sctest.Key, sctest.Secret)
}

func newClientKeys(t *testing.T, useTLS bool, key, secret string) (*kinesis.Kinesis, *sctest.Protos) {
	t.Helper()
	endpoint, roots := sctest.Target(t, useTLS)
	tr := http.DefaultTransport.(*http.Transport).Clone() // v1's default client uses this one
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	sess, err := session.NewSession(&aws.Config{
		Endpoint:    aws.String(endpoint),
		Region:      aws.String("us-east-1"),
		Credentials: credentials.NewStaticCredentials(key, secret, ""),
		HTTPClient:  &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	kin := kinesis.New(sess)
	rec := &sctest.Protos{}
	kin.Handlers.Complete.PushBack(func(req *request.Request) {
		if req.HTTPResponse != nil {
			rec.Record(req.Operation.Name, req.HTTPResponse.Proto, req.HTTPResponse.Header.Get("Content-Type"))
		}
	})
	return kin, rec
}

// createActive creates a stream and waits with the SDK's own StreamExists waiter; returns the ARN.
func createActive(t *testing.T, ctx context.Context, kin *kinesis.Kinesis, name string, shards int64) string {
	t.Helper()
	if _, err := kin.CreateStreamWithContext(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int64(shards)}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	if err := kin.WaitUntilStreamExistsWithContext(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)},
		request.WithWaiterDelay(request.ConstantWaiterDelay(50*time.Millisecond)), request.WithWaiterMaxAttempts(200)); err != nil {
		t.Fatalf("WaitUntilStreamExists %s: %v", name, err)
	}
	out, err := kin.DescribeStreamSummaryWithContext(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStreamSummary %s: %v", name, err)
	}
	if aws.StringValue(out.StreamDescriptionSummary.StreamStatus) != kinesis.StreamStatusActive ||
		aws.Int64Value(out.StreamDescriptionSummary.OpenShardCount) != shards {
		t.Fatalf("summary of %s: %v", name, out)
	}
	return aws.StringValue(out.StreamDescriptionSummary.StreamARN)
}

func registerActive(t *testing.T, ctx context.Context, kin *kinesis.Kinesis, streamARN string, n int) []string {
	t.Helper()
	return sctest.RegisterActive(t, n, func(name string) (string, error) {
		out, err := kin.RegisterStreamConsumerWithContext(ctx, &kinesis.RegisterStreamConsumerInput{
			StreamARN: aws.String(streamARN), ConsumerName: aws.String(name)})
		if err != nil {
			return "", err
		}
		return aws.StringValue(out.Consumer.ConsumerARN), nil
	}, func(arn string) (bool, error) {
		out, err := kin.DescribeStreamConsumerWithContext(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)})
		if err != nil {
			return false, err
		}
		return aws.StringValue(out.ConsumerDescription.ConsumerStatus) == kinesis.ConsumerStatusActive, nil
	})
}

func readAll(t *testing.T, ctx context.Context, kin *kinesis.Kinesis, it *string, want int) []*kinesis.Record {
	t.Helper()
	return sctest.ReadAll(t, it, want, func(it *string) (sctest.Page[*kinesis.Record], error) {
		r, err := kin.GetRecordsWithContext(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int64(7)})
		if err != nil {
			return sctest.Page[*kinesis.Record]{}, err
		}
		return sctest.Page[*kinesis.Record]{Records: r.Records, Next: r.NextShardIterator,
			Behind: aws.Int64Value(r.MillisBehindLatest)}, nil
	})
}

func TestControlPlane(t *testing.T) {
	ctx := sctest.Context(t)
	kin, rec := newClient(t, false)
	createActive(t, ctx, kin, "go1-ctl", 3)

	var ids []string
	in := &kinesis.ListShardsInput{StreamName: aws.String("go1-ctl"), MaxResults: aws.Int64(1)}
	for page := 0; page < 10; page++ {
		out, err := kin.ListShardsWithContext(ctx, in)
		if err != nil {
			t.Fatalf("ListShards: %v", err)
		}
		for _, s := range out.Shards {
			ids = append(ids, aws.StringValue(s.ShardId))
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int64(1)}
	}
	if fmt.Sprint(ids) != "[shardId-000000000000 shardId-000000000001 shardId-000000000002]" {
		t.Fatalf("ListShards ids %v", ids)
	}

	// ListStreamsPages follows HasMoreStreams / ExclusiveStartStreamName itself.
	for i := 0; i < 3; i++ {
		createActive(t, ctx, kin, fmt.Sprintf("go1-list-%d", i), 1)
	}
	var names []string
	pages := 0
	if err := kin.ListStreamsPagesWithContext(ctx, &kinesis.ListStreamsInput{Limit: aws.Int64(2)},
		func(p *kinesis.ListStreamsOutput, last bool) bool {
			pages++
			names = append(names, aws.StringValueSlice(p.StreamNames)...)
			return pages < 20
		}); err != nil {
		t.Fatalf("ListStreamsPages: %v", err)
	}
	if fmt.Sprint(names) != "[go1-ctl go1-list-0 go1-list-1 go1-list-2]" || pages != 2 {
		t.Fatalf("ListStreamsPages: %d pages %v", pages, names)
	}
	if p := rec.All()["ListShards"]; p != "HTTP/1.1" {
		t.Fatalf("ListShards over %q", p)
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	ctx := sctest.Context(t)
	kin, _ := newClient(t, false)
	createActive(t, ctx, kin, "go1-data", 1)

	before := time.Now()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	one, err := kin.PutRecordWithContext(ctx, &kinesis.PutRecordInput{StreamName: aws.String("go1-data"),
		Data: all, PartitionKey: aws.String("pk-all")})
	if err != nil || aws.StringValue(one.ShardId) != sctest.Shard0 {
		t.Fatalf("PutRecord: %v %v", one, err)
	}
	var entries []*kinesis.PutRecordsRequestEntry
	for i := 0; i < 60; i++ {
		entries = append(entries, &kinesis.PutRecordsRequestEntry{Data: sctest.Payload(i), PartitionKey: aws.String(fmt.Sprintf("pk-%d", i))})
	}
	many, err := kin.PutRecordsWithContext(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("go1-data"), Records: entries})
	if err != nil || aws.Int64Value(many.FailedRecordCount) != 0 || len(many.Records) != 60 {
		t.Fatalf("PutRecords: %v", err)
	}
	time.Sleep(60 * time.Millisecond)
	mid := time.Now()
	time.Sleep(60 * time.Millisecond)
	last, err := kin.PutRecordWithContext(ctx, &kinesis.PutRecordInput{StreamName: aws.String("go1-data"),
		Data: []byte{0}, PartitionKey: aws.String("last")})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	after := time.Now()

	it, err := kin.GetShardIteratorWithContext(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("go1-data"),
		ShardId: aws.String(sctest.Shard0), ShardIteratorType: aws.String(kinesis.ShardIteratorTypeTrimHorizon)})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	recs := readAll(t, ctx, kin, it.ShardIterator, 62)
	if len(recs) != 62 {
		t.Fatalf("read %d records, want 62", len(recs))
	}
	for i, r := range recs {
		want, seq := all, aws.StringValue(one.SequenceNumber)
		switch {
		case i == 61:
			want, seq = []byte{0}, aws.StringValue(last.SequenceNumber)
		case i > 0:
			want, seq = sctest.Payload(i-1), aws.StringValue(many.Records[i-1].SequenceNumber)
		}
		ts := r.ApproximateArrivalTimestamp
		if !bytes.Equal(r.Data, want) || aws.StringValue(r.SequenceNumber) != seq || ts == nil ||
			ts.Before(before.Add(-2*time.Second)) || ts.After(after.Add(2*time.Second)) {
			t.Fatalf("record %d: seq %q len %d ts %v", i, aws.StringValue(r.SequenceNumber), len(r.Data), ts)
		}
	}

	// AT_TIMESTAMP: v1 sends epoch seconds with millisecond decimals.
	itT, err := kin.GetShardIteratorWithContext(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("go1-data"),
		ShardId: aws.String(sctest.Shard0), ShardIteratorType: aws.String(kinesis.ShardIteratorTypeAtTimestamp), Timestamp: aws.Time(mid)})
	if err != nil {
		t.Fatalf("GetShardIterator AT_TIMESTAMP: %v", err)
	}
	recsT := readAll(t, ctx, kin, itT.ShardIterator, 1)
	if len(recsT) != 1 || aws.StringValue(recsT[0].SequenceNumber) != aws.StringValue(last.SequenceNumber) {
		t.Fatalf("AT_TIMESTAMP read %d records", len(recsT))
	}
}

func TestTypedErrors(t *testing.T) {
	ctx := sctest.Context(t)
	kin, _ := newClient(t, false)
	_, err := kin.DescribeStreamSummaryWithContext(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("go1-nope")})
	var rnf *kinesis.ResourceNotFoundException
	if !errors.As(err, &rnf) || rnf.Message() == "" {
		t.Fatalf("DescribeStreamSummary of a missing stream: %T %v", err, err)
	}
	var rf awserr.RequestFailure
	if !errors.As(err, &rf) || rf.Code() != kinesis.ErrCodeResourceNotFoundException || rf.StatusCode() != 400 || rf.RequestID() == "" {
		t.Fatalf("awserr.RequestFailure: %v", err)
	}
	createActive(t, ctx, kin, "go1-err", 1)
	_, err = kin.CreateStreamWithContext(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("go1-err"), ShardCount: aws.Int64(1)})
	var inUse *kinesis.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("CreateStream of an existing stream: %T %v", err, err)
	}
	_, err = kin.GetRecordsWithContext(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("bm90IGFuIGl0ZXJhdG9y")})
	var invalid *kinesis.InvalidArgumentException
	if !errors.As(err, &invalid) {
		t.Fatalf("GetRecords with a bad iterator: %T %v", err, err)
	}
	_, err = kin.SubscribeToShardWithContext(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/go1-err/consumer/none:1"),
		ShardId:     aws.String(sctest.Shard0), StartingPosition: &kinesis.StartingPosition{Type: aws.String(kinesis.ShardIteratorTypeLatest)}})
	if !errors.As(err, &rnf) {
		t.Fatalf("SubscribeToShard of an unknown consumer: %T %v", err, err)
	}
}

// sub is a subscription read by the SDK's event-stream reader (sctest.Read's goroutine).
type sub = sctest.Sub[*kinesis.SubscribeToShardEvent, *kinesis.Record]

func subscribe(t *testing.T, ctx context.Context, kin *kinesis.Kinesis, arn string, pos *kinesis.StartingPosition) *sub {
	t.Helper()
	out, err := kin.SubscribeToShardWithContext(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(arn),
		ShardId: aws.String(sctest.Shard0), StartingPosition: pos})
	if err != nil {
		t.Fatalf("SubscribeToShard: %v", err)
	}
	return sctest.Read(t, sctest.EventStream[kinesis.SubscribeToShardEventStreamEvent](out.GetStream()),
		func(ev kinesis.SubscribeToShardEventStreamEvent) (*kinesis.SubscribeToShardEvent, []*kinesis.Record, *string, bool) {
			e, ok := ev.(*kinesis.SubscribeToShardEvent)
			if !ok {
				return nil, nil, nil, false
			}
			return e, e.Records, e.ContinuationSequenceNumber, true
		})
}

func TestSubscribeHTTP1(t *testing.T) { testSubscribe(t, false, "go1-sub-h1", "HTTP/1.1") }
func TestSubscribeTLSH2(t *testing.T) { testSubscribe(t, true, "go1-sub-h2", "HTTP/2.0") }

func testSubscribe(t *testing.T, useTLS bool, name, proto string) {
	ctx := sctest.Context(t)
	kin, rec := newClient(t, useTLS)
	streamARN := createActive(t, ctx, kin, name, 1)
	arns := registerActive(t, ctx, kin, streamARN, 3)

	var consumers []string
	if err := kin.ListStreamConsumersPagesWithContext(ctx, &kinesis.ListStreamConsumersInput{
		StreamARN: aws.String(streamARN), MaxResults: aws.Int64(2)}, func(p *kinesis.ListStreamConsumersOutput, last bool) bool {
		for _, c := range p.Consumers {
			consumers = append(consumers, aws.StringValue(c.ConsumerName))
		}
		return len(consumers) < 10
	}); err != nil || fmt.Sprint(consumers) != "[c0 c1 c2]" {
		t.Fatalf("ListStreamConsumersPages: %v %v", consumers, err)
	}

	var entries []*kinesis.PutRecordsRequestEntry
	for i := 0; i < 20; i++ {
		entries = append(entries, &kinesis.PutRecordsRequestEntry{Data: sctest.Payload(i), PartitionKey: aws.String(fmt.Sprintf("k%d", i))})
	}
	put, err := kin.PutRecordsWithContext(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	if err != nil || aws.Int64Value(put.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v", err)
	}
	a := subscribe(t, ctx, kin, arns[0], &kinesis.StartingPosition{Type: aws.String(kinesis.ShardIteratorTypeTrimHorizon)})
	last := aws.StringValue(put.Records[19].SequenceNumber)
	sctest.WaitFor(t, "20 records and the continuation", 20*time.Second, a.Check(func(s *sub) bool {
		return len(s.Records) >= 20 && s.Cont == last || s.Done
	}))
	a.Lock()
	if a.Err != nil || a.Done || len(a.Records) != 20 {
		a.Unlock()
		t.Fatalf("subscription: %d records, done %v, err %v", len(a.Records), a.Done, a.Err)
	}
	for i, r := range a.Records {
		if !bytes.Equal(r.Data, sctest.Payload(i)) || aws.StringValue(r.SequenceNumber) != aws.StringValue(put.Records[i].SequenceNumber) ||
			aws.StringValue(r.PartitionKey) != fmt.Sprintf("k%d", i) || r.ApproximateArrivalTimestamp == nil ||
			time.Since(*r.ApproximateArrivalTimestamp) > time.Minute {
			a.Unlock()
			t.Fatalf("pushed record %d: %v", i, r)
		}
	}
	a.Unlock()

	b := subscribe(t, ctx, kin, arns[1], &kinesis.StartingPosition{Type: aws.String(kinesis.ShardIteratorTypeAfterSequenceNumber),
		SequenceNumber: aws.String(last)})
	sctest.WaitFor(t, "a heartbeat", 10*time.Second, b.Check(func(s *sub) bool { return s.Heartbeats >= 1 || s.Done }))
	next, err := kin.PutRecordWithContext(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), Data: []byte("next"), PartitionKey: aws.String("n")})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	b.WaitRecords(t, "the next record", 1)
	b.Lock()
	if b.Err != nil || len(b.Records) != 1 || aws.StringValue(b.Records[0].SequenceNumber) != aws.StringValue(next.SequenceNumber) {
		b.Unlock()
		t.Fatalf("resumed subscription: %d records, err %v", len(b.Records), b.Err)
	}
	b.Unlock()

	// A deregistered consumer's pipe ends with the typed ResourceInUseException.
	c := subscribe(t, ctx, kin, arns[2], &kinesis.StartingPosition{Type: aws.String(kinesis.ShardIteratorTypeLatest)})
	c.WaitLive(t)
	if _, err := kin.DeregisterStreamConsumerWithContext(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(arns[2])}); err != nil {
		t.Fatalf("DeregisterStreamConsumer: %v", err)
	}
	c.WaitDone(t, "pipe end")
	var inUse *kinesis.ResourceInUseException
	if !errors.As(c.Err, &inUse) {
		t.Fatalf("after deregistration: %T %v", c.Err, c.Err)
	}

	// Every operation of this client went over the expected protocol.
	rec.Expect(t, proto)
}

// TestSigned runs against a server with --credentials (go_sdk_v1_test.py's signed class): v1's
// SigV4 verifies over HTTP/1.1 and h2, a subscription included; a wrong secret is
// InvalidSignatureException, an unknown key UnrecognizedClientException.
func TestSigned(t *testing.T) {
	sctest.EachTLS(t, func(t *testing.T, useTLS bool) {
		ctx := sctest.Context(t)
		kin, _ := newClient(t, useTLS)
		name := fmt.Sprintf("go1-signed-%v", useTLS)
		arn := createActive(t, ctx, kin, name, 1)
		cs := registerActive(t, ctx, kin, arn, 1)
		s := subscribe(t, ctx, kin, cs[0], &kinesis.StartingPosition{Type: aws.String(kinesis.ShardIteratorTypeLatest)})
		s.WaitLive(t)
		if _, err := kin.PutRecordWithContext(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name),
			Data: sctest.Payload(40), PartitionKey: aws.String("p")}); err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
		s.WaitRecords(t, "record", 1)
		if st := s.Snapshot(); st.Err != nil || !bytes.Equal(st.Records[0].Data, sctest.Payload(40)) {
			t.Fatalf("signed subscription: err %v", st.Err)
		}
		for _, c := range sctest.BadKeys {
			bad, _ := newClientKeys(t, useTLS, c.Key, c.Secret)
			_, err := bad.ListStreamsWithContext(ctx, &kinesis.ListStreamsInput{})
			var rf awserr.RequestFailure
			if !errors.As(err, &rf) || rf.Code() != c.Code || rf.StatusCode() != 400 {
				t.Fatalf("%s/%s: %T %v, want %s", c.Key, c.Secret, err, err, c.Code)
			}
		}
	})
}
