//go:build linux

package xray

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestExportSegmentSyncOwnSocket: on Linux, ExportSegmentSync writes on a
// socket of its own (not one the runtime's network poller watches), which
// delivers the datagram and is closed by Shutdown.
func TestExportSegmentSyncOwnSocket(t *testing.T) {
	conn := listen(t)
	e := newTestEmitter(t, conn)
	s := getSegment()
	defer putSegment(s)
	s.Name, s.TraceID, s.ID, s.Start, s.End = "own-socket", testTrace, testID, t0, t0.Add(time.Millisecond)
	if err := e.ExportSegmentSync(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if docs := receive(t, conn, 1); !strings.Contains(string(docs[0]), `"name":"own-socket"`) {
		t.Fatalf("document %s", docs[0])
	}
	if e.syncSock == nil || e.syncSock.fd < 0 {
		t.Fatalf("no socket of its own: %+v", e.syncSock)
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.syncSock.fd != -1 {
		t.Fatalf("socket %d left open by Shutdown", e.syncSock.fd)
	}
	if err := e.syncSock.write([]byte("x")); err == nil {
		t.Fatal("a write on the closed socket succeeded")
	}
}
