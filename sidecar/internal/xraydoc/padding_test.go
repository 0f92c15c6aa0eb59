package xraydoc

import "testing"

func TestSplitDatagramDropsPadding(t *testing.T) {
	pkt := []byte("{\"format\": \"json\", \"version\": 1}\n{\"name\":\"a\",\"id\":\"70de5b6f19ff9a0a\",\"trace_id\":\"1-5759e988-bd862e3fe1be46a994272793\",\"start_time\":1.5,\"end_time\":2.5}     ")
	doc, r := SplitDatagram(pkt)
	if r != OK || doc[len(doc)-1] != '}' {
		t.Fatalf("doc %q reason %v", doc, r)
	}
	if _, r := Check(doc); r != OK {
		t.Fatalf("padded document rejected: %v", r)
	}
}
