package collector

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// ids gives X-Ray-style trace IDs (the first 4 bytes the current Unix
// time, which awsxrayexporter requires) unless w3c is set, then a W3C ID
// whose first 4 bytes are no recent time; span IDs count up from 1.
type ids struct {
	mu     sync.Mutex
	now    uint32
	traces uint64
	spans  uint64
	w3c    bool
}

func (g *ids) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.traces++
	var tid trace.TraceID
	if g.w3c {
		copy(tid[:], []byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36})
	} else {
		binary.BigEndian.PutUint32(tid[:4], g.now)
		binary.BigEndian.PutUint64(tid[8:], 0xa1b2c3d4e5f60000+g.traces)
	}
	return tid, g.nextSpan()
}

func (g *ids) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nextSpan()
}

func (g *ids) nextSpan() trace.SpanID {
	g.spans++
	var sid trace.SpanID
	binary.BigEndian.PutUint64(sid[:], 0x5100000000000000+g.spans)
	return sid
}

const javaStack = `java.sql.SQLTransientConnectionException: pool exhausted
	at com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)
	at com.example.cart.CartRepository.load(CartRepository.java:42)
	at com.example.cart.CartService.get(CartService.java:17)
`

const pythonStack = `Traceback (most recent call last):
  File "/app/worker.py", line 31, in handle
    price = lookup(item)
  File "/app/prices.py", line 12, in lookup
    raise KeyError(item)
KeyError: 'sku-7'
`

const goStack = `goroutine 1 [running]:
main.charge(0xc000010000)
	/src/app/charge.go:27 +0x1d
main.main()
	/src/app/main.go:12 +0x25
`

// testSpans records the span set both paths receive: one trace of a
// checkout service on ECS Fargate covering the translation rules, a
// request in the old HTTP conventions, and a request with a W3C trace ID.
func testSpans() ([]sdktrace.ReadOnlySpan, *sdkresource.Resource) {
	rec := tracetest.NewSpanRecorder()
	gen := &ids{now: uint32(time.Now().Unix())}
	res := sdkresource.NewSchemaless(
		attribute.String("service.name", "checkout"),
		attribute.String("service.version", "1.4.2"),
		attribute.String("telemetry.sdk.name", "opentelemetry"),
		attribute.String("telemetry.sdk.language", "go"),
		attribute.String("telemetry.sdk.version", "1.47.0"),
		attribute.String("cloud.provider", "aws"),
		attribute.String("cloud.platform", "aws_ecs"),
		attribute.String("cloud.account.id", "123456789012"),
		attribute.String("cloud.region", "us-east-1"),
		attribute.String("cloud.availability_zone", "us-east-1a"),
		attribute.String("aws.ecs.launchtype", "fargate"),
		attribute.String("aws.ecs.cluster.arn", "arn:aws:ecs:us-east-1:123456789012:cluster/shop"),
		attribute.String("aws.ecs.task.arn", "arn:aws:ecs:us-east-1:123456789012:task/shop/0123456789abcdef"),
		attribute.String("aws.ecs.task.family", "checkout"),
		attribute.String("aws.ecs.container.arn", "arn:aws:ecs:us-east-1:123456789012:container/shop/0123456789abcdef/c1"),
		attribute.String("container.name", "app"),
		attribute.String("container.id", "0123456789abcdef-1234"),
		attribute.StringSlice("aws.log.group.names", []string{"/ecs/checkout"}),
	)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithIDGenerator(gen), sdktrace.WithResource(res))
	tr := tp.Tracer("sidelight.peers/collector")
	t0 := time.Now().Add(-2 * time.Second).Truncate(time.Millisecond)
	at := func(ms int) trace.SpanStartEventOption {
		return trace.WithTimestamp(t0.Add(time.Duration(ms) * time.Millisecond))
	}
	end := func(s trace.Span, ms int) { s.End(trace.WithTimestamp(t0.Add(time.Duration(ms) * time.Millisecond))) }

	// The server span, current HTTP conventions, two annotations by name.
	ctx, srv := tr.Start(context.Background(), "GET /cart/{id}", trace.WithSpanKind(trace.SpanKindServer), at(0), trace.WithAttributes(
		attribute.String("http.request.method", "GET"),
		attribute.String("url.scheme", "https"),
		attribute.String("server.address", "shop.example.com"),
		attribute.String("url.path", "/cart/42"),
		attribute.String("url.query", "currency=EUR"),
		attribute.String("http.route", "/cart/{id}"),
		attribute.String("user_agent.original", "curl/8.5.0"),
		attribute.String("client.address", "203.0.113.9"),
		attribute.Int("http.response.status_code", 200),
		attribute.Int("http.response.body.size", 512),
		attribute.String("enduser.id", "u-77"),
		attribute.String("order.id", "42"),
		attribute.Bool("customer tier/gold", true),
		attribute.StringSlice("aws.xray.annotations", []string{"order.id", "customer tier/gold"}),
	))

	// An HTTP client call throttled (429), current conventions.
	_, c := tr.Start(ctx, "POST", trace.WithSpanKind(trace.SpanKindClient), at(10), trace.WithAttributes(
		attribute.String("http.request.method", "POST"),
		attribute.String("url.full", "https://payments.example.com/v1/charge"),
		attribute.String("server.address", "payments.example.com"),
		attribute.Int("http.response.status_code", 429),
	))
	c.SetStatus(codes.Error, "")
	end(c, 30)

	// An HTTP client call that faulted (503), old conventions.
	_, c = tr.Start(ctx, "HTTP GET", trace.WithSpanKind(trace.SpanKindClient), at(31), trace.WithAttributes(
		attribute.String("http.method", "GET"),
		attribute.String("http.url", "http://inventory.internal:8080/stock/42"),
		attribute.String("net.peer.name", "inventory.internal"),
		attribute.Int("http.status_code", 503),
	))
	c.SetStatus(codes.Error, "")
	end(c, 40)

	// AWS SDK: DynamoDB GetItem.
	_, c = tr.Start(ctx, "DynamoDB.GetItem", trace.WithSpanKind(trace.SpanKindClient), at(41), trace.WithAttributes(
		attribute.String("rpc.system", "aws-api"),
		attribute.String("rpc.service", "DynamoDB"),
		attribute.String("rpc.method", "GetItem"),
		attribute.String("aws.region", "us-east-1"),
		attribute.String("aws.request_id", "R1D2Y3N4A5M6O"),
		attribute.StringSlice("aws.dynamodb.table_names", []string{"carts"}),
		attribute.String("http.request.method", "POST"),
		attribute.String("url.full", "https://dynamodb.us-east-1.amazonaws.com/"),
		attribute.Int("http.response.status_code", 200),
	))
	end(c, 50)

	// AWS SDK: SQS SendMessage, a PRODUCER span.
	_, c = tr.Start(ctx, "SQS.SendMessage", trace.WithSpanKind(trace.SpanKindProducer), at(51), trace.WithAttributes(
		attribute.String("rpc.system", "aws-api"),
		attribute.String("rpc.service", "SQS"),
		attribute.String("rpc.method", "SendMessage"),
		attribute.String("aws.region", "us-east-1"),
		attribute.String("aws.request_id", "S1Q2S3"),
		attribute.String("messaging.system", "aws_sqs"),
		attribute.String("aws.queue_url", "https://sqs.us-east-1.amazonaws.com/123456789012/orders"),
		attribute.String("messaging.destination.name", "orders"),
	))
	end(c, 60)

	// A SQL database, old conventions, credentials in the connection string.
	_, c = tr.Start(ctx, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient), at(61), trace.WithAttributes(
		attribute.String("db.system", "postgresql"),
		attribute.String("db.name", "orders"),
		attribute.String("db.statement", "SELECT * FROM orders WHERE id = $1"),
		attribute.String("db.user", "shop"),
		attribute.String("db.connection_string", "postgresql://shop:s3cret@db.internal:5432/orders"),
		attribute.String("net.peer.name", "db.internal"),
	))
	end(c, 70)

	// A SQL database, current conventions, and a Java exception.
	_, c = tr.Start(ctx, "SELECT carts", trace.WithSpanKind(trace.SpanKindClient), at(71), trace.WithAttributes(
		attribute.String("db.system.name", "mysql"),
		attribute.String("db.namespace", "carts"),
		attribute.String("db.query.text", "SELECT * FROM carts WHERE id = ?"),
		attribute.String("server.address", "mysql.internal"),
	))
	c.AddEvent("exception", trace.WithTimestamp(t0.Add(75*time.Millisecond)), trace.WithAttributes(
		attribute.String("exception.type", "java.sql.SQLTransientConnectionException"),
		attribute.String("exception.message", "pool exhausted"),
		attribute.String("exception.stacktrace", javaStack),
	))
	c.SetStatus(codes.Error, "pool exhausted")
	end(c, 80)

	// An internal span that failed with a Go error and its stack.
	_, c = tr.Start(ctx, "charge", at(81))
	c.RecordError(errors.New("card declined"), trace.WithTimestamp(t0.Add(85*time.Millisecond)), trace.WithAttributes(
		attribute.String("exception.stacktrace", goStack)))
	c.SetStatus(codes.Error, "card declined")
	end(c, 90)

	// A handled Python exception: status unset.
	_, c = tr.Start(ctx, "price lookup", at(91))
	c.AddEvent("exception", trace.WithTimestamp(t0.Add(95*time.Millisecond)), trace.WithAttributes(
		attribute.String("exception.type", "KeyError"),
		attribute.String("exception.message", "'sku-7'"),
		attribute.String("exception.stacktrace", pythonStack),
	))
	end(c, 100)

	// An error status with a message and no exception event.
	_, c = tr.Start(ctx, "reserve stock", at(101))
	c.SetStatus(codes.Error, "out of stock")
	end(c, 105)

	// A CONSUMER span in the same trace: an SQS message handled.
	_, c = tr.Start(ctx, "orders process", trace.WithSpanKind(trace.SpanKindConsumer), at(110), trace.WithAttributes(
		attribute.String("messaging.system", "aws_sqs"),
		attribute.String("messaging.operation", "process"),
		attribute.String("messaging.destination.name", "orders"),
	))
	end(c, 120)

	// A Kafka PRODUCER span (not AWS).
	_, c = tr.Start(ctx, "events publish", trace.WithSpanKind(trace.SpanKindProducer), at(121), trace.WithAttributes(
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.destination.name", "events"),
		attribute.String("server.address", "kafka.internal"),
	))
	end(c, 125)
	end(srv, 130)

	// A second request, old HTTP conventions, answered 404.
	_, s := tr.Start(context.Background(), "POST /login", trace.WithSpanKind(trace.SpanKindServer), at(200), trace.WithAttributes(
		attribute.String("http.method", "POST"),
		attribute.String("http.scheme", "http"),
		attribute.String("http.host", "shop.example.com"),
		attribute.String("http.target", "/login"),
		attribute.String("http.user_agent", "Mozilla/5.0"),
		attribute.String("http.client_ip", "198.51.100.4"),
		attribute.Int("http.status_code", 404),
	))
	end(s, 210)

	// A third request whose trace ID is plain W3C (no time prefix).
	gen.mu.Lock()
	gen.w3c = true
	gen.mu.Unlock()
	_, s = tr.Start(context.Background(), "GET /health", trace.WithSpanKind(trace.SpanKindServer), at(300), trace.WithAttributes(
		attribute.String("http.request.method", "GET"),
		attribute.String("url.full", "http://shop.example.com/health"),
		attribute.Int("http.response.status_code", 500),
	))
	end(s, 301)
	_ = tp.Shutdown(context.Background())
	return rec.Ended(), res
}
