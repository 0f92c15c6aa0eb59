package emftest

import (
	"context"
	"testing"
)

func TestSink(t *testing.T) {
	var s Sink // the zero value works
	ctx := context.Background()
	buf := []byte(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"M"}]}]},"M":[1,2],"P":7}`)
	if err := s.WriteDocument(ctx, buf); err != nil {
		t.Fatal(err)
	}
	buf[2] = 'X' // the sink kept a copy
	if err := s.WriteDocument(ctx, []byte(`{"_aws":{"CloudWatchMetrics":[{"Metrics":[{"Name":"M"}]}]},"M":3}`)); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Documents()[0][:3]); got != `{"_` {
		t.Errorf("stored document changed with the caller's buffer: %q", got)
	}
	vals, err := s.Values("M")
	if err != nil || len(vals) != 3 || vals[2] != 3 {
		t.Errorf("Values(M) = %v, %v; want [1 2 3]", vals, err)
	}
	if vals, err := s.Values("P"); err != nil || len(vals) != 0 {
		t.Errorf("Values(P) = %v, %v; a property is not a metric", vals, err)
	}
	_ = s.WriteDocument(ctx, []byte(`{"_aws":{"CloudWatchMetrics":[{"Metrics":[{"Name":"M"}]}]},"M":"x"}`))
	if _, err := s.Values("M"); err == nil {
		t.Error("a non-number metric value was not reported")
	}
	_ = s.WriteDocument(ctx, []byte(`not json`))
	if _, err := s.Decoded(); err == nil {
		t.Error("Decoded accepted invalid JSON")
	}
	s.Reset()
	if len(s.Documents()) != 0 {
		t.Error("Reset kept documents")
	}
	_ = s.Shutdown(ctx)
	if err := s.WriteDocument(ctx, []byte(`{}`)); err == nil {
		t.Error("write after Shutdown accepted")
	}
}
