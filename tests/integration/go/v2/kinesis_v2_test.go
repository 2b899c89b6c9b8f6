// The AWS SDK for Go v2 (Debian's golang-github-aws-aws-sdk-go-v2-dev, service/kinesis 1.15.21)
// against a real shardcastd. The server is started and stopped by go_sdk_v2_test.py (harness.py),
// which passes its endpoints here; the clients are configured as a user would: endpoint override,
// static credentials, region, and for TLS an HTTP client that trusts the test certificate.
//
// Transports: on http:// the SDK's net/http client speaks HTTP/1.1 (Go never does h2c), so
// SubscribeToShard arrives chunked; on https:// the SDK's client has ForceAttemptHTTP2, so ALPN
// picks h2 for every operation, SubscribeToShard included. A recording HTTP client wrapper checks
// the protocol actually used.
package gosdkv2

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"sctest"
)

var flagSDKRace = flag.Bool("sdk-race", false, "leave request bodies as the SDK makes them (see plainBody)")

// recorder is an aws.HTTPClient that records the protocol and content type of every response,
// keyed by operation (X-Amz-Target without its Kinesis_20131202. prefix), so tests can assert
// HTTP/1.1 vs HTTP/2. It also wraps each request body in plainBody (see there).
type recorder struct {
	inner aws.HTTPClient
	sctest.Protos
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && !*flagSDKRace {
		req.Body = plainBody{req.Body}
	}
	resp, err := r.inner.Do(req)
	if err == nil {
		r.Record(strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "Kinesis_20131202."), resp.Proto,
			resp.Header.Get("Content-Type"))
	}
	return resp, err
}

// plainBody hides the io.WriterTo of the SDK's request body. smithy-go 1.13's body wrapper
// returns io.EOF from WriteTo once the SDK has closed it, and the SDK closes it as soon as the
// response headers arrive. net/http's write loop does a last io.Copy of the body after sending
// it; when a fast server has already answered, that copy gets the EOF, the write loop takes it
// for a write error and closes the connection under the response body still being read:
// "deserialization failed, ... use of closed network connection" on a 200 (aws-sdk-go-v2
// issues 1825 and 2737; newer SDKs retry net.ErrClosed instead). A plain Read returns EOF, which
// net/http accepts, so hiding WriteTo removes the race without retries that could duplicate
// PutRecords. -sdk-race leaves the bodies alone: TestPutGetRoundTrip then fails now and then.
type plainBody struct{ rc io.ReadCloser }

func (b plainBody) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b plainBody) Close() error               { return b.rc.Close() }

// newClient builds a Kinesis client for the http:// or https:// endpoint. The HTTP client is the
// SDK's own BuildableClient; for TLS it trusts the test CA (nothing else is changed).
func newClient(t *testing.T, useTLS bool) (*kinesis.Client, *recorder) {
	t.Helper()
	return newClientKeys(t, useTLS, sctest.Key, sctest.Secret)
}

func newClientKeys(t *testing.T, useTLS bool, key, secret string) (*kinesis.Client, *recorder) {
	t.Helper()
	endpoint, roots := sctest.Target(t, useTLS)
	hc := awshttp.NewBuildableClient()
	if roots != nil {
		hc = hc.WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{}
			}
			tr.TLSClientConfig.RootCAs = roots
		})
	}
	rec := &recorder{inner: hc}
	kin := kinesis.New(kinesis.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		EndpointResolver: kinesis.EndpointResolverFromURL(endpoint),
		HTTPClient:       rec,
	})
	return kin, rec
}

// createActive creates a stream and waits for ACTIVE with DescribeStreamSummary; returns its ARN.
func createActive(t *testing.T, ctx context.Context, kin *kinesis.Client, name string, shards int32) string {
	t.Helper()
	if _, err := kin.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	var arn string
	sctest.WaitFor(t, name+" ACTIVE", 10*time.Second, func() bool {
		out, err := kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{
			StreamName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStreamSummary %s: %v", name, err)
		}
		s := out.StreamDescriptionSummary
		arn = aws.ToString(s.StreamARN)
		return s.StreamStatus == types.StreamStatusActive
	})
	return arn
}

// registerActive registers consumers c0..c{n-1} and waits until each is ACTIVE.
func registerActive(t *testing.T, ctx context.Context, kin *kinesis.Client, streamARN string, n int) []string {
	t.Helper()
	return sctest.RegisterActive(t, n, func(name string) (string, error) {
		out, err := kin.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
			StreamARN: aws.String(streamARN), ConsumerName: aws.String(name)})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Consumer.ConsumerARN), nil
	}, func(arn string) (bool, error) {
		out, err := kin.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{
			ConsumerARN: aws.String(arn)})
		if err != nil {
			return false, err
		}
		return out.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive, nil
	})
}

// hashIn is an ExplicitHashKey inside shard i of a fresh n-shard stream (even split of 2^128).
func hashIn(i, n int64) string {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	h := new(big.Int).Div(max, big.NewInt(n))
	h.Mul(h, big.NewInt(i))
	return h.Add(h, big.NewInt(7)).String()
}

// readAll drains a shard from the iterator with small GetRecords pages until caught up.
func readAll(t *testing.T, ctx context.Context, kin *kinesis.Client, it *string, want int) []types.Record {
	t.Helper()
	return sctest.ReadAll(t, it, want, func(it *string) (sctest.Page[types.Record], error) {
		r, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(7)})
		if err != nil {
			return sctest.Page[types.Record]{}, err
		}
		return sctest.Page[types.Record]{Records: r.Records, Next: r.NextShardIterator,
			Behind: aws.ToInt64(r.MillisBehindLatest)}, nil
	})
}

func TestControlPlane(t *testing.T) {
	ctx := sctest.Context(t)
	kin, rec := newClient(t, false)
	arn := createActive(t, ctx, kin, "go2-ctl", 3)
	sum, err := kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("go2-ctl")})
	if err != nil {
		t.Fatal(err)
	}
	s := sum.StreamDescriptionSummary
	if aws.ToInt32(s.OpenShardCount) != 3 || aws.ToInt32(s.RetentionPeriodHours) != 24 ||
		s.StreamCreationTimestamp == nil || time.Since(*s.StreamCreationTimestamp) > time.Minute ||
		time.Since(*s.StreamCreationTimestamp) < -time.Minute {
		t.Fatalf("summary: shards %v retention %v created %v", aws.ToInt32(s.OpenShardCount),
			aws.ToInt32(s.RetentionPeriodHours), s.StreamCreationTimestamp)
	}
	if want := "arn:aws:kinesis:us-east-1:"; len(arn) < len(want) || arn[:len(want)] != want {
		t.Fatalf("StreamARN %q", arn)
	}

	// The SDK's own waiter (DescribeStream) agrees.
	w := kinesis.NewStreamExistsWaiter(kin, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("go2-ctl")}, 10*time.Second); err != nil {
		t.Fatalf("StreamExistsWaiter: %v", err)
	}

	// ListShards one page at a time: NextToken alone on follow-up calls, as the API requires.
	var ids []string
	var lastEnd *big.Int
	in := &kinesis.ListShardsInput{StreamName: aws.String("go2-ctl"), MaxResults: aws.Int32(1)}
	for page := 0; page < 10; page++ {
		out, err := kin.ListShards(ctx, in)
		if err != nil {
			t.Fatalf("ListShards page %d: %v", page, err)
		}
		for _, sh := range out.Shards {
			ids = append(ids, aws.ToString(sh.ShardId))
			lo, ok1 := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.StartingHashKey), 10)
			hi, ok2 := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.EndingHashKey), 10)
			if !ok1 || !ok2 || hi.Cmp(lo) <= 0 {
				t.Fatalf("hash range %+v", sh.HashKeyRange)
			}
			if lastEnd == nil && lo.Sign() != 0 || lastEnd != nil && new(big.Int).Add(lastEnd, big.NewInt(1)).Cmp(lo) != 0 {
				t.Fatalf("hash ranges not contiguous at %s", aws.ToString(sh.ShardId))
			}
			lastEnd = hi
			if sh.SequenceNumberRange == nil || sh.SequenceNumberRange.StartingSequenceNumber == nil {
				t.Fatalf("no SequenceNumberRange on %s", aws.ToString(sh.ShardId))
			}
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(1)}
	}
	if fmt.Sprint(ids) != "[shardId-000000000000 shardId-000000000001 shardId-000000000002]" {
		t.Fatalf("ListShards ids %v", ids)
	}
	if lastEnd.Cmp(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))) != 0 {
		t.Fatalf("last shard ends at %v, not 2^128-1", lastEnd)
	}

	// ListStreams pagination the way this SDK version exposes it: HasMoreStreams +
	// ExclusiveStartStreamName.
	for i := 0; i < 4; i++ {
		createActive(t, ctx, kin, fmt.Sprintf("go2-list-%d", i), 1)
	}
	var names []string
	lin := &kinesis.ListStreamsInput{Limit: aws.Int32(2)}
	for page := 0; page < 20; page++ {
		out, err := kin.ListStreams(ctx, lin)
		if err != nil {
			t.Fatalf("ListStreams: %v", err)
		}
		if len(out.StreamNames) > 2 {
			t.Fatalf("ListStreams Limit 2 returned %d names", len(out.StreamNames))
		}
		names = append(names, out.StreamNames...)
		if !aws.ToBool(out.HasMoreStreams) {
			break
		}
		lin.ExclusiveStartStreamName = aws.String(out.StreamNames[len(out.StreamNames)-1])
	}
	got := map[string]int{}
	for _, n := range names {
		got[n]++
	}
	for _, n := range []string{"go2-ctl", "go2-list-0", "go2-list-1", "go2-list-2", "go2-list-3"} {
		if got[n] != 1 {
			t.Fatalf("ListStreams pages %v: %s seen %d times", names, n, got[n])
		}
	}

	// Tags round-trip (map in, list out).
	if _, err := kin.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("go2-ctl"),
		Tags: map[string]string{"team": "go", "env": "test"}}); err != nil {
		t.Fatalf("AddTagsToStream: %v", err)
	}
	tags, err := kin.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("go2-ctl")})
	if err != nil || len(tags.Tags) != 2 || aws.ToString(tags.Tags[0].Key) != "env" ||
		aws.ToString(tags.Tags[1].Value) != "go" {
		t.Fatalf("ListTagsForStream: %+v %v", tags, err)
	}

	// Plain http://: net/http speaks HTTP/1.1 (it has no h2c), with the JSON 1.1 content type.
	if p, ct := rec.Seen("ListShards"); p != "HTTP/1.1" || ct != "application/x-amz-json-1.1" {
		t.Fatalf("ListShards answered over %q with %q", p, ct)
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	ctx := sctest.Context(t)
	kin, _ := newClient(t, false)
	createActive(t, ctx, kin, "go2-data", 2)

	// PutRecord: every byte value, routed by ExplicitHashKey into shard 1.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	before := time.Now()
	one, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("go2-data"),
		Data: all, PartitionKey: aws.String("pk-all"), ExplicitHashKey: aws.String(hashIn(1, 2))})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	if aws.ToString(one.ShardId) != "shardId-000000000001" || aws.ToString(one.SequenceNumber) == "" {
		t.Fatalf("PutRecord answer %+v", one)
	}

	// PutRecords: 120 binary records into shard 0 (hash key), then 5 more after a pause, so an
	// AT_TIMESTAMP iterator between the two batches sees only the second.
	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 120; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{Data: sctest.Payload(i),
			PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)), ExplicitHashKey: aws.String(hashIn(0, 2))})
	}
	many, err := kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("go2-data"), Records: entries})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if aws.ToInt32(many.FailedRecordCount) != 0 || len(many.Records) != 120 {
		t.Fatalf("PutRecords failed %d of %d", aws.ToInt32(many.FailedRecordCount), len(many.Records))
	}
	time.Sleep(60 * time.Millisecond)
	mid := time.Now()
	time.Sleep(60 * time.Millisecond)
	var late []types.PutRecordsRequestEntry
	for i := 120; i < 125; i++ {
		late = append(late, types.PutRecordsRequestEntry{Data: sctest.Payload(i),
			PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)), ExplicitHashKey: aws.String(hashIn(0, 2))})
	}
	more, err := kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("go2-data"), Records: late})
	if err != nil || aws.ToInt32(more.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords (late): %v", err)
	}
	after := time.Now()
	seqs := map[int]string{}
	for i, r := range append(many.Records, more.Records...) {
		if aws.ToString(r.ShardId) != sctest.Shard0 || r.SequenceNumber == nil || r.ErrorCode != nil {
			t.Fatalf("PutRecords entry %d: %+v", i, r)
		}
		seqs[i] = aws.ToString(r.SequenceNumber)
	}

	// TRIM_HORIZON on shard 0: every record once, in order, bytes intact, timestamps parsed.
	it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("go2-data"),
		ShardId: aws.String(sctest.Shard0), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	recs := readAll(t, ctx, kin, it.ShardIterator, 125)
	if len(recs) != 125 {
		t.Fatalf("read %d records from shard 0, want 125", len(recs))
	}
	var prev time.Time
	for i, r := range recs {
		if !bytes.Equal(r.Data, sctest.Payload(i)) || aws.ToString(r.PartitionKey) != fmt.Sprintf("pk-%d", i) ||
			aws.ToString(r.SequenceNumber) != seqs[i] {
			t.Fatalf("record %d: key %q seq %q len %d", i, aws.ToString(r.PartitionKey),
				aws.ToString(r.SequenceNumber), len(r.Data))
		}
		ts := r.ApproximateArrivalTimestamp
		if ts == nil || ts.Before(before.Add(-2*time.Second)) || ts.After(after.Add(2*time.Second)) || ts.Before(prev) {
			t.Fatalf("record %d ApproximateArrivalTimestamp %v (put between %v and %v)", i, ts, before, after)
		}
		prev = *ts
	}

	// Shard 1 holds exactly the PutRecord record, all 256 byte values intact.
	it1, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("go2-data"),
		ShardId: aws.String("shardId-000000000001"), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber,
		StartingSequenceNumber: one.SequenceNumber})
	if err != nil {
		t.Fatalf("GetShardIterator AT_SEQUENCE_NUMBER: %v", err)
	}
	recs1 := readAll(t, ctx, kin, it1.ShardIterator, 1)
	if len(recs1) != 1 || !bytes.Equal(recs1[0].Data, all) || aws.ToString(recs1[0].PartitionKey) != "pk-all" {
		t.Fatalf("shard 1 records: %d", len(recs1))
	}

	// AT_TIMESTAMP (the SDK sends epoch seconds with a fraction) between the batches.
	itT, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("go2-data"),
		ShardId: aws.String(sctest.Shard0), ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(mid)})
	if err != nil {
		t.Fatalf("GetShardIterator AT_TIMESTAMP: %v", err)
	}
	recsT := readAll(t, ctx, kin, itT.ShardIterator, 5)
	if len(recsT) != 5 || aws.ToString(recsT[0].SequenceNumber) != seqs[120] {
		t.Fatalf("AT_TIMESTAMP read %d records", len(recsT))
	}

	// AFTER_SEQUENCE_NUMBER of the last record: nothing, and a usable next iterator.
	itA, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("go2-data"),
		ShardId: aws.String(sctest.Shard0), ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber,
		StartingSequenceNumber: aws.String(seqs[124])})
	if err != nil {
		t.Fatalf("GetShardIterator AFTER_SEQUENCE_NUMBER: %v", err)
	}
	r, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: itA.ShardIterator})
	if err != nil || len(r.Records) != 0 || r.NextShardIterator == nil || aws.ToInt64(r.MillisBehindLatest) != 0 {
		t.Fatalf("GetRecords after the last record: %+v %v", r, err)
	}
}

func TestTypedErrors(t *testing.T) {
	ctx := sctest.Context(t)
	kin, _ := newClient(t, false)

	_, err := kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("go2-nope")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("DescribeStreamSummary of a missing stream: %T %v", err, err)
	}
	if rnf.ErrorMessage() == "" {
		t.Fatal("ResourceNotFoundException without a message")
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ResourceNotFoundException" || api.ErrorFault() != smithy.FaultClient {
		t.Fatalf("smithy.APIError: %v", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 || re.ServiceRequestID() == "" {
		t.Fatalf("ResponseError: %v", err)
	}

	createActive(t, ctx, kin, "go2-err", 1)
	_, err = kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("go2-err"), ShardCount: aws.Int32(1)})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("CreateStream of an existing stream: %T %v", err, err)
	}
	_, err = kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("go2-err"),
		ShardId: aws.String("shardId-000000000009"), ShardIteratorType: types.ShardIteratorTypeLatest})
	if !errors.As(err, &rnf) {
		t.Fatalf("GetShardIterator of a missing shard: %T %v", err, err)
	}
	_, err = kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("bm90IGFuIGl0ZXJhdG9y")})
	var invalid *types.InvalidArgumentException
	if !errors.As(err, &invalid) {
		t.Fatalf("GetRecords with a bad iterator: %T %v", err, err)
	}
	_, err = kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("go2-zero"), ShardCount: aws.Int32(0)})
	if !errors.As(err, &api) || (api.ErrorCode() != "ValidationException" && api.ErrorCode() != "InvalidArgumentException") {
		t.Fatalf("CreateStream ShardCount 0: %T %v", err, err)
	}

	// SubscribeToShard's error path runs before the event-stream reader exists: a plain typed error.
	_, err = kin.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/go2-err/consumer/none:1"),
		ShardId:     aws.String(sctest.Shard0), StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
	if !errors.As(err, &rnf) {
		t.Fatalf("SubscribeToShard of an unknown consumer: %T %v", err, err)
	}
}

// sub is one subscription read by the SDK's event-stream reader (sctest.Read's goroutine).
type sub = sctest.Sub[types.SubscribeToShardEvent, types.Record]

func subscribe(t *testing.T, ctx context.Context, kin *kinesis.Client, arn string, pos types.StartingPosition) *sub {
	t.Helper()
	out, err := kin.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(arn),
		ShardId: aws.String(sctest.Shard0), StartingPosition: &pos})
	if err != nil {
		t.Fatalf("SubscribeToShard: %v", err)
	}
	return sctest.Read(t, sctest.EventStream[types.SubscribeToShardEventStream](out.GetStream()),
		func(ev types.SubscribeToShardEventStream) (types.SubscribeToShardEvent, []types.Record, *string, bool) {
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				return types.SubscribeToShardEvent{}, nil, nil, false
			}
			return e.Value, e.Value.Records, e.Value.ContinuationSequenceNumber, true
		})
}

func TestSubscribeHTTP1(t *testing.T) { testSubscribe(t, false, "go2-sub-h1", "HTTP/1.1") }
func TestSubscribeTLSH2(t *testing.T) { testSubscribe(t, true, "go2-sub-h2", "HTTP/2.0") }

// testSubscribe: records round-trip through SubscribeToShard, ContinuationSequenceNumber is the
// last record's number, and a resubscription AFTER it replays nothing and gets only new records.
func testSubscribe(t *testing.T, useTLS bool, name, proto string) {
	ctx := sctest.Context(t)
	kin, rec := newClient(t, useTLS)
	streamARN := createActive(t, ctx, kin, name, 1)
	arns := registerActive(t, ctx, kin, streamARN, 2)

	// ListStreamConsumers through the SDK's paginator, one consumer a page.
	pg := kinesis.NewListStreamConsumersPaginator(kin, &kinesis.ListStreamConsumersInput{
		StreamARN: aws.String(streamARN), MaxResults: aws.Int32(1)})
	var consumers []string
	for i := 0; i < 10 && pg.HasMorePages(); i++ {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListStreamConsumers: %v", err)
		}
		for _, c := range page.Consumers {
			consumers = append(consumers, aws.ToString(c.ConsumerName))
		}
	}
	if fmt.Sprint(consumers) != "[c0 c1]" {
		t.Fatalf("ListStreamConsumers pages: %v", consumers)
	}

	var entries []types.PutRecordsRequestEntry
	for i := 0; i < 20; i++ {
		entries = append(entries, types.PutRecordsRequestEntry{Data: sctest.Payload(i), PartitionKey: aws.String(fmt.Sprintf("k%d", i))})
	}
	put, err := kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	if err != nil || aws.ToInt32(put.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v", err)
	}
	// One large record (900 KiB) so an event spans many chunks / DATA frames.
	big := bytes.Repeat([]byte{0x00, 0xff, 0x7f, 0x80}, 900*256)
	bigPut, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), Data: big, PartitionKey: aws.String("big")})
	if err != nil {
		t.Fatalf("PutRecord 900 KiB: %v", err)
	}
	seqs := []string{}
	for _, r := range put.Records {
		seqs = append(seqs, aws.ToString(r.SequenceNumber))
	}
	seqs = append(seqs, aws.ToString(bigPut.SequenceNumber))

	a := subscribe(t, ctx, kin, arns[0], types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	if p, ct := rec.Seen("SubscribeToShard"); p != proto || ct != "application/vnd.amazon.eventstream" {
		t.Fatalf("SubscribeToShard answered over %q with %q, want %q", p, ct, proto)
	}
	sctest.WaitFor(t, "21 records", 20*time.Second, a.Check(func(s *sub) bool { return len(s.Records) >= 21 || s.Done }))
	sctest.WaitFor(t, "continuation at the last record", 10*time.Second, a.Check(func(s *sub) bool { return s.Cont == seqs[20] || s.Done }))
	a.Lock()
	if a.Err != nil || a.Done || len(a.Records) != 21 {
		a.Unlock()
		t.Fatalf("subscription: %d records, done %v, err %v", len(a.Records), a.Done, a.Err)
	}
	for i, r := range a.Records {
		want := big
		key := "big"
		if i < 20 {
			want, key = sctest.Payload(i), fmt.Sprintf("k%d", i)
		}
		ts := r.ApproximateArrivalTimestamp
		if !bytes.Equal(r.Data, want) || aws.ToString(r.PartitionKey) != key || aws.ToString(r.SequenceNumber) != seqs[i] ||
			ts == nil || time.Since(*ts) > time.Minute || time.Since(*ts) < -time.Minute {
			a.Unlock()
			t.Fatalf("pushed record %d: key %q seq %q len %d ts %v", i, aws.ToString(r.PartitionKey),
				aws.ToString(r.SequenceNumber), len(r.Data), ts)
		}
	}
	if a.Last.MillisBehindLatest == nil {
		a.Unlock()
		t.Fatal("SubscribeToShardEvent without MillisBehindLatest")
	}
	cont := a.Cont
	a.Unlock()

	// The second consumer resumes after the continuation: heartbeats only, nothing replayed.
	b := subscribe(t, ctx, kin, arns[1], types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber,
		SequenceNumber: aws.String(cont)})
	sctest.WaitFor(t, "a heartbeat", 10*time.Second, b.Check(func(s *sub) bool { return s.Heartbeats >= 1 || s.Done }))
	next, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), Data: []byte("next\x00"), PartitionKey: aws.String("n")})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	sctest.WaitFor(t, "the next record on both", 10*time.Second, func() bool {
		return a.Check(func(s *sub) bool { return len(s.Records) >= 22 || s.Done })() &&
			b.Check(func(s *sub) bool { return len(s.Records) >= 1 || s.Done })()
	})
	b.Lock()
	if b.Err != nil || len(b.Records) != 1 || aws.ToString(b.Records[0].SequenceNumber) != aws.ToString(next.SequenceNumber) ||
		string(b.Records[0].Data) != "next\x00" {
		b.Unlock()
		t.Fatalf("resumed subscription: %d records, err %v", len(b.Records), b.Err)
	}
	b.Unlock()

	// Every operation of this client went over the expected protocol.
	rec.Expect(t, proto)
}

// TestSubscribeEndings: the reader surfaces exception events as the SDK's typed errors, and a
// closed shard's last event (ChildShards, no continuation) ends the stream without an error.
func TestSubscribeEndings(t *testing.T) {
	sctest.EachTLS(t, func(t *testing.T, useTLS bool) {
		ctx := sctest.Context(t)
		kin, _ := newClient(t, useTLS)
		tag := "h1"
		if useTLS {
			tag = "h2"
		}
		latest := types.StartingPosition{Type: types.ShardIteratorTypeLatest}

		// Deregistered consumer: ResourceInUseException.
		arn := createActive(t, ctx, kin, "go2-end-dereg-"+tag, 1)
		cs := registerActive(t, ctx, kin, arn, 1)
		s := subscribe(t, ctx, kin, cs[0], latest)
		s.WaitLive(t)
		if _, err := kin.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(cs[0])}); err != nil {
			t.Fatalf("DeregisterStreamConsumer: %v", err)
		}
		s.WaitDone(t, "pipe end")
		var inUse *types.ResourceInUseException
		if !errors.As(s.Err, &inUse) {
			t.Fatalf("after deregistration: %T %v", s.Err, s.Err)
		}

		// Stream deleted under the subscription: ResourceNotFoundException.
		arn = createActive(t, ctx, kin, "go2-end-del-"+tag, 1)
		cs = registerActive(t, ctx, kin, arn, 1)
		s = subscribe(t, ctx, kin, cs[0], latest)
		s.WaitLive(t)
		if _, err := kin.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("go2-end-del-" + tag),
			EnforceConsumerDeletion: aws.Bool(true)}); err != nil {
			t.Fatalf("DeleteStream: %v", err)
		}
		s.WaitDone(t, "pipe end")
		var rnf *types.ResourceNotFoundException
		if !errors.As(s.Err, &rnf) {
			t.Fatalf("after DeleteStream: %T %v", s.Err, s.Err)
		}

		// Split: last event carries ChildShards and no continuation; clean end.
		name := "go2-end-split-" + tag
		arn = createActive(t, ctx, kin, name, 1)
		cs = registerActive(t, ctx, kin, arn, 1)
		if _, err := kin.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), Data: []byte("before"),
			PartitionKey: aws.String("p")}); err != nil {
			t.Fatal(err)
		}
		s = subscribe(t, ctx, kin, cs[0], types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		s.WaitRecords(t, "record", 1)
		if _, err := kin.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(name),
			ShardToSplit: aws.String(sctest.Shard0), NewStartingHashKey: aws.String(new(big.Int).Lsh(big.NewInt(1), 127).String())}); err != nil {
			t.Fatalf("SplitShard: %v", err)
		}
		s.WaitDone(t, "shard end")
		s.Lock()
		defer s.Unlock()
		if s.Err != nil || s.Last.ContinuationSequenceNumber != nil || len(s.Last.ChildShards) != 2 ||
			len(s.Records) != 1 || string(s.Records[0].Data) != "before" {
			t.Fatalf("after split: err %v last %+v records %d", s.Err, s.Last, len(s.Records))
		}
		for _, c := range s.Last.ChildShards {
			if len(c.ParentShards) != 1 || c.ParentShards[0] != sctest.Shard0 || c.HashKeyRange == nil {
				t.Fatalf("child shard %+v", c)
			}
		}
	})
}

// TestSigned runs against a server started with --credentials (go_sdk_v2_test.py's signed class,
// keys AKIDSHARDCASTTEST / shardcast-test-secret): the SDK's SigV4 over HTTP/1.1 and over h2
// (where the host is :authority) verifies, a subscription included; a wrong secret is
// InvalidSignatureException and an unknown key UnrecognizedClientException.
func TestSigned(t *testing.T) {
	sctest.EachTLS(t, func(t *testing.T, useTLS bool) {
		ctx := sctest.Context(t)
		kin, _ := newClient(t, useTLS)
		name := fmt.Sprintf("go2-signed-%v", useTLS)
		arn := createActive(t, ctx, kin, name, 1)
		cs := registerActive(t, ctx, kin, arn, 1)
		s := subscribe(t, ctx, kin, cs[0], types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		s.WaitLive(t)
		if _, err := kin.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name),
			Records: []types.PutRecordsRequestEntry{{Data: sctest.Payload(40), PartitionKey: aws.String("p")}}}); err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		s.WaitRecords(t, "record", 1)
		if st := s.Snapshot(); st.Err != nil || !bytes.Equal(st.Records[0].Data, sctest.Payload(40)) {
			t.Fatalf("signed subscription: err %v", st.Err)
		}

		for _, c := range sctest.BadKeys {
			bad, _ := newClientKeys(t, useTLS, c.Key, c.Secret)
			_, err := bad.ListStreams(ctx, &kinesis.ListStreamsInput{})
			var api smithy.APIError
			var re *awshttp.ResponseError
			if !errors.As(err, &api) || api.ErrorCode() != c.Code || !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
				t.Fatalf("%s/%s: %T %v, want %s", c.Key, c.Secret, err, err, c.Code)
			}
			_, err = bad.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(cs[0]),
				ShardId: aws.String(sctest.Shard0), StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
			if !errors.As(err, &api) || api.ErrorCode() != c.Code {
				t.Fatalf("SubscribeToShard %s/%s: %T %v, want %s", c.Key, c.Secret, err, err, c.Code)
			}
		}
	})
}

// TestLifetime runs against a server with --subscription-lifetime-ms 2000: the pipe ends cleanly
// at its lifetime on HTTP/1.1 (last chunk) and on h2 (END_STREAM); the reader's Events channel
// closes with Err() nil, and a resubscription right after it, AFTER the continuation, is accepted.
func TestLifetime(t *testing.T) {
	sctest.EachTLS(t, func(t *testing.T, useTLS bool) {
		t.Parallel()
		ctx := sctest.Context(t)
		kin, _ := newClient(t, useTLS)
		name := fmt.Sprintf("go2-life-%v", useTLS)
		arn := createActive(t, ctx, kin, name, 1)
		cs := registerActive(t, ctx, kin, arn, 1)
		t0 := time.Now()
		s := subscribe(t, ctx, kin, cs[0], types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		s.WaitDone(t, "end of the pipe")
		took := time.Since(t0)
		s.Lock()
		err, hb, cont := s.Err, s.Heartbeats, s.Cont
		s.Unlock()
		if err != nil || took < 1900*time.Millisecond || took > 6*time.Second || hb < 3 || cont == "" {
			t.Fatalf("pipe ended after %v with err %v, %d heartbeats, continuation %q", took, err, hb, cont)
		}
		again := subscribe(t, ctx, kin, cs[0], types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber,
			SequenceNumber: aws.String(cont)})
		again.WaitLive(t)
		again.Lock()
		defer again.Unlock()
		if again.Err != nil || len(again.Records) != 0 {
			t.Fatalf("resubscription: err %v, %d records", again.Err, len(again.Records))
		}
	})
}
