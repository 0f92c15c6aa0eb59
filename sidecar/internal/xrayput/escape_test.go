package xrayput

import (
	"encoding/json"
	"testing"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

const loadDoc = `{"trace_id":"1-6553f100-000000000000000000000001","id":"0000000000000002","name":"checkout","start_time":1700000000.123,"end_time":1700000000.456,"http":{"request":{"method":"GET","url":"http://checkout.local/cart/42","client_ip":"10.0.0.8"},"response":{"status":200,"content_length":512}},"aws":{"xray":{"sdk":"X-Ray for Go","sdk_version":"1.8.5"}},"annotations":{"route":"/cart/{id}"}}`

// FuzzAppendDocString checks that AppendDocString writes a JSON string
// that decodes to what encoding/json decodes jsonenc's literal to, for any
// input (documents that passed the check, and anything else), and leaves
// what was already in dst alone.
func FuzzAppendDocString(f *testing.F) {
	for _, s := range []string{loadDoc, "", `{"a":"b\"c\\d"}`, "{\n\t\"a\": 1\r\n}", "\x01", "\xff\xfe", "é\u2028", `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendDocString([]byte("prefix"), s)
		if string(got[:6]) != "prefix" {
			t.Fatalf("prefix overwritten: %q", got)
		}
		var a, b string
		if err := json.Unmarshal(got[6:], &a); err != nil {
			t.Fatalf("%q: not a JSON string: %v (%q)", s, err, got[6:])
		}
		if err := json.Unmarshal(jsonenc.AppendString(nil, s), &b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("%q decodes to %q, jsonenc's to %q", s, a, b)
		}
	})
}

func TestAppendDocStringGrows(t *testing.T) {
	dst := make([]byte, 3, 4)
	copy(dst, "abc")
	got := AppendDocString(dst, loadDoc)
	want := jsonenc.AppendString([]byte("abc"), loadDoc)
	if string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func BenchmarkEscapeDoc(b *testing.B) {
	buf := make([]byte, 0, 4096)
	b.Run("AppendDocString", func(b *testing.B) {
		b.SetBytes(int64(len(loadDoc)))
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendDocString(buf[:0], loadDoc)
		}
	})
	b.Run("jsonenc", func(b *testing.B) {
		b.SetBytes(int64(len(loadDoc)))
		b.ReportAllocs()
		for b.Loop() {
			buf = jsonenc.AppendString(buf[:0], loadDoc)
		}
	})
}
