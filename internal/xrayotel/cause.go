package xrayotel

import (
	"hash/fnv"
	"strconv"
	"strings"

	tracev1 "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/seed-c77c9410/sidelight/internal/otlpspans"

	"github.com/seed-c77c9410/sidelight/internal/jsonenc"
)

// MaxStackFrames is how many frames of an exception's stack trace are
// written; the rest are counted in "truncated".
const MaxStackFrames = 50

// exception is one entry of a segment's cause, read from an exception
// event or from the span status.
type exception struct {
	typ, message, stack string
}

// exceptions returns the span's exception events, or, when it has none and
// its status is an error with a message, that message.
func exceptions(b *otlpspans.Batch, span *otlpspans.Span) []exception {
	var out []exception
	for _, ev := range b.Events(span.Events) {
		if ev.Name != "exception" {
			continue
		}
		var ex exception
		for _, kv := range b.Attributes(ev.Attrs) {
			switch kv.Key {
			case "exception.type":
				ex.typ = valueString(&kv.Value)
			case "exception.message":
				ex.message = valueString(&kv.Value)
			case "exception.stacktrace":
				ex.stack = valueString(&kv.Value)
			}
		}
		out = append(out, ex)
	}
	if len(out) == 0 && span.StatusCode == int32(tracev1.Status_STATUS_CODE_ERROR) {
		if msg := span.StatusMessage; msg != "" {
			out = append(out, exception{message: msg})
		}
	}
	return out
}

// appendCause appends ,"cause":{"exceptions":[…]}. Exception IDs are
// derived from the span ID and the exception's position, so the same span
// always gives the same document. Stacks are left out when lean is set.
func appendCause(dst []byte, spanID []byte, exs []exception, lean bool) []byte {
	dst = append(dst, `,"cause":{"exceptions":[`...)
	for i, ex := range exs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":"`...)
		dst = appendHex(dst, exceptionID(spanID, i))
		dst = append(dst, '"')
		if ex.typ != "" {
			dst = append(dst, `,"type":`...)
			dst = jsonenc.AppendString(dst, ex.typ)
		}
		if ex.message != "" {
			dst = append(dst, `,"message":`...)
			dst = jsonenc.AppendString(dst, ex.message)
		}
		if ex.stack != "" && !lean {
			dst = appendStack(dst, ex.stack)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

func exceptionID(spanID []byte, i int) []byte {
	h := fnv.New64a()
	h.Write(spanID)
	var n [8]byte
	h.Write(strconv.AppendInt(n[:0], int64(i), 10))
	id := h.Sum(nil)
	if allZero(id) {
		id[7] = 1
	}
	return id
}

// frame is one parsed stack frame.
type frame struct {
	path  string
	line  int
	label string
}

// appendStack appends ,"stack":[…] (and ,"truncated":n) for a stack trace
// in any of the forms parseStack knows; nothing when no frame is found.
func appendStack(dst []byte, stack string) []byte {
	frames, more := parseStack(stack, MaxStackFrames)
	if len(frames) == 0 {
		return dst
	}
	dst = append(dst, `,"stack":[`...)
	for i, f := range frames {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"path":`...)
		dst = jsonenc.AppendString(dst, f.path)
		dst = append(dst, `,"line":`...)
		dst = strconv.AppendInt(dst, int64(f.line), 10)
		dst = append(dst, `,"label":`...)
		dst = jsonenc.AppendString(dst, f.label)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if more > 0 {
		dst = append(dst, `,"truncated":`...)
		dst = strconv.AppendInt(dst, int64(more), 10)
	}
	return dst
}

// parseStack reads frames from a stack trace written by Go
// (runtime/debug.Stack: "pkg.fn(...)\n\t/path/file.go:12 +0x1d"), Java
// ("\tat pkg.Class.method(File.java:12)"), JavaScript
// ("    at fn (/app/x.js:12:5)") or Python
// ("  File \"/app/x.py\", line 12, in fn"). It keeps at most max frames and
// counts the rest. Lines it does not recognise are skipped, so it is linear
// in the length of the trace.
func parseStack(s string, max int) (frames []frame, more int) {
	add := func(f frame) {
		if len(frames) < max {
			frames = append(frames, f)
		} else {
			more++
		}
	}
	prev := ""
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "at "):
			if f, ok := parseAtFrame(trimmed[3:]); ok {
				add(f)
			}
		case strings.HasPrefix(trimmed, `File "`):
			if f, ok := parsePythonFrame(trimmed[6:]); ok {
				add(f)
			}
		case strings.HasPrefix(line, "\t") && prev != "":
			if f, ok := parseGoLocation(trimmed, prev); ok {
				add(f)
				line = ""
			}
		}
		prev = line
	}
	return frames, more
}

// parseAtFrame reads "pkg.Class.method(File.java:12)" or
// "fn (/app/x.js:12:5)" or "/app/x.js:12:5".
func parseAtFrame(s string) (frame, bool) {
	label, loc := "", s
	if open := strings.IndexByte(s, '('); open >= 0 && strings.HasSuffix(s, ")") {
		label = strings.TrimSpace(s[:open])
		loc = s[open+1 : len(s)-1]
	}
	path, line := splitLocation(loc)
	if path == "" {
		return frame{}, false
	}
	return frame{path: path, line: line, label: label}, true
}

// splitLocation splits "file:line" or "file:line:column"; a location with
// no line keeps line 0.
func splitLocation(loc string) (string, int) {
	path, n, ok := cutNumber(loc)
	if !ok {
		return loc, 0
	}
	if p2, n2, ok := cutNumber(path); ok {
		return p2, n2
	}
	return path, n
}

// cutNumber splits "text:123" into "text" and 123.
func cutNumber(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || i == len(s)-1 {
		return s, 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 {
		return s, 0, false
	}
	return s[:i], n, true
}

// parsePythonFrame reads `/app/x.py", line 12, in fn`.
func parsePythonFrame(s string) (frame, bool) {
	path, rest, ok := strings.Cut(s, `"`)
	if !ok {
		return frame{}, false
	}
	f := frame{path: path}
	rest = strings.TrimPrefix(rest, ", line ")
	num, label, _ := strings.Cut(rest, ", in ")
	f.line, _ = strconv.Atoi(strings.TrimSpace(num))
	f.label = strings.TrimSpace(label)
	return f, true
}

// parseGoLocation reads "/path/file.go:12 +0x1d" with the function line
// that came before it.
func parseGoLocation(loc, fn string) (frame, bool) {
	if sp := strings.LastIndexByte(loc, ' '); sp > 0 {
		loc = loc[:sp]
	}
	path, line, ok := cutNumber(loc)
	if !ok {
		return frame{}, false
	}
	fn = strings.TrimSpace(fn)
	if p := strings.LastIndexByte(fn, '('); p >= 0 {
		fn = fn[:p]
	}
	return frame{path: path, line: line, label: fn}, true
}

// formatStack writes frames back as a Go-style stack trace, which
// parseStack reads again; it is used for segment → span.
func formatStack(b *strings.Builder, frames []frame) {
	for _, f := range frames {
		b.WriteString(f.label)
		b.WriteString("()\n\t")
		b.WriteString(f.path)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(f.line))
		b.WriteByte('\n')
	}
}
